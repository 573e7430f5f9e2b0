"""A customer's way through the bot in each language, for the end-to-end tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from tests.telegram_user import TelegramUser

NBSP = "\xa0"


@dataclass(frozen=True)
class Words:
    """What the customer reads and presses, and what they write, in one language."""

    language: str
    welcome: str
    book: str
    service: str
    ask_address: str
    ask_time: str
    tomorrow_at_10: str
    pick: str
    ask_phone: str
    summary: str
    confirm: str
    booked: str
    notice_booked: str


UK = Words(
    "uk", "Вітаємо", "🧹 Замовити", f"Прибирання — 1{NBSP}500 ₴", "Куди приїхати",
    "Коли вам зручно", "завтра о 10", "Оберіть час", "поділитися номером", "Перевірте замовлення",
    "✅ Підтвердити", "оформлено на", "Замовлення №10001 оформлено: Прибирання, 01.12.2026 10:00.",
)
RU = Words(
    "ru", "Здравствуйте", "🧹 Заказать", f"Cleaning — 1{NBSP}500 ₴", "Куда приехать",
    "Когда вам удобно", "завтра в 10", "Выберите время", "поделиться номером", "Проверьте заказ",
    "✅ Подтвердить", "оформлен на", "Заказ №10001 оформлен: Cleaning, 01.12.2026 10:00.",
)
EN = Words(
    "en", "Hello", "🧹 Book", "Cleaning — 1,500 UAH", "Where should we come",
    "When suits you", "tomorrow at 10", "Pick a time", "share your phone number",
    "Please check your order", "✅ Confirm", "is booked for",
    "Order №10001 is booked: Cleaning, 01.12.2026 10:00.",
)


async def book_tomorrow_at_10(user: TelegramUser, words: Words, phone: str) -> None:
    """/start → book → service → location → "tomorrow at 10" → 10:00 → phone → confirm."""
    await user.send("/start")
    await user.wait_for(words.welcome)
    await tap(user, words.book)
    await user.wait_for(lambda m: words.service in buttons(m))
    await tap(user, words.service)
    await user.wait_for(words.ask_address)
    await user.share_location(50.45, 30.52)
    await user.wait_for(words.ask_time)
    await user.send(words.tomorrow_at_10)
    await user.wait_for(words.pick)
    await tap(user, "10:00")
    await user.wait_for(words.ask_phone)
    await user.share_contact(phone)
    await user.wait_for(words.summary)
    await tap(user, words.confirm)
    await user.wait_for(words.booked)


def buttons(message: dict) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [button["text"] for row in rows for button in row]


async def tap(user: TelegramUser, text: str, timeout: float = 5.0) -> dict:  # noqa: ASYNC109
    """Press a button as soon as the bot has shown it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await user.press(text)
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.02)
