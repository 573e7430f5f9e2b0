"""Answering an offer: Accept or Decline under the offer (or on the job card)."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bots.worker.cards import show_card
from bots.worker.keyboards import OfferCb
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.invites import WorkerCard
from core.offers import accept_offer, decline_offer
from core.slots import SlotRules

router = Router(name="worker-offers")


@router.callback_query(OfferCb.filter())
async def answer_offer(
    callback: CallbackQuery, callback_data: OfferCb, db: Database, config: Config, clock: Clock,
    rules: SlotRules, worker: WorkerCard, lang: str,
) -> None:
    message = callback.message if isinstance(callback.message, Message) else None
    if callback_data.accept:
        order = await accept_offer(db, worker_id=worker.id, order_id=callback_data.order,
                                   now=clock.now())
        await callback.answer(_("worker.offer.accepted").format(number=order.number))
        if message is not None:
            await message.edit_reply_markup(reply_markup=None)
            await show_card(message, db, config, worker, order.id, lang,
                            note=_("worker.offer.accepted").format(number=order.number))
        return
    passed = await decline_offer(db, worker_id=worker.id, order_id=callback_data.order,
                                 now=clock.now(), rules=rules)
    text = _("worker.offer.declined").format(number=passed.order.number)
    await callback.answer(text)
    if message is not None:
        await message.edit_reply_markup(reply_markup=None)
        await message.answer(text)
