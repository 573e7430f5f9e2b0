import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.calls import (
    CallDirection,
    CallEvent,
    CallEventKind,
    close_callback_task,
    get_call,
    identify_caller,
    list_callback_tasks,
    list_calls,
    record_call_event,
)
from core.errors import InvalidInput, NotFound
from core.models import Address, Call, CallbackTask, Client, ClientPhone, Event, Role, User, Zone
from core.zones import polygon_wkt
from tests.company import CITY_RING

T0 = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
PAYLOAD_KEYS = {
    "call_id", "provider", "caller", "client_id", "client_name", "line", "extension", "state",
    "callback_task_id",
}


def event(kind, call_id="c1", *, seconds=0, caller="0671234567", **extra):
    return CallEvent(provider="test", provider_call_id=call_id, kind=CallEventKind(kind),
                     at=T0 + timedelta(seconds=seconds), caller=caller, **extra)


async def record(db, *args, **kwargs):
    return await record_call_event(db, event=event(*args, **kwargs), region="UA")


async def company(db, *, zone_operator=True):
    """Olena (+380671234567) living in a zone whose operator is Iryna (extension 101)."""
    async with db.transaction() as tx:
        iryna = User(login="iryna", name="Iryna", role=Role.OPERATOR, extension="101")
        petro = User(login="petro", name="Petro", role=Role.OPERATOR, extension="102")
        tx.add_all([iryna, petro])
        await tx.flush()
        zone = Zone(code="city", city="Kyiv", name="City", polygon_wkt=polygon_wkt(CITY_RING),
                    responsible_user_id=iryna.id if zone_operator else None)
        tx.add(zone)
        await tx.flush()
        olena = Client(name="Olena", phones=[ClientPhone(e164="+380671234567")],
                       addresses=[Address(text="Khreshchatyk 1", zone_id=zone.id)])
        tx.add(olena)
        await tx.flush()
        return olena.id, iryna.id, petro.id


async def events(db, prefix="call."):
    async with db.transaction() as tx:
        rows = await tx.scalars(
            select(Event).where(Event.kind.startswith(prefix)).order_by(Event.id))
        return [(e.kind, dict(e.payload)) for e in rows]


async def test_ringing_call_from_a_known_number_in_any_format_names_the_client(db):
    olena, _, _ = await company(db)
    for n, typed in enumerate(["067 123 45 67", "380671234567", "+38 (067) 123-45-67"]):
        view = await record(db, "ringing", f"c{n}", caller=typed, line="0443334455")
        assert (view.caller, view.client_id, view.client_name) == ("+380671234567", olena, "Olena")
        assert view.state == "ringing" and view.ringing_at == T0
    kind, payload = (await events(db))[0]
    assert kind == "call.ringing"
    assert payload == {
        "call_id": payload["call_id"], "provider": "test", "caller": "+380671234567",
        "client_id": olena, "client_name": "Olena", "line": "0443334455", "extension": None,
        "state": "ringing", "callback_task_id": None,
    }


async def test_a_hidden_number_is_kept_as_sent_without_a_client(db):
    await company(db)
    view = await record(db, "ringing", caller="anonymous")
    assert (view.caller, view.client_id, view.client_name) == ("anonymous", None, None)
    ended = await record(db, "ended", seconds=20)
    assert ended.outcome == "missed" and ended.callback_task_id is None  # nobody to call back
    assert [k for k, _ in await events(db)] == ["call.ringing", "call.missed"]


async def test_repeated_and_late_events_never_move_a_call_backwards(db):
    await company(db)
    await record(db, "ringing")
    await record(db, "ringing")
    await record(db, "answered", seconds=5, extension="101")
    await record(db, "ringing", seconds=1, extension="102")
    await record(db, "ended", seconds=65, duration_seconds=60, outcome="answered")
    await record(db, "answered", seconds=6)
    view = await record(db, "ended", seconds=66, recording_url="https://pbx.example/r/1.mp3")
    assert view.state == "ended" and view.outcome == "answered"
    assert view.answered_at == T0 + timedelta(seconds=5)
    assert view.ended_at == T0 + timedelta(seconds=65)
    assert view.extension == "101"
    assert view.recording_url == "https://pbx.example/r/1.mp3"  # a late detail is filled in
    assert [k for k, _ in await events(db)] == ["call.ringing", "call.answered", "call.ended"]


async def test_each_phone_of_a_ring_group_gets_its_own_ringing_event(db):
    await company(db)
    await record(db, "ringing")
    await record(db, "ringing", extension="101")
    await record(db, "ringing", extension="102")
    await record(db, "ringing", extension="102")
    found = await events(db)
    assert [p["extension"] for _, p in found] == [None, "101", "102"]


async def test_a_missed_call_becomes_a_task_for_the_operator_of_the_clients_zone(db):
    olena, iryna, petro = await company(db)
    await record(db, "ringing", extension="102")
    view = await record(db, "ended", seconds=30, outcome="busy")
    assert view.outcome == "busy" and view.callback_task_id is not None
    kind, payload = (await events(db))[-1]
    assert kind == "call.missed"
    assert set(payload) == PAYLOAD_KEYS
    assert payload["callback_task_id"] == view.callback_task_id and payload["state"] == "ended"
    (task,) = await list_callback_tasks(db)
    assert (task.phone, task.client_id, task.client_name) == ("+380671234567", olena, "Olena")
    assert task.assigned_user_id == iryna and task.state == "open"
    assert await list_callback_tasks(db, user_id=iryna) == [task]
    assert await list_callback_tasks(db, user_id=petro) == []
    assert [c.id for c in await list_calls(db, missed_only=True)] == [view.id]


async def test_an_unknown_callers_missed_calls_share_one_task_left_to_any_operator(db):
    _, _, petro = await company(db)
    first = await record(db, "ended", "m1", caller="0501112233")
    second = await record(db, "ended", "m2", seconds=60, caller="+380501112233")
    assert first.callback_task_id == second.callback_task_id is not None
    (task,) = await list_callback_tasks(db, user_id=petro)
    assert task.assigned_user_id is None and task.client_id is None
    assert task.phone == "+380501112233" and task.call_id == first.id


async def test_calling_back_closes_the_task_when_the_client_answers(db):
    _, iryna, _ = await company(db)
    missed = await record(db, "ended", "in-1")
    unanswered = CallEvent(provider="test", provider_call_id="out-1", kind=CallEventKind.ENDED,
                           at=T0 + timedelta(minutes=5), caller="+380671234567",
                           extension="101", outcome="no answer",
                           direction=CallDirection.OUTBOUND)
    tried = await record_call_event(db, event=unanswered, region="UA")
    assert tried.callback_task_id is None
    assert (await list_callback_tasks(db))[0].state == "open"  # nobody reached yet
    answered = CallEvent(provider="test", provider_call_id="out-2", kind=CallEventKind.ANSWERED,
                         at=T0 + timedelta(minutes=10), caller="0671234567", extension="101",
                         direction=CallDirection.OUTBOUND)
    back = await record_call_event(db, event=answered, region="UA")
    assert await list_callback_tasks(db) == []
    (task,) = await list_callback_tasks(db, open_only=False)
    assert task.id == missed.callback_task_id and task.state == "done"
    assert (task.closed_by, task.closed_by_call_id) == (iryna, back.id)
    assert task.closed_at == T0 + timedelta(minutes=10)
    closed = await events(db, "callback.")
    assert closed == [("callback.closed", {
        "callback_task_id": task.id, "call_id": missed.id, "phone": "+380671234567",
        "client_id": task.client_id, "closed_by": iryna, "closed_by_call_id": back.id,
    })]


async def test_marking_a_task_done_closes_it_once(db):
    _, iryna, petro = await company(db)
    missed = await record(db, "ended")
    done = await close_callback_task(db, task_id=missed.callback_task_id, user_id=petro,
                                     now=T0 + timedelta(hours=1), note="  called from mobile ")
    assert (done.state, done.closed_by, done.note) == ("done", petro, "called from mobile")
    again = await close_callback_task(db, task_id=done.id, user_id=iryna,
                                      now=T0 + timedelta(hours=2))
    assert again == done
    assert len(await events(db, "callback.")) == 1
    with pytest.raises(NotFound):
        await close_callback_task(db, task_id=done.id + 100, user_id=petro, now=T0)
    with pytest.raises(NotFound):
        await close_callback_task(db, task_id=done.id, user_id=petro + 100, now=T0)


async def test_a_call_first_heard_of_when_it_ended_is_recorded_whole(db):
    olena, _, _ = await company(db)
    view = await record(db, "ended", seconds=100, duration_seconds=64, outcome="answered",
                        extension="101", recording_url="https://pbx.example/r.mp3")
    assert (view.state, view.outcome, view.client_id) == ("ended", "answered", olena)
    assert view.answered_at == T0 + timedelta(seconds=36)
    assert view.callback_task_id is None
    assert await get_call(db, call_id=view.id) == view
    assert [k for k, _ in await events(db)] == ["call.ended"]


@pytest.mark.parametrize("bad", [
    {"at": datetime(2026, 3, 2, 8, 15)},
    {"provider_call_id": ""},
    {"recording_url": "javascript:alert(1)"},
    {"extension": "1" * 65},
    {"duration_seconds": -1},
])
async def test_an_unusable_event_is_refused_and_records_nothing(db, bad):
    values = {"provider": "test", "provider_call_id": "c1", "kind": CallEventKind.ENDED,
              "at": T0, "caller": "0671234567"} | bad
    with pytest.raises(InvalidInput):
        await record_call_event(db, event=CallEvent(**values), region="UA")
    async with db.transaction() as tx:
        assert await tx.scalar(select(func.count()).select_from(Call)) == 0
        assert await tx.scalar(select(func.count()).select_from(Event)) == 0


async def test_identify_caller_finds_the_client_without_recording(db):
    olena, _, _ = await company(db)
    found = await identify_caller(db, caller="0671234567", region="UA")
    assert (found.number, found.client_id, found.client_name) == ("+380671234567", olena, "Olena")
    unknown = await identify_caller(db, caller="private", region="UA")
    assert (unknown.number, unknown.client_id) == ("private", None)
    assert await events(db) == []


async def test_get_call_of_an_unknown_id_is_not_found(db):
    with pytest.raises(NotFound):
        await get_call(db, call_id=999999)


async def test_concurrent_notifications_of_one_call_make_one_call_and_one_task(fresh_db):
    await company(fresh_db)
    kinds = ["ringing", "ringing", "ended", "ended", "ringing", "ended"]
    await asyncio.gather(*(
        record(fresh_db, kind, seconds=n, caller="0501112233") for n, kind in enumerate(kinds)
    ))
    await asyncio.gather(*(
        record(fresh_db, "ended", f"other-{n}", caller="0501112233") for n in range(4)
    ))
    async with fresh_db.transaction() as tx:
        assert await tx.scalar(select(func.count()).select_from(Call)) == 5
        assert await tx.scalar(select(func.count()).select_from(CallbackTask)) == 1
        missed = await tx.scalar(
            select(func.count()).select_from(Event).where(Event.kind == "call.missed"))
        assert missed == 5
