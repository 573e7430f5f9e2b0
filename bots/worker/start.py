"""/start: an invite link binds the account; a worker gets the menu."""

from __future__ import annotations

from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bots.worker.keyboards import MenuCb, main_menu
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.invites import WorkerCard, redeem_invite
from core.outbox import mark_reachable

router = Router(name="worker-start")


@router.message(CommandStart())
async def start(
    message: Message, command: CommandObject, state: FSMContext, db: Database, config: Config,
    clock: Clock, worker: WorkerCard | None, **_data: Any,
) -> None:
    token = (command.args or "").strip()
    if token and message.from_user is not None:
        worker = await redeem_invite(
            db, token=token, telegram_user_id=message.from_user.id,
            telegram_language=message.from_user.language_code,
            default_language=config.company.default_language, now=clock.now(),
        )
        await mark_reachable(db, bot="worker", chat_id=message.chat.id)
    if worker is None:
        return
    await state.clear()
    with I18n.get_current().use_locale(worker.language):
        await message.answer(_("worker.welcome").format(name=escape(worker.name)),
                             reply_markup=main_menu())


@router.message(Command("menu"))
async def menu_command(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("worker.menu.title"), reply_markup=main_menu())


@router.callback_query(MenuCb.filter(F.action == "home"))
async def home(callback: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.answer(_("worker.menu.title"), reply_markup=main_menu())
