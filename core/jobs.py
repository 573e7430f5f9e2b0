"""A worker's jobs: the day's lists, the job card, and moving a job along its workflow.

Every action takes the worker's id: a worker moves only their own jobs, and the workflow
(:mod:`core.workflows`) with the order's full facts decides what is allowed now.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload

from core.config import ReferralSettings
from core.db import Database
from core.errors import InvalidInput, NotFound
from core.events import Notice, record_event
from core.geo import Point
from core.messages import per_language
from core.models import (
    Address,
    Client,
    JobProgress,
    Order,
    OrderChange,
    Priority,
    Service,
    Worker,
)
from core.orders import (
    PAYMENT_METHODS,
    OrderView,
    amount_text,
    job_progress,
    load_facts,
    load_order,
    manager_chats,
    move,
    order_view,
    status_notices,
)
from core.referrals import DEFAULT_REFERRALS, reward_referral
from core.slots import SlotRules
from core.workflows import (
    GUARDS,
    OrderFacts,
    Status,
    WorkflowKind,
    closes_by_itself,
    workflow,
)

SYSTEM = "system"
"""The actor of the changes nobody makes by hand, e.g. an order closing by itself."""
WAITING_TOO_LONG = timedelta(hours=1)
ITEMS_HELD = (Status.IN_PRODUCTION, Status.READY, Status.OUT_FOR_DELIVERY)
"""A pickup's statuses from production to the customer's door: the worker still owes a step."""
MAX_COMMENT = 1000
MAX_AMOUNT = 10**9  # minor units: ten million in the currency, far above any one job


@dataclass(frozen=True)
class JobLine:
    id: int
    number: str
    starts_at: datetime
    ends_at: datetime
    status: str
    workflow: str
    service: dict[str, str]
    address: str
    express: bool
    waiting: bool
    """An offer unanswered for over an hour."""


@dataclass(frozen=True)
class JobCard:
    order: OrderView
    client_name: str
    phones: tuple[str, ...]
    address: str
    services: tuple[tuple[dict[str, str], int, int], ...]
    """(names, quantity, amount) per line."""
    allowed: tuple[str, ...]
    """Statuses the worker can move the job to now, in the workflow's order."""
    pending_extras: int
    amount_received: int | None
    tips: int


# --- reading ----------------------------------------------------------------------------------


def _local_range(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return start, end


def _offered_at(order: Order) -> datetime | None:
    moves = [h.at for h in order.history if h.to_status == Status.ASSIGNED]
    return max(moves) if moves else None


async def worker_jobs(
    db: Database, *, worker_id: int, first: date, last: date, tz: ZoneInfo, now: datetime,
    items_held: bool = False,
) -> tuple[JobLine, ...]:
    """The worker's jobs from ``first`` to ``last``: express and long-waiting ones first,
    then in time order; cancelled ones left out. ``items_held`` adds earlier pickups whose
    items are still to be made ready or brought back (days may pass in the workshop)."""
    start, end = _local_range(first, last, tz)
    within = and_(Order.starts_at >= start, Order.starts_at < end)
    if items_held:
        held = and_(Order.starts_at < start, Order.status.in_([s.value for s in ITEMS_HELD]))
        within = or_(within, held)
    async with db.transaction(read_only=True) as tx:
        orders = list(
            await tx.scalars(
                select(Order)
                .where(
                    Order.worker_id == worker_id,
                    Order.status != Status.CANCELLED.value,
                    within,
                )
                .order_by(Order.starts_at, Order.id)
            )
        )
        services = await _service_names(tx, orders)
        addresses = await _address_texts(tx, orders)
    lines = []
    for order in orders:
        offered = _offered_at(order)
        waiting = (
            order.status == Status.ASSIGNED
            and offered is not None
            and now - offered > WAITING_TOO_LONG
        )
        lines.append(
            JobLine(
                order.id, order.number, order.starts_at, order.ends_at, order.status,
                order.workflow,
                services.get(order.lines[0].service_id, {}) if order.lines else {},
                addresses.get(order.id, ""),
                order.priority is Priority.EXPRESS, waiting,
            )
        )
    lines.sort(key=lambda job: (not (job.express or job.waiting), job.starts_at, job.id))
    return tuple(lines)


async def _service_names(tx: AsyncSession, orders: list[Order]) -> dict[int, dict[str, str]]:
    ids = {line.service_id for order in orders for line in order.lines}
    rows = await tx.execute(select(Service.id, Service.names).where(Service.id.in_(ids)))
    return {service_id: dict(names) for service_id, names in rows}


async def _address_texts(tx: AsyncSession, orders: list[Order]) -> dict[int, str]:
    rows = await tx.execute(
        select(Order.id, Address.text)
        .join(Address, Order.address_id == Address.id)
        .where(Order.id.in_([order.id for order in orders]))
    )
    return {order_id: text for order_id, text in rows}


async def job_card(
    db: Database, *, worker_id: int, order_id: int, confirmation_required: bool = False
) -> JobCard:
    """Everything the worker needs on site, and the actions the workflow allows now."""
    async with db.transaction(read_only=True) as tx:
        order = await own_job(tx, worker_id, order_id, lock=False)
        return await _card(tx, order, confirmation_required)


async def _card(tx: AsyncSession, order: Order, confirmation_required: bool) -> JobCard:
    client = await tx.get(Client, order.client_id)
    address = await tx.get(Address, order.address_id) if order.address_id else None
    known = await load_facts(tx, order, confirmation_required=confirmation_required)
    view = await order_view(tx, order)
    progress = await tx.get(JobProgress, order.id)  # none yet: nothing received, no tips
    pending = [
        change for change in await tx.scalars(
            select(OrderChange.id).where(
                OrderChange.order_id == order.id, OrderChange.state == "pending"
            )
        )
    ]
    return JobCard(
        order=view,
        client_name=client.name if client else "",
        phones=tuple(phone.e164 for phone in client.phones) if client else (),
        address=address.text if address else "",
        services=tuple((line.names, line.quantity, line.amount) for line in view.lines),
        allowed=offered_actions(order.workflow, known),
        pending_extras=len(pending),
        amount_received=progress.amount_received if progress else None,
        tips=progress.tips if progress else 0,
    )


ASKED_AFTER = frozenset({"reason_given", "payment_recorded"})
"""Guards about what the worker gives with the action: the bot asks for it afterwards."""


def offered_actions(kind: str, known: OrderFacts) -> tuple[str, ...]:
    """Statuses a job can move to now, counting a missing reason or payment as asked later."""
    return tuple(
        t.target.value
        for t in workflow(kind).outgoing(known.status)
        if all(GUARDS[name](known, None) is None for name in t.guards if name not in ASKED_AFTER)
    )


async def own_job(
    tx: AsyncSession, worker_id: int, order_id: int, *, lock: bool = True
) -> Order:
    """The worker's own order, locked for the change (helper); another's is "not yours"."""
    try:
        order = await load_order(tx, order_id, for_update=lock)
    except NotFound:
        raise NotFound("not_your_job", number=order_id + 10000) from None
    if order.worker_id != worker_id:
        raise NotFound("not_your_job", number=order.number)
    return order


async def advance(
    tx: AsyncSession, order: Order, target: Status, *, actor: str, now: datetime,
    reason: str | None = None, confirmation_required: bool = False,
    notices: list[Notice] | None = None, referrals: ReferralSettings = DEFAULT_REFERRALS,
    announce: bool = True,
) -> None:
    """Move a loaded order with its full facts and record the event (helper); finishing the
    invited client's first order rewards the invitation. ``announce=False`` tells the
    customer nothing about the new status (only ``notices``)."""
    known = await load_facts(tx, order, confirmation_required=confirmation_required)
    source = order.status
    move(order, target, actor=actor, now=now, reason=reason, known=known)
    await tx.flush()
    told = await status_notices(tx, order) if announce else []
    record_event(
        tx, kind="order.status_changed", order_id=order.id,
        payload={"from": source, "to": order.status, "actor": actor, "reason": reason or ""},
        notices=[*_unless_told(told, notices or []), *(notices or [])],
    )
    await reward_referral(tx, order, now=now, referrals=referrals)


async def finish(
    tx: AsyncSession, order: Order, target: Status, *, actor: str, now: datetime,
    confirmation_required: bool, referrals: ReferralSettings = DEFAULT_REFERRALS,
) -> None:
    """The worker's last step, completed or delivered (helper). Where the company does not
    require a manager's confirmation the order closes at once, by the system: the customer
    hears only of the finished work, and the invitation is rewarded once, on finishing."""
    await advance(tx, order, target, actor=actor, now=now,
                  confirmation_required=confirmation_required, referrals=referrals)
    known = await load_facts(tx, order, confirmation_required=confirmation_required)
    if closes_by_itself(order.workflow, known):
        await advance(tx, order, Status.CLOSED, actor=SYSTEM, now=now,
                      confirmation_required=confirmation_required, referrals=referrals,
                      announce=False)
    elif workflow(order.workflow).transition(order.status, Status.CLOSED) is not None:
        # Closing is next, and a manager must confirm it first: managers hear it waits.
        about = {"number": order.number, "order_id": order.id,
                 "total": per_language(partial(amount_text, order.total))}
        record_event(
            tx, kind="order.awaits_confirmation", order_id=order.id,
            notices=[Notice("worker", chat, language, "notice.awaits_confirmation", about)
                     for chat, language in await manager_chats(tx)],
        )


def _unless_told(status: list[Notice], others: list[Notice]) -> list[Notice]:
    """One message per chat and event: a chat told something else skips the status line."""
    told = {(notice.bot, notice.chat_id) for notice in others}
    return [notice for notice in status if (notice.bot, notice.chat_id) not in told]


async def _step(
    db: Database, worker_id: int, order_id: int, target: Status, now: datetime,
    reason: str | None = None,
) -> OrderView:
    async with db.transaction() as tx:
        order = await own_job(tx, worker_id, order_id)
        await advance(tx, order, target, actor=f"worker:{worker_id}", now=now, reason=reason)
        return await order_view(tx, order)


# --- the day's actions ------------------------------------------------------------------------


async def set_off(
    db: Database, *, worker_id: int, order_id: int, now: datetime, rules: SlotRules
) -> OrderView:
    """On the way: the customer hears it with an estimated arrival."""
    async with db.transaction() as tx:
        order = await own_job(tx, worker_id, order_id)
        eta = now + timedelta(minutes=await _minutes_away(tx, order, worker_id, now, rules))
        client = await tx.get(Client, order.client_id)
        notices = []
        if client is not None and client.telegram_user_id is not None:
            notices.append(Notice(
                "customer", client.telegram_user_id, client.language, "notice.worker_on_the_way",
                {"number": order.number, "order_id": order.id,
                 "eta": f"{eta.astimezone(rules.tz):%H:%M}"},
            ))
        known = await load_facts(tx, order)
        source = order.status
        move(order, Status.ON_THE_WAY, actor=f"worker:{worker_id}", now=now, known=known)
        await tx.flush()
        record_event(
            tx, kind="order.status_changed", order_id=order.id,
            payload={"from": source, "to": order.status, "actor": f"worker:{worker_id}",
                     "eta": eta.isoformat()},
            notices=notices,
        )
        return await order_view(tx, order)


async def _minutes_away(
    tx: AsyncSession, order: Order, worker_id: int, now: datetime, rules: SlotRules
) -> int:
    """Drive time from the worker's last job today (else home) to this order."""
    if order.lat is None or order.lon is None:
        return 0
    previous = (
        await tx.execute(
            select(Order.lat, Order.lon)
            .where(
                Order.worker_id == worker_id, Order.id != order.id,
                Order.status.in_([Status.COMPLETED.value, Status.CLOSED.value,
                                  Status.DELIVERED.value, Status.IN_PROGRESS.value]),
                Order.starts_at <= now, Order.starts_at >= now - timedelta(hours=16),
            )
            .order_by(Order.starts_at.desc())
            .limit(1)
        )
    ).first()
    origin: Point | None = None
    if previous is not None and previous[0] is not None and previous[1] is not None:
        origin = Point(previous[0], previous[1])
    else:
        worker = await tx.get(Worker, worker_id)
        if worker is not None and worker.home_lat is not None and worker.home_lon is not None:
            origin = Point(worker.home_lat, worker.home_lon)
    if origin is None:
        return 0
    return rules.travel.minutes(origin, Point(order.lat, order.lon))


async def start_job(db: Database, *, worker_id: int, order_id: int, now: datetime) -> OrderView:
    return await _step(db, worker_id, order_id, Status.IN_PROGRESS, now)


async def pause_job(
    db: Database, *, worker_id: int, order_id: int, reason: str, now: datetime
) -> OrderView:
    """Pause with a reason (the workflow refuses an empty one)."""
    return await _step(db, worker_id, order_id, Status.PAUSED, now, reason=reason.strip())


async def resume_job(db: Database, *, worker_id: int, order_id: int, now: datetime) -> OrderView:
    return await _step(db, worker_id, order_id, Status.IN_PROGRESS, now)


def _check_money(field: str, value: int | None) -> None:
    if value is not None and not 0 <= value <= MAX_AMOUNT:
        raise InvalidInput("invalid_value", field=field, value=value, reason="0 or more")


@dataclass(frozen=True)
class Payment:
    """How a finished job was paid, as the worker records it; ``method`` may still be missing
    (the workflow then refuses and the worker is asked)."""

    method: str | None = None
    amount_received: int | None = None
    """``None``: the order's total."""
    tips: int = 0
    mileage_km: int = 0

    def __post_init__(self) -> None:
        if self.method is not None and self.method not in PAYMENT_METHODS:
            raise InvalidInput("invalid_value", field="payment_method", value=self.method,
                               reason=", ".join(PAYMENT_METHODS))
        for field, value in (("amount", self.amount_received), ("tips", self.tips),
                             ("mileage", self.mileage_km)):
            _check_money(field, value)


async def record_payment(tx: AsyncSession, order: Order, payment: Payment) -> None:
    """Write how the job was paid onto the order and its progress (helper)."""
    if payment.method is not None:
        order.payment_method = payment.method
    progress = await job_progress(tx, order.id)
    amount = payment.amount_received
    progress.amount_received = order.total if amount is None else amount
    progress.tips, progress.mileage_km = payment.tips, payment.mileage_km


async def complete_job(
    db: Database, *, worker_id: int, order_id: int, now: datetime,
    payment_method: str | None = None, amount_received: int | None = None, tips: int = 0,
    mileage_km: int = 0, referrals: ReferralSettings = DEFAULT_REFERRALS,
    confirmation_required: bool = False,
) -> OrderView:
    """Finish the job with how it was paid; without a payment method the workflow refuses.
    Unless the company requires a manager's confirmation, the order closes with it."""
    payment = Payment(payment_method, amount_received, tips, mileage_km)
    async with db.transaction() as tx:
        order = await own_job(tx, worker_id, order_id)
        await record_payment(tx, order, payment)
        await finish(tx, order, Status.COMPLETED, actor=f"worker:{worker_id}", now=now,
                     confirmation_required=confirmation_required, referrals=referrals)
        return await order_view(tx, order)


async def set_worker_comment(
    db: Database, *, worker_id: int, order_id: int, comment: str
) -> OrderView:
    """The worker's own note on the job; the manager sees it, as the worker sees theirs."""
    if len(comment) > MAX_COMMENT:
        raise InvalidInput("text_too_long", field="comment", value=len(comment),
                           limit=MAX_COMMENT)
    async with db.transaction() as tx:
        order = await own_job(tx, worker_id, order_id)
        order.worker_comment = comment.strip()
        await tx.flush()
        record_event(tx, kind="order.edited", order_id=order.id,
                           payload={"actor": f"worker:{worker_id}", "field": "worker_comment"})
        return await order_view(tx, order)


async def confirm_order(
    db: Database, *, order_id: int, user_id: int, now: datetime, confirmation_required: bool
) -> OrderView:
    """A manager confirms the finished work; the order closes."""
    async with db.transaction() as tx:
        order = await load_order(tx, order_id, for_update=True)
        progress = await job_progress(tx, order.id)
        progress.manager_confirmed_at, progress.manager_confirmed_by = now, user_id
        await tx.flush()
        await advance(tx, order, Status.CLOSED, actor=f"user:{user_id}", now=now,
                      confirmation_required=confirmation_required)
        return await order_view(tx, order)


@dataclass(frozen=True)
class AwaitingConfirmation:
    """A finished order whose next step is closing, once a manager confirms the work."""

    order_id: int
    number: str
    status: str
    worker_id: int | None
    total: int
    starts_at: datetime


@functools.cache
def _closing_next() -> frozenset[str]:
    """The statuses from which some workflow's next step is closing."""
    return frozenset(
        status.value
        for kind in WorkflowKind
        for status in Status
        if workflow(kind).transition(status, Status.CLOSED) is not None
    )


# What a manager decides on: extras proposed on site (core.extras) and finished work.
DESK_EVENTS = (
    "order.change_proposed", "order.change_approved", "order.change_rejected",
    "order.awaits_confirmation", "order.status_changed",
)


def changes_the_desk(kind: str, payload: Mapping[str, Any]) -> bool:
    """Whether an event changes what waits for a manager's decision: an extra proposed or
    decided, work waiting for confirmation, an order moving into or out of that wait."""
    if kind == "order.status_changed":
        waiting = _closing_next()
        return payload.get("from") in waiting or payload.get("to") in waiting
    return kind in DESK_EVENTS


async def awaiting_confirmation(db: Database, *, limit: int = 50) -> list[AwaitingConfirmation]:
    """Finished orders a manager has not confirmed yet, the earliest first."""
    async with db.transaction(read_only=True) as tx:
        orders = await tx.scalars(
            select(Order)
            .where(Order.status.in_(_closing_next()))
            .order_by(Order.starts_at, Order.id)
            .limit(limit)
            .options(lazyload(Order.history))
        )
        return [
            AwaitingConfirmation(order.id, order.number, order.status, order.worker_id,
                                 order.total, order.starts_at)
            for order in orders
        ]
