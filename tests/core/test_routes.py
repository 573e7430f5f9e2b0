import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from core.dispatch import apply_plan
from core.errors import Conflict
from core.geo import Point
from core.models import (
    Channel,
    Client,
    ClientWorker,
    Event,
    Order,
    OrderLine,
    OutboxMessage,
    Service,
    ServiceCategory,
    ServiceSkill,
    ShiftException,
    ShiftExceptionKind,
    ShiftPattern,
    Unit,
    Worker,
    WorkerPreference,
    WorkerSkill,
    WorkerZone,
    Zone,
)
from core.orders import change_status
from core.routes import (
    Job,
    PlanOptions,
    RouteRules,
    RoutingProblem,
    Solution,
    Stop,
    Vehicle,
    VehicleRoute,
    check_plan,
    plan_day,
    solve,
)
from core.travel import UNREACHABLE, OsrmMatrix, StraightLineTravel, TravelServiceError
from core.zones import polygon_wkt
from tests.company import CITY_RING, EAST_RING, KYIV, MONDAY, kyiv

DAY = MONDAY
NOW = kyiv(DAY, 7)
TRAVEL = StraightLineTravel(speed_kmh=25, detour_factor=1.4)
RULES = RouteRules(tz=KYIV, travel=TRAVEL, budget_seconds=1.0, min_budget_seconds=0.3,
                   seconds_per_order=0.02, patience=2000)
FAST = PlanOptions(budget_seconds=0.5)
SERVICES = {  # code: (skill, unit, workflow, minutes)
    "cleaning": ("cleaning", Unit.VISIT, "visit", 90),
    "plumbing": ("plumbing", Unit.VISIT, "visit", 60),
    "water": ("water", Unit.BOTTLE, "delivery", 15),
}


def in_city(lat: float, lon: float) -> bool:
    return 50.40 <= lat <= 50.52 and 30.40 <= lon <= 30.70


def in_east(lat: float, lon: float) -> bool:
    return 50.40 <= lat <= 50.52 and 30.55 <= lon <= 30.80


@dataclass
class WorkerFacts:
    skills: set[str]
    zones: set[int]
    capacity: int | None
    intervals: list[tuple[datetime, datetime, int | None]]
    telegram: int | None = None


@dataclass
class OrderFacts:
    client_id: int
    point: Point
    zones: set[int]
    skill: str
    bottles: int
    window: tuple[datetime, datetime]
    starts_at: datetime
    duration: timedelta
    worker_id: int | None = None
    status: str = "confirmed"


@dataclass
class Day:
    """What a test wrote, kept for checking plans without the planner's own code."""

    zone_ids: dict[str, int] = field(default_factory=dict)
    services: dict[str, int] = field(default_factory=dict)
    workers: dict[int, WorkerFacts] = field(default_factory=dict)
    clients: list[int] = field(default_factory=list)
    orders: dict[int, OrderFacts] = field(default_factory=dict)
    blocked: set[tuple[int, int]] = field(default_factory=set)

    def zones_at(self, point: Point) -> set[int]:
        zones = set()
        if in_city(point.lat, point.lon):
            zones.add(self.zone_ids["city"])
        if in_east(point.lat, point.lon):
            zones.add(self.zone_ids["east"])
        return zones


async def base_company(db, day: Day) -> None:
    async with db.transaction() as tx:
        zones = {"city": Zone(code="city", city="Kyiv", name="City",
                              polygon_wkt=polygon_wkt(CITY_RING)),
                 "east": Zone(code="east", city="Kyiv", name="East",
                              polygon_wkt=polygon_wkt(EAST_RING))}
        category = ServiceCategory(code="home", names={"en": "Home"})
        tx.add_all([*zones.values(), category])
        await tx.flush()
        day.zone_ids = {code: zone.id for code, zone in zones.items()}
        for code, (skill, unit, workflow, minutes) in SERVICES.items():
            service = Service(code=code, category_id=category.id, names={"en": code},
                              workflow=workflow, unit=unit, price=100_00,
                              duration_minutes=minutes, skills=[ServiceSkill(skill=skill)])
            tx.add(service)
            await tx.flush()
            day.services[code] = service.id


async def add_worker(db, day: Day, *, skills, zones, hours=(8, 18), home=(50.45, 30.52),
                     capacity=None, telegram=None, zone_shift=None, off=None) -> int:
    """A worker on shift on DAY; ``off`` = (from, to) hours off inside the shift."""
    async with db.transaction() as tx:
        worker = Worker(name=f"W{len(day.workers)}", home_lat=home[0], home_lon=home[1],
                        vehicle_capacity=capacity, telegram_user_id=telegram,
                        language="en", skills=[WorkerSkill(skill=s) for s in skills],
                        zones=[WorkerZone(zone_id=day.zone_ids[z]) for z in zones])
        tx.add(worker)
        await tx.flush()
        zone_id = day.zone_ids[zone_shift] if zone_shift else None
        tx.add(ShiftPattern(worker_id=worker.id, weekday=DAY.weekday(), starts=time(hours[0]),
                            ends=time(hours[1]), valid_from=DAY, zone_id=zone_id))
        intervals = [(kyiv(DAY, hours[0]), kyiv(DAY, hours[1]), zone_id)]
        if off:
            tx.add(ShiftException(worker_id=worker.id, day=DAY, kind=ShiftExceptionKind.OFF,
                                  starts=time(off[0]), ends=time(off[1])))
            intervals = [(kyiv(DAY, hours[0]), kyiv(DAY, off[0]), zone_id),
                         (kyiv(DAY, off[1]), kyiv(DAY, hours[1]), zone_id)]
    day.workers[worker.id] = WorkerFacts(set(skills), {day.zone_ids[z] for z in zones},
                                         capacity, intervals, telegram)
    return worker.id


async def add_client(db, day: Day, *, telegram=None, language="en") -> int:
    async with db.transaction() as tx:
        client = Client(name=f"C{len(day.clients)}", telegram_user_id=telegram,
                        language=language)
        tx.add(client)
        await tx.flush()
    day.clients.append(client.id)
    return client.id


async def block(db, day: Day, client_id: int, worker_id: int) -> None:
    async with db.transaction() as tx:
        tx.add(ClientWorker(client_id=client_id, worker_id=worker_id,
                            kind=WorkerPreference.BLOCKED))
    day.blocked.add((client_id, worker_id))


async def add_order(db, day: Day, *, client_id, service="cleaning", point=(50.45, 30.52),
                    window=(10, 0, 0), quantity=1, worker_id=None, status="confirmed",
                    minutes=None) -> int:
    """An order at ``point`` whose start window is ``window`` = (hour, minute, width minutes)."""
    skill, _, workflow, default = SERVICES[service]
    duration = timedelta(minutes=minutes or default)
    start = kyiv(DAY, window[0], window[1])
    end_window = start + timedelta(minutes=window[2])
    where = Point(*point)
    zones = day.zones_at(where)
    async with db.transaction() as tx:
        order = Order(client_id=client_id, lat=where.lat, lon=where.lon,
                      zone_id=min(zones) if zones else None, workflow=workflow, status=status,
                      channel=Channel.PHONE, worker_id=worker_id, starts_at=start,
                      ends_at=start + duration, window_start=start, window_end=end_window,
                      lines=[OrderLine(service_id=day.services[service], quantity=quantity,
                                       unit_price=100_00)])
        tx.add(order)
        await tx.flush()
    day.orders[order.id] = OrderFacts(
        client_id, where, zones, skill, quantity if service == "water" else 0,
        (start, end_window), start, duration, worker_id, status)
    return order.id


async def generated_day(db, seed: int) -> Day:
    """Six workers with skills, zones, capacities and shifts; 30 orders, some accepted."""
    rng = random.Random(seed)
    day = Day()
    await base_company(db, day)

    def somewhere() -> tuple[float, float]:
        return (round(rng.uniform(50.41, 50.51), 5), round(rng.uniform(30.42, 30.69), 5))

    kinds = [(("cleaning",), ("city",), None), (("cleaning", "plumbing"), ("city", "east"), None),
             (("plumbing",), ("east",), None), (("water",), ("city", "east"), 12),
             (("water", "cleaning"), ("city",), 20), (("cleaning",), ("city", "east"), None)]
    for n, (skills, zones, capacity) in enumerate(kinds):
        hours = rng.choice([(8, 17), (9, 18), (10, 19), (8, 14), (12, 20)])
        await add_worker(db, day, skills=skills, zones=zones, hours=hours, home=somewhere(),
                         capacity=capacity, telegram=900_000 + n,
                         zone_shift="east" if n == 5 else None,
                         off=(hours[0] + 2, hours[0] + 3) if n == 1 else None)
    for n in range(8):
        await add_client(db, day, telegram=700_000 + n if n % 2 else None)
    for _ in range(2):
        await block(db, day, rng.choice(day.clients), rng.choice(list(day.workers)))
    for _ in range(30):
        service = rng.choice(list(SERVICES))
        await add_order(db, day, client_id=rng.choice(day.clients), service=service,
                        point=somewhere(), quantity=rng.randint(1, 8) if service == "water" else 1,
                        window=(rng.randint(8, 17), rng.choice((0, 30)),
                                rng.choice((0, 60, 120, 240))))
    # Accepted orders, kept with their worker: well apart inside the worker's first interval.
    for worker_id in rng.sample(list(day.workers), 3):
        facts = day.workers[worker_id]
        start = facts.intervals[0][0] + timedelta(minutes=30)
        service = "water" if "water" in facts.skills else sorted(facts.skills)[0]
        await add_order(db, day, client_id=rng.choice(day.clients), service=service,
                        point=somewhere(), window=(start.hour, start.minute, 0),
                        worker_id=worker_id, status="accepted")
    return day


def assert_feasible(plan, day: Day) -> None:
    """Check a plan against what the test wrote, without the planner's code."""
    assert check_plan(plan.solution, plan.problem) == []
    placed: dict[int, int] = {}
    for route in plan.routes:
        worker = day.workers[route.worker_id]
        load = 0
        previous = None
        for stop in route.stops:
            order = day.orders[stop.order_id]
            assert stop.order_id not in placed, "placed twice"
            placed[stop.order_id] = route.worker_id
            assert order.window[0] <= stop.start <= order.window[1]
            assert stop.end - stop.start == order.duration
            assert any(begin <= stop.start and stop.end <= end
                       for begin, end, _ in worker.intervals), "outside the shift"
            if order.status == "accepted":
                assert order.worker_id == route.worker_id and stop.start == order.starts_at
            else:
                assert order.skill in worker.skills
                assert order.zones & worker.zones
                assert all(zone is None or zone in order.zones
                           for begin, end, zone in worker.intervals
                           if begin <= stop.start < end)
                assert (order.client_id, route.worker_id) not in day.blocked
            if previous is not None:
                leg = TRAVEL.minutes(day.orders[previous.order_id].point, order.point)
                assert stop.start >= previous.end + timedelta(minutes=leg)
            load += order.bottles
            previous = stop
        if worker.capacity is not None:
            assert load <= worker.capacity
    left = {u.order_id for u in plan.unplaced}
    assert not left & placed.keys()
    assert left | placed.keys() == set(day.orders)
    assert all(u.message("uk") and u.message("ru") and u.message("en") for u in plan.unplaced)


# --- the routing layer -----------------------------------------------------------------------


def line_problem() -> RoutingProblem:
    """Points on a line 0..4 (distance = |i - j|), one depot at 0, two vehicles."""
    positions = np.arange(5)
    matrix = np.abs(positions[:, None] - positions[None, :]).astype(np.int64)
    return RoutingProblem(
        durations=matrix, distances=matrix,
        vehicles=(Vehicle(0, 0, 0, 100, capacity=5), Vehicle(0, 0, 0, 100, capacity=5)),
        jobs=(Job(1, 0, 10, service=2, demand=3), Job(2, 0, 10, service=2, demand=3),
              Job(3, 20, 30, service=2, vehicles=frozenset({1})),
              Job(4, 0, 1, service=1, prize=100)),
    )


def test_checker_names_every_broken_rule():
    problem = line_problem()
    bad = Solution(routes=(
        VehicleRoute(0, (Stop(0, 1, 1, 3), Stop(1, 3, 3, 5), Stop(2, 6, 6, 8)), 0, 10),
    ), unplaced=())
    problems = "\n".join(check_plan(bad, problem))
    assert "job 2: starts at 6, outside [20, 30]" in problems
    assert "job 2: this vehicle may not serve it" in problems
    assert "carries 6, capacity 5" in problems
    assert "job 1: starts at 3, cannot be there before 4" in problems
    assert "job 3: neither served nor reported unplaced" in problems


def test_solver_respects_restrictions_and_drops_what_cannot_fit():
    problem = line_problem()
    solution = solve(problem, budget=0.2)
    assert check_plan(solution, problem) == []
    assert solution.unplaced == (3,)  # reachable no earlier than 4, its window closes at 1
    by_job = {stop.job: route.vehicle for route in solution.routes for stop in route.stops}
    assert by_job[2] == 1
    assert by_job[0] != by_job[1]  # 3 + 3 bottles exceed one vehicle's 5


# --- planning a day --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_generated_day_respects_every_rule(db, seed):
    day = await generated_day(db, seed)
    plan = await plan_day(db, day=DAY, zone_id=None, options=FAST, rules=RULES, now=NOW)
    assert_feasible(plan, day)
    accepted = [i for i, o in day.orders.items() if o.status == "accepted"]
    for order_id in accepted:
        placed = plan.stop_of(order_id)
        assert placed is not None and placed[0] == day.orders[order_id].worker_id
        assert placed[1].kept and not placed[1].changed
    assert sum(len(r.stops) for r in plan.routes) >= 15
    assert plan.travel_minutes == sum(r.travel_minutes for r in plan.routes) > 0
    assert plan.km > 0


async def test_one_zone_plans_its_workers_and_keeps_their_other_jobs(db):
    day = Day()
    await base_company(db, day)
    east_worker = await add_worker(db, day, skills=("cleaning",), zones=("city", "east"))
    city_worker = await add_worker(db, day, skills=("cleaning",), zones=("city",))
    client = await add_client(db, day)
    west = await add_order(db, day, client_id=client, point=(50.45, 30.45),
                           window=(9, 0, 0), worker_id=east_worker, status="assigned")
    east = await add_order(db, day, client_id=client, point=(50.45, 30.65), window=(12, 0, 120))
    plan = await plan_day(db, day=DAY, zone_id=day.zone_ids["east"], options=FAST, rules=RULES,
                          now=NOW)
    assert {r.worker_id for r in plan.routes} == {east_worker}
    assert plan.stop_of(east)[0] == east_worker
    worker, stop = plan.stop_of(west)
    assert (worker, stop.kept, stop.changed) == (east_worker, True, False)
    assert west not in plan.movable and city_worker not in {r.worker_id for r in plan.routes}


async def test_overbooked_day_says_which_orders_it_left_out_and_why(db):
    day = Day()
    await base_company(db, day)
    await add_worker(db, day, skills=("cleaning", "water"), zones=("city",), hours=(9, 13),
                     capacity=10)
    client = await add_client(db, day)
    rush = [await add_order(db, day, client_id=client, point=(50.45, 30.52 + k / 1000),
                            window=(9, 0, 120)) for k in range(4)]
    plumbing = await add_order(db, day, client_id=client, service="plumbing", window=(10, 0, 60))
    outside = await add_order(db, day, client_id=client, point=(50.30, 30.52), window=(10, 0, 60))
    heavy = await add_order(db, day, client_id=client, service="water", quantity=12,
                            window=(11, 0, 60))
    late = await add_order(db, day, client_id=client, window=(18, 0, 30))
    passed = await add_order(db, day, client_id=client, window=(6, 0, 30))
    plan = await plan_day(db, day=DAY, zone_id=None, options=FAST, rules=RULES, now=NOW)
    assert_feasible(plan, day)
    reasons = {u.order_id: u.reason for u in plan.unplaced}
    assert sum(1 for order_id in rush if order_id in reasons) == 2  # 9:00, 10:30 fit; not more
    assert {reasons[i] for i in rush if i in reasons} == {"route.unplaced.day_full"}
    assert reasons[plumbing] == "route.unplaced.no_skill"
    assert reasons[outside] == "route.unplaced.no_zone"
    assert reasons[heavy] == "route.unplaced.capacity"
    assert reasons[late] == "route.unplaced.window_too_tight"
    assert reasons[passed] == "route.unplaced.window_passed"
    skill = next(u for u in plan.unplaced if u.order_id == plumbing)
    assert skill.message("uk") == "ніхто зі зміни не має навичок: plumbing"


async def test_blocked_worker_never_gets_the_clients_orders(db):
    day = Day()
    await base_company(db, day)
    near = await add_worker(db, day, skills=("cleaning",), zones=("city",), home=(50.45, 30.52))
    far = await add_worker(db, day, skills=("cleaning",), zones=("city",), home=(50.51, 30.69))
    picky = await add_client(db, day)
    await block(db, day, picky, near)
    orders = [await add_order(db, day, client_id=picky, point=(50.45, 30.52 + k / 500),
                              window=(9 + 2 * k, 0, 60)) for k in range(3)]
    plan = await plan_day(db, day=DAY, zone_id=None, options=FAST, rules=RULES, now=NOW)
    assert_feasible(plan, day)
    assert {plan.stop_of(order_id)[0] for order_id in orders} == {far}

    async with db.transaction() as tx:
        (await tx.get(Worker, far)).active = False
    plan = await plan_day(db, day=DAY, zone_id=None, options=FAST, rules=RULES, now=NOW)
    assert {u.reason for u in plan.unplaced} == {"route.unplaced.blocked"}


# --- carrying a plan out ---------------------------------------------------------------------


async def outbox(db) -> set[tuple[str, int, str]]:
    async with db.transaction() as tx:
        return {(m.bot, m.chat_id, m.template) for m in await tx.scalars(select(OutboxMessage))}


async def events(db) -> list[tuple[str, int | None]]:
    async with db.transaction() as tx:
        return [(e.kind, e.order_id) for e in await tx.scalars(select(Event).order_by(Event.id))]


async def load(db, order_id) -> Order:
    async with db.transaction() as tx:
        return await tx.get(Order, order_id)


async def two_workers_day(db) -> tuple[Day, list[int], int, int]:
    day = Day()
    await base_company(db, day)
    first = await add_worker(db, day, skills=("cleaning",), zones=("city",), telegram=111,
                             home=(50.44, 30.50))
    second = await add_worker(db, day, skills=("cleaning",), zones=("city",), telegram=222,
                              home=(50.47, 30.60))
    orders = []
    for k in range(4):
        client = await add_client(db, day, telegram=500 + k if k % 2 == 0 else None)
        orders.append(await add_order(db, day, client_id=client,
                                      point=(50.44 + k / 100, 30.50 + k / 40),
                                      window=(9 + 2 * k, 0, 60)))
    return day, orders, first, second


async def test_applying_a_plan_assigns_orders_and_tells_workers_and_customers(db):
    day, orders, first, second = await two_workers_day(db)
    plan = await plan_day(db, day=DAY, zone_id=None, options=FAST, rules=RULES, now=NOW)
    applied = await apply_plan(db, plan=plan, planner="user:5", now=NOW)
    assert sorted(applied.assigned) == sorted(orders) and not applied.unassigned
    for order_id in orders:
        order = await load(db, order_id)
        worker, stop = plan.stop_of(order_id)
        assert (order.worker_id, order.status, order.starts_at) == (worker, "assigned", stop.start)
        assert order.window_start <= order.starts_at <= order.window_end
        assert order.ends_at - order.starts_at == day.orders[order_id].duration
        assert order.history[-1].actor == "user:5"
    kinds = await events(db)
    assert sorted(o for kind, o in kinds if kind == "order.assigned") == sorted(orders)
    routes = {r.worker_id for r in plan.routes if r.stops}
    assert sum(1 for kind, _ in kinds if kind == "route.planned") == len(routes)
    messages = await outbox(db)
    assert {("worker", {first: 111, second: 222}[w], "notice.route_planned")
            for w in routes} <= messages
    customers = {(bot, chat) for bot, chat, template in messages
                 if template.startswith("notice.arrival")}
    assert customers == {("customer", 500), ("customer", 502)}


async def test_replanning_moves_only_what_the_dispatcher_allowed(db):
    day, orders, first, second = await two_workers_day(db)
    plan = await plan_day(db, day=DAY, zone_id=None, options=FAST, rules=RULES, now=NOW)
    await apply_plan(db, plan=plan, planner="user:5", now=NOW)
    before = {i: ((o := await load(db, i)).worker_id, o.starts_at) for i in orders}
    target = orders[0]
    worker = before[target][0]
    await block(db, day, day.orders[target].client_id, worker)

    plan = await plan_day(db, day=DAY, zone_id=None,
                          options=PlanOptions(movable=frozenset({target}), budget_seconds=0.5),
                          rules=RULES, now=NOW)
    assert plan.movable == {target}
    assert all(stop.kept for r in plan.routes for stop in r.stops if stop.order_id != target)
    applied = await apply_plan(db, plan=plan, planner="user:6", now=NOW)
    assert applied.assigned == (target,)
    after = {i: ((o := await load(db, i)).worker_id, o.starts_at) for i in orders}
    assert after[target][0] not in (worker, None)
    assert {i: v for i, v in after.items() if i != target} == {
        i: v for i, v in before.items() if i != target}
    messages = await outbox(db)
    assert ("worker", {first: 111, second: 222}[worker], "notice.job_removed") in messages


async def test_apply_with_a_partial_movable_set_leaves_the_others_untouched(db):
    _, orders, _, _ = await two_workers_day(db)
    plan = await plan_day(db, day=DAY, zone_id=None, options=FAST, rules=RULES, now=NOW)
    applied = await apply_plan(db, plan=plan, planner="user:5", now=NOW,
                               movable={orders[1]})
    assert applied.assigned == (orders[1],)
    assert set(applied.untouched) == set(orders) - {orders[1]}
    assert (await load(db, orders[2])).worker_id is None


async def test_accepted_orders_stay_unless_unlocked(db):
    day, _, first, second = await two_workers_day(db)
    client = await add_client(db, day)
    await block(db, day, client, first)  # (since it was accepted)
    kept = await add_order(db, day, client_id=client, point=(50.50, 30.65), window=(16, 0, 0),
                           worker_id=first, status="accepted")
    plan = await plan_day(db, day=DAY, zone_id=None, options=FAST, rules=RULES, now=NOW)
    assert plan.stop_of(kept)[0] == first and kept not in plan.movable
    plan = await plan_day(db, day=DAY, zone_id=None, rules=RULES, now=NOW,
                          options=PlanOptions(unlock=frozenset({kept}), budget_seconds=0.5))
    assert kept in plan.movable
    assert plan.stop_of(kept)[0] == second
    await apply_plan(db, plan=plan, planner="user:5", now=NOW)
    order = await load(db, kept)
    assert (order.worker_id, order.status) == (second, "assigned")
    assert [(h.from_status, h.to_status) for h in order.history][-2:] == [
        ("accepted", "confirmed"), ("confirmed", "assigned")]


async def test_a_stale_plan_is_refused(db):
    _, orders, _, _ = await two_workers_day(db)
    plan = await plan_day(db, day=DAY, zone_id=None, options=FAST, rules=RULES, now=NOW)
    await change_status(db, order_id=orders[0], target="cancelled", actor="user:1", now=NOW,
                        reason="client called")
    with pytest.raises(Conflict) as refused:
        await apply_plan(db, plan=plan, planner="user:5", now=NOW)
    assert refused.value.key == "route.plan_stale"
    assert (await load(db, orders[1])).worker_id is None


# --- travel times from an OSRM-compatible service --------------------------------------------


class FakeOsrm:
    """Answers ``/table`` in OSRM's format: 30 minutes and 5 km between any two points."""

    def __init__(self, code: str = "Ok") -> None:
        self.code = code
        self.requests: list[str] = []

    async def table(self, request: web.Request) -> web.Response:
        self.requests.append(str(request.rel_url))
        size = len(request.match_info["coordinates"].split(";"))
        durations = [[0 if i == j else 1800.4 for j in range(size)] for i in range(size)]
        distances = [[0 if i == j else 5000 for j in range(size)] for i in range(size)]
        if size > 2:
            durations[0][2] = None
        return web.json_response({"code": self.code, "durations": durations,
                                  "distances": distances})

    async def __aenter__(self) -> str:
        app = web.Application()
        app.router.add_get("/table/v1/driving/{coordinates}", self.table)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return str(self.server.make_url("/"))

    async def __aexit__(self, *exc) -> None:
        await self.server.close()


async def test_osrm_matrix_reads_the_table_service():
    fake = FakeOsrm()
    async with fake as url:
        matrix = await OsrmMatrix(url).matrix([Point(50.45, 30.52), Point(50.46, 30.53),
                                               Point(50.47, 30.54)])
    assert matrix.seconds.tolist() == [[0, 1801, UNREACHABLE], [1801, 0, 1801], [1801, 1801, 0]]
    assert matrix.metres[0, 1] == 5000
    assert fake.requests == [
        "/table/v1/driving/30.520000,50.450000;30.530000,50.460000;30.540000,50.470000"
        "?annotations=duration,distance"]


async def test_osrm_error_is_ours():
    async with FakeOsrm(code="InvalidQuery") as url:
        with pytest.raises(TravelServiceError):
            await OsrmMatrix(url).matrix([Point(50.45, 30.52), Point(50.46, 30.53)])


async def test_day_planned_on_osrm_times_asks_once(db):
    day = Day()
    await base_company(db, day)
    worker = await add_worker(db, day, skills=("cleaning",), zones=("city",))
    client = await add_client(db, day)
    orders = [await add_order(db, day, client_id=client, point=(50.45, 30.50 + k / 100),
                              window=(9, 0, 480), minutes=60) for k in range(2)]
    fake = FakeOsrm()
    async with fake as url:
        rules = RouteRules(tz=KYIV, travel=OsrmMatrix(url), budget_seconds=0.3)
        plan = await plan_day(db, day=DAY, zone_id=None, options=FAST, rules=rules, now=NOW)
    assert len(fake.requests) == 1
    (route,) = plan.routes
    assert [s.order_id for s in route.stops] in (orders, orders[::-1])
    first, second = route.stops
    assert second.start - first.end == timedelta(minutes=31)  # 1801 s, rounded up
    assert (second.travel_minutes, second.km) == (31, 5.0)
    assert route.worker_id == worker and route.km == 15.0
