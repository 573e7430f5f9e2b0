"""Who is writing: a worker bound by an invite, or a stranger.

A stranger is told politely that this bot is for staff, and nothing is stored about them; only
``/start <invite>`` reaches the handlers without a worker. The worker's language is the one on
their card (set when they joined, from Telegram's unless the manager chose one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, Update, User
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from core.config import Config
from core.invites import worker_for_telegram

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def _is_invite(update: TelegramObject) -> bool:
    message = update.message if isinstance(update, Update) else None
    text = (message.text or "") if message is not None else ""
    return text.startswith("/start ") and len(text.split()) == 2


class WorkerContext(BaseMiddleware):
    def __init__(self, i18n: I18n) -> None:
        self.i18n = i18n

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        config: Config = data["config"]
        user: User | None = data.get("event_from_user")
        worker = None
        if user is not None:
            worker = await worker_for_telegram(data["db"], telegram_user_id=user.id)
        languages = config.company.languages
        if worker is not None and worker.language in languages:
            language = worker.language
        elif user is not None and (user.language_code or "")[:2] in languages:
            language = (user.language_code or "")[:2]
        else:
            language = config.company.default_language
        data["worker"] = worker
        data["lang"] = language
        token = I18n.set_current(self.i18n)
        try:
            with self.i18n.use_locale(language):
                if worker is None and user is not None and not _is_invite(event):
                    await _staff_only(event)
                    return None
                return await handler(event, data)
        finally:
            I18n.reset_current(token)


async def _staff_only(update: TelegramObject) -> None:
    if not isinstance(update, Update):
        return
    if isinstance(update.callback_query, CallbackQuery):
        await update.callback_query.answer(_("worker.staff_only"), show_alert=True)
    elif isinstance(update.message, Message):
        await update.message.answer(_("worker.staff_only"))
