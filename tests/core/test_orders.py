from datetime import timedelta

import pytest
from sqlalchemy import select

from core.booking import book_visit
from core.clients import register_client
from core.errors import InvalidInput, NotFound, TransitionRefused
from core.geo import Point
from core.messages import render
from core.models import Channel, Event, OutboxMessage
from core.orders import change_status, edit_comments, get_order
from core.slots import find_slots
from tests.company import CENTRE, MONDAY, NOW, RULES, kyiv, small_company

HERE = Point(*CENTRE)
TUESDAY = MONDAY + timedelta(days=1)


async def book(db, client_id=None):
    company = await small_company(db)
    booking = await book_visit(db, client_id=client_id or company.client_id,
                               service_id=company.service_id, start=kyiv(TUESDAY, 10), now=NOW,
                               rules=RULES, channel=Channel.PHONE, point=HERE)
    assert booking.order.status == "assigned"
    return booking.order


async def move(db, order_id, target, *, minute=0, actor="worker", **extra):
    return await change_status(db, order_id=order_id, target=target, actor=actor,
                               now=kyiv(TUESDAY, 10, minute), **extra)


async def walk_to(db, order_id, *targets):
    view = None
    for minute, target in enumerate(targets):
        view = await move(db, order_id, target, minute=minute)
    return view


async def status_events(db, order_id):
    async with db.transaction() as tx:
        events = await tx.scalars(
            select(Event)
            .where(Event.order_id == order_id, Event.kind == "order.status_changed")
            .order_by(Event.id)
        )
        return [dict(e.payload) for e in events]


async def test_a_visit_walks_from_assigned_to_completed_with_full_history(db):
    order = await book(db)
    steps = [
        ("accepted", "worker:1", None, None),
        ("on_the_way", "worker:1", None, None),
        ("in_progress", "worker:1", None, None),
        ("paused", "worker:1", "the client went out for keys", None),
        ("in_progress", "worker:1", None, None),
        ("completed", "worker:1", None, "cash"),
    ]
    for minute, (target, actor, reason, payment) in enumerate(steps):
        view = await change_status(db, order_id=order.id, target=target, actor=actor,
                                   now=kyiv(TUESDAY, 10, minute), reason=reason,
                                   payment_method=payment)
        assert view.status == target
    final = await get_order(db, order_id=order.id)
    assert final.status == "completed"
    assert final.payment_method == "cash"
    walked = [(h.from_status, h.to_status, h.actor, h.reason) for h in final.history[2:]]
    assert walked == [
        ("assigned", "accepted", "worker:1", ""),
        ("accepted", "on_the_way", "worker:1", ""),
        ("on_the_way", "in_progress", "worker:1", ""),
        ("in_progress", "paused", "worker:1", "the client went out for keys"),
        ("paused", "in_progress", "worker:1", ""),
        ("in_progress", "completed", "worker:1", ""),
    ]
    assert [h.at for h in final.history[2:]] == [kyiv(TUESDAY, 10, m) for m in range(6)]
    assert [(h["from"], h["to"], h["actor"], h["reason"]) for h in
            await status_events(db, order.id)] == walked


async def test_pausing_without_a_reason_is_refused(db):
    order = await book(db)
    await walk_to(db, order.id, "accepted", "on_the_way", "in_progress")
    for reason in (None, "", "   "):
        with pytest.raises(TransitionRefused) as refused:
            await move(db, order.id, "paused", reason=reason)
        assert str(refused.value) == "cannot pause: a reason is required"
    assert (await get_order(db, order_id=order.id)).status == "in_progress"


async def test_completing_without_a_payment_method_is_refused_and_nothing_changes(db):
    order = await book(db)
    await walk_to(db, order.id, "accepted", "on_the_way", "in_progress")
    with pytest.raises(TransitionRefused) as refused:
        await move(db, order.id, "completed")
    assert str(refused.value) == "cannot complete: payment method not recorded"
    assert refused.value.message("uk") == "неможливо завершити: не вказано спосіб оплати"
    after = await get_order(db, order_id=order.id)
    assert after.status == "in_progress"
    assert after.history[-1].to_status == "in_progress"
    assert len(await status_events(db, order.id)) == 3
    done = await move(db, order.id, "completed", payment_method="cash")
    assert (done.status, done.payment_method) == ("completed", "cash")


async def test_an_unknown_payment_method_is_invalid_input(db):
    order = await book(db)
    await walk_to(db, order.id, "accepted", "on_the_way", "in_progress")
    with pytest.raises(InvalidInput) as refused:
        await move(db, order.id, "completed", payment_method="bitcoin")
    assert refused.value.field == "payment_method"
    assert "bitcoin" in str(refused.value)
    after = await get_order(db, order_id=order.id)
    assert (after.status, after.payment_method) == ("in_progress", None)


async def test_a_refused_completion_does_not_keep_the_payment_method(db):
    order = await book(db)
    await walk_to(db, order.id, "accepted", "on_the_way")
    with pytest.raises(TransitionRefused):
        await move(db, order.id, "completed", payment_method="terminal")
    after = await get_order(db, order_id=order.id)
    assert (after.status, after.payment_method) == ("on_the_way", None)


async def test_skipping_a_step_is_refused_in_words(db):
    order = await book(db)
    with pytest.raises(TransitionRefused) as refused:
        await move(db, order.id, "in_progress")
    assert str(refused.value) == "cannot go from “assigned to a worker” to “in progress”"
    with pytest.raises(TransitionRefused):
        await move(db, order.id, "flying")
    assert (await get_order(db, order_id=order.id)).status == "assigned"


async def test_cancelling_after_work_started_is_refused_with_a_readable_reason(db):
    order = await book(db)
    await walk_to(db, order.id, "accepted", "on_the_way", "in_progress")
    with pytest.raises(TransitionRefused) as refused:
        await move(db, order.id, "cancelled", reason="client changed their mind")
    assert str(refused.value) == "cannot cancel: the order is already “in progress”"
    assert refused.value.message("uk") == (
        "неможливо скасувати: замовлення вже має статус «виконується»"
    )
    assert (await get_order(db, order_id=order.id)).status == "in_progress"


async def test_the_worker_on_the_way_can_still_cancel_with_a_reason(db):
    order = await book(db)
    await walk_to(db, order.id, "accepted", "on_the_way")
    with pytest.raises(TransitionRefused):
        await move(db, order.id, "cancelled")
    view = await move(db, order.id, "cancelled", reason="nobody at home")
    assert view.status == "cancelled"
    assert view.history[-1].reason == "nobody at home"


async def test_comments_can_be_edited_while_assigned_but_not_once_work_started(db):
    order = await book(db)
    view = await edit_comments(db, order_id=order.id, actor="operator",
                               customer_comment="entrance from the yard",
                               manager_comment="VIP")
    assert (view.customer_comment, view.manager_comment) == ("entrance from the yard", "VIP")
    await walk_to(db, order.id, "accepted", "on_the_way", "in_progress")
    with pytest.raises(TransitionRefused) as refused:
        await edit_comments(db, order_id=order.id, actor="operator", customer_comment="2nd floor")
    assert str(refused.value) == "the order can no longer be changed: it is in progress"
    after = await get_order(db, order_id=order.id)
    assert after.customer_comment == "entrance from the yard"


async def test_a_telegram_client_gets_a_message_per_status_change_in_their_language(db):
    client = await register_client(db, phone="+380501112233", region="UA", language="ru",
                                   channel=Channel.TELEGRAM, telegram_user_id=555)
    order = await book(db, client_id=client.id)
    targets = ["accepted", "on_the_way", "in_progress"]
    await walk_to(db, order.id, *targets)
    async with db.transaction() as tx:
        rows = (await tx.execute(
            select(OutboxMessage, Event.payload)
            .join(Event, OutboxMessage.event_id == Event.id)
            .where(Event.order_id == order.id, Event.kind == "order.status_changed")
            .order_by(OutboxMessage.id)
        )).all()
    assert [(m.bot, m.chat_id, m.language, m.state) for m, _ in rows] == [
        ("customer", 555, "ru", "pending")
    ] * 3
    texts = [render(m.template, m.language, **m.params) for m, _ in rows]
    assert texts == [
        f"Заказ №{order.number}: принят исполнителем.",
        f"Заказ №{order.number}: в пути.",
        f"Заказ №{order.number}: выполняется.",
    ]
    assert [payload["to"] for _, payload in rows] == targets


async def test_a_client_without_telegram_gets_no_messages(db):
    order = await book(db)
    await walk_to(db, order.id, "accepted")
    async with db.transaction() as tx:
        messages = list(await tx.scalars(select(OutboxMessage)))
    assert messages == []
    assert len(await status_events(db, order.id)) == 1


async def test_an_unknown_order_is_not_found(db):
    await small_company(db)
    with pytest.raises(NotFound):
        await move(db, 424242, "accepted")
    with pytest.raises(NotFound):
        await get_order(db, order_id=424242)


async def test_a_declined_offer_frees_the_workers_time_for_other_bookings(db):
    order = await book(db)
    view = await move(db, order.id, "confirmed", reason="sick today")
    assert view.status == "confirmed" and view.worker_id is None
    slots = await find_slots(db, service_id=order.lines[0].service_id, first=TUESDAY,
                             last=TUESDAY, now=NOW, rules=RULES, point=HERE)
    assert kyiv(TUESDAY, 10) in {slot.start for slot in slots}
