"""The worker's last step: the order closes by itself unless a manager must confirm it first."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core.booking import book_visit
from core.clients import register_client
from core.earnings import worker_earnings
from core.errors import TransitionRefused
from core.geo import Point
from core.jobs import advance, complete_job, confirm_order, start_job
from core.messages import render
from core.models import Channel, Client, Event, OutboxMessage, Role, User
from core.offers import accept_offer
from core.orders import change_status, get_order, load_order
from core.quality import rate_order
from core.referrals import record_referral
from core.workflows import Status
from tests.company import CENTRE, KYIV, MONDAY, NOW, RULES, kyiv, small_company

TUESDAY = MONDAY + timedelta(days=1)
CUSTOMER_CHAT = 700


async def job_in_progress(db):
    """A company whose client uses the customer bot, and a job under way for its worker."""
    company = await small_company(db)
    async with db.transaction() as tx:
        await tx.execute(
            update(Client)
            .where(Client.id == company.client_id)
            .values(telegram_user_id=CUSTOMER_CHAT, language="en")
        )
    booking = await book_visit(
        db,
        client_id=company.client_id,
        service_id=company.service_id,
        start=kyiv(TUESDAY, 10),
        now=NOW,
        rules=RULES,
        channel=Channel.TELEGRAM,
        point=Point(*CENTRE),
    )
    order, worker_id = booking.order, booking.order.worker_id
    await accept_offer(db, worker_id=worker_id, order_id=order.id, now=NOW)
    await change_status(db, order_id=order.id, target="on_the_way", actor="w", now=NOW)
    await start_job(db, worker_id=worker_id, order_id=order.id, now=kyiv(TUESDAY, 10))
    return company, order.id, worker_id


async def customer_messages(db, order_id):
    """What the customer is told about the order after it started, in order."""
    async with db.transaction() as tx:
        rows = await tx.execute(
            select(OutboxMessage.template, OutboxMessage.language, OutboxMessage.params)
            .join(Event, Event.id == OutboxMessage.event_id)
            .where(
                Event.order_id == order_id,
                OutboxMessage.bot == "customer",
                OutboxMessage.chat_id == CUSTOMER_CHAT,
                Event.payload["to"].as_string().in_(["completed", "closed"]),
            )
            .order_by(OutboxMessage.id)
        )
        return [(template, render(template, lang, **params)) for template, lang, params in rows]


async def test_completing_closes_the_order_when_no_confirmation_is_required(db):
    _company, order_id, worker_id = await job_in_progress(db)

    done = await complete_job(
        db,
        worker_id=worker_id,
        order_id=order_id,
        now=kyiv(TUESDAY, 12),
        payment_method="cash",
        confirmation_required=False,
    )

    assert done.status == "closed"
    moves = [(h.from_status, h.to_status, h.actor) for h in done.history[-2:]]
    assert moves == [
        ("in_progress", "completed", f"worker:{worker_id}"),
        ("completed", "closed", "system"),
    ]
    async with db.transaction() as tx:
        changes = await tx.scalars(
            select(Event.payload)
            .where(Event.order_id == order_id, Event.kind == "order.status_changed")
            .order_by(Event.id)
        )
        assert [(p["from"], p["to"]) for p in changes][-2:] == [
            ("in_progress", "completed"),
            ("completed", "closed"),
        ]
    told = await customer_messages(db, order_id)
    assert told == [
        (
            "notice.rate_order",
            f"Order №{done.number} is completed. Total: 1,500. "
            "How did we do? Rate the work from 1 to 5.",
        )
    ]


async def test_a_completed_job_waits_for_the_manager_when_confirmation_is_required(db):
    _company, order_id, worker_id = await job_in_progress(db)

    done = await complete_job(
        db,
        worker_id=worker_id,
        order_id=order_id,
        now=kyiv(TUESDAY, 12),
        payment_method="cash",
        confirmation_required=True,
    )

    assert done.status == "completed"
    async with db.transaction() as tx:
        manager = User(login="maria", name="Maria", role=Role.MANAGER)
        tx.add(manager)
        await tx.flush()
        manager_id = manager.id
    closed = await confirm_order(
        db, order_id=order_id, user_id=manager_id, now=kyiv(TUESDAY, 13), confirmation_required=True
    )
    assert closed.status == "closed"
    assert closed.history[-1].actor == f"user:{manager_id}"
    assert [template for template, _ in await customer_messages(db, order_id)] == [
        "notice.rate_order",
        "notice.order_status",
    ]


async def test_a_manager_cannot_be_skipped_when_confirmation_is_required(db):
    _company, order_id, worker_id = await job_in_progress(db)
    await complete_job(
        db,
        worker_id=worker_id,
        order_id=order_id,
        now=kyiv(TUESDAY, 12),
        payment_method="cash",
        confirmation_required=True,
    )
    with pytest.raises(TransitionRefused) as refused:
        async with db.transaction() as tx:
            order = await load_order(tx, order_id, for_update=True)
            await advance(tx, order, Status.CLOSED, actor="w", now=NOW, confirmation_required=True)
    assert str(refused.value) == "cannot close: a manager has not confirmed the work yet"
    assert (await get_order(db, order_id=order_id)).status == "completed"


async def test_a_closed_order_is_rated_and_counted_in_the_workers_earnings(db):
    company, order_id, worker_id = await job_in_progress(db)
    await complete_job(
        db, worker_id=worker_id, order_id=order_id, now=kyiv(TUESDAY, 12), payment_method="cash"
    )
    assert (await get_order(db, order_id=order_id)).status == "closed"

    rating = await rate_order(
        db, order_id=order_id, client_id=company.client_id, stars=5, now=kyiv(TUESDAY, 13)
    )
    earnings = await worker_earnings(db, worker_id=worker_id, today=TUESDAY, tz=KYIV)

    assert rating.stars == 5
    assert [job.order_id for job in earnings.jobs] == [order_id]


async def test_the_invitation_is_rewarded_once_when_the_order_closes_by_itself(db):
    company = await small_company(db)
    referrer = await register_client(db, phone="+380671110001", region="UA")
    friend = await register_client(db, phone="+380671110002", region="UA")
    assert await record_referral(db, client_id=friend.id, referrer_id=referrer.id, now=NOW)
    booking = await book_visit(
        db,
        client_id=friend.id,
        service_id=company.service_id,
        start=kyiv(TUESDAY, 10),
        now=NOW,
        rules=RULES,
        channel=Channel.PHONE,
        point=Point(*CENTRE),
    )
    order_id, worker_id = booking.order.id, booking.order.worker_id
    await accept_offer(db, worker_id=worker_id, order_id=order_id, now=NOW)
    await change_status(db, order_id=order_id, target="on_the_way", actor="w", now=NOW)
    await start_job(db, worker_id=worker_id, order_id=order_id, now=kyiv(TUESDAY, 10))

    await complete_job(
        db, worker_id=worker_id, order_id=order_id, now=kyiv(TUESDAY, 12), payment_method="cash"
    )

    async with db.transaction() as tx:
        rewards = await tx.scalar(
            select(func.count()).select_from(Event).where(Event.kind == "referral.rewarded")
        )
        points = await tx.scalar(select(Client.bonus_points).where(Client.id == friend.id))
    assert (rewards, points) == (1, 100)
    assert (await get_order(db, order_id=order_id)).status == "closed"
