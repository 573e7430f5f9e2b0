"""The one place errors become answers: core's refusals in the worker's language, anything
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

router = Router(name="worker-errors")


@router.errors()
async def on_error(event: ErrorEvent, **data: Any) -> bool:
    if I18n.get_current(no_error=True) is None:
        token = I18n.set_current(data["i18n"])
        try:
            return await _handle(event, data)
        finally:
            I18n.reset_current(token)
    return await _handle(event, data)


def refusal(err: BrigadierError, language: str) -> str:
    return _("error.refused").format(reason=escape(err.message(language)))


async def _handle(event: ErrorEvent, data: dict[str, Any]) -> bool:
    err = event.exception
    language = data.get("lang") or I18n.get_current().current_locale
    if isinstance(err, BrigadierError):
        log.info("worker update %s refused: %s", event.update.update_id, err)
        text = refusal(err, language)
    else:
        log.error("worker update %s failed", event.update.update_id, exc_info=err)
        text = _("error.unexpected")
    try:
        update = event.update
        if update.callback_query is not None:
            query = update.callback_query
            with contextlib.suppress(TelegramAPIError):
                await query.answer()
            if isinstance(query.message, Message):
                await query.message.answer(text)
        elif update.message is not None:
            await update.message.answer(text)
    except TelegramAPIError:
        log.warning("could not tell the worker about the error in update %s",
                    event.update.update_id, exc_info=True)
    return True
