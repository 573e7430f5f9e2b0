"""Invite a friend, end to end: the link, the friend's first order, the points both receive."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.models import Client, Order
from core.orders import change_status
from tests.bots.conftest import BotApp
from tests.bots.flows import UK, book_tomorrow_at_10, tap
from tests.company import NOW


async def test_a_friends_first_finished_order_gives_both_bonus_points(bot_app: BotApp):
    olena = await bot_app.customer("Olena", language_code="uk")
    await book_tomorrow_at_10(olena, UK, "+380501112233")
    await tap(olena, "👋 Запросити друга")
    invite = await olena.wait_for("Надішліть другу це посилання")
    assert "Ви отримаєте бонусні бали: +100" in invite["text"]
    assert "Запрошено друзів: 0, з них із виконаним першим замовленням: 0" in invite["text"]
    start = re.search(r"\?start=(ref_\d+)", invite["text"]).group(1)

    taras = await bot_app.customer("Taras", language_code="uk")
    await taras.send(f"/start {start}")
    welcome = await taras.wait_for("Вітаємо, Taras")
    assert "Ви прийшли за запрошенням друга" in welcome["text"]
    await book_tomorrow_at_10(taras, UK, "+380501112244")  # its /start keeps the referrer
    async with bot_app.db.transaction() as tx:
        friend = await tx.scalar(select(Client).where(Client.telegram_user_id == taras.user_id))
        order = await tx.scalar(select(Order).where(Order.client_id == friend.id))
    for target in ("accepted", "on_the_way", "in_progress"):
        await change_status(bot_app.db, order_id=order.id, target=target, actor="w", now=NOW)
    await change_status(bot_app.db, order_id=order.id, target="completed", actor="w", now=NOW,
                        payment_method="cash")

    told = await olena.wait_for("Друг, якого ви запросили, отримав перше виконане замовлення")
    assert "+100" in told["text"] and "Тепер на рахунку: 100." in told["text"]
    assert await taras.wait_for("Ви прийшли за запрошенням друга — вам нараховано")
    await olena.send("/menu")
    await tap(olena, "🎁 Бонуси")
    card = await olena.wait_for("Бонусні бали")
    assert "Бонусні бали: 100" in card["text"]
    await tap(olena, "👋 Запросити друга")
    invite = await olena.wait_for("Надішліть другу це посилання")
    assert "Запрошено друзів: 1, з них із виконаним першим замовленням: 1" in invite["text"]
