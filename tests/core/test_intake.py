"""Pickup and delivery after the customer's consent: ready, out for delivery, handed over."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.booking import book_visit
from core.errors import InvalidInput, NotFound, TransitionRefused
from core.geo import Point
from core.intake import (
    add_intake_item,
    deliver_items,
    finish_inspection,
    finish_production,
    give_consent,
    pick_up_items,
    take_out_for_delivery,
)
from core.jobs import start_job
from core.messages import render
from core.models import Channel, Client, Event, OutboxMessage, Service, ServiceSkill, ServiceZone
from core.offers import accept_offer
from core.orders import change_status, get_order
from core.photos import attach_photo
from tests.company import CENTRE, MONDAY, NOW, RULES, kyiv, small_company

TUESDAY = MONDAY + timedelta(days=1)
CUSTOMER_CHAT = 700


async def dry_cleaning(db, company) -> int:
    async with db.transaction() as tx:
        base = await tx.get(Service, company.service_id)
        service = Service(
            code="dry_cleaning",
            category_id=base.category_id,
            names={"en": "Dry cleaning"},
            workflow="pickup_delivery",
            price=50000,
            duration_minutes=60,
            skills=[ServiceSkill(skill="cleaning")],
            zones=[ServiceZone(zone_id=company.zone_id)],
        )
        tx.add(service)
        await tx.execute(
            update(Client)
            .where(Client.id == company.client_id)
            .values(telegram_user_id=CUSTOMER_CHAT, language="en")
        )
        await tx.flush()
        return service.id


async def items_in_production(db):
    """A dry-cleaning order whose items were taken in and which the customer agreed to."""
    company = await small_company(db, workers=2)
    booking = await book_visit(
        db,
        client_id=company.client_id,
        service_id=await dry_cleaning(db, company),
        start=kyiv(TUESDAY, 10),
        now=NOW,
        rules=RULES,
        channel=Channel.TELEGRAM,
        point=Point(*CENTRE),
    )
    order_id, worker_id = booking.order.id, booking.order.worker_id
    await accept_offer(db, worker_id=worker_id, order_id=order_id, now=NOW)
    await change_status(db, order_id=order_id, target="on_the_way", actor="w", now=NOW)
    await pick_up_items(db, worker_id=worker_id, order_id=order_id, now=NOW)
    item = await add_intake_item(
        db, worker_id=worker_id, order_id=order_id, description="Coat", defects="", now=NOW
    )
    await attach_photo(
        db,
        worker_id=worker_id,
        order_id=order_id,
        kind="intake",
        item_id=item.id,
        path="coat.jpg",
        now=NOW,
    )
    await finish_inspection(db, worker_id=worker_id, order_id=order_id, now=NOW)
    order = await give_consent(
        db, order_id=order_id, telegram_user_id=CUSTOMER_CHAT, agree=True, now=NOW
    )
    assert order.status == "in_production"
    return company, order_id, worker_id


async def told(db, order_id, *statuses):
    """The customer's messages about the order reaching ``statuses``, rendered."""
    async with db.transaction() as tx:
        rows = await tx.execute(
            select(OutboxMessage.template, OutboxMessage.language, OutboxMessage.params)
            .join(Event, Event.id == OutboxMessage.event_id)
            .where(
                Event.order_id == order_id,
                OutboxMessage.chat_id == CUSTOMER_CHAT,
                Event.payload["to"].as_string().in_(statuses),
            )
            .order_by(OutboxMessage.id)
        )
        return [(template, render(template, lang, **params)) for template, lang, params in rows]


async def test_ready_items_go_out_and_close_once_handed_over_with_the_payment(db):
    _company, order_id, worker_id = await items_in_production(db)
    at = kyiv(TUESDAY + timedelta(days=2), 11)

    ready = await finish_production(db, worker_id=worker_id, order_id=order_id, now=at)
    out = await take_out_for_delivery(db, worker_id=worker_id, order_id=order_id, now=at)
    with pytest.raises(TransitionRefused) as refused:
        await deliver_items(db, worker_id=worker_id, order_id=order_id, now=at)
    assert str(refused.value) == "cannot deliver: payment method not recorded"
    assert (await get_order(db, order_id=order_id)).status == "out_for_delivery"
    done = await deliver_items(
        db, worker_id=worker_id, order_id=order_id, now=at, payment_method="cash", tips=2000
    )

    assert (ready.status, out.status, done.status) == ("ready", "out_for_delivery", "closed")
    assert [(h.to_status, h.actor) for h in done.history[-2:]] == [
        ("delivered", f"worker:{worker_id}"),
        ("closed", "system"),
    ]
    assert await told(db, order_id, "ready", "out_for_delivery", "delivered", "closed") == [
        (
            "notice.items_ready",
            f"Order №{done.number}: your items are ready. "
            "We will let you know when the courier sets off with them.",
        ),
        (
            "notice.items_on_the_way",
            f"Order №{done.number}: the courier is on the way with your items.",
        ),
        (
            "notice.items_delivered",
            f"Order №{done.number}: your items are delivered. Total: 500. "
            "How did we do? Rate the work from 1 to 5.",
        ),
    ]


async def test_delivered_items_wait_for_the_manager_when_confirmation_is_required(db):
    _company, order_id, worker_id = await items_in_production(db)
    await finish_production(db, worker_id=worker_id, order_id=order_id, now=NOW)
    await take_out_for_delivery(db, worker_id=worker_id, order_id=order_id, now=NOW)

    done = await deliver_items(
        db,
        worker_id=worker_id,
        order_id=order_id,
        now=NOW,
        payment_method="terminal",
        confirmation_required=True,
    )

    assert done.status == "delivered"


async def test_a_second_tap_or_another_worker_changes_nothing(db):
    company, order_id, worker_id = await items_in_production(db)
    other = next(w for w in company.worker_ids if w != worker_id)
    with pytest.raises(NotFound):
        await finish_production(db, worker_id=other, order_id=order_id, now=NOW)
    with pytest.raises(TransitionRefused):
        await take_out_for_delivery(db, worker_id=worker_id, order_id=order_id, now=NOW)
    await finish_production(db, worker_id=worker_id, order_id=order_id, now=NOW)

    with pytest.raises(TransitionRefused) as refused:
        await finish_production(db, worker_id=worker_id, order_id=order_id, now=NOW)

    assert "ready" in str(refused.value)
    assert (await get_order(db, order_id=order_id)).status == "ready"


async def test_a_visit_is_not_handed_over_as_items(db):
    company = await small_company(db)
    booking = await book_visit(
        db,
        client_id=company.client_id,
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
    await start_job(db, worker_id=worker_id, order_id=order_id, now=NOW)

    with pytest.raises(InvalidInput):
        await deliver_items(
            db, worker_id=worker_id, order_id=order_id, now=NOW, payment_method="cash"
        )

    assert (await get_order(db, order_id=order_id)).status == "in_progress"
