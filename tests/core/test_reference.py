"""Services, zones and staff held by each process: read once, read again after any change."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from sqlalchemy import delete, event, update

from core.booking import book_visit, check_place
from core.clients import set_worker_preference
from core.db import Database, create_engine
from core.errors import InvalidInput
from core.geo import Point
from core.models import (
    Channel,
    Service,
    ShiftException,
    ShiftExceptionKind,
    Worker,
    WorkerPreference,
    Zone,
)
from core.reference import CHANGED
from core.shifts import add_shift_exception
from core.slots import find_slots
from core.zones import polygon_wkt
from tests.company import CENTRE, MONDAY, NOW, RULES, kyiv, small_company
from webhooks.live import LiveHub, Subscription

HERE = Point(*CENTRE)
TUESDAY = MONDAY + timedelta(days=1)
FAR_AWAY = [(46.40, 30.60), (46.40, 30.80), (46.55, 30.80), (46.55, 30.60)]  # Odesa


def catalog_reads(db: Database) -> list[str]:
    """Statements reading services or zones, as they reach the driver."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if "FROM services" in statement or "FROM zones" in statement:
            seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    return seen


async def slots(db: Database, service_id: int, client_id: int | None = None) -> list:
    return await find_slots(db, service_id=service_id, first=TUESDAY, last=TUESDAY, now=NOW,
                            rules=RULES, point=HERE, client_id=client_id)


async def book(db: Database, company, hour: int):  # type: ignore[no-untyped-def]
    return await book_visit(db, client_id=company.client_id, service_id=company.service_id,
                            start=kyiv(TUESDAY, hour), now=NOW, rules=RULES,
                            channel=Channel.PHONE, point=HERE)


async def price(db: Database, service_id: int, value: int) -> None:
    async with db.transaction() as tx:
        service = await tx.get(Service, service_id)
        assert service is not None
        service.price = value


async def test_the_catalog_is_read_once_and_again_after_a_change_made_here(db):
    company = await small_company(db)
    reads = catalog_reads(db)
    await slots(db, company.service_id)
    first = len(reads)
    assert first == 2  # the services, the zones
    await slots(db, company.service_id)
    await check_place(db, service_id=company.service_id, point=HERE)
    assert len(reads) == first  # held: no statement

    await price(db, company.service_id, 200000)
    booked = await book(db, company, 10)
    assert booked.order.total == 200000  # the new price, at once
    async with db.transaction() as tx:  # a zone moved far away, by a bulk UPDATE
        await tx.execute(update(Zone).where(Zone.id == company.zone_id)
                         .values(polygon_wkt=polygon_wkt(FAR_AWAY)))
    with pytest.raises(InvalidInput) as refused:
        await check_place(db, service_id=company.service_id, point=HERE)
    assert refused.value.key == "outside_zones"


async def test_a_transaction_sees_its_own_change_and_keeps_nothing_when_it_rolls_back(db):
    company = await small_company(db)
    await slots(db, company.service_id)

    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        async with db.transaction() as tx:
            service = await tx.get(Service, company.service_id)
            assert service is not None
            service.active = False
            await tx.flush()
            from core.slots import load_job_spec

            with pytest.raises(Exception) as gone:
                await load_job_spec(tx, company.service_id, 1)
            assert gone.typename == "NotFound"
            raise Undo
    assert await slots(db, company.service_id)  # still sold: the change never happened


@asynccontextmanager
async def another_process(db: Database) -> AsyncIterator[tuple[Database, Subscription]]:
    """A second handle on the database, as another process has; this one's live hub runs,
    and the subscription hears of catalog changes."""
    other = Database(create_engine(str(db.engine.url.render_as_string(False))))
    hub = LiveHub(db, poll_seconds=0.02)
    await hub.start()
    try:
        yield other, hub.subscribe(CHANGED)
    finally:
        await hub.stop()
        await other.dispose()


async def test_a_change_made_by_another_process_reaches_this_one_through_its_live_hub(fresh_db):
    company = await small_company(fresh_db)
    async with another_process(fresh_db) as (other, changed):
        assert (await book(fresh_db, company, 10)).order.total == 150000
        await price(other, company.service_id, 180000)  # an operator, in another process
        await asyncio.wait_for(changed.get(), 5)
        assert (await book(fresh_db, company, 12)).order.total == 180000


async def test_a_change_made_around_the_application_is_read_within_a_minute(fresh_db, monkeypatch):
    company = await small_company(fresh_db)
    other = Database(create_engine(str(fresh_db.engine.url.render_as_string(False))))
    try:
        assert (await book(fresh_db, company, 10)).order.total == 150000
        async with other.engine.begin() as connection:  # by hand: no event, no hub
            await connection.execute(update(Service.__table__).values(price=170000))
        assert (await book(fresh_db, company, 12)).order.total == 150000  # the held copy

        import core.reference

        clock = core.reference.time.monotonic() + timedelta(minutes=1).total_seconds()
        monkeypatch.setattr(core.reference.time, "monotonic", lambda: clock)
        assert (await book(fresh_db, company, 14)).order.total == 170000
    finally:
        await other.dispose()


async def test_a_slot_search_reads_only_the_clients_lists_and_the_jobs_once_staff_is_held(db):
    company = await small_company(db, workers=3)
    await slots(db, company.service_id, company.client_id)
    statements: list[str] = []
    event.listen(db.engine.sync_engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_a: statements.append(statement))
    found = await slots(db, company.service_id, company.client_id)
    assert found
    reads = [s for s in statements if "SAVEPOINT" not in s]  # the test's own transaction
    assert len(reads) == 2, reads
    assert "FROM client_workers" in reads[0] and "FROM orders" in reads[1]


async def test_shifts_and_workers_changed_here_count_at_once(db):
    company = await small_company(db, workers=2)
    assert {slot.worker_id for slot in await slots(db, company.service_id)} == {
        company.worker_ids[0]  # the best of two alike
    }

    first, second = company.worker_ids
    await add_shift_exception(db, worker_id=first, day=TUESDAY, kind=ShiftExceptionKind.OFF)
    assert {slot.worker_id for slot in await slots(db, company.service_id)} == {second}

    async with db.transaction() as tx:
        worker = await tx.get(Worker, second)
        assert worker is not None
        worker.active = False
    assert await slots(db, company.service_id) == []  # the one left on duty is gone

    await set_worker_preference(db, client_id=company.client_id, worker_id=first,
                                kind=WorkerPreference.BLOCKED)  # the client's own: never held
    async with db.transaction() as tx:
        await tx.execute(delete(ShiftException))
    assert await slots(db, company.service_id, company.client_id) == []
    assert {slot.worker_id for slot in await slots(db, company.service_id)} == {first}


async def test_a_day_off_given_in_another_process_closes_the_day_here(fresh_db):
    company = await small_company(fresh_db)
    async with another_process(fresh_db) as (other, changed):
        assert await slots(fresh_db, company.service_id)
        await add_shift_exception(other, worker_id=company.worker_ids[0], day=TUESDAY,
                                  kind=ShiftExceptionKind.OFF)
        await asyncio.wait_for(changed.get(), 5)
        assert await slots(fresh_db, company.service_id) == []


async def test_a_burst_of_searches_finding_nothing_held_waits_for_one_read(fresh_db):
    company = await small_company(fresh_db, workers=3)
    reads = catalog_reads(fresh_db)
    staff_reads: list[str] = []
    event.listen(fresh_db.engine.sync_engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_a: staff_reads.append(statement)
                 if "FROM shift_patterns" in statement else None)
    found = await asyncio.gather(*(slots(fresh_db, company.service_id) for _ in range(20)))
    assert all(found) and all(result == found[0] for result in found)
    assert len(reads) == 2  # the services and the zones, once for all twenty
    assert len(staff_reads) == 1
