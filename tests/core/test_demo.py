from __future__ import annotations

import itertools
import re
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
import shapely
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core import demo
from core.db import Database
from core.demo import DEMO_ZONE_CODES, seed_demo
from core.geo import Point
from core.models import (
    Base,
    Client,
    ClientWorker,
    Order,
    OrderLine,
    Service,
    User,
    Worker,
    WorkerPreference,
    Zone,
)
from core.shifts import epoch_minutes, load_shift_rows, working_intervals
from core.slots import SlotRules, find_slots
from core.travel import StraightLineTravel
from core.workflows import Status, WorkflowKind
from core.zones import ZoneMap

TZ = ZoneInfo("Europe/Kyiv")
# A Tuesday: the demo's past days reach back into the previous week.
TODAY = date(2026, 5, 12)
MONDAY = date(2026, 5, 11)
NOW = datetime.combine(TODAY, time(12), tzinfo=TZ)
RULES = SlotRules(tz=TZ, step=30, lead=60, alternatives=5, max_days=62,
                  travel=StraightLineTravel(speed_kmh=25, detour_factor=1.4))
UA_MOBILE = re.compile(r"^\+380(50|63|66|67|68|73|93|95|96|97|98|99)\d{7}$")


async def seed(db: Database, today: date = TODAY) -> bool:
    return await seed_demo(db, tz=TZ, region="UA", today=today)


async def row_counts(db: Database) -> dict[str, int]:
    async with db.transaction() as tx:
        return {table.name: await tx.scalar(select(func.count()).select_from(table)) or 0
                for table in Base.metadata.sorted_tables}


async def zone_map(db: Database) -> ZoneMap:
    async with db.transaction() as tx:
        return ZoneMap((await tx.execute(select(Zone.id, Zone.code, Zone.polygon_wkt))).all())


async def test_the_company(db: Database) -> None:
    assert await seed(db)
    async with db.transaction() as tx:
        zones = list(await tx.scalars(select(Zone).order_by(Zone.id)))
        services = list(await tx.scalars(select(Service)))
        workers = list(await tx.scalars(select(Worker)))
        users = list(await tx.scalars(select(User)))
        clients = list(await tx.scalars(select(Client)))
        worker_phones = [w.phone for w in workers]
        preferences = list(await tx.scalars(select(ClientWorker)))
        patterns, exceptions = await load_shift_rows(
            tx, [w.id for w in workers], MONDAY, MONDAY + timedelta(days=13))

    assert sorted(z.code for z in zones) == sorted(DEMO_ZONE_CODES)
    assert all(z.city == "Kyiv" for z in zones)
    shapes = [shapely.from_wkt(z.polygon_wkt) for z in zones]
    overlapping = [a.intersection(b).area > 0 for a, b in itertools.combinations(shapes, 2)]
    assert sum(overlapping) >= 2
    centre = shapely.Point(30.5234, 50.4501)  # Maidan, as (lon, lat)
    assert any(shape.contains(centre) for shape in shapes)

    assert len(users) == 3 and all(u.password_hash is None for u in users)
    assert {u.role.value for u in users} == {"superadmin", "operator", "manager"}
    assert all(z.responsible_user_id in {u.id for u in users} for z in zones)

    assert len(services) == 10
    assert {s.workflow for s in services} == {k.value for k in WorkflowKind}
    for service in services:
        assert service.price > 0 and service.duration_minutes > 0
        assert set(service.names) == {"uk", "ru", "en"}
        assert service.zones, service.code
        skills = {s.skill for s in service.skills}
        able = [w for w in workers if skills <= {s.skill for s in w.skills}]
        assert len(able) >= 2, service.code

    assert len(workers) == 8
    for worker in workers:
        assert 1 <= len(worker.zones) <= 3 and worker.skills
        assert 4.2 <= worker.rating <= 5.0
        assert worker.home_lat is not None and worker.home_lon is not None
        for week in (0, 1):
            working = [
                day for n in range(7)
                if working_intervals(
                    [p for p in patterns if p.worker_id == worker.id],
                    [e for e in exceptions if e.worker_id == worker.id],
                    day := MONDAY + timedelta(days=7 * week + n), TZ,
                )
            ]
            assert len(working) >= 4, (worker.name, week, working)
    assert any(w.vehicle_capacity for w in workers)

    assert len(clients) == 50
    phones = [p.e164 for c in clients for p in c.phones]
    assert len(phones) > 50
    everyone = phones + [p for p in worker_phones if p]
    assert len(set(everyone)) == len(everyone)
    for phone in everyone:
        assert UA_MOBILE.match(phone), phone
        assert phonenumbers.is_valid_number(phonenumbers.parse(phone))
    assert {c.language for c in clients} == {"uk", "ru", "en"}
    assert any(c.debt > 0 for c in clients) and any(c.bottles > 0 for c in clients)
    assert any(c.telegram_user_id for c in clients)
    shapes_by_id = {z.id: shape for z, shape in zip(zones, shapes, strict=True)}
    for client in clients:
        assert client.addresses
        for address in client.addresses:
            assert address.zone_id is not None and address.lat and address.lon
            assert shapes_by_id[address.zone_id].intersects(shapely.Point(address.lon, address.lat))
    assert {p.kind for p in preferences} == {WorkerPreference.PREFERRED, WorkerPreference.BLOCKED}

    # Next week a cleaner can be booked on Khreshchatyk and at a client's saved address.
    cleaning = next(s for s in services if s.code == "cleaning_standard")
    client = clients[0]
    next_week = [MONDAY + timedelta(days=7 + n) for n in range(5)]
    places: list[dict[str, Any]] = [
        {"point": Point(50.4480, 30.5225)},
        {"address_id": client.addresses[0].id, "client_id": client.id},
    ]
    for place in places:
        slots = await find_slots(db, service_id=cleaning.id, first=next_week[0],
                                 last=next_week[-1], now=NOW, rules=RULES, quantity=60,
                                 **place)
        assert slots
        assert {s.start.date() for s in slots} <= set(next_week)


async def test_the_orders_obey_the_rules(db: Database) -> None:
    assert await seed(db)
    zones = await zone_map(db)
    async with db.transaction() as tx:
        orders = list(await tx.scalars(select(Order).order_by(Order.starts_at)))
        services = {s.id: s for s in await tx.scalars(select(Service))}
        workers = {w.id: w for w in await tx.scalars(select(Worker))}
        blocked = {(cw.client_id, cw.worker_id) for cw in await tx.scalars(
            select(ClientWorker).where(ClientWorker.kind == WorkerPreference.BLOCKED))}
        patterns, exceptions = await load_shift_rows(
            tx, list(workers), TODAY - timedelta(days=3), TODAY + timedelta(days=3))

    assert 40 <= len(orders) <= 60
    statuses = {o.status for o in orders}
    assert len(statuses) >= 4
    assert {Status.CLOSED, Status.CANCELLED} <= statuses
    assert statuses & {Status.ASSIGNED, Status.ACCEPTED}
    assert {o.workflow for o in orders} == {k.value for k in WorkflowKind}
    local_days = {o.starts_at.astimezone(TZ).date() for o in orders}
    assert min(local_days) < MONDAY <= TODAY < max(local_days) <= TODAY + timedelta(days=3)
    assert min(local_days) >= TODAY - timedelta(days=3)

    by_worker: dict[int, list[Order]] = defaultdict(list)
    for order in orders:
        assert order.worker_id is not None
        assert order.history[0].to_status == Status.CONFIRMED
        assert order.history[-1].to_status == order.status
        moments = [h.at for h in order.history]
        assert moments == sorted(moments) and moments[-1] <= NOW
        if order.status in {Status.COMPLETED, Status.CLOSED, Status.DELIVERED}:
            assert order.payment_method
        if order.starts_at > NOW:
            assert order.status in {Status.ASSIGNED, Status.ACCEPTED, Status.ON_THE_WAY,
                                    Status.CANCELLED}
        if order.status == Status.CANCELLED:
            assert order.history[-1].reason
            continue
        worker = workers[order.worker_id]
        service = services[order.lines[0].service_id]
        assert {s.skill for s in service.skills} <= {s.skill for s in worker.skills}
        assert (order.client_id, worker.id) not in blocked
        assert order.lat is not None and order.lon is not None
        place = set(zones.zones_at(Point(order.lat, order.lon)))
        served = place & {z.zone_id for z in worker.zones} & {z.zone_id for z in service.zones}
        assert served, order.id
        day = order.starts_at.astimezone(TZ).date()
        intervals = working_intervals(
            [p for p in patterns if p.worker_id == worker.id],
            [e for e in exceptions if e.worker_id == worker.id], day, TZ,
        )
        start, end = epoch_minutes(order.starts_at), epoch_minutes(order.ends_at)
        assert any(i.start <= start and end <= i.end and (i.zone_id is None or i.zone_id in served)
                   for i in intervals), order.id
        by_worker[worker.id].append(order)

    assert sum(len(jobs) for jobs in by_worker.values()) >= 30
    for jobs in by_worker.values():
        for earlier, later in itertools.pairwise(sorted(jobs, key=lambda o: o.starts_at)):
            assert earlier.ends_at <= later.starts_at


async def test_a_second_run_changes_nothing(db: Database) -> None:
    assert await seed(db)
    before = await row_counts(db)
    assert before["orders"] > 0 and before["outbox"] == 0
    assert not await seed(db)
    assert not await seed(db, TODAY + timedelta(days=30))
    assert await row_counts(db) == before


async def test_a_failed_seed_leaves_nothing_behind(
    fresh_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a database of its own, as the command line runs it: one transaction, all or nothing."""
    before = await row_counts(fresh_db)
    play = demo._play
    calls = 0

    async def play_until_the_power_fails(*args: Any, **kwargs: Any) -> datetime:
        nonlocal calls
        calls += 1
        if calls == 10:
            raise RuntimeError("power cut")
        return await play(*args, **kwargs)

    monkeypatch.setattr(demo, "_play", play_until_the_power_fails)
    with pytest.raises(RuntimeError, match="power cut"):
        await seed(fresh_db)
    assert await row_counts(fresh_db) == before

    monkeypatch.undo()
    assert await seed(fresh_db)
    seeded = await row_counts(fresh_db)
    assert seeded["orders"] >= 40 and seeded["zones"] == 3
    assert not await seed(fresh_db)
    assert await row_counts(fresh_db) == seeded


async def test_the_same_today_gives_the_same_demo(db: Database) -> None:
    async def story() -> list[tuple[str, str, str, datetime, str]]:
        async with db.transaction() as tx:
            rows = await tx.execute(
                select(Client.name, Worker.name, Service.code, Order.starts_at, Order.status)
                .join(Client, Client.id == Order.client_id)
                .join(Worker, Worker.id == Order.worker_id)
                .join(OrderLine, OrderLine.order_id == Order.id)
                .join(Service, Service.id == OrderLine.service_id)
                .order_by(Order.starts_at, Client.name)
            )
            return [(client, worker, code, starts, status)
                    for client, worker, code, starts, status in rows]

    assert isinstance(db.bind, AsyncConnection)
    attempt = await db.bind.begin_nested()
    assert await seed(db)
    first = await story()
    await attempt.rollback()
    assert (await row_counts(db))["orders"] == 0
    assert await seed(db)
    assert await story() == first
