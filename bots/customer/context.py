"""Who is writing and in which language, worked out once per update.

The language is the one the customer chose, else their client card's, else Telegram's
``language_code`` when the company speaks it, else the company's default. The dialog data read
here is handed on as ``dialog`` so handlers need not read the store again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.fsm.context import FSMContext
from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n

from core.config import Config
from core.db import Database
from core.profiles import client_for_telegram

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class CustomerContext(BaseMiddleware):
    def __init__(self, i18n: I18n) -> None:
        self.i18n = i18n

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        config: Config = data["config"]
        user: User | None = data.get("event_from_user")
        state: FSMContext | None = data.get("state")
        dialog: dict[str, Any] = {}
        if user is not None and state is not None:
            dialog = await state.get_data()
            if "lang" not in dialog:
                dialog = await self._first_contact(data["db"], config, user, state, dialog)
        language = dialog.get("lang") or config.company.default_language
        data["dialog"] = dialog
        data["lang"] = language
        data["client_id"] = dialog.get("client_id")
        # Set on aiogram's I18n class itself: its gettext looks the catalogs up there.
        token = I18n.set_current(self.i18n)
        try:
            with self.i18n.use_locale(language):
                return await handler(event, data)
        finally:
            I18n.reset_current(token)

    @staticmethod
    async def _first_contact(
        db: Database, config: Config, user: User, state: FSMContext, dialog: dict[str, Any]
    ) -> dict[str, Any]:
        languages = config.company.languages
        client = await client_for_telegram(db, telegram_user_id=user.id)
        if client is not None and client.language in languages:
            language = client.language
        elif user.language_code and user.language_code[:2] in languages:
            language = user.language_code[:2]
        else:
            language = config.company.default_language
        known = {"lang": language, "client_id": client.id if client else None}
        return await state.update_data(known)
