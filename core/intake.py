"""Items in the company's hands (``pickup_delivery``): taken in one by one with defects and
photos, then the customer's consent in chat; production starts only after the customer agrees,
and once the items are ready the courier brings them back and records the payment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import ReferralSettings
from core.db import Database
from core.errors import Conflict, InvalidInput, NotFound
from core.events import Notice, record_event
from core.jobs import Payment, advance, finish, own_job, record_payment
from core.models import Client, IntakeItem, OrderPhoto
from core.orders import OrderView, job_progress, load_order, order_view, worker_chat
from core.referrals import DEFAULT_REFERRALS
from core.workflows import Status, WorkflowKind, check_editable

MAX_TEXT = 500


@dataclass(frozen=True)
class ItemView:
    id: int
    order_id: int
    description: str
    defects: str
    photos: int


async def pick_up_items(
    db: Database, *, worker_id: int, order_id: int, now: datetime
) -> OrderView:
    """The courier has the items: they are recorded one by one next."""
    async with db.transaction() as tx:
        order = await own_job(tx, worker_id, order_id)
        await advance(tx, order, Status.PICKED_UP, actor=f"worker:{worker_id}", now=now)
        return await order_view(tx, order)


async def add_intake_item(
    db: Database, *, worker_id: int, order_id: int, description: str, defects: str,
    now: datetime,
) -> ItemView:
    """One item taken in, with the defects seen on it (empty: none)."""
    description, defects = description.strip(), defects.strip()
    if not description:
        raise InvalidInput("invalid_value", field="description", value="", reason="describe it")
    for field, text in (("description", description), ("defects", defects)):
        if len(text) > MAX_TEXT:
            raise InvalidInput("text_too_long", field=field, value=len(text), limit=MAX_TEXT)
    async with db.transaction() as tx:
        order = await own_job(tx, worker_id, order_id)
        check_editable(order.workflow, order.status)
        item = IntakeItem(order_id=order.id, description=description, defects=defects,
                          created_at=now)
        tx.add(item)
        await tx.flush()
        return ItemView(item.id, order.id, description, defects, 0)


async def intake_items(db: Database, *, order_id: int) -> tuple[ItemView, ...]:
    async with db.transaction(read_only=True) as tx:
        return await _items(tx, order_id)


async def _items(tx: AsyncSession, order_id: int) -> tuple[ItemView, ...]:
    items = list(await tx.scalars(
        select(IntakeItem).where(IntakeItem.order_id == order_id).order_by(IntakeItem.id)
    ))
    photos = list(await tx.scalars(
        select(OrderPhoto.item_id).where(OrderPhoto.order_id == order_id,
                                         OrderPhoto.kind == "intake")
    ))
    return tuple(
        ItemView(item.id, order_id, item.description, item.defects,
                 sum(1 for photo in photos if photo == item.id))
        for item in items
    )


async def finish_inspection(
    db: Database, *, worker_id: int, order_id: int, now: datetime
) -> OrderView:
    """Items recorded with photos: the order is inspected and the customer asked to agree."""
    async with db.transaction() as tx:
        order = await own_job(tx, worker_id, order_id)
        items = await _items(tx, order.id)
        notices = []
        client = await tx.get(Client, order.client_id)
        if client is not None and client.telegram_user_id is not None:
            listed = "\n".join(
                f"{n}. {item.description}" + (f" — {item.defects}" if item.defects else "")
                for n, item in enumerate(items, 1)
            )
            notices.append(Notice("customer", client.telegram_user_id, client.language,
                                  "notice.consent_request",
                                  {"number": order.number, "order_id": order.id,
                                   "items": listed}))
        progress = await job_progress(tx, order.id)
        progress.customer_consent, progress.consent_at = None, None
        await advance(tx, order, Status.INSPECTED, actor=f"worker:{worker_id}", now=now,
                      notices=notices)
        return await order_view(tx, order)


async def give_consent(
    db: Database, *, order_id: int, telegram_user_id: int, agree: bool, now: datetime
) -> OrderView:
    """The customer answers in chat; agreeing sends the items to production."""
    async with db.transaction() as tx:
        order = await load_order(tx, order_id, for_update=True)
        client = await tx.get(Client, order.client_id)
        if client is None or client.telegram_user_id != telegram_user_id:
            raise NotFound("not_found", entity="order", ref=order.number)
        progress = await job_progress(tx, order.id)
        if order.status != Status.INSPECTED or progress.customer_consent is not None:
            raise Conflict("consent_not_asked", number=order.number)
        progress.customer_consent, progress.consent_at = agree, now
        await tx.flush()
        notices = []
        if order.worker_id and (chat := await worker_chat(tx, order.worker_id)):
            template = "notice.consent_given" if agree else "notice.consent_refused"
            notices.append(Notice("worker", chat[0], chat[1], template,
                                  {"number": order.number, "order_id": order.id}))
        if agree:
            await advance(tx, order, Status.IN_PRODUCTION, actor=f"client:{client.id}",
                          now=now, notices=notices)
        else:
            record_event(tx, kind="order.consent_refused", order_id=order.id,
                               payload={"client_id": client.id}, notices=notices)
        return await order_view(tx, order)


async def finish_production(
    db: Database, *, worker_id: int, order_id: int, now: datetime
) -> OrderView:
    """The items are cleaned or repaired: the order is ready and the customer hears it."""
    async with db.transaction() as tx:
        order = await own_job(tx, worker_id, order_id)
        await advance(tx, order, Status.READY, actor=f"worker:{worker_id}", now=now)
        return await order_view(tx, order)


async def return_items(
    db: Database, *, worker_id: int, order_id: int, reason: str, now: datetime
) -> OrderView:
    """The customer did not agree: the worker sets off to bring the items back untreated;
    the customer hears they are coming back. Refused while the customer agreed or has not
    answered."""
    async with db.transaction() as tx:
        order = await own_job(tx, worker_id, order_id)
        await advance(tx, order, Status.RETURNING, actor=f"worker:{worker_id}", now=now,
                      reason=reason)
        return await order_view(tx, order)


async def hand_back_items(
    db: Database, *, worker_id: int, order_id: int, now: datetime,
    confirmation_required: bool = False,
) -> OrderView:
    """The untreated items are back with the customer; nothing is paid. Unless the company
    requires a manager's confirmation, the order closes with it."""
    async with db.transaction() as tx:
        order = await own_job(tx, worker_id, order_id)
        await finish(tx, order, Status.RETURNED, actor=f"worker:{worker_id}", now=now,
                     confirmation_required=confirmation_required)
        return await order_view(tx, order)


async def take_out_for_delivery(
    db: Database, *, worker_id: int, order_id: int, now: datetime
) -> OrderView:
    """The courier sets off with the ready items; the customer hears they are coming."""
    async with db.transaction() as tx:
        order = await own_job(tx, worker_id, order_id)
        await advance(tx, order, Status.OUT_FOR_DELIVERY, actor=f"worker:{worker_id}", now=now)
        return await order_view(tx, order)


async def deliver_items(
    db: Database, *, worker_id: int, order_id: int, now: datetime,
    payment_method: str | None = None, amount_received: int | None = None, tips: int = 0,
    mileage_km: int = 0, referrals: ReferralSettings = DEFAULT_REFERRALS,
    confirmation_required: bool = False,
) -> OrderView:
    """The items are back with the customer, paid as recorded; without a payment method the
    workflow refuses. Unless the company requires a manager's confirmation, the order closes
    with it."""
    payment = Payment(payment_method, amount_received, tips, mileage_km)
    async with db.transaction() as tx:
        order = await own_job(tx, worker_id, order_id)
        if order.workflow != WorkflowKind.PICKUP_DELIVERY:
            # A water stop is delivered with its bottles (core.deliveries.deliver_stop).
            raise InvalidInput("invalid_value", field="workflow", value=order.workflow,
                               reason=WorkflowKind.PICKUP_DELIVERY.value)
        await record_payment(tx, order, payment)
        await finish(tx, order, Status.DELIVERED, actor=f"worker:{worker_id}", now=now,
                     confirmation_required=confirmation_required, referrals=referrals)
        return await order_view(tx, order)
