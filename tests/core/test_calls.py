import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event as sa_event
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
    record_call_events,
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


def batch_events(provider):
    """New calls ringing (a client's, a stranger's, a hidden number), a second phone of a ring
    group, an answer, a call known before the batch ringing again, and an end, mixed."""
    def ev(kind, call_id, **extra):
        extra.setdefault("caller", "0671234567")
        return replace(event(kind, call_id, **extra), provider=provider)

    return [
        ev("ringing", "a1", line="0443334455"),
        ev("ringing", "a2", caller="0501112233", seconds=1),
        ev("ringing", "a3", caller="anonymous", seconds=1),
        ev("ringing", "a1", seconds=2, extension="101"),  # the same call again in the batch
        ev("ringing", "a4", caller="+38 (067) 123-45-67", seconds=2),
        ev("answered", "a2", seconds=3, extension="102"),
        ev("ringing", "a5", caller="0501112233", seconds=3),
        ev("ringing", "known", seconds=4, extension="102"),  # known before: another phone rings
        ev("ringing", "a6", caller="380671234567", seconds=4),
        ev("ended", "a3", seconds=5),
        ev("ringing", "a7", seconds=5),
    ]


def anonymised(payload, rank):
    """An event's payload with its call id replaced by the call's rank, without the provider."""
    return {**payload, "call_id": rank[payload["call_id"]], "provider": "-"}


async def calls_and_events(db, provider):
    """The provider's calls and call events as written, ids replaced by ranks, and the ranks."""
    async with db.transaction() as tx:
        calls = (await tx.scalars(
            select(Call).where(Call.provider == provider).order_by(Call.id))).all()
        found = (await tx.scalars(
            select(Event).where(Event.kind.startswith("call.")).order_by(Event.id))).all()
    rank = {call.id: n for n, call in enumerate(calls)}
    rows = [{c.key: getattr(call, c.key) for c in Call.__table__.columns}
            | {"id": rank[call.id], "provider": "-"} for call in calls]
    mine = [e for e in found if e.payload["provider"] == provider]
    event_rank = {e.id: n for n, e in enumerate(mine)}
    written = [(e.kind, anonymised(e.payload, rank)) for e in mine]
    return rows, written, rank, event_rank


async def test_a_batch_records_what_recording_its_events_one_by_one_records(db):
    await company(db)
    for provider in ("single", "batch"):
        await record_call_event(db, event=replace(event("ringing", "known"), provider=provider),
                                region="UA")
    one_by_one = [await record_call_event(db, event=e, region="UA")
                  for e in batch_events("single")]
    together = await record_call_events(db, events=batch_events("batch"), region="UA")
    assert len(together) == len(one_by_one)
    results = []
    for provider, views in (("single", one_by_one), ("batch", together)):
        rows, written, rank, event_rank = await calls_and_events(db, provider)
        recorded = [
            (replace(view, id=rank[view.id], provider="-"),
             [(event_rank[e.id], e.kind, anonymised(e.payload, rank)) for e in view.events])
            for view in views
        ]
        results.append((rows, written, recorded))
        # The views' events are the rows written, in their order ("known" rang before).
        assert [event_rank[e.id] for view in views for e in view.events] == list(
            range(1, len(event_rank)))
    assert results[0] == results[1]
    _, written, _ = results[1]
    assert [k for k, _ in written] == [
        "call.ringing",  # known, before the batch
        "call.ringing", "call.ringing", "call.ringing",  # a1, a2, a3
        "call.ringing",  # a1 rings a second phone
        "call.ringing", "call.answered", "call.ringing",  # a4, a2 answered, a5
        "call.ringing", "call.ringing",  # known rings a second phone, a6
        "call.missed", "call.ringing",  # a3 ends unanswered (no number to call back), a7
    ]
    names = {view.provider_call_id: (view.caller, view.client_name) for view in together}
    assert names == {
        "a1": ("+380671234567", "Olena"), "a2": ("+380501112233", None),
        "a3": ("anonymous", None), "a4": ("+380671234567", "Olena"),
        "a5": ("+380501112233", None), "known": ("+380671234567", "Olena"),
        "a6": ("+380671234567", "Olena"), "a7": ("+380671234567", "Olena"),
    }
    assert [view.state for view in together] == [
        "ringing", "ringing", "ringing", "ringing", "ringing", "answered", "ringing", "ringing",
        "ringing", "ended", "ringing",
    ]
    latest = {view.id: view for view in together}  # each call as its last event left it
    for view in latest.values():
        assert await get_call(db, call_id=view.id) == view


class Statements:
    """Counts the statements a block runs, transaction control aside."""

    CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")

    def __init__(self, db):
        self.engine = db.engine.sync_engine
        self.seen = []

    def _count(self, _conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(self.CONTROL):
            self.seen.append(statement)

    def __enter__(self):
        sa_event.listen(self.engine, "before_cursor_execute", self._count)
        return self.seen

    def __exit__(self, *_exc):
        sa_event.remove(self.engine, "before_cursor_execute", self._count)


@pytest.mark.parametrize("size", [1, 3, 10, 32])
async def test_new_calls_ringing_together_cost_two_statements_however_many(db, size):
    await company(db)
    batch = [event("ringing", f"r{n}", caller=f"050111{n:04d}") for n in range(size)]
    with Statements(db) as seen:
        views = await record_call_events(db, events=batch, region="UA")
    assert len(seen) == 2, seen  # the calls, then their events
    assert [view.provider_call_id for view in views] == [f"r{n}" for n in range(size)]
    assert [view.caller for view in views] == [f"+38050111{n:04d}" for n in range(size)]
    ids = [e.id for view in views for e in view.events]
    assert ids == sorted(ids) and len(ids) == size
    assert [p["call_id"] for _, p in await events(db)] == [view.id for view in views]


async def test_a_batch_records_all_or_nothing(db, monkeypatch):
    await company(db)
    refused = [event("ringing", "r1"), event("ringing", "r2"),
               replace(event("ended", "r1"), recording_url="ftp://pbx.example/r1.mp3")]
    with pytest.raises(InvalidInput):
        await record_call_events(db, events=refused, region="UA")

    async def failing(*_args):
        raise RuntimeError("the database went away")

    # The calls ringing together are inserted before the answer fails: undone with it.
    monkeypatch.setattr("core.calls._apply", failing)
    with pytest.raises(RuntimeError):
        await record_call_events(
            db, events=[event("ringing", "r1"), event("ringing", "r2"), event("answered", "r1")],
            region="UA")
    async with db.transaction() as tx:
        assert await tx.scalar(select(func.count()).select_from(Call)) == 0
    assert await events(db) == []
