"""Extras: services or goods a worker adds on site, waiting for a manager's approval.

While a change waits, the job cannot be completed (guard ``no_pending_change``). Approved, it
joins the order's lines and the customer hears the new total; rejected, the worker hears why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.errors import Conflict, InvalidInput, NotFound
from core.events import Notice, record_event
from core.messages import LANGUAGES, per_language
from core.models import Client, Order, OrderChange, OrderLine, Service, Zone
from core.orders import amount_text, load_order, manager_chats, worker_chat
from core.workflows import Status, status_label

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
ON_SITE = frozenset({Status.ON_THE_WAY, Status.IN_PROGRESS, Status.PAUSED, Status.PICKED_UP})


@dataclass(frozen=True)
class ChangeView:
    id: int
    order_id: int
    number: str
    service: dict[str, str]
    quantity: int
    amount: int
    state: str
    total_now: int
    """The order's total with this change, whether or not approved yet."""
    reason: str


async def _view(tx: AsyncSession, change: OrderChange, order: Order) -> ChangeView:
    service = await tx.get(Service, change.service_id)
    amount = change.quantity * change.unit_price
    total = order.total + (0 if change.state == APPROVED else amount)
    return ChangeView(change.id, order.id, order.number, dict(service.names) if service else {},
                      change.quantity, amount, change.state, total, change.reason)


async def propose_extra(
    db: Database, *, worker_id: int, order_id: int, service_id: int, quantity: int,
    now: datetime,
) -> ChangeView:
    """The worker adds a service on site; the new total waits for a manager."""
    if not 1 <= quantity <= 10_000:
        raise InvalidInput("invalid_value", field="quantity", value=quantity, reason="1–10000")
    async with db.transaction() as tx:
        order = await load_order(tx, order_id, for_update=True)
        if order.worker_id != worker_id:
            raise NotFound("not_your_job", number=order.number)
        if order.status not in ON_SITE:
            raise Conflict("workflow.not_editable", **{
                f"status_{language}": status_label(order.status, language)
                for language in LANGUAGES
            })
        service = await tx.get(Service, service_id)
        if service is None or not service.active:
            raise NotFound("not_found", entity="service", ref=service_id)
        zone = await tx.get(Zone, order.zone_id) if order.zone_id else None
        modifier = zone.price_modifier_percent if zone else 0
        change = OrderChange(
            order_id=order.id, worker_id=worker_id, service_id=service.id, quantity=quantity,
            unit_price=service.price * (100 + modifier) // 100, state=PENDING, reason="",
            created_at=now,
        )
        tx.add(change)
        await tx.flush()
        view = await _view(tx, change, order)
        about = {"number": order.number, "order_id": order.id, "service": view.service,
                 "quantity": quantity,
                 "total": per_language(partial(amount_text, view.total_now))}
        record_event(
            tx, kind="order.change_proposed", order_id=order.id,
            payload={"change_id": change.id, "worker_id": worker_id},
            notices=[Notice("worker", chat, language, "notice.extra_proposed", about)
                     for chat, language in await manager_chats(tx)],
        )
        return view


async def _pending(tx: AsyncSession, change_id: int) -> tuple[OrderChange, Order]:
    change = await tx.get(OrderChange, change_id)
    if change is None:
        raise NotFound("not_found", entity="change", ref=change_id)
    order = await load_order(tx, change.order_id, for_update=True)
    await tx.refresh(change, with_for_update=True)
    if change.state != PENDING:
        raise Conflict("change_decided")
    return change, order


async def approve_change(
    db: Database, *, change_id: int, user_id: int, now: datetime
) -> ChangeView:
    """A manager approves: the extra joins the order; customer and worker hear the new total."""
    async with db.transaction() as tx:
        change, order = await _pending(tx, change_id)
        change.state, change.decided_at, change.decided_by = APPROVED, now, user_id
        order.lines.append(OrderLine(service_id=change.service_id, quantity=change.quantity,
                                     unit_price=change.unit_price))
        await tx.flush()
        view = await _view(tx, change, order)
        about = {"number": order.number, "order_id": order.id, "service": view.service,
                 "total": per_language(partial(amount_text, order.total))}
        notices = []
        client = await tx.get(Client, order.client_id)
        if client is not None and client.telegram_user_id is not None:
            notices.append(Notice("customer", client.telegram_user_id, client.language,
                                  "notice.extra_approved", about))
        if order.worker_id and (chat := await worker_chat(tx, order.worker_id)):
            notices.append(Notice("worker", chat[0], chat[1], "notice.extra_approved", about))
        record_event(tx, kind="order.change_approved", order_id=order.id,
                           payload={"change_id": change.id, "user_id": user_id,
                                    "total": order.total}, notices=notices)
        return view


async def reject_change(
    db: Database, *, change_id: int, user_id: int, reason: str, now: datetime
) -> ChangeView:
    """A manager rejects with a reason the worker reads."""
    if not reason.strip():
        raise InvalidInput("invalid_value", field="reason", value="", reason="say why")
    async with db.transaction() as tx:
        change, order = await _pending(tx, change_id)
        change.state, change.decided_at, change.decided_by = REJECTED, now, user_id
        change.reason = reason.strip()
        await tx.flush()
        view = await _view(tx, change, order)
        notices = []
        if change.worker_id and (chat := await worker_chat(tx, change.worker_id)):
            notices.append(Notice("worker", chat[0], chat[1], "notice.extra_rejected",
                                  {"number": order.number, "order_id": order.id,
                                   "service": view.service, "reason": change.reason}))
        record_event(tx, kind="order.change_rejected", order_id=order.id,
                           payload={"change_id": change.id, "user_id": user_id},
                           notices=notices)
        return view


async def order_changes(db: Database, *, order_id: int) -> list[ChangeView]:
    """Every extra proposed for the order, oldest first, with the state it is in."""
    async with db.transaction(read_only=True) as tx:
        order = await load_order(tx, order_id, history=False)
        changes = await tx.scalars(
            select(OrderChange).where(OrderChange.order_id == order_id).order_by(OrderChange.id)
        )
        return [await _view(tx, change, order) for change in changes]


async def pending_changes(db: Database, *, limit: int = 50) -> list[ChangeView]:
    """Extras waiting for a manager, the longest waiting first."""
    async with db.transaction(read_only=True) as tx:
        changes = list(await tx.scalars(
            select(OrderChange).where(OrderChange.state == PENDING)
            .order_by(OrderChange.created_at, OrderChange.id).limit(limit)
        ))
        views = []
        for change in changes:
            order = await load_order(tx, change.order_id, history=False)
            views.append(await _view(tx, change, order))
        return views
