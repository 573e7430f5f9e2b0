"""The customer bot end to end: languages, my orders, rescheduling, cancelling, rating, and bad
input that gets a clear answer and never a second order."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from sqlalchemy import func, select

from core.models import Client, Event, Order, OutboxMessage, QualityCase, Rating
from core.orders import change_status
from tests.bots.conftest import BotApp
from tests.bots.flows import EN, RU, UK, Words, book_tomorrow_at_10, buttons, tap
from tests.company import NOW

pytestmark = pytest.mark.asyncio


async def count(app: BotApp, model: type) -> int:
    async with app.db.transaction() as tx:
        return int(await tx.scalar(select(func.count()).select_from(model)) or 0)


async def only_order(app: BotApp) -> Order:
    async with app.db.transaction() as tx:
        orders = list(await tx.scalars(select(Order)))
    assert len(orders) == 1
    return orders[0]


@pytest.mark.parametrize("words", [UK, RU, EN], ids=lambda w: w.language)
async def test_booking_in_each_language_ends_with_the_outbox_notice(bot_app: BotApp, words: Words):
    user = await bot_app.customer("Ivan", language_code=words.language)

    await book_tomorrow_at_10(user, words, "+380501112233")

    await user.wait_for(words.notice_booked)
    order = await only_order(bot_app)
    assert order.status == "assigned" and order.channel == "telegram"
    async with bot_app.db.transaction() as tx:
        client = await tx.get(Client, order.client_id)
        assert client.language == words.language and client.telegram_user_id == user.user_id


async def test_customer_who_phoned_before_is_the_same_client(bot_app: BotApp):
    user = await bot_app.customer("Olena", language_code="uk")

    await book_tomorrow_at_10(user, UK, "+380671234567")  # the company's client's phone

    order = await only_order(bot_app)
    assert order.client_id == bot_app.company.client_id
    assert await count(bot_app, Client) == 1


async def test_reschedule_then_cancel_from_my_orders(bot_app: BotApp):
    user = await bot_app.customer("Olena", language_code="uk")
    await book_tomorrow_at_10(user, UK, "+380501112233")
    await user.wait_for(UK.notice_booked)

    await tap(user, "📋 Мої замовлення")
    listed = await user.wait_for("Найближчі")
    await tap(user, next(b for b in buttons(listed) if b.startswith("№10001")))
    await user.wait_for("Замовлення №10001")
    await tap(user, "🕒 Перенести")
    await user.wait_for("Коли вам зручно")
    await user.send("завтра о 14")
    await user.wait_for("Оберіть час")
    await tap(user, "14:00")
    await user.wait_for("перенесено на вт 01.12 14:00")
    await user.wait_for("Замовлення №10001 перенесено: Прибирання, 01.12.2026 14:00.")
    order = await only_order(bot_app)
    assert order.starts_at.astimezone(NOW.tzinfo).hour == 14 and order.status == "assigned"

    await tap(user, "📋 Мої замовлення")
    listed = await user.wait_for("Найближчі")
    await tap(user, next(b for b in buttons(listed) if b.startswith("№10001")))
    await user.wait_for("Статус: призначене виконавцю")
    await tap(user, "✖️ Скасувати замовлення")
    await user.wait_for("Чому скасовуєте")
    await user.send("Їду у відрядження")
    await user.wait_for("Замовлення №10001 скасовано")
    await user.wait_for("Замовлення №10001: скасоване.")
    order = await only_order(bot_app)
    assert order.status == "cancelled" and order.history[-1].reason == "Їду у відрядження"


async def test_cancel_refused_by_the_workflow_shows_the_reason(bot_app: BotApp):
    user = await bot_app.customer("Olena", language_code="en")
    await book_tomorrow_at_10(user, EN, "+380501112233")
    order = await only_order(bot_app)
    await tap(user, "📋 My orders")
    listed = await user.wait_for("Upcoming")
    await tap(user, next(b for b in buttons(listed) if b.startswith("№10001")))
    await user.wait_for("Order №10001")
    await tap(user, "✖️ Cancel the order")
    await user.wait_for("Why are you cancelling")
    for target in ("accepted", "on_the_way", "in_progress"):
        await change_status(bot_app.db, order_id=order.id, target=target, actor="worker",
                            now=NOW)

    await user.send("changed my mind")

    await user.wait_for("cannot cancel: the order is already “in progress”")


async def test_three_stars_open_a_quality_case(bot_app: BotApp):
    user = await bot_app.customer("Olena", language_code="uk")
    await book_tomorrow_at_10(user, UK, "+380501112233")
    order = await only_order(bot_app)
    for target in ("accepted", "on_the_way", "in_progress"):
        await change_status(bot_app.db, order_id=order.id, target=target, actor="w", now=NOW)
    await change_status(bot_app.db, order_id=order.id, target="completed", actor="w", now=NOW,
                        payment_method="cash")

    await user.wait_for("Оцініть роботу від 1 до 5")
    await tap(user, "3 ⭐")
    await user.wait_for("Дякуємо за оцінку 3 ⭐")
    await user.send("Запізнилися на годину")
    await user.wait_for("Менеджер з якості зв'яжеться з вами")

    async with bot_app.db.transaction() as tx:
        rating = await tx.scalar(select(Rating))
        case = await tx.scalar(select(QualityCase))
        opened = await tx.scalar(select(Event).where(Event.kind == "quality.case_opened"))
    assert (rating.stars, rating.comment) == (3, "Запізнилися на годину")
    assert case.order_id == order.id and case.rating_id == rating.id and case.state == "open"
    assert opened.payload["case_id"] == case.id


async def test_five_stars_thank_and_offer_the_invite_link(bot_app: BotApp):
    user = await bot_app.customer("Olena", language_code="en")
    await book_tomorrow_at_10(user, EN, "+380501112233")
    order = await only_order(bot_app)
    for target in ("accepted", "on_the_way", "in_progress"):
        await change_status(bot_app.db, order_id=order.id, target=target, actor="w", now=NOW)
    await change_status(bot_app.db, order_id=order.id, target="completed", actor="w", now=NOW,
                        payment_method="cash")
    await user.wait_for("Rate the work from 1 to 5")
    await tap(user, "5 ⭐")
    await tap(user, "Skip")

    thanks = await user.wait_for("glad you liked it")

    assert f"t.me/brigadier_customer_bot?start=ref_{order.client_id}" in thanks["text"]
    assert await count(bot_app, QualityCase) == 0


async def test_invited_friend_is_recorded_with_the_referrer(bot_app: BotApp):
    friend = await bot_app.customer("Taras", language_code="uk")
    await friend.send(f"/start ref_{bot_app.company.client_id}")
    await friend.wait_for("Вітаємо")
    await tap(friend, UK.book)
    await tap(friend, UK.service)
    await friend.share_location(50.45, 30.52)
    await friend.send(UK.tomorrow_at_10)
    await friend.wait_for(UK.pick)
    await tap(friend, "10:00")
    await friend.share_contact("+380501112244")
    await friend.wait_for(UK.summary)

    async with bot_app.db.transaction() as tx:
        referred = await tx.scalar(select(Event).where(Event.kind == "client.referred"))
    assert referred.payload["referrer_id"] == bot_app.company.client_id


# --- bad input ------------------------------------------------------------------------------------


async def test_sticker_for_an_address_gets_a_hint_and_keeps_the_step(bot_app: BotApp):
    user = await bot_app.customer("Olena", language_code="en")
    await user.send("/start")
    await tap(user, EN.book)
    await tap(user, EN.service)
    await user.wait_for(EN.ask_address)

    await user.send_sticker()

    await user.wait_for("I need the address here")
    await user.share_location(50.45, 30.52)
    await user.wait_for(EN.ask_time)


async def test_typed_address_asks_for_the_location_and_keeps_the_text(bot_app: BotApp):
    user = await bot_app.customer("Olena", language_code="en")
    await user.send("/start")
    await tap(user, EN.book)
    await tap(user, EN.service)
    await user.wait_for(EN.ask_address)

    await user.send("Khreshchatyk 1, <flat 5>")

    asked = await user.wait_for("please also share the location")
    assert "Khreshchatyk 1, <flat 5>" in asked["text"]  # escaped going out, shown as written
    await user.share_location(50.45, 30.52)
    await user.send(EN.tomorrow_at_10)
    await tap(user, "10:00")
    await user.share_contact("+380501112233")
    summary = await user.wait_for(EN.summary)
    assert "Address: Khreshchatyk 1, <flat 5>" in summary["text"]


async def test_location_outside_the_zones_offers_a_call_back(bot_app: BotApp):
    user = await bot_app.customer("Olena", language_code="en")
    await user.send("/start")
    await tap(user, EN.book)
    await tap(user, EN.service)
    await user.share_location(49.84, 24.03)  # Lviv

    await user.wait_for("we do not work at this address yet")
    await tap(user, "📞 Call me back")
    await user.wait_for("An operator will call you shortly")

    async with bot_app.db.transaction() as tx:
        asked = await tx.scalar(select(Event).where(Event.kind == "client.callback_requested"))
    assert asked.payload["telegram_user_id"] == user.user_id
    assert asked.payload["reason"] == "outside_zones"


async def test_a_5000_character_message_is_answered_and_loses_nothing(bot_app: BotApp):
    user = await bot_app.customer("Olena", language_code="en")
    await user.send("/start")
    await tap(user, EN.book)
    await tap(user, EN.service)
    await user.share_location(50.45, 30.52)
    await user.wait_for(EN.ask_time)

    # Telegram's app sends 5,000 characters as two messages: 4,096 and the rest.
    await user.send("x" * 4096)
    await user.wait_for("That message is too long (4096 characters)")
    await user.send("x" * 904)
    await user.wait_for("That message is too long (904 characters)")

    await user.send(EN.tomorrow_at_10)
    await user.wait_for(EN.pick)


async def test_words_that_name_no_time_get_examples(bot_app: BotApp):
    user = await bot_app.customer("Olena", language_code="uk")
    await user.send("/start")
    await tap(user, UK.book)
    await tap(user, UK.service)
    await user.share_location(50.45, 30.52)
    await user.wait_for(UK.ask_time)

    await user.send("коли зможете")

    await user.wait_for("Не зрозумів, який це час")
    await tap(user, "📅 Найближчі дні")
    await user.wait_for("Оберіть день")


async def test_a_window_with_no_free_start_offers_the_nearest(bot_app: BotApp):
    user = await bot_app.customer("Olena", language_code="en")
    await user.send("/start")
    await tap(user, EN.book)
    await tap(user, EN.service)
    await user.share_location(50.45, 30.52)
    await user.wait_for(EN.ask_time)

    await user.send("tomorrow at 22:00")  # shifts end at 18:00

    offer = await user.wait_for("The nearest free times")
    assert "16:00" in buttons(offer)  # the latest start that still ends by 18:00


async def test_stale_button_is_answered_and_the_current_step_shown(bot_app: BotApp):
    user = await bot_app.customer("Olena", language_code="en")
    await user.send("/start")
    await tap(user, EN.book)
    await tap(user, EN.service)
    await user.wait_for(EN.ask_address)

    await user.press(EN.service)  # the service list is still on screen

    toast = await user.wait_for(lambda m: m["kind"] == "toast")
    assert toast["text"] == "This button is no longer active."
    await user.wait_for(EN.ask_address)


async def test_double_tap_on_confirm_books_once(bot_app: BotApp):
    user = await bot_app.customer("Olena", language_code="en")
    await user.send("/start")
    await tap(user, EN.book)
    await tap(user, EN.service)
    await user.share_location(50.45, 30.52)
    await user.send(EN.tomorrow_at_10)
    await tap(user, "10:00")
    await user.share_contact("+380501112233")
    summary = await user.wait_for(EN.summary)
    button = summary["reply_markup"]["inline_keyboard"][0][0]
    path = f"/api/chats/brigadier_customer_bot/{user.user_id}/callback"
    double = {"message_id": summary["message_id"], "data": button["callback_data"]}

    await asyncio.gather(user._request("POST", path, double), user._request("POST", path, double))

    await user.wait_for(EN.booked)
    await user.wait_for(lambda m: m["kind"] == "toast" and "no longer active" in m["text"])
    assert await count(bot_app, Order) == 1


async def test_phone_from_another_country_is_refused_then_a_local_one_taken(bot_app: BotApp):
    user = await bot_app.customer("Olena", language_code="en")
    await user.send("/start")
    await tap(user, EN.book)
    await tap(user, EN.service)
    await user.share_location(50.45, 30.52)
    await user.send(EN.tomorrow_at_10)
    await tap(user, "10:00")
    await user.wait_for(EN.ask_phone)

    await user.share_contact("+442071838750")

    await user.wait_for("+442071838750 is not a number of our country (UA)")
    await user.share_contact("+380501112233")
    await user.wait_for(EN.summary)
    assert await count(bot_app, Client) == 2  # the company's own client and this one


async def test_someone_elses_contact_is_not_taken(bot_app: BotApp):
    user = await bot_app.customer("Olena", language_code="en")
    await user.send("/start")
    await tap(user, EN.book)
    await tap(user, EN.service)
    await user.share_location(50.45, 30.52)
    await user.send(EN.tomorrow_at_10)
    await tap(user, "10:00")
    await user.wait_for(EN.ask_phone)

    await user.share_contact("+380501112299", user_id=123, first_name="Someone")

    await user.wait_for("Please share your own number")
    assert await count(bot_app, Client) == 1


async def test_support_message_is_stored_for_the_operators(bot_app: BotApp):
    user = await bot_app.customer("Olena", language_code="en")
    await user.send("/start")
    await tap(user, "💬 Support")
    await user.wait_for("Write your question")

    await user.send("Can you bring your own <b>vacuum</b>?")

    await user.wait_for("Your message is with an operator")
    async with bot_app.db.transaction() as tx:
        event = await tx.scalar(select(Event).where(Event.kind == "support.message"))
        rows = (await tx.execute(select(Event.payload).where(Event.kind == "support.message")))
    assert event.payload["telegram_user_id"] == user.user_id
    assert len(rows.all()) == 1


async def test_language_changed_in_settings(bot_app: BotApp):
    user = await bot_app.customer("Olena", language_code="uk")
    await user.send("/start")
    await user.wait_for("Вітаємо")
    await tap(user, "⚙️ Мова")
    await tap(user, "English")

    await user.wait_for("The language is changed")
    await tap(user, "🧹 Book")
    await user.wait_for("Choose a service")


# --- the webhook ---------------------------------------------------------------------------------


async def test_webhook_without_the_secret_is_refused_and_nothing_processed(bot_app: BotApp):
    update = {
        "update_id": 999,
        "message": {
            "message_id": 1, "date": 0, "text": "/start",
            "chat": {"id": 555, "type": "private"},
            "from": {"id": 555, "is_bot": False, "first_name": "Mallory"},
        },
    }
    url = f"{bot_app.base}/telegram/customer"
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            async with http.post(url, json=update, headers=headers) as response:
                assert response.status == 401
    await asyncio.sleep(0.1)
    async with bot_app.db.transaction() as tx:
        assert await tx.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    chats = [key for key in bot_app.sandbox.chats if key[1] == 555]
    assert chats == []
