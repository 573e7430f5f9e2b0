"""Small steps every dialog shares: going back to the menu, keeping what outlives a dialog."""

from __future__ import annotations

from typing import Any, TypeAlias

from aiogram.fsm.context import FSMContext
from aiogram.methods import TelegramMethod
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove
from aiogram.utils.i18n import gettext as _

from bots.customer.keyboards import main_menu
from bots.customer.states import KEPT

MAX_TEXT = 500
"""Longest answer a step takes (an address, a time, a reason); support takes more."""

Answer: TypeAlias = "TelegramMethod[Any]"
"""A handler's last call to Telegram, returned rather than awaited: it goes back in the
webhook's response (with polling the dispatcher sends it), one request fewer per update."""


async def reset(state: FSMContext) -> None:
    """End the dialog, keeping the language, the client and the referrer."""
    data = await state.get_data()
    await state.set_state(None)
    await state.set_data({key: data[key] for key in KEPT if key in data})


def show_menu(message: Message, text: str | None = None) -> Answer:
    return message.answer(text or _("menu.title"), reply_markup=main_menu())


def menu_after(callback: CallbackQuery, text: str) -> Answer | None:
    """Replace the pressed message with ``text`` and the main menu under it."""
    if isinstance(callback.message, Message):
        return callback.message.edit_text(text, reply_markup=main_menu())
    return None


def drop_reply_keyboard(message: Message, text: str) -> Answer:
    return message.answer(text, reply_markup=ReplyKeyboardRemove())


async def too_long(message: Message, limit: int = MAX_TEXT) -> bool:
    """Answer a text longer than ``limit``; True when it was (the step stays as it is)."""
    if message.text is not None and len(message.text) > limit:
        await message.answer(_("input.too_long").format(limit=limit, length=len(message.text)))
        return True
    return False
