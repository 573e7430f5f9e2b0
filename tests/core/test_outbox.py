"""Recording what Telegram accepted: a batch is written as if each message were written alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.db import Database
from core.events import Notice, record_event
from core.models import OutboxMessage, OutboxPace, OutboxSent
from core.outbox import Accepted, DeliveryRules, book_sends, hold_lane, mark_all_sent

RULES = DeliveryRules(per_chat_interval=timedelta(seconds=1), lease=timedelta(seconds=60),
                      max_attempts=5, per_chat_burst=3)
AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


async def _queue(db: Database, chats: list[int]) -> list[int]:
    async with db.transaction() as tx:
        for n, chat in enumerate(chats):
            record_event(tx, kind="test", notices=[
                Notice("customer", chat, "en", "notice.order_status", {"number": n, "status": "ok"})
            ])
    async with db.transaction(read_only=True) as tx:
        return list(await tx.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))


async def _recorded(db: Database) -> tuple[list[tuple], list[tuple], list[tuple]]:
    async with db.transaction(read_only=True) as tx:
        rows = [(r.chat_id, r.state, r.attempts, r.sent_at.replace(tzinfo=UTC))
                for r in await tx.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
        paces = [(p.chat_id, round(p.tokens, 6), p.at.replace(tzinfo=UTC),
                  p.ready_at.replace(tzinfo=UTC))
                 for p in await tx.scalars(select(OutboxPace).order_by(OutboxPace.chat_id))]
        sent = list((await tx.execute(
            select(OutboxSent.outbox_id, OutboxSent.message_id).order_by(OutboxSent.outbox_id)
        )).all())
    return rows, paces, [tuple(s) for s in sent]


def _accepted(ids: list[int]) -> list[Accepted]:
    # Chat 1 gets a joined message (two rows), then another; chat 2 one; chat 1's later
    # message is sent again (at least once): its first message id stays.
    return [
        Accepted((ids[0], ids[1]), AT, 501),
        Accepted((ids[2],), AT + timedelta(milliseconds=300), 502),
        Accepted((ids[3],), AT + timedelta(milliseconds=600), 503),
        Accepted((ids[3],), AT + timedelta(milliseconds=900), 504),
        Accepted((ids[4],), AT + timedelta(seconds=2)),
    ]


async def test_a_batch_is_recorded_as_each_message_alone(fresh_db: Database):
    ids = await _queue(fresh_db, [1, 1, 2, 1, 2])
    batch = _accepted(ids)
    for message in batch:
        await mark_all_sent(fresh_db, [message], rules=RULES)
    alone = await _recorded(fresh_db)

    async with fresh_db.transaction() as tx:
        for model in (OutboxSent, OutboxPace, OutboxMessage):
            await tx.execute(model.__table__.delete())
    ids = await _queue(fresh_db, [1, 1, 2, 1, 2])
    await mark_all_sent(fresh_db, _accepted(ids), rules=RULES)
    together = await _recorded(fresh_db)

    assert together[0] == alone[0]
    assert together[1] == alone[1]
    assert [m for _, m in together[2]] == [m for _, m in alone[2]] == [501, 501, 502, 503]
    rows, paces, _ = together
    assert [(chat, state, attempts) for chat, state, attempts, _ in rows] == [
        (1, "sent", 1), (1, "sent", 1), (2, "sent", 1), (1, "sent", 2), (2, "sent", 1)]
    # Chat 1: three messages within a second from a bucket of three; chat 2: two, far apart.
    assert paces[0][1] == round(3 - 3 + 0.9, 6)
    assert paces[0][3] == AT + timedelta(milliseconds=900) + timedelta(seconds=0.1)


async def test_senders_book_one_lane_one_after_another_and_a_hold_keeps_them_waiting(
    fresh_db: Database,
):
    spacing = timedelta(milliseconds=50)
    first = await book_sends(fresh_db, lane="free", count=4, now=AT, spacing=spacing)
    # A second sender asking a moment later gets the moments right after the first one's.
    second = await book_sends(fresh_db, lane="free", count=2, now=AT + timedelta(milliseconds=10),
                              spacing=spacing)
    assert (first, second) == (AT, AT + 4 * spacing)

    # Telegram told a sender to wait 3 seconds: nobody's next sends are booked before then.
    await hold_lane(fresh_db, lane="free", until=AT + timedelta(seconds=3))
    after = await book_sends(fresh_db, lane="free", count=1, now=AT + timedelta(seconds=1),
                             spacing=spacing)
    assert after == AT + timedelta(seconds=3)
    # A hold that ends sooner than what is booked already changes nothing.
    await hold_lane(fresh_db, lane="free", until=AT + timedelta(seconds=1))
    assert await book_sends(fresh_db, lane="free", count=1, now=AT + timedelta(seconds=1),
                            spacing=spacing) == AT + timedelta(seconds=3) + spacing
    # An idle lane books from the moment asked.
    later = AT + timedelta(minutes=5)
    assert await book_sends(fresh_db, lane="free", count=1, now=later, spacing=spacing) == later
