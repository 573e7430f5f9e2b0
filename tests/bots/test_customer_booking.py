"""A customer books through the bot, as they would in Telegram."""

from __future__ import annotations

from sqlalchemy import func, select

from core.models import Client, Order, OutboxMessage
from tests.bots.conftest import BotApp, eventually


async def order_count(app: BotApp) -> int:
    async with app.db.transaction() as tx:
        return int(await tx.scalar(select(func.count()).select_from(Order)) or 0)


async def test_new_customer_books_a_cleaning_by_location_phone_and_words(bot_app: BotApp):
    olena = await bot_app.customer("Olena", language_code="uk")
    await olena.send("/start")
    await olena.wait_for("Вітаємо, Olena")
    await olena.press("🧹 Замовити")
    await olena.wait_for("Оберіть послугу")
    await olena.press("Прибирання — 1\xa0500 ₴")
    await olena.wait_for("Куди приїхати")
    await olena.share_location(50.45, 30.52)
    await olena.wait_for("Коли вам зручно")
    await olena.send("завтра о 10")
    await olena.wait_for("Оберіть час")
    await olena.press("10:00")
    await olena.wait_for("поділитися номером")
    await olena.share_contact("+380671112233")
    summary = await olena.wait_for("Перевірте замовлення")
    assert "вт 01.12 10:00" in summary["text"]
    await olena.press("✅ Підтвердити")
    done = await olena.wait_for("оформлено на")
    assert "вт 01.12 10:00" in done["text"]

    notice = await olena.wait_for("Замовлення №10001 оформлено: Прибирання, 01.12.2026 10:00.")
    assert notice["from_bot"]
    async with bot_app.db.transaction() as tx:
        client = await tx.scalar(select(Client).where(Client.telegram_user_id == olena.user_id))
        assert client is not None and client.phones[0].e164 == "+380671112233"
        order = await tx.scalar(select(Order))
        assert order.client_id == client.id and order.status == "assigned"
        assert order.worker_id in bot_app.company.worker_ids

    async def delivered() -> bool:
        async with bot_app.db.transaction() as tx:
            row = await tx.scalar(
                select(OutboxMessage).where(OutboxMessage.chat_id == olena.user_id)
            )
            return row.state == "sent"

    assert await eventually(delivered)
