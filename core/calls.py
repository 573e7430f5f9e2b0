"""Calls the PBXs report, matched to clients by phone; a missed call becomes a call-back task.

Every PBX adapter turns its provider's request into a :class:`CallEvent` and hands it to
:func:`record_call_event`. Providers repeat themselves and their notifications can arrive out
of order, so a call only ever moves forward (ringing → answered → ended) and a repeated event
changes nothing. Each change is recorded as an event (``call.ringing``, ``call.answered``,
``call.ended`` or ``call.missed``) that the operator panel's live popup listens to.

A missed inbound call from a real number becomes a call-back task for the operator responsible
for the client's zone (or for any operator). Repeated missed calls from one number share its open
task. The task closes when an operator marks it done, or by itself when a later call with that
number is answered, in either direction ("calling back closes it").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Row, Select, String, Table, bindparam, insert, literal_column, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clients import client_by_phone
from core.db import Database
from core.errors import InvalidInput, NotFound
from core.events import record_event
from core.models import Address, Call, CallbackTask, Client, ClientPhone, Event, Role, User, Zone
from core.phones import normalise_phone

PROVIDER_CALL_ID_LENGTH = 128
TEXT_LENGTH = 64
URL_LENGTH = 2000
NOTE_LENGTH = 2000

ANSWERED = "answered"
MISSED = "missed"
TASK_OPEN = "open"
TASK_DONE = "done"


class CallEventKind(StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"


class CallDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


_STEP = {CallEventKind.RINGING: 0, CallEventKind.ANSWERED: 1, CallEventKind.ENDED: 2}


@dataclass(frozen=True)
class CallEvent:
    """What every PBX adapter produces, in plain values.

    ``caller`` is the customer's number as the PBX sent it: the calling number of an inbound
    call, the dialled number of an outbound one.
    """

    provider: str
    provider_call_id: str
    kind: CallEventKind
    at: datetime
    caller: str
    line: str | None = None
    extension: str | None = None
    duration_seconds: int | None = None
    outcome: str | None = None
    recording_url: str | None = None
    direction: CallDirection = CallDirection.INBOUND


@dataclass(frozen=True)
class RecordedEvent:
    """An event row a notification wrote, as a reader of the events table finds it."""

    id: int
    kind: str
    payload: Mapping[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class CallView:
    """A call. ``events``: what the notification that returned it recorded (none on reads); not
    part of the call, so two views of one call compare equal."""

    id: int
    provider: str
    provider_call_id: str
    caller: str
    client_id: int | None
    client_name: str | None
    line: str | None
    extension: str | None
    state: str
    ringing_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    recording_url: str | None
    callback_task_id: int | None
    direction: str = CallDirection.INBOUND.value
    duration_seconds: int | None = None
    events: tuple[RecordedEvent, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class CallbackTaskView:
    id: int
    call_id: int
    client_id: int | None
    client_name: str | None
    phone: str
    assigned_user_id: int | None
    state: str
    created_at: datetime
    closed_at: datetime | None
    closed_by: int | None
    closed_by_call_id: int | None
    note: str


@dataclass(frozen=True)
class Caller:
    """Who is calling: the number (E.164 when valid, else as sent) and the client owning it."""

    number: str
    client_id: int | None
    client_name: str | None


async def identify_caller(db: Database, *, caller: str, region: str) -> Caller:
    """The client behind a number, without recording anything (a PBX asking before ringing)."""
    number = _e164(caller, region)
    async with db.transaction(read_only=True) as tx:
        client = await client_by_phone(tx, number) if number else None
    return Caller(
        number=number or _raw(caller),
        client_id=client.id if client else None,
        client_name=client.name if client else None,
    )


async def operator_phones(db: Database, *, region: str) -> tuple[str, ...]:
    """The phones to ring for an inbound call: active operators whose extension is a number."""
    async with db.transaction(read_only=True) as tx:
        extensions = (
            await tx.scalars(
                select(User.extension)
                .where(
                    User.active.is_(True),
                    User.role.in_((Role.OPERATOR, Role.DISPATCHER)),
                    User.extension.is_not(None),
                )
                .order_by(User.id)
            )
        ).all()
    phones = (_e164(extension, region) for extension in extensions if extension)
    return tuple(dict.fromkeys(phone for phone in phones if phone))


async def record_call_event(db: Database, *, event: CallEvent, region: str) -> CallView:
    """Apply one PBX notification to its call, idempotently; see the module's docstring."""
    return (await record_call_events(db, events=[event], region=region))[0]


async def record_call_events(
    db: Database, *, events: Sequence[CallEvent], region: str
) -> list[CallView]:
    """Apply notifications in their order in one transaction: all are recorded, or none.

    Calls ringing together share one commit (and, on SQLite, one turn at the write lock), and
    the first ringing of calls new to the batch shares two statements: one inserts the calls,
    one their ``call.ringing`` events. Every other event is applied on its own, in its place:
    each call sees its events in the order they came, and the rows (calls, events) are written
    in the same order as recording the events one by one writes them."""
    for event in events:
        _check(event)
    async with db.transaction() as tx:
        return await _record_all(tx, events, region)


async def _record_all(tx: AsyncSession, events: Sequence[CallEvent], region: str) -> list[CallView]:
    views: list[CallView | None] = [None] * len(events)
    seen: set[tuple[str, str]] = set()
    # The run of consecutive first ringings of calls not seen earlier in the batch: the bulk of
    # a busy minute, inserted together when the run ends.
    ringing: list[tuple[int, CallEvent, str | None]] = []
    for index, event in enumerate(events):
        key = (event.provider, event.provider_call_id)
        sent = _e164(event.caller, region)
        if event.kind is CallEventKind.RINGING and key not in seen:
            ringing.append((index, event, sent))
        else:
            await _ring(tx, ringing, views, region)
            ringing = []
            views[index] = await _record(tx, event, sent, region)
        seen.add(key)
    await _ring(tx, ringing, views, region)
    recorded = [view for view in views if view is not None]
    assert len(recorded) == len(events)
    return recorded


async def _ring(
    tx: AsyncSession,
    ringing: Sequence[tuple[int, CallEvent, str | None]],
    views: list[CallView | None],
    region: str,
) -> None:
    """Calls starting to ring, each its call's first event in the batch: one statement inserts
    the new ones, one records their ``call.ringing``. A call known before (a repeated
    notification) is applied on its own, in its place among the others' events."""
    if not ringing:
        return
    dialect = tx.get_bind().dialect.name
    # Rows are matched to events by the call's key, not by position: a known call returns no
    # row, so positions shift (sort_by_parameter_order does not help: on PostgreSQL the rows it
    # sorts then silently miss their parameters; on SQLite it makes SQLAlchemy insert row by row).
    result = await tx.execute(
        _CALL_INSERTS[dialect], [_call_params(event, sent) for _, event, sent in ringing]
    )
    inserted = {(row.provider, row.provider_call_id): row for row in result.all()}
    new: list[tuple[int, CallView]] = []
    for index, event, sent in ringing:
        row = inserted.get((event.provider, event.provider_call_id))
        if row is None:
            await _ringing_events(tx, new, views)
            new = []
            views[index] = await _apply(tx, event, None, sent, region)
        else:
            new.append((index, _row_view(row)))
    await _ringing_events(tx, new, views)


async def _ringing_events(
    tx: AsyncSession, new: Sequence[tuple[int, CallView]], views: list[CallView | None]
) -> None:
    """The ``call.ringing`` events of calls just inserted, in one statement."""
    if not new:
        return
    at = datetime.now(UTC)
    payloads = [_payload(view) for _, view in new]
    result = await tx.execute(
        _RINGING_INSERT,
        [{"kind": "call.ringing", "payload": payload, "at": at} for payload in payloads],
    )
    # Each new call has exactly one of these events: its payload's call id names its row.
    ids = {row.payload["call_id"]: row.id for row in result.all()}
    for (index, view), payload in zip(new, payloads, strict=True):
        recorded = RecordedEvent(ids[view.id], "call.ringing", payload, at)
        views[index] = replace(view, events=(recorded,))


async def _record(tx: AsyncSession, event: CallEvent, sent: str | None, region: str) -> CallView:
    """One notification on its own: the call inserted unless known, then moved forward."""
    return await _apply(tx, event, await _insert_call(tx, event, sent), sent, region)


async def _apply(
    tx: AsyncSession, event: CallEvent, inserted: Row[Any] | None, sent: str | None, region: str
) -> CallView:
    """Any other notification: move the locked call forward."""
    if inserted is not None:
        call = await tx.get(Call, inserted.id)  # ours, just inserted: locked until commit
        assert call is not None
        client_name, created = inserted.client_name, True
    else:
        call, client_name = await _locked_call(tx, event)
        created = False
    number = sent if created else _e164(call.caller, region)  # the first event's caller holds
    was_answered = call.answered_at is not None
    kinds = _advance(call, event, created)
    if kinds and kinds[-1] == "call.ended" and _missed(call):
        kinds[-1] = "call.missed"
        if number:
            call.callback_task_id = await _callback_task_for(tx, call)
    await tx.flush()
    view = _view(call, client_name)
    recorded = await _record_events(tx, kinds, view)
    if not was_answered and call.answered_at is not None and number:
        await _close_called_back(tx, call, event.at)
    return replace(view, events=recorded)


async def get_call(db: Database, *, call_id: int) -> CallView:
    async with db.transaction(read_only=True) as tx:
        call = await tx.get(Call, call_id)
        if call is None:
            raise NotFound("not_found", entity="call", ref=call_id)
        client = await tx.get(Client, call.client_id) if call.client_id else None
        return _view(call, client.name if client else None)


async def list_calls(db: Database, *, limit: int = 50, missed_only: bool = False) -> list[CallView]:
    """The latest calls first; ``missed_only``: inbound calls that ended unanswered."""
    query: Select[Call, Client] = (
        select(Call, Client)
        .outerjoin(Client, Call.client_id == Client.id)
        .order_by(Call.ringing_at.desc(), Call.id.desc())
        .limit(max(1, min(limit, 500)))
    )
    if missed_only:
        query = query.where(
            Call.state == CallEventKind.ENDED.value,
            Call.direction == CallDirection.INBOUND.value,
            Call.outcome != ANSWERED,
        )
    async with db.transaction(read_only=True) as tx:
        rows = (await tx.execute(query)).all()
        return [_view(call, client.name if client else None) for call, client in rows]


async def list_callback_tasks(
    db: Database, *, open_only: bool = True, user_id: int | None = None
) -> list[CallbackTaskView]:
    """Oldest first. ``user_id``: the tasks assigned to that user plus those left to anyone."""
    query: Select[CallbackTask, Client] = (
        select(CallbackTask, Client)
        .outerjoin(Client, CallbackTask.client_id == Client.id)
        .order_by(CallbackTask.created_at, CallbackTask.id)
    )
    if open_only:
        query = query.where(CallbackTask.state == TASK_OPEN)
    if user_id is not None:
        query = query.where(
            or_(CallbackTask.assigned_user_id == user_id, CallbackTask.assigned_user_id.is_(None))
        )
    async with db.transaction(read_only=True) as tx:
        rows = (await tx.execute(query)).all()
        return [_task_view(task, client) for task, client in rows]


async def close_callback_task(
    db: Database, *, task_id: int, user_id: int, now: datetime, note: str = ""
) -> CallbackTaskView:
    """Mark a call-back task done; closing a closed task changes nothing."""
    if now.tzinfo is None:
        raise InvalidInput("invalid_value", field="now", value=now, reason="needs a time zone")
    async with db.transaction() as tx:
        task = await tx.scalar(
            select(CallbackTask).where(CallbackTask.id == task_id).with_for_update()
        )
        if task is None:
            raise NotFound("not_found", entity="callback_task", ref=task_id)
        if await tx.get(User, user_id) is None:
            raise NotFound("not_found", entity="user", ref=user_id)
        if task.state == TASK_OPEN:
            task.state = TASK_DONE
            task.closed_at = now
            task.closed_by = user_id
            task.note = note.strip()[:NOTE_LENGTH]
            await tx.flush()
            record_event(tx, kind="callback.closed", payload=_task_payload(task))
        client = await tx.get(Client, task.client_id) if task.client_id else None
        return _task_view(task, client)


def _check(event: CallEvent) -> None:
    def refuse(field: str, value: object, reason: str) -> InvalidInput:
        return InvalidInput("invalid_value", field=field, value=value, reason=reason)

    if not event.provider or len(event.provider) > 32:
        raise refuse("provider", event.provider, "1 to 32 characters")
    if not event.provider_call_id.strip() or len(event.provider_call_id) > PROVIDER_CALL_ID_LENGTH:
        raise refuse(
            "provider_call_id",
            event.provider_call_id,
            f"1 to {PROVIDER_CALL_ID_LENGTH} characters",
        )
    if event.at.tzinfo is None:
        raise refuse("at", event.at, "needs a time zone")
    for name in ("line", "extension", "outcome"):
        value = getattr(event, name)
        if value is not None and len(value) > TEXT_LENGTH:
            raise refuse(name, value, f"at most {TEXT_LENGTH} characters")
    if event.duration_seconds is not None and not 0 <= event.duration_seconds < 10**7:
        raise refuse("duration_seconds", event.duration_seconds, "not a call's length")
    url = event.recording_url
    # The panel shows the link: only web addresses, never javascript: and the like.
    if url is not None and (len(url) > URL_LENGTH or not url.startswith(("https://", "http://"))):
        raise refuse("recording_url", url, "an http(s) address")


def _e164(caller: str, region: str) -> str | None:
    try:
        return normalise_phone(caller, region, field="caller")
    except InvalidInput:
        return None


def _raw(caller: str) -> str:
    return caller.strip()[:TEXT_LENGTH]


def _call_insert(dialect: str) -> Any:
    """Insert a call unless the provider's call id is known, finding the number's owner and
    returning their name in the same statement. Built once per dialect: a statement reused as
    is skips SQLAlchemy's cache-key walk and compiles once."""
    calls = cast(Table, Call.__table__)
    dialect_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    owner = select(ClientPhone.client_id).where(ClientPhone.e164 == bindparam("number"))
    # SQLAlchemy does not correlate a subquery in an INSERT's RETURNING with the inserted row,
    # so the owner's name is written out; PostgreSQL and SQLite both run it.
    name = literal_column(
        "(SELECT clients.name FROM clients WHERE clients.id = calls.client_id)", String
    )
    return (
        dialect_insert(calls)
        .values(
            provider=bindparam("provider"),
            provider_call_id=bindparam("provider_call_id"),
            direction=bindparam("direction"),
            caller=bindparam("caller"),
            client_id=owner.scalar_subquery(),
            line=bindparam("line"),
            extension=bindparam("extension"),
            state=CallEventKind.RINGING.value,
            ringing_at=bindparam("at"),
            created_at=bindparam("created_at"),
        )
        .on_conflict_do_nothing(index_elements=["provider", "provider_call_id"])
        .returning(*calls.c, name.label("client_name"))
    )


_CALL_INSERTS = {dialect: _call_insert(dialect) for dialect in ("postgresql", "sqlite")}
_EVENTS = cast(Table, Event.__table__)
_EVENT_INSERT = (
    insert(_EVENTS)
    .values(kind=bindparam("kind"), payload=bindparam("payload"), created_at=bindparam("at"))
    .returning(_EVENTS.c.id)
)
# Several ringing events in one statement ("insertmanyvalues"). Each row comes back with its
# payload, whose call id ties it to its call: RETURNING promises no order, and asking SQLAlchemy
# for the parameters' order would make it insert row by row on SQLite (no sentinel column).
_RINGING_INSERT = (
    insert(_EVENTS)
    .values(kind=bindparam("kind"), payload=bindparam("payload"), created_at=bindparam("at"))
    .returning(_EVENTS.c.id, _EVENTS.c.payload)
)


async def _insert_call(tx: AsyncSession, event: CallEvent, number: str | None) -> Row[Any] | None:
    """The new call's row with its client's name; None when the call exists already (our
    insert, when there is one, holds the row's lock until commit)."""
    dialect = tx.get_bind().dialect.name
    result = await tx.execute(_CALL_INSERTS[dialect], _call_params(event, number))
    return result.one_or_none()


def _call_params(event: CallEvent, number: str | None) -> dict[str, Any]:
    """The parameters of :data:`_CALL_INSERTS` for the call of ``event``."""
    return {
        "provider": event.provider,
        "provider_call_id": event.provider_call_id,
        "direction": event.direction.value,
        "caller": number or _raw(event.caller),
        "number": number,
        "line": event.line,
        "extension": event.extension,
        "at": event.at,
        "created_at": event.at,
    }


async def _locked_call(tx: AsyncSession, event: CallEvent) -> tuple[Call, str | None]:
    """An existing call, locked against a concurrent notification, and its client's name."""
    row = (
        await tx.execute(
            select(Call, Client.name)
            .outerjoin(Client, Client.id == Call.client_id)
            .where(
                Call.provider == event.provider, Call.provider_call_id == event.provider_call_id
            )
            .with_for_update(of=Call)
            .execution_options(populate_existing=True)
        )
    ).one()
    return row[0], row[1]


async def _record_events(
    tx: AsyncSession, kinds: Sequence[str], view: CallView
) -> tuple[RecordedEvent, ...]:
    """The call's events, written through ``tx`` for the live popups."""
    payload = _payload(view)
    at = datetime.now(UTC)
    recorded = []
    for kind in kinds:
        event_id = await tx.scalar(_EVENT_INSERT, {"kind": kind, "payload": payload, "at": at})
        assert event_id is not None
        recorded.append(RecordedEvent(event_id, kind, payload, at))
    return tuple(recorded)


def _advance(call: Call, event: CallEvent, created: bool) -> list[str]:
    """Move the call forward by one event; returns the event kinds to record."""
    current = _STEP[CallEventKind(call.state)]
    target = _STEP[event.kind]
    call.line = call.line or event.line
    if target < current or (target == current and not created):
        return _refine(call, event)
    if event.kind is CallEventKind.RINGING:
        return ["call.ringing"]
    if event.extension:
        call.extension = event.extension
    if event.kind is CallEventKind.ANSWERED:
        call.state = CallEventKind.ANSWERED.value
        call.answered_at = event.at
        return ["call.answered"]
    _end(call, event)
    return ["call.ended"]


def _refine(call: Call, event: CallEvent) -> list[str]:
    """A repeated or late event: fill in what was missing, never go back."""
    if event.kind is CallEventKind.RINGING and call.state == CallEventKind.RINGING.value:
        if event.extension and event.extension != call.extension:
            # Another phone of a ring group rings: its operator gets the popup too.
            call.extension = event.extension
            return ["call.ringing"]
        return []
    call.extension = call.extension or event.extension
    if event.kind is CallEventKind.ENDED and call.state == CallEventKind.ENDED.value:
        call.recording_url = call.recording_url or event.recording_url
        if call.duration_seconds is None:
            call.duration_seconds = event.duration_seconds
    return []


def _end(call: Call, event: CallEvent) -> None:
    call.state = CallEventKind.ENDED.value
    call.ended_at = max(event.at, call.ringing_at)
    call.duration_seconds = event.duration_seconds
    call.recording_url = event.recording_url
    answered = call.answered_at is not None or event.outcome == ANSWERED
    if answered and call.answered_at is None:
        call.answered_at = call.ended_at - timedelta(seconds=event.duration_seconds or 0)
        # Heard of only at its end: it rang no later than it was answered.
        call.ringing_at = min(call.ringing_at, call.answered_at)
    call.outcome = ANSWERED if answered else (event.outcome or MISSED)


def _missed(call: Call) -> bool:
    return call.direction == CallDirection.INBOUND.value and call.outcome != ANSWERED


async def _callback_task_for(tx: AsyncSession, call: Call) -> int:
    """The number's open call-back task, opened now unless one is already waiting."""
    await tx.flush()  # the savepoint below must not hold (and on a race undo) the call's changes
    existing = await _open_task_id(tx, call.caller)
    if existing is not None:
        return existing
    task = CallbackTask(
        call_id=call.id,
        client_id=call.client_id,
        phone=call.caller,
        assigned_user_id=await _responsible_operator(tx, call.client_id),
        state=TASK_OPEN,
        created_at=call.ended_at or call.ringing_at,
        note="",
    )
    try:
        async with tx.begin_nested():
            tx.add(task)
    except IntegrityError:
        # Another notification opened the number's task a moment ago (one open task per number).
        existing = await _open_task_id(tx, call.caller)
        assert existing is not None
        return existing
    return task.id


async def _open_task_id(tx: AsyncSession, phone: str) -> int | None:
    return await tx.scalar(
        select(CallbackTask.id).where(CallbackTask.phone == phone, CallbackTask.state == TASK_OPEN)
    )


async def _responsible_operator(tx: AsyncSession, client_id: int | None) -> int | None:
    """The operator of the zone of the client's first address; None leaves it to anyone."""
    if client_id is None:
        return None
    zone_id = await tx.scalar(
        select(Address.zone_id).where(Address.client_id == client_id).order_by(Address.id).limit(1)
    )
    if zone_id is None:
        return None
    return await tx.scalar(
        select(User.id)
        .join(Zone, Zone.responsible_user_id == User.id)
        .where(Zone.id == zone_id, User.active.is_(True))
    )


async def _close_called_back(tx: AsyncSession, call: Call, at: datetime) -> None:
    """An answered call with a number closes the number's open call-back tasks."""
    tasks = (
        await tx.scalars(
            select(CallbackTask)
            .where(CallbackTask.phone == call.caller, CallbackTask.state == TASK_OPEN)
            .with_for_update()
        )
    ).all()
    if not tasks:
        return
    operator = await _user_by_extension(tx, call.extension)
    for task in tasks:
        task.state = TASK_DONE
        task.closed_at = at
        task.closed_by = operator
        task.closed_by_call_id = call.id
    await tx.flush()
    for task in tasks:
        record_event(tx, kind="callback.closed", payload=_task_payload(task))


async def _user_by_extension(tx: AsyncSession, extension: str | None) -> int | None:
    if not extension:
        return None
    ids: Sequence[int] = (
        await tx.scalars(
            select(User.id).where(User.extension == extension, User.active.is_(True)).limit(2)
        )
    ).all()
    return ids[0] if len(ids) == 1 else None


def _payload(view: CallView) -> dict[str, Any]:
    return {
        "call_id": view.id,
        "provider": view.provider,
        "caller": view.caller,
        "client_id": view.client_id,
        "client_name": view.client_name,
        "line": view.line,
        "extension": view.extension,
        "state": view.state,
        "callback_task_id": view.callback_task_id,
    }


def _task_payload(task: CallbackTask) -> Mapping[str, Any]:
    return {
        "callback_task_id": task.id,
        "call_id": task.call_id,
        "phone": task.phone,
        "client_id": task.client_id,
        "closed_by": task.closed_by,
        "closed_by_call_id": task.closed_by_call_id,
    }


def _view(call: Call, client_name: str | None) -> CallView:
    return CallView(
        id=call.id,
        provider=call.provider,
        provider_call_id=call.provider_call_id,
        caller=call.caller,
        client_id=call.client_id,
        client_name=client_name if call.client_id else None,
        line=call.line,
        extension=call.extension,
        state=call.state,
        ringing_at=call.ringing_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        outcome=call.outcome,
        recording_url=call.recording_url,
        callback_task_id=call.callback_task_id,
        direction=call.direction,
        duration_seconds=call.duration_seconds,
    )


def _row_view(row: Row[Any]) -> CallView:
    """A view of a call row as the insert returned it."""
    return CallView(
        id=row.id,
        provider=row.provider,
        provider_call_id=row.provider_call_id,
        caller=row.caller,
        client_id=row.client_id,
        client_name=row.client_name if row.client_id else None,
        line=row.line,
        extension=row.extension,
        state=row.state,
        ringing_at=row.ringing_at,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
        outcome=row.outcome,
        recording_url=row.recording_url,
        callback_task_id=row.callback_task_id,
        direction=row.direction,
        duration_seconds=row.duration_seconds,
    )


def _task_view(task: CallbackTask, client: Client | None) -> CallbackTaskView:
    return CallbackTaskView(
        id=task.id,
        call_id=task.call_id,
        client_id=task.client_id,
        client_name=client.name if client else None,
        phone=task.phone,
        assigned_user_id=task.assigned_user_id,
        state=task.state,
        created_at=task.created_at,
        closed_at=task.closed_at,
        closed_by=task.closed_by,
        closed_by_call_id=task.closed_by_call_id,
        note=task.note,
    )
