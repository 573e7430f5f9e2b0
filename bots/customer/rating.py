"""Rating a finished order: 1–5 stars from the notice's buttons, then an optional comment.

Three stars or fewer open a quality case; four or five thank the customer and offer the
invite link.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bots.customer.dialog import reset, show_menu, too_long
from bots.customer.keyboards import Buttons, RateCb, StepCb
from bots.customer.states import Rating
from core.clock import Clock
from core.db import Database
from core.errors import NotFound
from core.quality import MAX_COMMENT, rate_order

router = Router(name="rating")


def skip_markup() -> InlineKeyboardMarkup:
    builder = Buttons()
    builder.button(text=_("rating.skip"), callback_data=StepCb(action="skip_comment"))
    return builder.as_markup()


@router.callback_query(RateCb.filter())
async def stars_chosen(
    callback: CallbackQuery, callback_data: RateCb, state: FSMContext, client_id: int | None
) -> None:
    if client_id is None:
        raise NotFound("not_found", entity="order", ref=callback_data.order + 10000)
    await callback.answer()
    await reset(state)
    await state.set_state(Rating.comment)
    await state.update_data(order_id=callback_data.order, stars=callback_data.stars)
    if isinstance(callback.message, Message):
        await callback.message.answer(
            _("rating.ask_comment").format(stars=callback_data.stars), reply_markup=skip_markup()
        )


async def _rate(
    message: Message, comment: str, state: FSMContext, dialog: dict[str, Any], db: Database,
    clock: Clock, bot_username: str,
) -> None:
    result = await rate_order(
        db, order_id=dialog["order_id"], client_id=dialog["client_id"], stars=dialog["stars"],
        comment=comment, now=clock.now(),
    )
    await reset(state)
    if result.case_id is not None:
        await show_menu(message, _("rating.sorry").format(number=result.number))
        return
    link = f"https://t.me/{bot_username}?start=ref_{dialog['client_id']}"
    await show_menu(message, _("rating.thanks").format(link=link))


@router.message(Rating.comment, F.text)
async def comment_written(
    message: Message, state: FSMContext, dialog: dict[str, Any], db: Database, clock: Clock,
    bot_username: str,
) -> None:
    if await too_long(message, MAX_COMMENT):
        return
    await _rate(message, message.text or "", state, dialog, db, clock, bot_username)


@router.callback_query(Rating.comment, StepCb.filter(F.action == "skip_comment"))
async def comment_skipped(
    callback: CallbackQuery, state: FSMContext, dialog: dict[str, Any], db: Database,
    clock: Clock, bot_username: str,
) -> None:
    await callback.answer()
    if isinstance(callback.message, Message):
        await _rate(callback.message, "", state, dialog, db, clock, bot_username)


async def reprompt(message: Message, dialog: dict[str, Any]) -> None:
    await message.answer(
        _("rating.ask_comment").format(stars=dialog.get("stars", "")), reply_markup=skip_markup()
    )
