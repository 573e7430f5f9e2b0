"""The one place errors become answers: core's refusals in the customer's language, anything
unexpected logged with its traceback and answered with a polite generic text."""

from __future__ import annotations

import contextlib
import logging
from html import escape
from typing import Any

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from core.errors import BrigadierError

log = logging.getLogger(__name__)

router = Router(name="errors")


@router.errors()
async def on_error(event: ErrorEvent, **data: Any) -> bool:
    if I18n.get_current(no_error=True) is None:
        # Failed before the customer's context was set (e.g. the dialog store was down).
        i18n: I18n = data["i18n"]
        token = I18n.set_current(i18n)
        try:
            return await _handle(event, data)
        finally:
            I18n.reset_current(token)
    return await _handle(event, data)


async def _handle(event: ErrorEvent, data: dict[str, Any]) -> bool:
    err = event.exception
    language = data.get("lang") or I18n.get_current().current_locale
    if isinstance(err, BrigadierError):
        log.info("update %s refused: %s", event.update.update_id, err)
        text = _("error.refused").format(reason=escape(err.message(language)))
    else:
        log.error("update %s failed", event.update.update_id, exc_info=err)
        text = _("error.unexpected")
    try:
        await _answer(event, text)
    except TelegramAPIError:
        log.warning("could not tell the customer about the error in update %s",
                    event.update.update_id, exc_info=True)
    return True


async def _answer(event: ErrorEvent, text: str) -> None:
    update = event.update
    if update.callback_query is not None:
        query = update.callback_query
        with contextlib.suppress(TelegramAPIError):  # answered before the handler failed
            await query.answer()
        if isinstance(query.message, Message):
            await query.message.answer(text)
    elif update.message is not None:
        await update.message.answer(text)
