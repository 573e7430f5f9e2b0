"""The customer agrees (or not) to the work on items taken in for the workshop; the question
comes as a notice with two buttons, the answer goes to core."""

from __future__ import annotations

from collections.abc import Callable

from aiogram import Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.clock import Clock
from core.db import Database
from core.intake import give_consent
from core.outbox import OutgoingMessage

router = Router(name="consent")


class ConsentCb(CallbackData, prefix="cs"):
    order: int
    agree: bool


def consent_keyboard(order_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("consent.agree"), callback_data=ConsentCb(order=order_id, agree=True))
    builder.button(text=_("consent.refuse"), callback_data=ConsentCb(order=order_id,
                                                                      agree=False))
    return builder.as_markup()


def consent_markup(i18n: I18n) -> Callable[[OutgoingMessage], InlineKeyboardMarkup | None]:
    """The two buttons under the consent question, in the customer's language."""

    def markup(message: OutgoingMessage) -> InlineKeyboardMarkup | None:
        order_id = message.params.get("order_id")
        if (message.bot, message.template) != ("customer", "notice.consent_request") or \
                not isinstance(order_id, int):
            return None
        token = I18n.set_current(i18n)
        try:
            with i18n.use_locale(message.language):
                return consent_keyboard(order_id)
        finally:
            I18n.reset_current(token)

    return markup


@router.callback_query(ConsentCb.filter())
async def answered(callback: CallbackQuery, callback_data: ConsentCb, db: Database,
                   clock: Clock) -> None:
    order = await give_consent(db, order_id=callback_data.order,
                               telegram_user_id=callback.from_user.id,
                               agree=callback_data.agree, now=clock.now())
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_reply_markup(reply_markup=None)
        text = _("consent.thanks") if callback_data.agree else _("consent.refused")
        await callback.message.answer(text.format(number=order.number))
