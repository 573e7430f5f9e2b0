"""Booking a visit: the order and its worker in one transaction, never a double booking.

The database settles races. On PostgreSQL the chosen worker's row is locked (``FOR UPDATE``)
before their day is re-read, and an exclusion constraint forbids overlapping jobs; on SQLite
the transaction holds the write lock from its first statement (``BEGIN IMMEDIATE``) and a
trigger forbids overlaps. Whoever loses gets ``SlotTaken`` with the nearest free starts.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from core.models import Address, Channel, Client, Order, OrderLine, Priority, Worker, Zone
from core.orders import OrderView, move, order_view, worker_chat
from core.shifts import epoch_minutes, from_epoch_minutes
from core.slots import (
    JobSpec,
    Place,
    SlotRules,
    eligible_workers,
    find_slots,
    load_job_spec,
    load_workload,
    nearest,
    resolve_place,
    sold_zones,
)
from core.workflows import Status


@dataclass(frozen=True)
class Booking:
    order: OrderView
    why: str


class _NoWorkerFree(Exception):
    pass


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
) -> Booking:
    """Book ``start`` for the client and assign the best free worker, or raise ``SlotTaken``."""
    start_minute = _check_start(start, now, rules)
    try:
        async with db.transaction() as tx:
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
                db_dialect=db.dialect,
            )
    except (_NoWorkerFree, IntegrityError) as err:
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
    db_dialect: str,
) -> Booking:
    client = await tx.get(Client, client_id)
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
        tx, spec, place, zone_ids, client_id, start_minute, rules, lock=db_dialect == "postgresql"
    )
    if address is None:
        address = Address(
            client_id=client_id,
            text=address_text or f"{place.point.lat:.5f}, {place.point.lon:.5f}",
            lat=place.point.lat,
            lon=place.point.lon,
            zone_id=zone_ids[0],
        )
        tx.add(address)
        await tx.flush()
    zone = await tx.get(Zone, zone_ids[0])
    modifier = zone.price_modifier_percent if zone else 0
    starts_at = from_epoch_minutes(start_minute, rules.tz)
    order = Order(
        client_id=client_id,
        address_id=address.id,
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
    await tx.flush()
    when = starts_at.strftime("%d.%m.%Y %H:%M")
    about = {"number": order.number, "service": dict(service.names), "when": when}
    client_chat = (
        [Notice("customer", client.telegram_user_id, client.language, "notice.order_booked", about)]
        if client.telegram_user_id
        else []
    )
    await record_event(
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
    chat = await worker_chat(tx, candidate.worker_id)
    offer = [Notice("worker", chat[0], chat[1], "notice.job_offered", about)] if chat else []
    await record_event(
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
) -> Candidate:
    day = from_epoch_minutes(start, rules.tz).date()
    workers = eligible_workers(spec, zone_ids, client_id)
    candidates = _candidates_at(
        await load_workload(tx, workers, client_id, day, day, rules.tz),
        spec,
        place,
        zone_ids,
        start,
        rules,
    )
    if not lock:
        # SQLite: this transaction already holds the write lock, so what it read is current.
        if not candidates:
            raise _NoWorkerFree
        return candidates[0]
    for candidate in candidates:
        # Serialise bookings per worker, then re-read their day: another booking may have
        # committed between our first read and the lock.
        await tx.execute(
            select(Worker.id).where(Worker.id == candidate.worker_id).with_for_update()
        )
        fresh = await load_workload(
            tx, workers.where(Worker.id == candidate.worker_id), client_id, day, day, rules.tz
        )
        still = _candidates_at(fresh, spec, place, zone_ids, start, rules)
        if still:
            return still[0]
    raise _NoWorkerFree


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
