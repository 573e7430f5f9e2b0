"""What every adapter shares: recording call events, alone or many at once."""

import asyncio

from core.calls import CallEvent, CallEventKind
from core.errors import InvalidInput
from telephony.base import PbxContext
from tests.clock import ManualClock
from tests.telephony.pbx import NOW, call_events, calls, pbx_config


def ringing(call_id: str, caller: str) -> CallEvent:
    return CallEvent(provider="binotel", provider_call_id=call_id, kind=CallEventKind.RINGING,
                     at=NOW, caller=caller, extension="101")


async def test_calls_ringing_together_are_all_recorded_and_a_bad_one_fails_alone(fresh_db):
    context = PbxContext(config=pbx_config(), database=lambda: fresh_db, clock=ManualClock(NOW))
    events = [ringing(f"c{n}", f"+38050111{n:04d}") for n in range(20)]
    events.insert(10, ringing("x" * 200, "+380501119999"))  # a call id no PBX sends

    outcomes = await asyncio.gather(
        *(context.record(event) for event in events), return_exceptions=True
    )

    assert isinstance(outcomes[10], InvalidInput)
    views = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    assert [view.provider_call_id for view in views] == [f"c{n}" for n in range(20)]
    assert all([event.kind for event in view.events] == ["call.ringing"] for view in views)
    assert len(await calls(fresh_db)) == 20
    assert [kind for kind, _ in await call_events(fresh_db)] == ["call.ringing"] * 20
