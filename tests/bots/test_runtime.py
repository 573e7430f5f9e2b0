"""The bots inside the application: how Telegram reaches them and how they answer."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
from sqlalchemy import update

from core.booking import book_visit
from core.db import Database
from core.geo import Point
from core.models import Channel, Client, User, Worker
from core.staff import Role, create_user
from tests.bots.conftest import CUSTOMER_BOT, BotApp, bot_config, eventually, start_app
from tests.clock import ManualClock
from tests.company import CENTRE, NOW, RULES, kyiv, small_company
from webhooks.app import SANDBOX, TELEGRAM

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def text_update(user_id: int, text: str) -> dict[str, object]:
    return {
        "update_id": 1,
        "message": {
            "message_id": 1, "date": 0, "text": text,
            "chat": {"id": user_id, "type": "private"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Olena"},
        },
    }


async def test_the_webhook_answers_with_the_reply_as_json(bot_app: BotApp):
    secret = bot_app.server.app[TELEGRAM].secret
    assert secret is not None
    async with bot_app.http.post(
        f"{bot_app.base}/telegram/customer", json=text_update(556, "hello"),
        headers={SECRET_HEADER: secret},
    ) as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        answer = await response.json()

    assert answer["method"] == "sendMessage" and answer["chat_id"] == 556
    assert answer["text"] == "Що бажаєте зробити?" and answer["parse_mode"] == "HTML"
    menu = answer["reply_markup"]["inline_keyboard"]
    assert menu[0][0]["text"] == "🧹 Замовити"


async def test_the_webhook_takes_as_many_updates_at_once_as_configured(fresh_db: Database):
    await small_company(fresh_db)
    config = bot_config(telegram__webhook_max_connections="7")
    server = await start_app(fresh_db, ManualClock(NOW), config)
    try:
        bot = server.app[SANDBOX].bot_named(CUSTOMER_BOT)
        assert bot is not None and bot.webhook is not None
        assert bot.webhook.max_connections == 7
    finally:
        await server.close()


async def test_people_the_bots_know_are_in_the_sandbox_again_after_a_restart(fresh_db: Database):
    """The sandbox starts empty on each run while the database remembers who wrote to the
    bots: they come back as sandbox users, and what the bots send them reaches their chats."""
    company = await small_company(fresh_db, workers=1)
    manager = await create_user(fresh_db, login="mila", name="Mila Manager", role=Role.MANAGER,
                                password="a long enough password")
    async with fresh_db.transaction() as tx:
        await tx.execute(update(Client).where(Client.id == company.client_id)
                         .values(name="Olena Bondar", telegram_user_id=700_000_001))
        await tx.execute(update(Worker).where(Worker.id == company.worker_ids[0])
                         .values(telegram_user_id=800_000_001, language="en"))
        await tx.execute(update(User).where(User.id == manager.id)
                         .values(telegram_user_id=900_000_001))
    server = await start_app(fresh_db, ManualClock(NOW), bot_config())
    try:
        sandbox = server.app[SANDBOX]
        async with (
            aiohttp.ClientSession() as http,
            http.get(str(server.make_url("/sandbox/api/users"))) as response,
        ):
            users = {user["id"]: user for user in await response.json()}
        assert users[700_000_001]["first_name"] == "Olena"
        assert users[700_000_001]["last_name"] == "Bondar"
        assert users[700_000_001]["phone_number"] == "+380671234567"
        assert users[800_000_001]["language_code"] == "en"
        assert 900_000_001 in users

        customer = sandbox.chat(sandbox.bot_named(CUSTOMER_BOT), sandbox.users[700_000_001])
        worker = sandbox.chat(sandbox.bot_named("brigadier_worker_bot"),
                              sandbox.users[800_000_001])
        booking = await book_visit(
            fresh_db, client_id=company.client_id, service_id=company.service_id,
            start=kyiv(NOW.date() + timedelta(days=1), 10), now=NOW, rules=RULES,
            channel=Channel.PHONE, point=Point(*CENTRE),
        )
        number = booking.order.number

        async def arrived() -> bool:
            texts = [m.text or "" for chat in (customer, worker) for m in chat.messages.values()]
            return sum(number in text for text in texts) >= 2

        assert await eventually(arrived)
        assert any(f"New job №{number}" in (m.text or "") for m in worker.messages.values())
    finally:
        await server.close()
