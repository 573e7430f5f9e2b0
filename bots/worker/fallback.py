"""What no step expected: a stale button, a photo where text is wanted, text where a photo is.
The worker gets a short answer; the step they are on stays as it was."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bots.worker.keyboards import main_menu
from bots.worker.states import Intake, Photos

router = Router(name="worker-fallback")
PHOTO_STEPS = (Photos.waiting.state, Intake.photos.state)


@router.callback_query()
async def stale_button(callback: CallbackQuery) -> None:
    await callback.answer(_("worker.stale"), show_alert=True)


@router.message()
async def unexpected(message: Message, raw_state: str | None) -> None:
    if raw_state in PHOTO_STEPS:
        await message.answer(_("worker.expect.photo"))
    elif raw_state is not None:
        await message.answer(_("worker.expect.text"))
    else:
        await message.answer(_("worker.menu.title"), reply_markup=main_menu())
