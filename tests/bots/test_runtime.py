"""The bots inside the application: how Telegram reaches them and how they answer."""

from __future__ import annotations

from core.db import Database
from tests.bots.conftest import CUSTOMER_BOT, BotApp, bot_config, start_app
from tests.clock import ManualClock
from tests.company import NOW, small_company
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
