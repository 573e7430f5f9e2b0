"""Settings: the language the bot speaks (and the client's notices are written in)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bots.customer.keyboards import LanguageCb, MenuCb, languages_keyboard, main_menu
from core.config import Config
from core.db import Database
from core.profiles import set_client_language

router = Router(name="settings")


@router.message(Command("settings"))
async def settings_command(message: Message) -> None:
    await message.answer(_("settings.language"), reply_markup=languages_keyboard())


@router.callback_query(MenuCb.filter(F.action == "settings"))
async def settings(callback: CallbackQuery) -> None:
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.answer(_("settings.language"), reply_markup=languages_keyboard())


@router.callback_query(LanguageCb.filter())
async def language_chosen(
    callback: CallbackQuery, callback_data: LanguageCb, state: FSMContext, db: Database,
    config: Config, client_id: int | None, i18n: I18n,
) -> None:
    code = callback_data.code
    if code not in config.company.languages:
        await callback.answer(_("stale.button"))
        return
    await state.update_data(lang=code)
    if client_id is not None:
        await set_client_language(db, client_id=client_id, language=code)
    await callback.answer()
    with i18n.use_locale(code):
        if isinstance(callback.message, Message):
            await callback.message.answer(_("settings.saved"), reply_markup=main_menu())
