"""Booking once per request, moving a booked visit, and what ratings open."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.booking import book_visit, reschedule_order
from core.errors import Conflict, SlotTaken, TransitionRefused
from core.geo import Point
from core.models import Channel, Event, Order, QualityCase
from core.orders import change_status, client_orders
from core.quality import rate_order
from tests.company import CENTRE, MONDAY, NOW, RULES, kyiv, small_company

HERE = Point(*CENTRE)
TUESDAY = MONDAY + timedelta(days=1)


async def count(db, model):
    async with db.transaction() as tx:
        return await tx.scalar(select(func.count()).select_from(model))


async def book(db, company, hour, **extra):
    return (await book_visit(db, client_id=company.client_id, service_id=company.service_id,
                             start=kyiv(TUESDAY, hour), now=NOW, rules=RULES,
                             channel=Channel.TELEGRAM, point=HERE, **extra)).order


async def test_the_same_request_key_books_one_order_even_at_once(fresh_db):
    company = await small_company(fresh_db, workers=3)

    first, second = await asyncio.gather(
        book(fresh_db, company, 10, request_key="telegram:1:abc"),
        book(fresh_db, company, 10, request_key="telegram:1:abc"),
    )

    assert first.id == second.id
    assert await count(fresh_db, Order) == 1
    again = await book(fresh_db, company, 10, request_key="telegram:1:abc")
    assert again.id == first.id
    other = await book(fresh_db, company, 10, request_key="telegram:1:def")
    assert other.id != first.id


async def test_reschedule_keeps_the_worker_when_free(db):
    company = await small_company(db, workers=2)
    order = await book(db, company, 10)

    moved = (await reschedule_order(db, order_id=order.id, start=kyiv(TUESDAY, 11), now=NOW,
                                    rules=RULES, actor="client:1")).order

    assert moved.worker_id == order.worker_id  # its own old time does not block it
    assert (moved.starts_at, moved.ends_at) == (kyiv(TUESDAY, 11), kyiv(TUESDAY, 13))
    assert moved.history[-1].reason.startswith("rescheduled 01.12.2026 10:00 → 01.12.2026 11:00")
    async with db.transaction() as tx:
        kinds = list(await tx.scalars(select(Event.kind).where(Event.order_id == order.id)))
    assert "order.rescheduled" in kinds


async def test_reschedule_to_a_busy_worker_takes_another(db):
    company = await small_company(db, workers=2)
    first = await book(db, company, 10)
    second = await book(db, company, 14)
    third = await book(db, company, 10)
    assert second.worker_id == third.worker_id != first.worker_id

    moved = (await reschedule_order(db, order_id=third.id, start=kyiv(TUESDAY, 14), now=NOW,
                                    rules=RULES, actor="client:1")).order

    assert moved.worker_id == first.worker_id and moved.status == "assigned"


async def test_reschedule_with_nobody_free_offers_alternatives(db):
    company = await small_company(db, workers=1)
    await book(db, company, 10)
    second = await book(db, company, 14)

    with pytest.raises(SlotTaken) as taken:
        await reschedule_order(db, order_id=second.id, start=kyiv(TUESDAY, 10), now=NOW,
                               rules=RULES, actor="client:1")
    assert taken.value.alternatives


async def test_reschedule_refused_once_work_started_and_for_another_client(db):
    company = await small_company(db)
    order = await book(db, company, 10)
    with pytest.raises(Exception, match="not found"):
        await reschedule_order(db, order_id=order.id, start=kyiv(TUESDAY, 14), now=NOW,
                               rules=RULES, actor="x", client_id=company.client_id + 1)
    for target in ("accepted", "on_the_way"):
        await change_status(db, order_id=order.id, target=target, actor="w", now=NOW)
    with pytest.raises(TransitionRefused, match="can no longer be changed"):
        await reschedule_order(db, order_id=order.id, start=kyiv(TUESDAY, 14), now=NOW,
                               rules=RULES, actor="x")


async def test_client_orders_split_upcoming_and_past(db):
    company = await small_company(db)
    kept = await book(db, company, 10)
    dropped = await book(db, company, 14)
    await change_status(db, order_id=dropped.id, target="cancelled", actor="c", now=NOW,
                        reason="plans")

    orders = await client_orders(db, client_id=company.client_id, now=NOW)

    assert [o.id for o in orders.upcoming] == [kept.id]
    assert [o.id for o in orders.past] == [dropped.id]


async def finished(db, company, hour=10):
    order = await book(db, company, hour)
    for target in ("accepted", "on_the_way", "in_progress"):
        await change_status(db, order_id=order.id, target=target, actor="w", now=NOW)
    await change_status(db, order_id=order.id, target="completed", actor="w", now=NOW,
                        payment_method="cash")
    return order


async def test_low_rating_opens_a_quality_case_and_a_high_one_does_not(db):
    company = await small_company(db)
    order = await finished(db, company)

    low = await rate_order(db, order_id=order.id, client_id=company.client_id, stars=3,
                           comment="late", now=NOW)

    assert low.case_id is not None
    async with db.transaction() as tx:
        case = await tx.get(QualityCase, low.case_id)
        assert (case.order_id, case.note, case.state) == (order.id, "late", "open")
    with pytest.raises(Conflict, match="already been rated"):
        await rate_order(db, order_id=order.id, client_id=company.client_id, stars=5, now=NOW)

    other = await finished(db, company, 14)
    high = await rate_order(db, order_id=other.id, client_id=company.client_id, stars=4, now=NOW)
    assert high.case_id is None


async def test_an_unfinished_order_cannot_be_rated(db):
    company = await small_company(db)
    order = await book(db, company, 10)
    with pytest.raises(TransitionRefused, match="not finished yet"):
        await rate_order(db, order_id=order.id, client_id=company.client_id, stars=5, now=NOW)


async def test_a_moved_job_waits_for_its_own_worker_held_by_another_booking(pg_db):
    """PostgreSQL: a new booking passes over a worker another booking holds, a moved job
    waits for its own worker instead of going to another."""
    from core.models import Worker

    company = await small_company(pg_db, workers=2)
    order = await book(pg_db, company, 10)
    async with pg_db.transaction() as holder:  # a booking of the same worker in progress
        await holder.execute(
            select(Worker.id).where(Worker.id == order.worker_id).with_for_update()
        )
        moving = asyncio.create_task(reschedule_order(
            pg_db, order_id=order.id, start=kyiv(TUESDAY, 11), now=NOW, rules=RULES,
            actor="client:1",
        ))
        await asyncio.sleep(0.5)
        assert not moving.done()
    moved = (await asyncio.wait_for(moving, 5)).order
    assert moved.worker_id == order.worker_id
    assert moved.starts_at == kyiv(TUESDAY, 11)
