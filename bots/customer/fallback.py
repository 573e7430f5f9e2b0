"""What no step expected: a stale button, a sticker for an address, a message out of place.

The customer gets a short answer and the step they are on, shown again; nothing they chose so
far is lost.
"""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bots.customer import booking, orders, rating, support
from bots.customer.dialog import Answer, show_menu, too_long
from bots.customer.keyboards import location_keyboard
from bots.customer.states import Booking, Cancel, Rating, Reschedule, Support
from bots.customer.times import TimeDeps
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.slots import SlotRules

router = Router(name="fallback")


async def show_step(
    message: Message, state_name: str | None, state: FSMContext, dialog: dict[str, Any],
    deps: TimeDeps,
) -> Answer | None:
    if state_name is None:
        return show_menu(message)
    if state_name.startswith(f"{Booking.__name__}:"):
        return await booking.reprompt(message, state_name, state, deps)
    if state_name in (Reschedule.time.state, Cancel.reason.state):
        return await orders.reprompt(message, state_name, dialog)
    if state_name == Rating.comment.state:
        await rating.reprompt(message, dialog)
    elif state_name == Support.writing.state:
        await support.reprompt(message)
    else:
        return show_menu(message)
    return None


@router.callback_query()
async def stale_button(
    callback: CallbackQuery, state: FSMContext, raw_state: str | None, dialog: dict[str, Any],
    db: Database, config: Config, clock: Clock, rules: SlotRules, lang: str,
) -> Answer | None:
    await callback.answer(_("stale.button"))
    if not isinstance(callback.message, Message):
        return None
    deps = TimeDeps(db=db, config=config, clock=clock, rules=rules, lang=lang)
    return await show_step(callback.message, raw_state, state, dialog, deps)


@router.message()
async def unexpected(
    message: Message, state: FSMContext, raw_state: str | None, dialog: dict[str, Any],
    db: Database, config: Config, clock: Clock, rules: SlotRules, lang: str,
) -> Answer | None:
    if await too_long(message):
        return None
    if raw_state == Booking.address.state:
        return message.answer(_("booking.address_hint"), reply_markup=location_keyboard())
    if raw_state is not None:
        await message.answer(_("input.unexpected"))
    deps = TimeDeps(db=db, config=config, clock=clock, rules=rules, lang=lang)
    return await show_step(message, raw_state, state, dialog, deps)
