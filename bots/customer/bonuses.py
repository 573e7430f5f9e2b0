"""Bonuses and invitations: the balance and points from the client card, the invite link with
what an invitation brings (points are given in core/referrals.py)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bots.customer.keyboards import MenuCb, main_menu
from bots.customer.views import money
from core.clients import get_client
from core.config import Config, ReferralSettings
from core.db import Database
from core.referrals import referral_stats

router = Router(name="bonuses")


@router.callback_query(MenuCb.filter(F.action == "bonuses"))
async def bonuses(
    callback: CallbackQuery, db: Database, config: Config, client_id: int | None, lang: str
) -> None:
    await callback.answer()
    if not isinstance(callback.message, Message):
        return
    if client_id is None:
        await callback.message.answer(_("bonuses.unknown"), reply_markup=main_menu())
        return
    card = await get_client(db, client_id=client_id)
    text = _("bonuses.card").format(
        balance=money(card.balance, config.company.currency, lang), points=card.bonus_points
    )
    await callback.message.answer(text, reply_markup=main_menu())


@router.callback_query(MenuCb.filter(F.action == "invite"))
async def invite(
    callback: CallbackQuery, db: Database, config: Config, client_id: int | None,
    bot_username: str,
) -> None:
    await callback.answer()
    if not isinstance(callback.message, Message):
        return
    if client_id is None:
        await callback.message.answer(_("invite.unknown"), reply_markup=main_menu())
        return
    stats = await referral_stats(db, client_id=client_id)
    link = f"https://t.me/{bot_username}?start=ref_{client_id}"
    text = _("invite.link").format(link=link, invited=stats.invited, rewarded=stats.rewarded)
    await callback.message.answer(
        "\n".join([*_offers(config.referrals), text]), reply_markup=main_menu()
    )


def _offers(referrals: ReferralSettings) -> list[str]:
    """What each side gets, leaving out a side the company does not reward."""
    lines = []
    if referrals.referrer_points > 0:
        lines.append(_("invite.you_get").format(points=referrals.referrer_points))
    if referrals.friend_points > 0:
        lines.append(_("invite.friend_gets").format(points=referrals.friend_points))
    return [*lines, ""] if lines else []
