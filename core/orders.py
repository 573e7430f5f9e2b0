"""Orders: how they are shown, how their status moves, and what may still be edited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from sqlalchemy import bindparam, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload, object_session

from core.catalog import ServiceInfo
from core.config import ReferralSettings
from core.db import Database
from core.errors import InvalidInput, NotFound
from core.events import Notice, record_event
from core.geo import Point, distance_km
from core.messages import per_language
from core.models import (
    Address,
    Client,
    IntakeItem,
    JobProgress,
    Order,
    OrderChange,
    OrderPhoto,
    OrderStatusChange,
    PanelProfile,
    Role,
    Service,
    User,
    Worker,
)
from core.reference import reference
from core.referrals import DEFAULT_REFERRALS, reward_referral
from core.workflows import (
    OrderFacts,
    Status,
    WorkflowKind,
    check_editable,
    check_transition,
    status_label,
)

PAYMENT_METHODS = ("cash", "card_to_worker", "terminal", "online", "bank_transfer")


@dataclass(frozen=True)
class LineView:
    service_id: int
    service_code: str
    names: dict[str, str]
    quantity: int
    unit_price: int
    amount: int


@dataclass(frozen=True)
class StatusChangeView:
    from_status: str | None
    to_status: str
    actor: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class OrderView:
    id: int
    number: str
    client_id: int
    worker_id: int | None
    status: str
    workflow: str
    channel: str
    priority: str
    starts_at: datetime
    ends_at: datetime
    window_start: datetime
    window_end: datetime
    address_id: int | None
    zone_id: int | None
    lat: float | None
    lon: float | None
    lines: tuple[LineView, ...]
    total: int
    customer_comment: str
    manager_comment: str
    worker_comment: str
    payment_method: str | None
    assignment_note: str
    history: tuple[StatusChangeView, ...]

    def as_json(self, tz: Any = None) -> dict[str, Any]:
        def moment(value: datetime) -> str:
            return (value.astimezone(tz) if tz else value).isoformat()

        return {
            "id": self.id,
            "number": self.number,
            "client_id": self.client_id,
            "worker_id": self.worker_id,
            "status": self.status,
            "workflow": self.workflow,
            "channel": self.channel,
            "priority": self.priority,
            "starts_at": moment(self.starts_at),
            "ends_at": moment(self.ends_at),
            "window": [moment(self.window_start), moment(self.window_end)],
            "address_id": self.address_id,
            "zone_id": self.zone_id,
            "lines": [
                {
                    "service": line.service_code,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "amount": line.amount,
                }
                for line in self.lines
            ],
            "total": self.total,
            "payment_method": self.payment_method,
            "customer_comment": self.customer_comment,
            "assignment": self.assignment_note,
            "history": [
                {
                    "from": h.from_status,
                    "to": h.to_status,
                    "actor": h.actor,
                    "reason": h.reason,
                    "at": moment(h.at),
                }
                for h in self.history
            ],
        }


async def order_view(tx: AsyncSession, order: Order) -> OrderView:
    # Active services from the process's copy of the catalog; one no longer sold from the table.
    known = (await reference(tx)).services
    services: dict[int, ServiceInfo | Service] = {}
    for service_id in {line.service_id for line in order.lines}:
        held = known.get(service_id)
        services[service_id] = held if held is not None else await tx.get_one(Service, service_id)
    return OrderView(
        id=order.id,
        number=order.number,
        client_id=order.client_id,
        worker_id=order.worker_id,
        status=order.status,
        workflow=order.workflow,
        channel=order.channel.value,
        priority=order.priority.value,
        starts_at=order.starts_at,
        ends_at=order.ends_at,
        window_start=order.window_start,
        window_end=order.window_end,
        address_id=order.address_id,
        zone_id=order.zone_id,
        lat=order.lat,
        lon=order.lon,
        lines=tuple(
            LineView(
                line.service_id,
                services[line.service_id].code,
                dict(services[line.service_id].names),
                line.quantity,
                line.unit_price,
                line.amount,
            )
            for line in order.lines
        ),
        total=order.total,
        customer_comment=order.customer_comment,
        manager_comment=order.manager_comment,
        worker_comment=order.worker_comment,
        payment_method=order.payment_method,
        assignment_note=order.assignment_note,
        history=tuple(
            StatusChangeView(h.from_status, h.to_status, h.actor, h.reason, h.at)
            for h in order.history
        ),
    )


def facts(order: Order) -> OrderFacts:
    return OrderFacts(
        status=Status(order.status), worker_id=order.worker_id, payment_method=order.payment_method
    )


def move(
    order: Order, target: Status | str, *, actor: str, now: datetime, reason: str | None = None,
    known: OrderFacts | None = None,
) -> None:
    """Apply one workflow transition to a loaded order and record it in its history.

    ``known`` are the order's full facts (:func:`load_facts`) when the guards need more than
    the order row: intake, consent, pending changes, a manager's confirmation.
    """
    transition = check_transition(order.workflow, known or facts(order), target, reason=reason)
    if transition.target is Status.CONFIRMED and order.status != Status.NEW:
        # Declined or unassigned: the order waits for another worker and frees this one's time.
        order.worker_id = None
    change = OrderStatusChange(
        from_status=order.status,
        to_status=transition.target.value,
        actor=actor,
        reason=reason or "",
        at=now,
    )
    session = object_session(order)
    if session is not None and "history" in inspect(order).unloaded:
        # Loaded without its history (``load_order(history=False)``): added to it, not read.
        change.order_id = order.id
        session.add(change)
    else:
        order.history.append(change)
    order.status = transition.target.value


STATUS_TEMPLATES: dict[tuple[str, str], str] = {
    # A finished visit or items brought back ask the customer to rate the work (the bot adds
    # the star buttons).
    (WorkflowKind.VISIT, Status.COMPLETED): "notice.rate_order",
    (WorkflowKind.PICKUP_DELIVERY, Status.DELIVERED): "notice.items_delivered",
    (WorkflowKind.PICKUP_DELIVERY, Status.READY): "notice.items_ready",
    (WorkflowKind.PICKUP_DELIVERY, Status.OUT_FOR_DELIVERY): "notice.items_on_the_way",
}
"""Statuses the customer hears of in words of their own; any other is "Order №…: status"."""


async def status_notices(tx: AsyncSession, order: Order) -> list[Notice]:
    """Who hears about a status change: the client, in their language, if they use the bot."""
    # Only the chat and the language: a status change is no reason to load the client's card.
    client = (await tx.execute(
        select(Client.telegram_user_id, Client.language).where(Client.id == order.client_id)
    )).one_or_none()
    notices = []
    if client is not None and client.telegram_user_id is not None:
        key = (order.workflow, order.status)
        notices.append(
            Notice(
                "customer",
                client.telegram_user_id,
                client.language,
                STATUS_TEMPLATES.get(key, "notice.order_status"),
                {
                    "number": order.number,
                    "order_id": order.id,
                    "status": per_language(partial(status_label, order.status)),
                    "total": per_language(partial(amount_text, order.total)),
                },
            )
        )
    return notices


async def load_order(
    tx: AsyncSession, order_id: int, *, for_update: bool = False, history: bool = True
) -> Order:
    """The order with its lines and, unless ``history`` is false (a caller that only adds a
    status change to it), its history."""
    query = select(Order).where(Order.id == order_id)
    if not history:
        query = query.options(lazyload(Order.history))
    if for_update:
        # Two people moving one order at once: the second waits and sees the first's result.
        query = query.with_for_update()
    order = await tx.scalar(query)
    if order is None:
        raise NotFound("not_found", entity="order", ref=order_id)
    return order


async def get_order(db: Database, *, order_id: int) -> OrderView:
    async with db.transaction(read_only=True) as tx:
        return await order_view(tx, await load_order(tx, order_id))


async def change_status(
    db: Database,
    *,
    order_id: int,
    target: str,
    actor: str,
    now: datetime,
    reason: str | None = None,
    payment_method: str | None = None,
    referrals: ReferralSettings = DEFAULT_REFERRALS,
) -> OrderView:
    """Move an order along its workflow; guards refuse with a reason the user can read.
    Finishing the invited client's first order rewards the invitation."""
    if payment_method is not None and payment_method not in PAYMENT_METHODS:
        raise InvalidInput(
            "invalid_value",
            field="payment_method",
            value=payment_method,
            reason=", ".join(PAYMENT_METHODS),
        )
    async with db.transaction() as tx:
        order = await load_order(tx, order_id, for_update=True)
        if payment_method is not None:
            order.payment_method = payment_method
        source = order.status
        move(order, target, actor=actor, now=now, reason=reason)
        await tx.flush()
        record_event(
            tx,
            kind="order.status_changed",
            order_id=order.id,
            payload={"from": source, "to": order.status, "actor": actor, "reason": reason or ""},
            notices=await status_notices(tx, order),
        )
        await reward_referral(tx, order, now=now, referrals=referrals)
        return await order_view(tx, order)


async def edit_comments(
    db: Database,
    *,
    order_id: int,
    actor: str,
    customer_comment: str | None = None,
    manager_comment: str | None = None,
) -> OrderView:
    """Change what the customer or the manager wrote, while the workflow allows edits."""
    async with db.transaction() as tx:
        order = await load_order(tx, order_id, for_update=True)
        check_editable(order.workflow, Status(order.status))
        if customer_comment is not None:
            order.customer_comment = customer_comment
        if manager_comment is not None:
            order.manager_comment = manager_comment
        await tx.flush()
        record_event(tx, kind="order.edited", order_id=order.id, payload={"actor": actor})
        return await order_view(tx, order)


async def worker_chat(tx: AsyncSession, worker_id: int) -> tuple[int, str] | None:
    worker = (
        await tx.execute(
            select(Worker.telegram_user_id, Worker.language).where(Worker.id == worker_id)
        )
    ).first()
    if worker is None or worker.telegram_user_id is None:
        return None
    return worker.telegram_user_id, worker.language


async def manager_chats(tx: AsyncSession) -> list[tuple[int, str]]:
    """The Telegram chats of the active managers who gave one, each with their panel language
    (Ukrainian unless they chose another), for what waits for a manager's decision."""
    rows = await tx.execute(
        select(User.telegram_user_id, PanelProfile.language)
        .outerjoin(PanelProfile, PanelProfile.user_id == User.id)
        .where(User.role == Role.MANAGER, User.active.is_(True),
               User.telegram_user_id.is_not(None))
        .order_by(User.id)
    )
    return [(row.telegram_user_id, row.language or "uk") for row in rows]


@dataclass(frozen=True)
class ClientOrders:
    """A client's orders as the customer sees them: what is coming and what is done."""

    upcoming: tuple[OrderView, ...]
    past: tuple[OrderView, ...]


_FINISHED = frozenset({Status.CLOSED, Status.CANCELLED, Status.COMPLETED, Status.DELIVERED,
                       Status.RETURNED})


async def client_orders(
    db: Database, *, client_id: int, now: datetime, limit: int = 10
) -> ClientOrders:
    """Upcoming orders soonest first, and the latest past ones, ``limit`` of each at most."""
    async with db.transaction(read_only=True) as tx:
        upcoming_rows = await tx.scalars(
            select(Order)
            .where(
                Order.client_id == client_id,
                Order.status.not_in([s.value for s in _FINISHED]),
            )
            .order_by(Order.starts_at)
            .limit(limit)
        )
        upcoming = [await order_view(tx, order) for order in upcoming_rows]
        past_rows = await tx.scalars(
            select(Order)
            .where(
                Order.client_id == client_id,
                Order.status.in_([s.value for s in _FINISHED]),
            )
            .order_by(Order.starts_at.desc())
            .limit(limit)
        )
        past = [await order_view(tx, order) for order in past_rows]
    return ClientOrders(tuple(upcoming), tuple(past))


# --- the worker bot: the facts guards read beyond the order row, the offer a worker reads ----


async def load_facts(
    tx: AsyncSession, order: Order, *, confirmation_required: bool = False
) -> OrderFacts:
    """Everything the workflow guards read about ``order``, the related tables included."""

    async def count(model: Any, *conditions: Any) -> int:
        found = await tx.scalar(select(func.count()).select_from(model).where(*conditions))
        return int(found or 0)

    progress = await tx.get(JobProgress, order.id)
    return OrderFacts(
        status=Status(order.status),
        worker_id=order.worker_id,
        payment_method=order.payment_method,
        intake_items=await count(IntakeItem, IntakeItem.order_id == order.id),
        intake_photos=await count(
            OrderPhoto, OrderPhoto.order_id == order.id, OrderPhoto.kind == "intake"
        ),
        customer_consent=progress.customer_consent if progress else None,
        pending_change=await count(
            OrderChange, OrderChange.order_id == order.id, OrderChange.state == "pending"
        ) > 0,
        manager_confirmed=progress is not None and progress.manager_confirmed_at is not None,
        manager_confirmation_required=confirmation_required,
    )


async def job_progress(tx: AsyncSession, order_id: int) -> JobProgress:
    """The order's progress row, created on first use."""
    progress = await tx.get(JobProgress, order_id)
    if progress is None:
        progress = JobProgress(order_id=order_id, tips=0, mileage_km=0, bottles_delivered=0,
                               empties_collected=0)
        tx.add(progress)
        await tx.flush()
    return progress


def amount_text(minor: int, language: str) -> str:
    """Minor units as people read them in ``language``: 150000 → "1 500"."""
    locale = {"uk": "uk_UA", "ru": "ru_UA"}.get(language, "en_GB")
    pattern = "#,##0" if minor % 100 == 0 else "#,##0.00"
    text: str = format_decimal(Decimal(minor) / 100, format=pattern, locale=locale)
    return text


def _previous(column: Any) -> Any:
    """``column`` of the worker's job before this one that day (the enclosing query's worker)."""
    return (
        select(column)
        .where(
            Order.worker_id == Worker.id,
            Order.id != bindparam("order"),
            Order.status != Status.CANCELLED.value,
            Order.starts_at >= bindparam("midnight"),
            Order.starts_at < bindparam("starts"),
        )
        .order_by(Order.starts_at.desc())
        .limit(1)
        .scalar_subquery()
    )


# What an offer needs of its worker, in one round trip: their chat, their home, and where
# their previous job that day is.
_OFFER_WORKER = select(
    Worker.telegram_user_id,
    Worker.language,
    Worker.home_lat,
    Worker.home_lon,
    _previous(Order.lat).label("previous_lat"),
    _previous(Order.lon).label("previous_lon"),
).where(Worker.id == bindparam("worker"))


async def offer_notice(
    tx: AsyncSession, order: Order, worker_id: int, *, tz: ZoneInfo
) -> list[Notice]:
    """The offer a worker reads (service, when, where, price, distance from the previous job,
    or from home for the first), answered with the buttons the worker bot puts under
    ``notice.job_offer``."""
    local = order.starts_at.astimezone(tz)
    worker = (await tx.execute(_OFFER_WORKER, {
        "worker": worker_id,
        "order": order.id,
        "midnight": datetime.combine(local.date(), datetime.min.time(), tzinfo=tz),
        "starts": order.starts_at,
    })).first()
    if worker is None or worker.telegram_user_id is None:
        return []
    service = await tx.get(Service, order.lines[0].service_id) if order.lines else None
    address = await tx.get(Address, order.address_id) if order.address_id else None
    where = address.text if address else f"{order.lat}, {order.lon}"
    km = None
    if order.lat is not None and order.lon is not None:
        if worker.previous_lat is not None and worker.previous_lon is not None:
            km = distance_km(Point(worker.previous_lat, worker.previous_lon),
                             Point(order.lat, order.lon))
        elif worker.home_lat is not None and worker.home_lon is not None:
            km = distance_km(Point(worker.home_lat, worker.home_lon), Point(order.lat, order.lon))
    params = {
        "order_id": order.id,
        "number": order.number,
        "service": dict(service.names) if service else "",
        "when": f"{local:%d.%m.%Y %H:%M}",
        "where": where,
        "price": per_language(partial(amount_text, order.total)),
        "distance": "—" if km is None else f"{km:.1f}",
    }
    return [Notice("worker", worker.telegram_user_id, worker.language, "notice.job_offer",
                   params)]
