"""The live hub: events pushed to this process's subscribers, once each."""

import asyncio
from datetime import UTC, datetime

import pytest

from core.calls import CallEvent, CallEventKind, record_call_event
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
