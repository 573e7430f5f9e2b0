"""Job offers: a worker accepts or declines; declined or unanswered offers pass on.

An offer is an order in ``assigned`` with its worker; the offer began at the order's last move
to ``assigned``. Declining, or not answering within the configured minutes, passes the order
to the next best eligible worker by the assignment score (:mod:`core.assignment`), leaving out
everyone who declined or let it time out. When nobody is left, the zone's responsible operator
is told. Once passed on, the earlier worker's buttons answer "no longer offered to you" (and
the worker bot redraws that offer message without them). :func:`answer_offer` also reads back
where the other offers shown in the same message stand, for that redraw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.assignment import Candidate, explain
from core.db import Database
from core.errors import Conflict
from core.events import Notice, record_event
from core.gaps import find_gaps
from core.geo import Point
from core.models import (
    OfferRefusal,
    Order,
    OrderStatusChange,
    PanelProfile,
    User,
    Worker,
    Zone,
    order_number,
)
from core.orders import (
    OrderView,
    load_order,
    move,
    offer_notice,
    order_view,
    status_notices,
    worker_chat,
)
from core.shifts import epoch_minutes
from core.slots import (
    Eligible,
    SlotRules,
    eligible_workers,
    load_job_spec,
    load_workload,
    resolve_place,
    sold_zones,
)
from core.workflows import Status

DECLINED = "declined"
TIMED_OUT = "timed_out"


@dataclass(frozen=True)
class PassedOn:
    """Where an order went after its offer was declined or timed out."""

    order: OrderView
    worker_id: int | None
    """The next worker offered it; ``None``: nobody is left and the operator was told."""


OFFERED = "offered"
YOURS = "yours"
PASSED_ON = "passed_on"
WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class OfferState:
    """Where an offer made to one worker stands now, as the offer message shows it."""

    order_id: int
    number: str
    state: str
    """``offered`` (still to answer), ``yours`` (accepted), ``declined`` (by this worker),
    ``passed_on`` (gone to someone else or back to the operator), ``withdrawn`` (cancelled)."""


@dataclass(frozen=True)
class OfferAnswer:
    """A worker's answer to an offer, taken: the job's number, and where the offers shown
    with it (one message may carry several) stand now."""

    number: str
    shown: tuple[OfferState, ...]


async def answer_offer(
    db: Database, *, worker_id: int, order_id: int, accept: bool, now: datetime,
    rules: SlotRules, shown: Sequence[int] = (),
) -> OfferAnswer:
    """Accept or decline, as :func:`accept_offer` and :func:`decline_offer`, then read back
    the offers ``shown`` with it as they stand after the answer."""
    async with db.transaction() as tx:
        # The busiest write of a worker's morning: the fewer statements it holds the write
        # lock for (SQLite), the less the others wait.
        order = await load_order(tx, order_id, for_update=True, history=not accept)
        _offered_to(order, worker_id)
        if accept:
            await _accept(tx, order, worker_id, now)
        else:
            await pass_on(tx, order, reason=DECLINED, now=now, rules=rules,
                          lock=db.dialect == "postgresql")
    if not shown:
        return OfferAnswer(order.number, ())
    async with db.transaction(read_only=True) as tx:
        return OfferAnswer(order.number, tuple(await _states(tx, worker_id, shown)))


async def offer_states(
    db: Database, *, worker_id: int, order_ids: Sequence[int]
) -> list[OfferState]:
    """The state of each of these offers for this worker, in the order asked."""
    async with db.transaction(read_only=True) as tx:
        return await _states(tx, worker_id, order_ids)


async def _states(
    tx: AsyncSession, worker_id: int, order_ids: Sequence[int]
) -> list[OfferState]:
    if not order_ids:
        return []
    # The columns an offer's state needs, not the orders with their lines and history.
    orders = {
        order.id: order
        for order in await tx.execute(
            select(Order.id, Order.status, Order.worker_id)
            .where(Order.id.in_(order_ids))
        )
    }
    declined = set(await tx.scalars(
        select(OfferRefusal.order_id).where(
            OfferRefusal.worker_id == worker_id, OfferRefusal.order_id.in_(order_ids),
            OfferRefusal.reason == DECLINED,
        )
    ))
    return [
        OfferState(order_id, order_number(order_id),
                   _offer_state(orders[order_id], worker_id, order_id in declined))
        for order_id in order_ids if order_id in orders
    ]


def _offer_state(order: Any, worker_id: int, declined: bool) -> str:
    """``order``: an order, or a row of its ``status`` and ``worker_id``."""
    if order.status == Status.CANCELLED:
        return WITHDRAWN
    if order.worker_id == worker_id:
        if order.status == Status.ASSIGNED:
            return OFFERED
        if order.status not in (Status.NEW, Status.CONFIRMED):
            return YOURS
    return DECLINED if declined else PASSED_ON


def _offered_to(order: Order, worker_id: int) -> None:
    """Refuse an answer to an offer that is not (or no longer) this worker's."""
    if order.worker_id == worker_id and order.status == Status.ACCEPTED:
        raise Conflict("offer_already_accepted", number=order.number)
    if order.worker_id != worker_id or order.status != Status.ASSIGNED:
        raise Conflict("offer_gone", number=order.number)


async def accept_offer(
    db: Database, *, worker_id: int, order_id: int, now: datetime
) -> OrderView:
    """The worker takes the job; a second tap or a passed-on offer is refused, changing nothing."""
    async with db.transaction() as tx:
        order = await load_order(tx, order_id, for_update=True)
        _offered_to(order, worker_id)
        await _accept(tx, order, worker_id, now)
        return await order_view(tx, order)


async def _accept(tx: AsyncSession, order: Order, worker_id: int, now: datetime) -> None:
    move(order, Status.ACCEPTED, actor=f"worker:{worker_id}", now=now)
    await tx.flush()
    record_event(
        tx, kind="order.accepted", order_id=order.id, payload={"worker_id": worker_id},
        notices=await status_notices(tx, order),
    )


async def decline_offer(
    db: Database, *, worker_id: int, order_id: int, now: datetime, rules: SlotRules
) -> PassedOn:
    """The worker says no: the order goes to the next best worker, or to the operator."""
    async with db.transaction() as tx:
        order = await load_order(tx, order_id, for_update=True)
        _offered_to(order, worker_id)
        return await pass_on(
            tx, order, reason=DECLINED, now=now, rules=rules, lock=db.dialect == "postgresql"
        )


async def expire_offers(
    db: Database, *, now: datetime, answer_within: timedelta, rules: SlotRules, limit: int = 50
) -> list[PassedOn]:
    """Pass on offers nobody answered within ``answer_within``; once across all processes.

    PostgreSQL: the due orders are claimed ``FOR UPDATE SKIP LOCKED``, so two processes never
    pass one offer twice. SQLite: the transaction holds the write lock from its start.
    """
    offered_at = (
        select(func.max(OrderStatusChange.at))
        .where(OrderStatusChange.order_id == Order.id, OrderStatusChange.to_status == "assigned")
        .correlate(Order)
        .scalar_subquery()
    )
    query = (
        select(Order)
        .where(Order.status == Status.ASSIGNED.value, offered_at <= now - answer_within)
        .order_by(Order.id)
        .limit(limit)
    )
    postgres = db.dialect == "postgresql"
    if postgres:
        query = query.with_for_update(skip_locked=True, of=Order)
    async with db.transaction() as tx:
        passed = []
        for order in list(await tx.scalars(query)):
            passed.append(
                await pass_on(tx, order, reason=TIMED_OUT, now=now, rules=rules, lock=postgres)
            )
        return passed


async def pass_on(
    tx: AsyncSession, order: Order, *, reason: str, now: datetime, rules: SlotRules, lock: bool
) -> PassedOn:
    """Record the refusal, free the order and offer it to the next best worker (helper)."""
    previous = order.worker_id
    assert previous is not None
    tx.add(OfferRefusal(order_id=order.id, worker_id=previous, reason=reason, at=now))
    move(order, Status.CONFIRMED, actor=f"worker:{previous}" if reason == DECLINED else "system",
         now=now, reason=f"offer {reason.replace('_', ' ')}")
    await tx.flush()
    notices = []
    if reason == TIMED_OUT and (chat := await worker_chat(tx, previous)):
        notices.append(Notice("worker", chat[0], chat[1], "notice.offer_expired",
                              {"number": order.number, "order_id": order.id}))
    record_event(tx, kind="order.offer_refused", order_id=order.id,
                       payload={"worker_id": previous, "reason": reason}, notices=notices)
    candidate = await _next_worker(tx, order, rules, lock=lock)
    if candidate is None:
        await _unassignable(tx, order, rules)
        return PassedOn(await order_view(tx, order), None)
    order.worker_id = candidate.worker_id
    order.assignment_note = explain(candidate)
    move(order, Status.ASSIGNED, actor="system", now=now, reason=order.assignment_note)
    await tx.flush()
    record_event(
        tx, kind="order.assigned", order_id=order.id,
        payload={"worker_id": candidate.worker_id, "why": order.assignment_note,
                 "from_worker_id": previous},
        notices=await offer_notice(tx, order, candidate.worker_id, tz=rules.tz),
    )
    return PassedOn(await order_view(tx, order), candidate.worker_id)


async def _next_worker(
    tx: AsyncSession, order: Order, rules: SlotRules, *, lock: bool
) -> Candidate | None:
    """The best eligible worker free for the order's time who has not refused it."""
    line = order.lines[0]
    spec, service = await load_job_spec(tx, line.service_id, line.quantity)
    point = Point(order.lat, order.lon) if order.lat is not None and order.lon is not None else None
    place, _ = await resolve_place(
        tx, point=point, address_id=None if point else order.address_id
    )
    zone_ids = sold_zones(service, place)
    workers = replace(eligible_workers(spec, zone_ids, order.client_id), order_id=order.id)
    start = epoch_minutes(order.starts_at)
    duration = int((order.ends_at - order.starts_at).total_seconds() // 60)
    day = order.starts_at.astimezone(rules.tz).date()

    async def ranked(who: Eligible) -> list[Candidate]:
        workload = await load_workload(tx, who, order.client_id, day, day, rules.tz)
        if workload.empty:
            return []
        gaps = find_gaps(workload, duration=duration, point=place.point, zone_ids=zone_ids,
                         travel=rules.travel)
        return [gaps.candidate(int(i)) for i in gaps.ranking()
                if gaps.first[i] <= start <= gaps.last[i]]

    for candidate in await ranked(workers):
        if not lock:
            return candidate  # SQLite: the write lock is held, what was read is current
        # As in booking: serialise per worker, then re-read their day.
        await tx.execute(
            select(Worker.id).where(Worker.id == candidate.worker_id).with_for_update()
        )
        still = await ranked(replace(workers, only=candidate.worker_id))
        if still:
            return still[0]
    return None


async def _unassignable(tx: AsyncSession, order: Order, rules: SlotRules) -> None:
    """Nobody is left: the zone's responsible operator hears it, when they use Telegram."""
    notices = []
    zone = await tx.get(Zone, order.zone_id) if order.zone_id else None
    responsible = zone.responsible_user_id if zone else None
    user = await tx.get(User, responsible) if responsible else None
    if user is not None and user.telegram_user_id is not None:
        language = await _staff_language(tx, user.id)
        when = f"{order.starts_at.astimezone(rules.tz):%d.%m.%Y %H:%M}"
        notices.append(Notice("worker", user.telegram_user_id, language,
                              "notice.order_unassignable", {"number": order.number, "when": when}))
    record_event(
        tx, kind="order.unassignable", order_id=order.id,
        payload={"zone_id": order.zone_id, "responsible_user_id": user.id if user else None},
        notices=notices,
    )


async def _staff_language(tx: AsyncSession, user_id: int) -> str:
    profile = await tx.get(PanelProfile, user_id)
    return profile.language if profile and profile.language else "uk"
