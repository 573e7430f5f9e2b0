"""/start and the main menu; a deep link ``/start ref_<client id>`` says who invited."""

from __future__ import annotations

from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.filters.chat_member_updated import MEMBER, ChatMemberUpdatedFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message
from aiogram.utils.i18n import gettext as _

from bots.customer.dialog import reset, show_menu
from bots.customer.keyboards import MenuCb, main_menu
from core.config import Config
from core.db import Database
from core.outbox import mark_reachable

router = Router(name="start")


def _referrer(command: CommandObject) -> int | None:
    args = (command.args or "").strip()
    if args.startswith("ref_") and args[4:].isdigit():
        return int(args[4:])
    return None


@router.message(CommandStart())
async def start(
    message: Message, command: CommandObject, state: FSMContext, dialog: dict[str, Any],
    config: Config,
) -> None:
    await reset(state)
    name = escape(message.from_user.first_name) if message.from_user else ""
    text = _("start.welcome").format(name=name)
    referrer = _referrer(command)
    if referrer is not None and dialog.get("client_id") is None:
        # Recorded once the phone makes them a client (core.referrals.record_referral).
        await state.update_data(referrer=referrer)
        if config.referrals.friend_points > 0:
            invited = _("start.invited").format(points=config.referrals.friend_points)
            text = f"{text}\n\n{invited}"
    await message.answer(text, reply_markup=main_menu())


@router.message(Command("menu"))
async def menu_command(message: Message, state: FSMContext) -> None:
    await reset(state)
    await show_menu(message)


@router.callback_query(MenuCb.filter(F.action == "home"))
async def home(callback: CallbackQuery, state: FSMContext) -> None:
    await reset(state)
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.answer(_("menu.title"), reply_markup=main_menu())


@router.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=MEMBER))
async def unblocked(event: ChatMemberUpdated, db: Database) -> None:
    """The customer unblocked the bot: their notices are delivered again."""
    await mark_reachable(db, bot="customer", chat_id=event.chat.id)
