"""Support: the customer writes, operators read it in the panel and answer later."""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, User
from aiogram.utils.i18n import gettext as _

from bots.customer.dialog import reset, show_menu, too_long
from bots.customer.keyboards import MenuCb, home_button
from bots.customer.states import Support
from core.clock import Clock
from core.db import Database
from core.support import MAX_TEXT, post_support_message

router = Router(name="support")


@router.callback_query(MenuCb.filter(F.action == "support"))
async def start_support(callback: CallbackQuery, state: FSMContext) -> None:
    await callback.answer()
    await reset(state)
    await state.set_state(Support.writing)
    if isinstance(callback.message, Message):
        await callback.message.answer(_("support.ask"), reply_markup=home_button())


@router.message(Support.writing, F.text)
async def written(
    message: Message, state: FSMContext, dialog: dict[str, Any], event_from_user: User,
    db: Database, clock: Clock,
) -> None:
    if await too_long(message, MAX_TEXT):
        return
    await post_support_message(
        db, telegram_user_id=event_from_user.id, client_id=dialog.get("client_id"),
        text=message.text or "", now=clock.now(),
    )
    await reset(state)
    await show_menu(message, _("support.sent"))


async def reprompt(message: Message) -> None:
    await message.answer(_("support.text_only"), reply_markup=home_button())
