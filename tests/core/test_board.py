"""The dispatch board's core: the day's read model, moving one job by hand, route sheets."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from core.board import (
    check_reassignment,
    day_board,
    google_route_url,
    reassign_order,
    route_sheet,
    yandex_route_url,
)
from core.day_plans import (
    RouteTotals,
    apply_proposal,
    current_totals,
    dump_plan,
    get_proposal,
    load_plan,
    propose_day,
)
from core.errors import Conflict, NotFound, TransitionRefused
from core.geo import Point
from core.models import Address, ClientPhone, Event, Order, OutboxMessage, Role
from core.orders import change_status
from core.routes import plan_day
from core.staff import create_user
from tests.company import KYIV, RULES, kyiv
from tests.core.test_routes import (
    DAY,
    FAST,
    NOW,
    Day,
    add_client,
    add_order,
    add_worker,
    base_company,
    block,
    two_workers_day,
)
from tests.core.test_routes import RULES as ROUTE_RULES


async def small_day(db) -> tuple[Day, int, int, int]:
    """A cleaner 8–18, a cleaner 12–18 and a 90-minute order booked for 10:00–11:00."""
    day = Day()
    await base_company(db, day)
    early = await add_worker(db, day, skills=("cleaning",), zones=("city",), telegram=111)
    late = await add_worker(db, day, skills=("cleaning",), zones=("city",), hours=(12, 18),
                            telegram=222)
    client = await add_client(db, day, telegram=500)
    order = await add_order(db, day, client_id=client, window=(10, 0, 60))
    return day, early, late, order


async def test_the_board_shows_workers_jobs_and_orders_without_a_worker(db):
    day, early, late, order = await small_day(db)
    client = day.orders[order].client_id
    taken = await add_order(db, day, client_id=client, window=(14, 0, 0), worker_id=late,
                            status="assigned")
    board = await day_board(db, day=DAY, zone_id=None, tz=KYIV)
    rows = {row.worker_id: row for row in board.rows}
    assert set(rows) == {early, late}
    assert [j.order_id for j in rows[late].jobs] == [taken]
    assert rows[late].shifts == ((kyiv(DAY, 12), kyiv(DAY, 18)),)
    assert [j.order_id for j in board.unplaced] == [order]
    assert (board.first_hour, board.last_hour) == (8, 20)
    assert {z.code for z in board.zones} == {"city", "east"}

    east = await day_board(db, day=DAY, zone_id=day.zone_ids["east"], tz=KYIV)
    assert east.rows == () and east.unplaced == ()  # both work in "city"; the order is west


async def test_a_move_breaking_the_window_is_refused_with_the_reason(db):
    _, early, _, order = await small_day(db)
    with pytest.raises(Conflict) as refused:
        await reassign_order(db, order_id=order, worker_id=early, start=kyiv(DAY, 12),
                             actor="user:1", now=NOW, rules=RULES)
    assert refused.value.key == "board.breaks_window"
    assert refused.value.message("en") == (
        "a start at 12:00 breaks the client's booked window 10:00–11:00")
    async with db.transaction() as tx:
        assert (await tx.get(Order, order)).worker_id is None


async def test_a_move_breaking_the_shift_is_refused_with_the_reason(db):
    _, _, late, order = await small_day(db)
    refusal = await check_reassignment(db, order_id=order, worker_id=late, start=None,
                                       rules=RULES)
    assert refusal == ("board.breaks_shift",
                       {"start": "10:00", "end": "11:30", "shift": "12:00–18:00"})
    with pytest.raises(Conflict, match="outside the worker's shift"):
        await reassign_order(db, order_id=order, worker_id=late, start=None, actor="user:1",
                             now=NOW, rules=RULES)


async def test_a_move_without_time_to_drive_or_onto_another_job_is_refused(db):
    day, early, _, order = await small_day(db)
    client = day.orders[order].client_id
    far = await add_order(db, day, client_id=client, point=(50.51, 30.68), window=(12, 0, 0),
                          worker_id=early, status="assigned")
    refusal = await check_reassignment(db, order_id=order, worker_id=early,
                                       start=kyiv(DAY, 10, 30), rules=RULES)
    assert refusal is not None and refusal[0] == "board.too_close"
    assert refusal[1]["number"] == str(far + 10000)
    near = await add_order(db, day, client_id=client, window=(9, 0, 0), worker_id=early,
                           status="assigned")
    refusal = await check_reassignment(db, order_id=order, worker_id=early,
                                       start=kyiv(DAY, 10), rules=RULES)
    assert refusal == ("board.overlaps", {"number": str(near + 10000), "time": "09:00–10:30"})


async def test_skills_and_blocked_workers_are_refused(db):
    day, early, _, order = await small_day(db)
    plumber = await add_worker(db, day, skills=("plumbing",), zones=("city",))
    assert (await check_reassignment(db, order_id=order, worker_id=plumber, start=None,
                                     rules=RULES))[0] == "board.no_skill"
    await block(db, day, day.orders[order].client_id, early)
    assert (await check_reassignment(db, order_id=order, worker_id=early, start=None,
                                     rules=RULES))[0] == "board.blocked"


async def test_a_fitting_move_assigns_the_order_and_tells_everyone(db):
    day, early, _, order = await small_day(db)
    moved = await reassign_order(db, order_id=order, worker_id=early, start=kyiv(DAY, 10, 30),
                                 actor="user:7", now=NOW, rules=RULES)
    assert (moved.worker_id, moved.status, moved.from_worker_id) == (early, "assigned", None)
    async with db.transaction() as tx:
        row = await tx.get(Order, order)
        assert (row.worker_id, row.starts_at) == (early, kyiv(DAY, 10, 30))
        assert row.ends_at - row.starts_at == timedelta(minutes=90)
        kinds = [(e.kind, e.payload["worker_id"]) for e in await tx.scalars(
            select(Event).where(Event.order_id == order))]
        outbox = {(m.bot, m.chat_id, m.template) for m in await tx.scalars(select(OutboxMessage))}
    assert kinds == [("order.assigned", early)]
    assert ("worker", 111, "notice.job_offer") in outbox
    assert ("customer", 500, "notice.arrival_time") in outbox

    # Accepted, then given to another worker: it leaves the first one.
    other = await add_worker(db, day, skills=("cleaning",), zones=("city",), telegram=333)
    await change_status(db, order_id=order, target="accepted", actor=f"worker:{early}", now=NOW)
    moved = await reassign_order(db, order_id=order, worker_id=other, start=None,
                                 actor="user:7", now=NOW, rules=RULES)
    assert (moved.worker_id, moved.status, moved.from_worker_id) == (other, "assigned", early)
    async with db.transaction() as tx:
        outbox = {(m.chat_id, m.template) for m in await tx.scalars(select(OutboxMessage))}
    assert {(111, "notice.job_removed"), (333, "notice.job_offer")} <= outbox


async def test_a_job_under_way_is_not_moved(db):
    _, early, _, order = await small_day(db)
    await reassign_order(db, order_id=order, worker_id=early, start=None, actor="user:1",
                         now=NOW, rules=RULES)
    for status in ("accepted", "on_the_way"):
        await change_status(db, order_id=order, target=status, actor="worker:1", now=NOW)
    with pytest.raises(TransitionRefused, match="can no longer be moved"):
        await reassign_order(db, order_id=order, worker_id=early, start=kyiv(DAY, 10, 30),
                             actor="user:1", now=NOW, rules=RULES)


async def test_the_route_sheet_lists_stops_in_order_with_navigator_links(db):
    day, early, _, first = await small_day(db)
    client = day.orders[first].client_id
    second = await add_order(db, day, client_id=client, point=(50.46, 30.55), window=(14, 0, 0),
                             worker_id=early, status="assigned")
    async with db.transaction() as tx:
        address = Address(client_id=client, text="Khreshchatyk 1", lat=50.45, lon=30.52,
                          comment="code 12")
        tx.add_all([address, ClientPhone(client_id=client, e164="+380671234567")])
        await tx.flush()
        (await tx.get(Order, first)).address_id = address.id
    await reassign_order(db, order_id=first, worker_id=early, start=None, actor="user:1",
                         now=NOW, rules=RULES)
    sheet = await route_sheet(db, worker_id=early, day=DAY, tz=KYIV)
    assert [s.order_id for s in sheet.stops] == [first, second]
    stop = sheet.stops[0]
    assert (stop.address, stop.address_comment, stop.phones) == (
        "Khreshchatyk 1", "code 12", ("+380671234567",))
    assert stop.services == (({"en": "cleaning"}, 1),)  # names, quantity
    query = parse_qs(urlsplit(sheet.google_maps_url).query)
    assert query["origin"] == ["50.450000,30.520000"]  # the worker's home
    assert query["waypoints"] == ["50.450000,30.520000"]
    assert query["destination"] == ["50.460000,30.550000"]
    assert sheet.yandex_maps_url == (
        "https://yandex.ru/maps/?rtext=50.450000,30.520000~50.450000,30.520000"
        "~50.460000,30.550000&rtt=auto")
    with pytest.raises(NotFound):
        await route_sheet(db, worker_id=99999, day=DAY, tz=KYIV)


def test_navigator_links_for_one_point_and_none():
    home = Point(50.4, 30.5)
    assert google_route_url([]) is None and yandex_route_url([]) is None
    assert "origin=50.400000,30.500000&destination=50.400000,30.500000" in google_route_url(
        [home])
    url = google_route_url([home, Point(50.41, 30.51), Point(50.42, 30.52), Point(50.43, 30.53)])
    assert "waypoints=50.410000,30.510000|50.420000,30.520000" in url


async def test_a_plan_survives_its_round_trip_through_json(db):
    await two_workers_day(db)
    plan = await plan_day(db, day=DAY, zone_id=None, options=FAST, rules=ROUTE_RULES, now=NOW)
    again = load_plan(dump_plan(plan))
    assert (again.routes, again.unplaced, again.movable, dict(again.snapshot)) == (
        plan.routes, plan.unplaced, plan.movable, dict(plan.snapshot))


async def test_a_proposal_is_applied_once_by_its_dispatcher(db):
    _, orders, _, _ = await two_workers_day(db)
    user = await create_user(db, login="dina", name="Dina", role=Role.DISPATCHER,
                             password="long enough password")
    proposal = await propose_day(db, day=DAY, zone_id=None, user_id=user.id, rules=ROUTE_RULES,
                                 now=NOW)
    with pytest.raises(NotFound):
        await get_proposal(db, token=proposal.token, user_id=user.id + 1, now=NOW)
    with pytest.raises(NotFound):  # expired
        await get_proposal(db, token=proposal.token, user_id=user.id, now=NOW + timedelta(hours=1))
    shown = await get_proposal(db, token=proposal.token, user_id=user.id, now=NOW)
    assert shown.plan.routes == proposal.plan.routes
    assert shown.current == proposal.current
    assert {t.travel_minutes for t in shown.current.values()} == {0}  # nobody has jobs yet
    applied = await apply_proposal(db, token=proposal.token, user_id=user.id, planner="user:1",
                                   now=NOW)
    assert sorted(applied.assigned) == sorted(orders)
    with pytest.raises(NotFound) as gone:
        await apply_proposal(db, token=proposal.token, user_id=user.id, planner="user:1", now=NOW)
    assert gone.value.key == "route.proposal_gone"


async def test_a_stale_proposal_is_refused(db):
    _, orders, _, _ = await two_workers_day(db)
    user = await create_user(db, login="dina", name="Dina", role=Role.DISPATCHER,
                             password="long enough password")
    proposal = await propose_day(db, day=DAY, zone_id=None, user_id=user.id, rules=ROUTE_RULES,
                                 now=NOW)
    await change_status(db, order_id=orders[0], target="cancelled", actor="user:1", now=NOW,
                        reason="client called")
    with pytest.raises(Conflict) as refused:
        await apply_proposal(db, token=proposal.token, user_id=user.id, planner="user:1",
                             now=NOW)
    assert refused.value.key == "route.plan_stale"


async def test_current_totals_follow_each_workers_jobs_from_home_and_back(db):
    day, early, late, order = await small_day(db)
    client = day.orders[order].client_id
    await add_order(db, day, client_id=client, point=(50.46, 30.52), window=(9, 0, 0),
                    worker_id=early, status="assigned")
    await add_order(db, day, client_id=client, point=(50.47, 30.52), window=(14, 0, 0),
                    worker_id=early, status="assigned")
    totals = await current_totals(db, day=DAY, rules=ROUTE_RULES, workers=[early, late])
    # Home (50.45) → 50.46 → 50.47 → home: 1.11 + 1.11 + 2.22 km along the line, × 1.4.
    assert totals[early].km == pytest.approx(6.2, abs=0.1)
    assert totals[early].travel_minutes == 15  # 6.2 km at 25 km/h
    assert totals[early].idle_minutes == 14 * 60 - (9 * 60 + 90) - 4  # 4 min to drive between
    assert totals[late] == RouteTotals(0, 0.0, 0)
