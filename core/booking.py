"""Booking a visit: the order and its worker in one transaction, never a double booking.

The database settles races. On PostgreSQL the chosen worker's row is locked (``FOR UPDATE``)
before their day is re-read, and an exclusion constraint forbids overlapping jobs; on SQLite
the transaction holds the write lock from its first statement (``BEGIN IMMEDIATE``) and a
trigger forbids overlaps. Whoever loses gets ``SlotTaken`` with the nearest free starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.assignment import Candidate, explain
from core.db import Database
from core.errors import InvalidInput, NotFound, SlotTaken
from core.events import Notice, record_event
from core.gaps import Workload, find_gaps, grid
from core.geo import Point
from core.models import (
    Address,
    BookingRequest,
    Channel,
    Client,
    Order,
    OrderLine,
    OrderStatusChange,
    Priority,
)
from core.orders import OrderView, load_order, move, offer_notice, order_view, worker_chat
from core.shifts import epoch_minutes, from_epoch_minutes
from core.slots import (
    Eligible,
    JobSpec,
    Place,
    SlotRules,
    WorkloadRows,
    eligible_workers,
    find_slots,
    load_job_spec,
    load_jobs,
    nearest,
    read_workload,
    resolve_place,
    sold_zones,
)
from core.workflows import Status, check_editable


@dataclass(frozen=True)
class Booking:
    order: OrderView
    why: str


class _NoWorkerFree(Exception):
    pass


class _WaitForWorkers(Exception):
    """Only workers another booking holds right now may be free: book again, waiting."""


async def _in_transaction(
    db: Database, work: Callable[[AsyncSession, bool], Awaitable[Booking]]
) -> Booking:
    """``work`` in a transaction that waits for no worker another booking holds; when only
    such workers are left, once more, patiently (see :func:`_choose_worker`)."""
    try:
        async with db.transaction() as tx:
            return await work(tx, False)
    except _WaitForWorkers:
        async with db.transaction() as tx:
            return await work(tx, True)


async def book_visit(
    db: Database,
    *,
    client_id: int,
    service_id: int,
    start: datetime,
    now: datetime,
    rules: SlotRules,
    channel: Channel,
    point: Point | None = None,
    address_id: int | None = None,
    address_text: str = "",
    quantity: int = 1,
    comment: str = "",
    actor: str | None = None,
    priority: Priority = Priority.NORMAL,
    request_key: str | None = None,
) -> Booking:
    """Book ``start`` for the client and assign the best free worker, or raise ``SlotTaken``.

    With ``request_key`` the booking happens once: asking again with the same key (a double
    tap, a retried webhook, a second process) returns the order the first request made.
    """
    start_minute = _check_start(start, now, rules)

    async def book(tx: AsyncSession, patient: bool) -> Booking:
        return await _book(
            tx,
            client_id=client_id,
            service_id=service_id,
            start_minute=start_minute,
            now=now,
            rules=rules,
            channel=channel,
            point=point,
            address_id=address_id,
            address_text=address_text,
            quantity=quantity,
            comment=comment,
            actor=actor or f"client:{client_id}",
            priority=priority,
            lock=db.dialect == "postgresql",
            patient=patient,
            request_key=request_key,
        )

    try:
        return await _in_transaction(db, book)
    except (_NoWorkerFree, IntegrityError) as err:
        if request_key is not None:
            earlier = await _booked_before(db, request_key)
            if earlier is not None:
                return earlier
        if isinstance(err, IntegrityError) and not _is_overlap(err):
            raise
        local = start.astimezone(rules.tz)
        day = local.date()
        free = await find_slots(
            db,
            service_id=service_id,
            first=day - timedelta(days=1),
            last=day + timedelta(days=3),
            now=now,
            rules=rules,
            point=point,
            address_id=address_id,
            client_id=client_id,
            quantity=quantity,
        )
        raise SlotTaken(
            start=local.isoformat(), alternatives=nearest(free, local, rules.alternatives)
        ) from err


def _is_overlap(err: IntegrityError) -> bool:
    text = str(err.orig)
    return "worker_overlap" in text or "ex_orders_worker_overlap" in text


def _check_start(start: datetime, now: datetime, rules: SlotRules) -> int:
    if start.tzinfo is None:
        raise InvalidInput(
            "invalid_value", field="start", value=start.isoformat(), reason="give the time zone"
        )
    local = start.astimezone(rules.tz)
    minute = epoch_minutes(local)
    if (
        start.second
        or start.microsecond
        or minute not in grid(local.date(), rules.tz, rules.step, 0)
    ):
        raise InvalidInput(
            "slot_not_on_grid",
            field="start",
            value=local.isoformat(),
            start=local.strftime("%H:%M"),
            step=rules.step,
        )
    if minute < epoch_minutes(now) + rules.lead:
        raise InvalidInput(
            "slot_in_past",
            field="start",
            value=local.isoformat(),
            start=local.strftime("%d.%m %H:%M"),
        )
    return minute


async def _book(
    tx: AsyncSession,
    *,
    client_id: int,
    service_id: int,
    start_minute: int,
    now: datetime,
    rules: SlotRules,
    channel: Channel,
    point: Point | None,
    address_id: int | None,
    address_text: str,
    quantity: int,
    comment: str,
    actor: str,
    priority: Priority,
    lock: bool,
    patient: bool,
    request_key: str | None,
) -> Booking:
    client = (
        await tx.execute(
            select(Client.telegram_user_id, Client.language).where(Client.id == client_id)
        )
    ).first()
    if client is None:
        raise NotFound("not_found", entity="client", ref=client_id)
    spec, service = await load_job_spec(tx, service_id, quantity)
    place, address = await resolve_place(tx, point=point, address_id=address_id)
    if address is not None and address.client_id != client_id:
        raise InvalidInput(
            "invalid_value", field="address", value=address_id, reason="belongs to another client"
        )
    zone_ids = sold_zones(service, place)
    candidate = await _choose_worker(
        tx, spec, place, zone_ids, client_id, start_minute, rules, lock=lock, patient=patient
    )
    if address is None:
        address = Address(
            client_id=client_id,
            text=address_text or f"{place.point.lat:.5f}, {place.point.lon:.5f}",
            lat=place.point.lat,
            lon=place.point.lon,
            zone_id=zone_ids[0],
        )
    modifier = place.price_modifiers.get(zone_ids[0], 0)
    starts_at = from_epoch_minutes(start_minute, rules.tz)
    order = Order(
        client_id=client_id,
        address=address,
        zone_id=zone_ids[0],
        lat=place.point.lat,
        lon=place.point.lon,
        workflow=spec.workflow,
        status=Status.NEW.value,
        channel=channel,
        priority=priority,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=spec.duration),
        window_start=starts_at,
        window_end=starts_at,
        customer_comment=comment,
        assignment_note=explain(candidate),
        lines=[
            OrderLine(
                service_id=service.id,
                quantity=quantity,
                unit_price=service.price * (100 + modifier) // 100,
            )
        ],
        history=[],
    )
    tx.add(order)
    move(order, Status.CONFIRMED, actor=actor, now=now)
    order.worker_id = candidate.worker_id
    move(order, Status.ASSIGNED, actor="system", now=now, reason=order.assignment_note)
    if request_key is not None:
        # The key settles a race of one request with itself (a double tap, a retried webhook):
        # the later booking fails here, once the earlier one has committed.
        tx.add(BookingRequest(key=request_key, order=order))
    await tx.flush()  # the address if new, the order, its lines and history, the key
    when = starts_at.strftime("%d.%m.%Y %H:%M")
    about = {"number": order.number, "service": dict(service.names), "when": when}
    client_chat = (
        [Notice("customer", client.telegram_user_id, client.language, "notice.order_booked", about)]
        if client.telegram_user_id
        else []
    )
    offer = await offer_notice(tx, order, candidate.worker_id, tz=rules.tz)
    record_event(
        tx,
        kind="order.booked",
        order_id=order.id,
        payload={
            "client_id": client_id,
            "worker_id": candidate.worker_id,
            "channel": channel.value,
        },
        notices=client_chat,
    )
    record_event(
        tx,
        kind="order.assigned",
        order_id=order.id,
        payload={"worker_id": candidate.worker_id, "why": order.assignment_note},
        notices=offer,
    )
    return Booking(await order_view(tx, order), order.assignment_note)


async def _choose_worker(
    tx: AsyncSession,
    spec: JobSpec,
    place: Place,
    zone_ids: tuple[int, ...],
    client_id: int,
    start: int,
    rules: SlotRules,
    *,
    lock: bool,
    patient: bool = False,
    prefer: int | None = None,
) -> Candidate:
    day = from_epoch_minutes(start, rules.tz).date()
    workers = eligible_workers(spec, zone_ids, client_id)
    rows = await read_workload(tx, workers, client_id, day, day, rules.tz)
    candidates = _candidates_at(rows.workload(), spec, place, zone_ids, start, rules)
    if prefer is not None:
        # Moving a job: its own worker keeps it when free (a stable sort keeps the rest ranked).
        candidates.sort(key=lambda candidate: candidate.worker_id != prefer)
    if not lock:
        # SQLite: this transaction already holds the write lock, so what it read is current.
        if not candidates:
            raise _NoWorkerFree
        return candidates[0]
    # Bookings are serialised per worker: each locks the worker's row, then re-reads their
    # jobs, as another booking may have committed between our first read and the lock (shifts
    # are not booked, jobs are).
    if not patient:
        # First waiting for no one: a worker another booking holds is passed over (SKIP
        # LOCKED), as that booking is most likely after the same start and a free worker
        # nearly as good beats a wait for one who may not be free at all. Never waiting, this
        # transaction may keep a lock on a worker who turned out busy: no deadlock, and no
        # savepoint. A moved job waits for its own worker, though.
        held_elsewhere = False
        for candidate in candidates:
            taken = await _lock_if_free(tx, workers, rows, candidate, spec, place, zone_ids,
                                        start, rules, wait=False)
            if isinstance(taken, Candidate):
                return taken
            if taken is _HELD_ELSEWHERE:
                if candidate.worker_id == prefer:
                    raise _WaitForWorkers
                held_elsewhere = True
        if held_elsewhere:
            raise _WaitForWorkers
        raise _NoWorkerFree
    for candidate in candidates:
        # Patiently: each lock is taken in a savepoint, so that a worker who turned out busy is
        # let go at once; holding them while waiting for the next one is how two bookings
        # deadlock.
        savepoint = await tx.begin_nested()
        taken = await _lock_if_free(tx, workers, rows, candidate, spec, place, zone_ids, start,
                                    rules, wait=True)
        if isinstance(taken, Candidate):
            await savepoint.commit()
            return taken
        await savepoint.rollback()
    raise _NoWorkerFree


_HELD_ELSEWHERE = "held elsewhere"


async def _lock_if_free(
    tx: AsyncSession,
    workers: Eligible,
    rows: WorkloadRows,
    candidate: Candidate,
    spec: JobSpec,
    place: Place,
    zone_ids: tuple[int, ...],
    start: int,
    rules: SlotRules,
    *,
    wait: bool,
) -> Candidate | str | None:
    """The candidate, locked, when still eligible and free at ``start``; else None, or without
    ``wait`` ``_HELD_ELSEWHERE`` when another transaction holds the worker (or they are no
    longer eligible: a wait would tell)."""
    query, params = replace(workers, only=candidate.worker_id).statement(
        lock=True, skip_locked=not wait
    )
    if await tx.scalar(query, params) is None:
        return None if wait else _HELD_ELSEWHERE
    day = from_epoch_minutes(start, rules.tz).date()
    jobs = await load_jobs(tx, [candidate.worker_id], day, day, rules.tz)
    if list(jobs) == rows.jobs_of(candidate.worker_id):
        return candidate  # nothing changed since the first read
    fresh = rows.one_worker(candidate.worker_id, jobs)
    still = _candidates_at(fresh, spec, place, zone_ids, start, rules)
    return still[0] if still else None


def _candidates_at(
    workload: Workload,
    spec: JobSpec,
    place: Place,
    zone_ids: tuple[int, ...],
    start: int,
    rules: SlotRules,
) -> list[Candidate]:
    """Workers who can take the job at ``start``, best first."""
    if workload.empty:
        return []
    gaps = find_gaps(
        workload, duration=spec.duration, point=place.point, zone_ids=zone_ids, travel=rules.travel
    )
    return [
        gaps.candidate(int(i)) for i in gaps.ranking() if gaps.first[i] <= start <= gaps.last[i]
    ]


# --- booking once, checking a place, moving a booked visit ------------------------------------


async def _booked_before(db: Database, key: str) -> Booking | None:
    """The booking an earlier request with ``key`` made, if it committed."""
    async with db.transaction(read_only=True) as tx:
        request = await tx.get(BookingRequest, key)
        if request is None or request.order_id is None:
            return None
        order = await load_order(tx, request.order_id)
        return Booking(await order_view(tx, order), order.assignment_note)


@dataclass(frozen=True)
class PlaceCheck:
    """A point where the service is sold: the zones that contain it."""

    zone_ids: tuple[int, ...]


async def check_place(db: Database, *, service_id: int, point: Point) -> PlaceCheck:
    """Whether we serve the point with this service; ``outside_zones`` or a refusal if not."""
    async with db.transaction(read_only=True) as tx:
        _, service = await load_job_spec(tx, service_id, 1)
        place, _ = await resolve_place(tx, point=point, address_id=None)
        return PlaceCheck(sold_zones(service, place))


async def reschedule_order(
    db: Database,
    *,
    order_id: int,
    start: datetime,
    now: datetime,
    rules: SlotRules,
    actor: str,
    client_id: int | None = None,
) -> Booking:
    """Move a visit to another free start: its worker keeps it when free, else the best one.

    ``client_id`` limits the move to that client's own order. Refused once the workflow no
    longer allows edits; ``SlotTaken`` with the nearest free starts when nobody is free then.
    """
    start_minute = _check_start(start, now, rules)

    async def move_it(tx: AsyncSession, patient: bool) -> Booking:
        return await _reschedule(
            tx,
            order_id=order_id,
            start_minute=start_minute,
            now=now,
            rules=rules,
            actor=actor,
            client_id=client_id,
            lock=db.dialect == "postgresql",
            patient=patient,
        )

    try:
        return await _in_transaction(db, move_it)
    except (_NoWorkerFree, IntegrityError) as err:
        if isinstance(err, IntegrityError) and not _is_overlap(err):
            raise
        local = start.astimezone(rules.tz)
        async with db.transaction(read_only=True) as tx:
            order = await load_order(tx, order_id)
            line = order.lines[0]
            point = _point_of(order)
            address_id, client = order.address_id, order.client_id
        free = await find_slots(
            db,
            service_id=line.service_id,
            first=local.date() - timedelta(days=1),
            last=local.date() + timedelta(days=3),
            now=now,
            rules=rules,
            point=point,
            address_id=None if point else address_id,
            client_id=client,
            quantity=line.quantity,
        )
        raise SlotTaken(
            start=local.isoformat(), alternatives=nearest(free, local, rules.alternatives)
        ) from err


async def _reschedule(
    tx: AsyncSession,
    *,
    order_id: int,
    start_minute: int,
    now: datetime,
    rules: SlotRules,
    actor: str,
    client_id: int | None,
    lock: bool,
    patient: bool,
) -> Booking:
    order = await load_order(tx, order_id, for_update=True)
    if client_id is not None and order.client_id != client_id:
        raise NotFound("not_found", entity="order", ref=order.number)
    check_editable(order.workflow, Status(order.status))
    line = order.lines[0]
    spec, service = await load_job_spec(tx, line.service_id, line.quantity)
    point = _point_of(order)
    place, _ = await resolve_place(
        tx, point=point, address_id=None if point else order.address_id
    )
    zone_ids = sold_zones(service, place)
    previous, old_start = order.worker_id, order.starts_at
    # The order's own time must not count as busy while its new start is looked for.
    order.worker_id = None
    await tx.flush()
    candidate = await _choose_worker(
        tx, spec, place, zone_ids, order.client_id, start_minute, rules, lock=lock,
        patient=patient, prefer=previous,
    )
    starts_at = from_epoch_minutes(start_minute, rules.tz)
    order.starts_at, order.ends_at = starts_at, starts_at + timedelta(minutes=spec.duration)
    order.window_start = order.window_end = starts_at
    moved = f"{_wall(old_start, rules)} → {_wall(starts_at, rules)}"
    order.history.append(
        OrderStatusChange(
            from_status=order.status, to_status=order.status, actor=actor,
            reason=f"rescheduled {moved}", at=now,
        )
    )
    if order.status == Status.NEW:
        move(order, Status.CONFIRMED, actor=actor, now=now)
    elif order.status == Status.ACCEPTED and candidate.worker_id != previous:
        move(order, Status.CONFIRMED, actor=actor, now=now, reason=f"rescheduled {moved}")
    order.worker_id = candidate.worker_id
    if candidate.worker_id != previous:
        order.assignment_note = explain(candidate)
    if order.status == Status.CONFIRMED:
        move(order, Status.ASSIGNED, actor="system", now=now, reason=order.assignment_note)
    await tx.flush()
    await _record_move(tx, order, service.names, previous, old_start, rules, actor)
    return Booking(await order_view(tx, order), order.assignment_note)


def _point_of(order: Order) -> Point | None:
    return Point(order.lat, order.lon) if order.lat is not None and order.lon is not None else None


def _wall(moment: datetime, rules: SlotRules) -> str:
    return moment.astimezone(rules.tz).strftime("%d.%m.%Y %H:%M")


async def _record_move(
    tx: AsyncSession,
    order: Order,
    service_names: dict[str, str],
    previous: int | None,
    old_start: datetime,
    rules: SlotRules,
    actor: str,
) -> None:
    about = {
        "order_id": order.id,
        "number": order.number,
        "service": dict(service_names),
        "when": _wall(order.starts_at, rules),
    }
    notices = []
    client = await tx.get(Client, order.client_id)
    if client is not None and client.telegram_user_id is not None:
        notices.append(
            Notice("customer", client.telegram_user_id, client.language,
                   "notice.order_rescheduled", about)
        )
    new_chat = await worker_chat(tx, order.worker_id) if order.worker_id else None
    if new_chat is not None:
        template = "notice.job_moved" if order.worker_id == previous else "notice.job_offered"
        notices.append(Notice("worker", new_chat[0], new_chat[1], template, about))
    old_chat = await worker_chat(tx, previous) if previous and previous != order.worker_id else None
    if old_chat is not None and (new_chat is None or old_chat[0] != new_chat[0]):
        removed = {"number": order.number, "when": _wall(old_start, rules)}
        notices.append(Notice("worker", old_chat[0], old_chat[1], "notice.job_removed", removed))
    record_event(
        tx,
        kind="order.rescheduled",
        order_id=order.id,
        payload={
            "from": old_start.isoformat(),
            "to": order.starts_at.isoformat(),
            "worker_id": order.worker_id,
            "previous_worker_id": previous,
            "actor": actor,
        },
        notices=notices,
    )
