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
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from core.clients import client_by_phone
from core.db import Database
from core.errors import InvalidInput, NotFound
from core.events import record_event
from core.models import Address, Call, CallbackTask, Client, ClientPhone, Role, User, Zone
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
class CallView:
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
    async with db.transaction() as tx:
        client = await client_by_phone(tx, number) if number else None
    return Caller(
        number=number or _raw(caller),
        client_id=client.id if client else None,
        client_name=client.name if client else None,
    )


async def operator_phones(db: Database, *, region: str) -> tuple[str, ...]:
    """The phones to ring for an inbound call: active operators whose extension is a number."""
    async with db.transaction() as tx:
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
    _check(event)
    sent = _e164(event.caller, region)
    async with db.transaction() as tx:
        call, created = await _locked_call(tx, event, sent or _raw(event.caller))
        number = sent if created else _e164(call.caller, region)  # the first event's caller holds
        if created and number:
            call.client_id = await tx.scalar(
                select(ClientPhone.client_id).where(ClientPhone.e164 == number)
            )
        # Only the name is needed on this hot path: skip loading phones and addresses.
        client = (
            await tx.get(
                Client,
                call.client_id,
                options=[raiseload(Client.phones), raiseload(Client.addresses)],
            )
            if call.client_id
            else None
        )
        was_answered = call.answered_at is not None
        kinds = _advance(call, event, created)
        if kinds and kinds[-1] == "call.ended" and _missed(call):
            kinds[-1] = "call.missed"
            if number:
                call.callback_task_id = await _callback_task_for(tx, call, client)
        await tx.flush()
        for kind in kinds:
            await record_event(tx, kind=kind, payload=_payload(call, client))
        if not was_answered and call.answered_at is not None and number:
            await _close_called_back(tx, call, event.at)
        return _view(call, client)


async def get_call(db: Database, *, call_id: int) -> CallView:
    async with db.transaction() as tx:
        call = await tx.get(Call, call_id)
        if call is None:
            raise NotFound("not_found", entity="call", ref=call_id)
        client = await tx.get(Client, call.client_id) if call.client_id else None
        return _view(call, client)


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
    async with db.transaction() as tx:
        rows = (await tx.execute(query)).all()
        return [_view(call, client) for call, client in rows]


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
    async with db.transaction() as tx:
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
            await record_event(tx, kind="callback.closed", payload=_task_payload(task))
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
    for field in ("line", "extension", "outcome"):
        value = getattr(event, field)
        if value is not None and len(value) > TEXT_LENGTH:
            raise refuse(field, value, f"at most {TEXT_LENGTH} characters")
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


async def _locked_call(tx: AsyncSession, event: CallEvent, caller: str) -> tuple[Call, bool]:
    """The call row, created when new and locked against a concurrent notification."""
    dialect = tx.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(Call)
        .values(
            provider=event.provider,
            provider_call_id=event.provider_call_id,
            direction=event.direction.value,
            caller=caller,
            line=event.line,
            extension=event.extension,
            state=CallEventKind.RINGING.value,
            ringing_at=event.at,
            created_at=event.at,
        )
        .on_conflict_do_nothing(index_elements=["provider", "provider_call_id"])
        .returning(Call)
    )
    inserted = await tx.scalar(statement, execution_options={"populate_existing": True})
    if inserted is not None:
        return inserted, True  # our own insert holds the row's lock until commit
    call = await tx.scalar(
        select(Call)
        .where(Call.provider == event.provider, Call.provider_call_id == event.provider_call_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert call is not None  # the insert found it there
    return call, False


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


async def _callback_task_for(tx: AsyncSession, call: Call, client: Client | None) -> int:
    """The number's open call-back task, opened now unless one is already waiting."""
    await tx.flush()  # the savepoint below must not hold (and on a race undo) the call's changes
    existing = await _open_task_id(tx, call.caller)
    if existing is not None:
        return existing
    task = CallbackTask(
        call_id=call.id,
        client_id=client.id if client else None,
        phone=call.caller,
        assigned_user_id=await _responsible_operator(tx, client),
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


async def _responsible_operator(tx: AsyncSession, client: Client | None) -> int | None:
    """The operator of the zone of the client's first address; None leaves it to anyone."""
    if client is None:
        return None
    zone_id = await tx.scalar(
        select(Address.zone_id).where(Address.client_id == client.id).order_by(Address.id).limit(1)
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
        await record_event(tx, kind="callback.closed", payload=_task_payload(task))


async def _user_by_extension(tx: AsyncSession, extension: str | None) -> int | None:
    if not extension:
        return None
    ids: Sequence[int] = (
        await tx.scalars(
            select(User.id).where(User.extension == extension, User.active.is_(True)).limit(2)
        )
    ).all()
    return ids[0] if len(ids) == 1 else None


def _payload(call: Call, client: Client | None) -> Mapping[str, Any]:
    return {
        "call_id": call.id,
        "provider": call.provider,
        "caller": call.caller,
        "client_id": client.id if client else None,
        "client_name": client.name if client else None,
        "line": call.line,
        "extension": call.extension,
        "state": call.state,
        "callback_task_id": call.callback_task_id,
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


def _view(call: Call, client: Client | None) -> CallView:
    return CallView(
        id=call.id,
        provider=call.provider,
        provider_call_id=call.provider_call_id,
        caller=call.caller,
        client_id=client.id if client else None,
        client_name=client.name if client else None,
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
