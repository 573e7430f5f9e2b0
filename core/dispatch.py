"""Carrying a day plan out: assign and time the orders, then tell workers and customers.

The dispatcher plans a day with :func:`core.routes.plan_day` and looks at the result; this
module writes it, in one transaction, changing only the orders the dispatcher let move.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.errors import Conflict
from core.events import Notice, record_event
from core.models import Address, Client, Order, Worker
from core.orders import move
from core.routes import DayPlan, OrderState, WorkerRoute
from core.workflows import Status

REPLAN_REASON = "re-planned by the dispatcher"


@dataclass(frozen=True)
class AppliedPlan:
    assigned: tuple[int, ...]
    """Orders that got a worker (another one, or their first)."""
    rescheduled: tuple[int, ...]
    """Orders kept with their worker at another time."""
    unassigned: tuple[int, ...]
    """Orders the plan left out, taken off their worker to wait for another."""
    untouched: tuple[int, ...]
    """Orders the plan would change but the dispatcher did not let move."""
    workers_told: tuple[int, ...]


@dataclass(frozen=True)
class _Change:
    order: Order
    worker_id: int | None
    start: datetime | None
    old_worker_id: int | None
    old_start: datetime


async def apply_plan(
    db: Database,
    *,
    plan: DayPlan,
    planner: str,
    now: datetime,
    movable: set[int] | frozenset[int] | None = None,
) -> AppliedPlan:
    """Assign and time the orders as planned, in one transaction, and tell everyone.

    Only orders in ``plan.movable`` (and in ``movable`` when given) change; others stay as they
    are. A plan whose orders changed since it was made is refused (plan again). Workers hear
    their day, customers their arrival window (the rules' margin around the start, inside their
    booked window), and a worker losing a job hears that too.
    """
    allowed = plan.movable if movable is None else plan.movable & frozenset(movable)
    targets = {stop.order_id: (route.worker_id, stop.start)
               for route in plan.routes for stop in route.stops}
    left_out = {u.order_id for u in plan.unplaced}
    try:
        async with db.transaction() as tx:
            orders = await _lock_orders(tx, plan)
            changes, untouched = _changes(orders, plan, allowed, targets, left_out)
            # Free the time first, then set it: one worker's jobs never overlap mid-way.
            for change in changes:
                _release(change, planner, now)
            await tx.flush()
            for change in changes:
                _assign(change, planner, now, plan.day)
            await tx.flush()
            told = await _tell(tx, plan, changes, planner)
    except IntegrityError as err:
        # Someone booked into the planned time meanwhile; the database refused the overlap.
        raise Conflict("route.plan_stale", orders="-") from err
    return AppliedPlan(
        assigned=tuple(c.order.id for c in changes
                       if c.worker_id is not None and c.worker_id != c.old_worker_id),
        rescheduled=tuple(c.order.id for c in changes
                          if c.worker_id is not None and c.worker_id == c.old_worker_id),
        unassigned=tuple(c.order.id for c in changes if c.worker_id is None),
        untouched=tuple(sorted(untouched)),
        workers_told=told,
    )


async def _lock_orders(tx: AsyncSession, plan: DayPlan) -> dict[int, Order]:
    # Nobody moves these orders while the plan is carried out; a stale plan is refused.
    orders = {
        order.id: order
        for order in await tx.scalars(
            select(Order).where(Order.id.in_(plan.snapshot)).with_for_update()
        )
    }
    stale = sorted(
        order_id for order_id, state in plan.snapshot.items()
        if order_id not in orders or _state(orders[order_id]) != state
    )
    if stale:
        raise Conflict("route.plan_stale", orders=", ".join(str(i + 10000) for i in stale))
    return orders


def _state(order: Order) -> OrderState:
    return OrderState(order.worker_id, order.status, order.starts_at, order.ends_at)


def _changes(
    orders: Mapping[int, Order],
    plan: DayPlan,
    allowed: frozenset[int],
    targets: Mapping[int, tuple[int, datetime]],
    left_out: set[int],
) -> tuple[list[_Change], set[int]]:
    changes = []
    untouched = set()
    for order_id in sorted(plan.movable):
        order = orders[order_id]
        worker_id, start = targets.get(order_id, (None, None))
        if worker_id is None and (order_id not in left_out or order.worker_id is None):
            continue
        if worker_id == order.worker_id and start == order.starts_at:
            continue
        if order_id not in allowed:
            untouched.add(order_id)
            continue
        changes.append(_Change(order, worker_id, start, order.worker_id, order.starts_at))
    return changes, untouched


def _release(change: _Change, planner: str, now: datetime) -> None:
    order = change.order
    if order.worker_id is None:
        return
    leaving = change.worker_id != order.worker_id
    if leaving and order.status in (Status.ASSIGNED, Status.ACCEPTED):
        move(order, Status.CONFIRMED, actor=planner, now=now, reason=REPLAN_REASON)
    order.worker_id = None


def _assign(change: _Change, planner: str, now: datetime, day: date) -> None:
    order = change.order
    if change.worker_id is None or change.start is None:
        return
    duration = order.ends_at - order.starts_at
    order.starts_at = change.start
    order.ends_at = change.start + duration
    order.worker_id = change.worker_id
    if order.status == Status.NEW:
        move(order, Status.CONFIRMED, actor=planner, now=now)
    note = f"day route {day:%d.%m.%Y}, planned by {planner}"
    if order.status == Status.CONFIRMED:
        move(order, Status.ASSIGNED, actor=planner, now=now, reason=note)
    order.assignment_note = note


async def _tell(
    tx: AsyncSession, plan: DayPlan, changes: Sequence[_Change], planner: str
) -> tuple[int, ...]:
    """Events for every change and route, with the chat messages they cause."""
    clients = {
        c.id: c for c in await tx.scalars(
            select(Client).where(Client.id.in_({change.order.client_id for change in changes}))
        )
    }
    workers = {
        w.id: w for w in await tx.scalars(select(Worker).where(Worker.id.in_(
            {r.worker_id for r in plan.routes} | {c.old_worker_id for c in changes
                                                   if c.old_worker_id is not None}
        )))
    }
    for change in changes:
        await _tell_change(tx, change, clients, workers, planner, plan.tz, plan.arrival_margin)
    touched = {c.worker_id for c in changes} | {c.old_worker_id for c in changes}
    told = []
    for route in plan.routes:
        if route.worker_id not in touched or not route.stops:
            continue
        await _tell_route(tx, plan, route, workers.get(route.worker_id), planner)
        told.append(route.worker_id)
    return tuple(dict.fromkeys(told))


async def _tell_change(
    tx: AsyncSession, change: _Change, clients: Mapping[int, Client],
    workers: Mapping[int, Worker], planner: str, tz: ZoneInfo, margin: int,
) -> None:
    order = change.order
    notices = []
    old_worker = workers.get(change.old_worker_id) if change.old_worker_id else None
    if old_worker and old_worker.telegram_user_id and change.worker_id != change.old_worker_id:
        when = f"{change.old_start.astimezone(tz):%d.%m %H:%M}"
        notices.append(Notice("worker", old_worker.telegram_user_id, old_worker.language,
                              "notice.job_removed", {"number": order.number, "when": when}))
    if change.worker_id is None:
        record_event(tx, kind="order.unassigned", order_id=order.id, payload={
            "from_worker_id": change.old_worker_id, "planner": planner,
        }, notices=notices)
        return
    client = clients.get(order.client_id)
    if client and client.telegram_user_id and (
        change.start != change.old_start or change.old_worker_id is None
    ):
        notices.append(_arrival_notice(order, client, tz, margin))
    kind = "order.assigned" if change.worker_id != change.old_worker_id else "order.rescheduled"
    record_event(tx, kind=kind, order_id=order.id, payload={
        "worker_id": change.worker_id,
        "from_worker_id": change.old_worker_id,
        "starts_at": order.starts_at.isoformat(),
        "from_starts_at": change.old_start.isoformat(),
        "planner": planner,
        "why": order.assignment_note,
    }, notices=notices)


def _arrival_notice(order: Order, client: Client, tz: ZoneInfo, margin: int) -> Notice:
    start = order.starts_at
    earliest = max(order.window_start, start - timedelta(minutes=margin)).astimezone(tz)
    latest = min(max(order.window_end, start), start + timedelta(minutes=margin)).astimezone(tz)
    params = {"number": order.number, "day": f"{earliest:%d.%m.%Y}",
              "start": f"{earliest:%H:%M}", "end": f"{latest:%H:%M}"}
    template = "notice.arrival_window" if earliest < latest else "notice.arrival_time"
    return Notice("customer", client.telegram_user_id or 0, client.language, template, params)


async def _tell_route(
    tx: AsyncSession, plan: DayPlan, route: WorkerRoute, worker: Worker | None, planner: str
) -> None:
    addresses = {
        order_id: text for order_id, text in await tx.execute(
            select(Order.id, Address.text).join(Address, Order.address_id == Address.id)
            .where(Order.id.in_([stop.order_id for stop in route.stops]))
        )
    }
    lines = [
        f"{stop.start.astimezone(plan.tz):%H:%M}–{stop.end.astimezone(plan.tz):%H:%M} "
        f"№{stop.number}" + (f", {addresses[stop.order_id]}" if stop.order_id in addresses else "")
        for stop in route.stops
    ]
    notices = []
    if worker is not None and worker.telegram_user_id is not None:
        notices.append(Notice("worker", worker.telegram_user_id, worker.language,
                              "notice.route_planned",
                              {"day": f"{plan.day:%d.%m.%Y}", "count": len(route.stops),
                               "stops": "\n".join(lines)}))
    record_event(tx, kind="route.planned", payload={
        "day": plan.day.isoformat(),
        "zone_id": plan.zone_id,
        "worker_id": route.worker_id,
        "planner": planner,
        "stops": [{"order_id": stop.order_id, "start": stop.start.isoformat(),
                   "end": stop.end.isoformat()} for stop in route.stops],
        "travel_minutes": route.travel_minutes,
        "km": route.km,
        "idle_minutes": route.idle_minutes,
    }, notices=notices)
