"""The live hub: events pushed to this process's subscribers, once each."""

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from core.calls import CallEvent, CallEventKind, record_call_event
from core.events import record_event
from webhooks.live import LiveEvent, LiveHub


async def ring(db, call_id: str):
    return await record_call_event(
        db,
        event=CallEvent(provider="test", provider_call_id=call_id, kind=CallEventKind.RINGING,
                        at=datetime.now(UTC), caller="+380501112233", extension="101"),
        region="UA",
    )


async def test_events_their_writer_publishes_are_heard_at_once_and_only_once(fresh_db):
    hub = LiveHub(fresh_db, poll_seconds=0.05)
    await hub.start()
    try:
        subscription = hub.subscribe("call.*")
        view = await ring(fresh_db, "c1")
        (recorded,) = view.events
        hub.publish([LiveEvent(recorded.id, recorded.kind, None, recorded.payload,
                               recorded.created_at)])
        heard = await asyncio.wait_for(subscription.get(), 0.01)  # no poll, no NOTIFY needed
        assert (heard.id, heard.kind, heard.payload["call_id"]) == (recorded.id, "call.ringing",
                                                                    view.id)

        hub.wake()
        other = await ring(fresh_db, "c2")  # written by someone else: read from the table
        assert (await asyncio.wait_for(subscription.get(), 5)).payload["call_id"] == other.id
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(subscription.get(), 0.3)  # the first was not heard again
    finally:
        await hub.stop()


async def test_on_postgresql_events_arrive_in_their_notification_not_read_back(pg_db):
    """SQLite has no notifications: its hub polls the table (the test above)."""
    reads = 0
    listening = asyncio.Event()

    def count(_conn, _cursor, statement, *_args):
        nonlocal reads
        if "WHERE events.id >" in statement:
            reads += 1
            listening.set()  # the hub reads once as its LISTEN begins

    event.listen(pg_db.engine.sync_engine, "before_cursor_execute", count)
    hub = LiveHub(pg_db)
    await hub.start()
    try:
        subscription = hub.subscribe("call.*", "note.*")
        await asyncio.wait_for(listening.wait(), 5)
        reads = 0

        view = await ring(pg_db, "c1")  # another writer, as a webhook of another process
        heard = await asyncio.wait_for(subscription.get(), 1)
        assert (heard.id, heard.kind, heard.payload["call_id"]) == (
            view.events[0].id, "call.ringing", view.id
        )
        assert heard.created_at == view.events[0].created_at
        assert reads == 0

        async with pg_db.transaction() as tx:  # too large for a notification: read instead
            big = record_event(tx, kind="note.long", payload={"text": "x" * 9000})
        heard = await asyncio.wait_for(subscription.get(), 1)
        assert (heard.id, len(heard.payload["text"])) == (big.id, 9000)
        assert reads == 1

        with pytest.raises(RuntimeError):  # rolled back: nobody hears of it
            async with pg_db.transaction() as tx:
                record_event(tx, kind="note.lost")
                raise RuntimeError
        await ring(pg_db, "c2")
        assert (await asyncio.wait_for(subscription.get(), 1)).kind == "call.ringing"
    finally:
        await hub.stop()
        event.remove(pg_db.engine.sync_engine, "before_cursor_execute", count)
