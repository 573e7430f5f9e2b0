import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.booking import book_visit
from core.clients import register_client, set_worker_preference
from core.errors import SlotTaken
from core.geo import Point
from core.models import Channel, Event, Order, OutboxMessage, WorkerPreference
from tests.company import CENTRE, MONDAY, NOW, RULES, kyiv, small_company

HERE = Point(*CENTRE)
TUESDAY = MONDAY + timedelta(days=1)


async def count(db, model):
    async with db.transaction() as tx:
        return await tx.scalar(select(func.count()).select_from(model))


async def test_booking_creates_an_assigned_order_with_history_and_events(db):
    company = await small_company(db)
    booking = await book_visit(db, client_id=company.client_id, service_id=company.service_id,
                               start=kyiv(TUESDAY, 10), now=NOW, rules=RULES,
                               channel=Channel.TELEGRAM, point=HERE, address_text="Khreshchatyk 1")
    order = booking.order
    assert order.status == "assigned"
    assert order.worker_id == company.worker_ids[0]
    assert order.starts_at == kyiv(TUESDAY, 10) and order.ends_at == kyiv(TUESDAY, 12)
    assert order.total == 150000 and order.number == str(10000 + order.id)
    assert [(h.from_status, h.to_status) for h in order.history] == [
        ("new", "confirmed"), ("confirmed", "assigned")]
    assert "travel" in booking.why
    async with db.transaction() as tx:
        kinds = list(await tx.scalars(select(Event.kind).where(Event.order_id == order.id)))
    assert sorted(kinds) == ["order.assigned", "order.booked"]


async def test_booking_queues_chat_messages_for_client_and_worker(db):
    company = await small_company(db)
    client = await register_client(db, phone="+380501112233", region="UA", language="ru",
                                   channel=Channel.TELEGRAM, telegram_user_id=555)
    async with db.transaction() as tx:
        from core.models import Worker

        worker = await tx.get(Worker, company.worker_ids[0])
        worker.telegram_user_id = 777
    await book_visit(db, client_id=client.id, service_id=company.service_id,
                     start=kyiv(TUESDAY, 10), now=NOW, rules=RULES, channel=Channel.TELEGRAM,
                     point=HERE)
    async with db.transaction() as tx:
        messages = {(m.bot, m.chat_id, m.language, m.state)
                    for m in await tx.scalars(select(OutboxMessage))}
    assert messages == {("customer", 555, "ru", "pending"), ("worker", 777, "uk", "pending")}


async def test_taken_slot_offers_the_nearest_alternatives(db):
    company = await small_company(db)
    await book_visit(db, client_id=company.client_id, service_id=company.service_id,
                     start=kyiv(TUESDAY, 12), now=NOW, rules=RULES, channel=Channel.PHONE,
                     point=HERE)
    other = await register_client(db, phone="0501112233", region="UA")
    with pytest.raises(SlotTaken) as taken:
        await book_visit(db, client_id=other.id, service_id=company.service_id,
                         start=kyiv(TUESDAY, 12), now=NOW, rules=RULES, channel=Channel.PHONE,
                         point=HERE)
    starts = [slot.start for slot in taken.value.alternatives]
    assert starts == [kyiv(TUESDAY, 9), kyiv(TUESDAY, 9, 30), kyiv(TUESDAY, 10),
                      kyiv(TUESDAY, 14), kyiv(TUESDAY, 14, 30)]
    assert "has just been taken" in str(taken.value)
    assert await count(db, Order) == 1


async def test_preferred_worker_is_chosen_and_the_reason_says_so(db):
    company = await small_company(db, workers=3)
    favourite = company.worker_ids[2]
    await set_worker_preference(db, client_id=company.client_id, worker_id=favourite,
                                kind=WorkerPreference.PREFERRED)
    booking = await book_visit(db, client_id=company.client_id, service_id=company.service_id,
                               start=kyiv(TUESDAY, 10), now=NOW, rules=RULES,
                               channel=Channel.PHONE, point=HERE)
    assert booking.order.worker_id == favourite
    assert booking.why.startswith("preferred by the client")


async def test_load_is_spread_when_all_else_is_equal(db):
    company = await small_company(db, workers=2)
    first = await book_visit(db, client_id=company.client_id, service_id=company.service_id,
                             start=kyiv(TUESDAY, 9), now=NOW, rules=RULES, channel=Channel.PHONE,
                             point=HERE)
    second = await book_visit(db, client_id=company.client_id, service_id=company.service_id,
                              start=kyiv(TUESDAY, 14), now=NOW, rules=RULES,
                              channel=Channel.PHONE, point=HERE)
    assert {first.order.worker_id, second.order.worker_id} == set(company.worker_ids)


async def test_start_off_the_grid_or_too_soon_is_refused(db):
    from core.errors import InvalidInput

    company = await small_company(db)
    for start in (kyiv(TUESDAY, 10, 10), NOW + timedelta(minutes=30)):
        with pytest.raises(InvalidInput):
            await book_visit(db, client_id=company.client_id, service_id=company.service_id,
                             start=start, now=NOW, rules=RULES, channel=Channel.PHONE, point=HERE)
    assert await count(db, Order) == 0


async def test_rolled_back_booking_leaves_no_event_and_no_message(db):
    company = await small_company(db)
    client = await register_client(db, phone="+380501112233", region="UA",
                                   channel=Channel.TELEGRAM, telegram_user_id=555)

    class Crash(Exception):
        pass

    from core import booking as booking_module

    events_before = await count(db, Event)  # the catalog set up above is one
    with pytest.raises(Crash):
        async with db.transaction() as tx:
            await booking_module._book(
                tx, client_id=client.id, service_id=company.service_id,
                start_minute=int(kyiv(TUESDAY, 10).timestamp()) // 60, now=NOW, rules=RULES,
                channel=Channel.TELEGRAM, point=HERE, address_id=None, address_text="",
                quantity=1, comment="", actor="test", priority=booking_module.Priority.NORMAL,
                lock=db.dialect == "postgresql", patient=False, request_key=None,
            )
            assert await tx.scalar(select(func.count()).select_from(OutboxMessage)) == 1
            raise Crash
    assert await count(db, Order) == 0
    assert await count(db, Event) == events_before
    assert await count(db, OutboxMessage) == 0


async def test_two_hundred_concurrent_bookings_of_one_slot_give_exactly_one_order(fresh_db):
    company = await small_company(fresh_db, workers=1)
    clients = [
        await register_client(fresh_db, phone=f"+38067{n:07d}", region="UA") for n in range(200)
    ]

    async def attempt(client_id: int):
        try:
            return await book_visit(fresh_db, client_id=client_id, service_id=company.service_id,
                                    start=kyiv(TUESDAY, 12), now=NOW, rules=RULES,
                                    channel=Channel.TELEGRAM, point=HERE)
        except SlotTaken as taken:
            return taken

    results = await asyncio.gather(*(attempt(c.id) for c in clients))
    booked = [r for r in results if not isinstance(r, SlotTaken)]
    refused = [r for r in results if isinstance(r, SlotTaken)]
    assert len(booked) == 1 and len(refused) == 199
    assert all(r.alternatives and all(a.start != kyiv(TUESDAY, 12) for a in r.alternatives)
               for r in refused)
    assert await count(fresh_db, Order) == 1


async def test_database_itself_refuses_overlapping_jobs_of_one_worker(fresh_db):
    from sqlalchemy.exc import IntegrityError

    company = await small_company(fresh_db)
    booking = await book_visit(fresh_db, client_id=company.client_id,
                               service_id=company.service_id, start=kyiv(TUESDAY, 10), now=NOW,
                               rules=RULES, channel=Channel.PHONE, point=HERE)
    with pytest.raises(IntegrityError):
        async with fresh_db.transaction() as tx:
            tx.add(Order(
                client_id=company.client_id, workflow="visit", status="assigned",
                channel=Channel.PANEL, worker_id=booking.order.worker_id,
                starts_at=kyiv(TUESDAY, 11), ends_at=kyiv(TUESDAY, 13),
                window_start=kyiv(TUESDAY, 11), window_end=kyiv(TUESDAY, 11),
            ))
    async with fresh_db.transaction() as tx:  # a cancelled order no longer holds the time
        tx.add(Order(
            client_id=company.client_id, workflow="visit", status="cancelled",
            channel=Channel.PANEL, worker_id=booking.order.worker_id,
            starts_at=kyiv(TUESDAY, 11), ends_at=kyiv(TUESDAY, 13),
            window_start=kyiv(TUESDAY, 11), window_end=kyiv(TUESDAY, 11),
        ))
    assert await count(fresh_db, Order) == 2


async def test_concurrent_bookings_over_several_workers_fill_them_without_deadlock(fresh_db):
    """Each caller prefers a different worker (the nearest), so a lock held on a busy worker
    while waiting for the next one would deadlock; every worker must end up booked once."""
    from core.models import Worker

    company = await small_company(fresh_db, workers=4)
    homes = [(50.42, 30.45), (50.42, 30.65), (50.50, 30.45), (50.50, 30.65)]
    async with fresh_db.transaction() as tx:
        for worker_id, (lat, lon) in zip(company.worker_ids, homes, strict=True):
            worker = await tx.get(Worker, worker_id)
            worker.home_lat, worker.home_lon = lat, lon
    clients = [
        await register_client(fresh_db, phone=f"+38050{n:07d}", region="UA") for n in range(80)
    ]

    async def attempt(n: int, client_id: int):
        lat, lon = homes[n % 4]
        try:
            return await book_visit(fresh_db, client_id=client_id, service_id=company.service_id,
                                    start=kyiv(TUESDAY, 12), now=NOW, rules=RULES,
                                    channel=Channel.TELEGRAM, point=Point(lat, lon))
        except SlotTaken as taken:
            return taken

    results = await asyncio.gather(*(attempt(n, c.id) for n, c in enumerate(clients)))
    booked = [r for r in results if not isinstance(r, SlotTaken)]
    assert sorted(b.order.worker_id for b in booked) == sorted(company.worker_ids)
    assert sum(isinstance(r, SlotTaken) for r in results) == 76


async def test_bookings_ranked_together_go_on_to_the_next_worker_once_the_best_is_taken(
    fresh_db,
):
    """Twenty callers at once all rank the nearer worker first; once one of them has that
    worker, the next to write must get the other worker, not a refusal."""
    from core.models import Worker

    company = await small_company(fresh_db, workers=2)
    async with fresh_db.transaction() as tx:
        near = await tx.get(Worker, company.worker_ids[0])
        near.home_lat, near.home_lon = HERE.lat, HERE.lon
        far = await tx.get(Worker, company.worker_ids[1])
        far.home_lat, far.home_lon = HERE.lat + 0.05, HERE.lon + 0.05
    clients = [
        await register_client(fresh_db, phone=f"+38063{n:07d}", region="UA") for n in range(20)
    ]

    async def attempt(client_id: int):
        try:
            return await book_visit(fresh_db, client_id=client_id, service_id=company.service_id,
                                    start=kyiv(TUESDAY, 12), now=NOW, rules=RULES,
                                    channel=Channel.TELEGRAM, point=HERE)
        except SlotTaken as taken:
            return taken

    results = await asyncio.gather(*(attempt(c.id) for c in clients))
    booked = [r for r in results if not isinstance(r, SlotTaken)]
    assert sorted(b.order.worker_id for b in booked) == sorted(company.worker_ids)
    assert await count(fresh_db, Order) == 2


async def test_a_worker_another_booking_holds_is_tried_last(pg_db):
    """PostgreSQL: while another booking holds the nearer worker, a booking of a start both
    are free for takes the farther worker at once instead of waiting; a booking that only
    the held worker can take waits for them."""
    from core.models import Worker

    company = await small_company(pg_db, workers=2)
    near_id, far_id = company.worker_ids
    async with pg_db.transaction() as tx:
        near = await tx.get(Worker, near_id)
        near.home_lat, near.home_lon = HERE.lat, HERE.lon
        far = await tx.get(Worker, far_id)
        far.home_lat, far.home_lon = HERE.lat + 0.05, HERE.lon + 0.05
    first, second = [
        await register_client(pg_db, phone=f"+38063{n:07d}", region="UA") for n in range(2)
    ]

    def book(client_id: int):
        return book_visit(pg_db, client_id=client_id, service_id=company.service_id,
                          start=kyiv(TUESDAY, 12), now=NOW, rules=RULES,
                          channel=Channel.TELEGRAM, point=HERE)

    async with pg_db.transaction() as holder:  # a booking of the near worker in progress
        await holder.execute(select(Worker.id).where(Worker.id == near_id).with_for_update())
        booked = await asyncio.wait_for(book(first.id), 5)
        assert booked.order.worker_id == far_id
        waiting = asyncio.create_task(book(second.id))
        await asyncio.sleep(0.5)
        assert not waiting.done()  # the far worker is busy now: it waits for the near one
    booked = await asyncio.wait_for(waiting, 5)
    assert booked.order.worker_id == near_id


async def test_an_offer_says_how_far_the_job_is_from_the_one_before_or_from_home(db):
    """The first job of the worker's day is measured from home, a later one from the job
    before it that day; a cancelled job does not count."""
    from core.geo import distance_km
    from core.models import Worker
    from core.orders import change_status

    company = await small_company(db)
    async with db.transaction() as tx:
        worker = await tx.get(Worker, company.worker_ids[0])
        worker.telegram_user_id = 777
    first_place, second_place = Point(50.46, 30.52), Point(50.47, 30.53)

    async def book_at(hour, place):
        return (await book_visit(db, client_id=company.client_id, service_id=company.service_id,
                                 start=kyiv(TUESDAY, hour), now=NOW, rules=RULES,
                                 channel=Channel.TELEGRAM, point=place)).order

    async def offered_distance(order):
        async with db.transaction() as tx:
            message = await tx.scalar(select(OutboxMessage).join(Event).where(
                Event.order_id == order.id, OutboxMessage.template == "notice.job_offer"))
        return message.params["distance"]

    first = await book_at(10, first_place)
    second = await book_at(14, second_place)
    assert await offered_distance(first) == f"{distance_km(HERE, first_place):.1f}"
    assert await offered_distance(second) == f"{distance_km(first_place, second_place):.1f}"
    await change_status(db, order_id=second.id, target="cancelled", actor="operator:1",
                        now=NOW, reason="client asked")
    third = await book_at(16, second_place)
    assert await offered_distance(third) == f"{distance_km(first_place, second_place):.1f}"
