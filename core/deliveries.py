"""Water delivery routes as the driver works them: stops in route order, bottles per stop,
and a breakdown that hands the rest of the day back to the operator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.config import ReferralSettings
from core.db import Database
from core.errors import InvalidInput
from core.events import Notice, record_event
from core.jobs import finish, own_job
from core.models import Client, Order, User, Worker, Zone
from core.orders import PAYMENT_METHODS, OrderView, job_progress, move, order_view
from core.referrals import DEFAULT_REFERRALS
from core.workflows import Status, WorkflowKind

MAX_BOTTLES = 1000
HANDED_BACK = (Status.ASSIGNED, Status.ACCEPTED)
"""What a breakdown returns to the operator; a stop already on the way has no way back in the
workflow and stays with the driver to close or cancel."""


@dataclass(frozen=True)
class StopResult:
    order: OrderView
    client_bottles: int
    """The client's container balance after this stop."""


@dataclass(frozen=True)
class Breakdown:
    handed_back: tuple[str, ...]
    """Numbers of the orders returned to the operator."""
    operators_told: int


def _count(field: str, value: int) -> None:
    if not 0 <= value <= MAX_BOTTLES:
        raise InvalidInput("invalid_value", field=field, value=value, reason=f"0–{MAX_BOTTLES}")


async def deliver_stop(
    db: Database, *, worker_id: int, order_id: int, bottles_delivered: int,
    empties_collected: int, payment_method: str | None, now: datetime,
    amount_received: int | None = None, referrals: ReferralSettings = DEFAULT_REFERRALS,
    confirmation_required: bool = False,
) -> StopResult:
    """The stop is delivered: full bottles left, empties taken, the client's balance moved.
    Unless the company requires a manager's confirmation, the order closes with it."""
    _count("bottles", bottles_delivered)
    _count("empties", empties_collected)
    if payment_method is not None and payment_method not in PAYMENT_METHODS:
        raise InvalidInput("invalid_value", field="payment_method", value=payment_method,
                           reason=", ".join(PAYMENT_METHODS))
    async with db.transaction() as tx:
        order = await own_job(tx, worker_id, order_id)
        if order.workflow != WorkflowKind.DELIVERY:
            # Items from the workshop are handed over without bottles (core.intake).
            raise InvalidInput("invalid_value", field="workflow", value=order.workflow,
                               reason=WorkflowKind.DELIVERY.value)
        client = await tx.get(Client, order.client_id, with_for_update=True)
        assert client is not None
        if payment_method is not None:
            order.payment_method = payment_method
        progress = await job_progress(tx, order.id)
        progress.bottles_delivered, progress.empties_collected = (
            bottles_delivered, empties_collected,
        )
        progress.amount_received = order.total if amount_received is None else amount_received
        client.bottles += bottles_delivered - empties_collected
        await finish(tx, order, Status.DELIVERED, actor=f"worker:{worker_id}", now=now,
                     confirmation_required=confirmation_required, referrals=referrals)
        return StopResult(await order_view(tx, order), client.bottles)


async def report_breakdown(
    db: Database, *, worker_id: int, reason: str, day: date, tz: ZoneInfo, now: datetime
) -> Breakdown:
    """The vehicle broke down: the driver's remaining orders of ``day`` go back to the
    operator (each zone's responsible user is told) with the reason."""
    if not reason.strip():
        raise InvalidInput("invalid_value", field="reason", value="", reason="say what happened")
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    async with db.transaction() as tx:
        worker = await tx.get(Worker, worker_id)
        orders = list(await tx.scalars(
            select(Order).where(
                Order.worker_id == worker_id,
                Order.workflow == WorkflowKind.DELIVERY.value,
                Order.status.in_([s.value for s in HANDED_BACK]),
                Order.starts_at >= start, Order.starts_at < start + timedelta(days=1),
            ).order_by(Order.starts_at).with_for_update()
        ))
        text = f"breakdown: {reason.strip()}"
        for order in orders:
            # assigned → confirmed is "decline", accepted → confirmed is "unassign".
            move(order, Status.CONFIRMED, actor=f"worker:{worker_id}", now=now, reason=text)
        await tx.flush()
        numbers = tuple(order.number for order in orders)
        notices = []
        zone_ids = {order.zone_id for order in orders if order.zone_id}
        responsible = set(await tx.scalars(
            select(Zone.responsible_user_id).where(Zone.id.in_(zone_ids))
        )) - {None}
        for user in await tx.scalars(select(User).where(User.id.in_(responsible))):
            if user.telegram_user_id is not None:
                notices.append(Notice("worker", user.telegram_user_id, "uk",
                                      "notice.route_breakdown",
                                      {"worker": worker.name if worker else str(worker_id),
                                       "reason": reason.strip(),
                                       "orders": ", ".join(numbers) or "—"}))
        record_event(tx, kind="route.breakdown",
                           payload={"worker_id": worker_id, "reason": reason.strip(),
                                    "orders": [order.id for order in orders]},
                           notices=notices)
        return Breakdown(numbers, len(notices))
