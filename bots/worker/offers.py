"""Answering an offer: Accept or Decline under the offer (or on the job card).

The order changes in core first; then the worker gets a toast and the message they tapped is
edited in place: nothing new is sent, so an answer never waits behind Telegram's sending limits.
A single offer becomes the job card once accepted. Several offers joined in one message keep
their texts and are redrawn from where each offer stands now: one still open keeps Accept /
Decline, an accepted one gets a button to its card, and a line under the offers says what
happened to each answered one. Redrawing from the database, not from the tapped copy, keeps
quick taps on one message from undoing each other's edits.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.methods import EditMessageText
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bots.sender import FollowUp
from bots.worker.cards import card_view
from bots.worker.errors import refusal
from bots.worker.keyboards import JOINED_OFFERS, JobCb, OfferCb
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.errors import Conflict
from core.invites import WorkerCard, worker_for_telegram
from core.messages import render
from core.offers import (
    DECLINED,
    OFFERED,
    PASSED_ON,
    WITHDRAWN,
    YOURS,
    OfferState,
    answer_offer,
    offer_states,
)
from core.outbox import OutgoingMessage, sent_message
from core.slots import SlotRules

router = Router(name="worker-offers")
PARAGRAPH = "\n\n"
Rows = list[list[InlineKeyboardButton]]


@router.callback_query(OfferCb.filter())
async def offer_answered(
    callback: CallbackQuery, callback_data: OfferCb, db: Database, config: Config, clock: Clock,
    rules: SlotRules, worker: WorkerCard, lang: str,
) -> EditMessageText | None:
    """The toast goes first; the edit is the webhook's answer (no request of its own)."""
    message = callback.message if isinstance(callback.message, Message) else None
    order_id = callback_data.order
    shown = orders_on(message) if message is not None else []
    becomes_card = callback_data.accept and shown == [order_id]
    try:
        answer = await answer_offer(db, worker_id=worker.id, order_id=order_id,
                                    accept=callback_data.accept, now=clock.now(), rules=rules,
                                    shown=() if becomes_card else shown)
    except Conflict as refused:
        await callback.answer(refusal(refused, lang))
        if refused.key == "offer_gone" and message is not None:
            states = await offer_states(db, worker_id=worker.id, order_ids=shown)
            return redrawn(message, states, lang)
        return None
    key = "worker.offer.accepted" if callback_data.accept else "worker.offer.declined"
    note = _(key).format(number=answer.number)
    await callback.answer(note)
    if message is None:
        return None
    if becomes_card:
        text, keyboard = await card_view(db, config, worker, order_id, lang, note=note)
        return _edited(message, text, keyboard, parse_mode="HTML")
    return redrawn(message, answer.shown, lang)


def redrawn(message: Message, states: Sequence[OfferState], lang: str) -> EditMessageText:
    """An offer message (one offer or several joined) redrawn as its offers stand now."""
    text, keyboard = offers_view(message.text or "", states, lang, joined=len(states) > 1)
    return _edited(message, text, keyboard, parse_mode=None)


def offer_passed_on(i18n: I18n) -> FollowUp:
    """Once the worker is told an unanswered offer went to someone else, the offer message
    itself is redrawn: that job's buttons go and a line says it was passed on."""

    async def redraw_sent(db: Database, bot: Bot, notice: OutgoingMessage) -> None:
        order_id = notice.params.get("order_id")
        if not isinstance(order_id, int):
            return
        sent = await sent_message(db, bot=notice.bot, chat_id=notice.chat_id,
                                  order_id=order_id, templates=JOINED_OFFERS)
        worker = await worker_for_telegram(db, telegram_user_id=notice.chat_id)
        if sent is None or worker is None:
            return
        order_ids = [m.params["order_id"] for m in sent.messages]
        states = await offer_states(db, worker_id=worker.id, order_ids=order_ids)
        text = PARAGRAPH.join(render(m.template, m.language, **m.params) for m in sent.messages)
        token = I18n.set_current(i18n)
        try:
            with i18n.use_locale(notice.language):
                text, keyboard = offers_view(text, states, notice.language,
                                             joined=len(sent.messages) > 1)
        finally:
            I18n.reset_current(token)
        with suppress(TelegramBadRequest):
            await bot.edit_message_text(text, chat_id=notice.chat_id,
                                        message_id=sent.message_id, parse_mode=None,
                                        reply_markup=keyboard)

    return redraw_sent


def offers_view(
    text: str, states: Sequence[OfferState], lang: str, *, joined: bool
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The offers' text with a line per answered offer, and buttons for those still open."""
    earlier = {note for state in states for note in _every_note(state, lang)}
    paragraphs = [part for part in text.split(PARAGRAPH) if part not in earlier]
    paragraphs += [note for state in states if (note := _note(state, lang))]
    rows: Rows = []
    for state in states:
        if state.state == OFFERED:
            rows.append(_offer_row(state, joined=joined))
        elif state.state == YOURS and joined:
            rows.append([InlineKeyboardButton(
                text=_("worker.job.open_number").format(number=state.number),
                callback_data=JobCb(order=state.order_id, act="view").pack(),
            )])
    return PARAGRAPH.join(paragraphs), InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def orders_on(message: Message) -> list[int]:
    """The jobs whose buttons the message carries, in their order."""
    found: list[int] = []
    for row in _rows(message):
        for button in row:
            order = _order_of(button)
            if order is not None and order not in found:
                found.append(order)
    return found


def _offer_row(state: OfferState, *, joined: bool) -> list[InlineKeyboardButton]:
    accept, decline = ("worker.offer.accept_number", "worker.offer.decline_number") if joined \
        else ("worker.offer.accept", "worker.offer.decline")
    return [
        InlineKeyboardButton(text=_(accept).format(number=state.number),
                             callback_data=OfferCb(order=state.order_id, accept=True).pack()),
        InlineKeyboardButton(text=_(decline).format(number=state.number),
                             callback_data=OfferCb(order=state.order_id, accept=False).pack()),
    ]


def _note(state: OfferState, lang: str) -> str | None:
    number = state.number
    if state.state == YOURS:
        return _("worker.offer.accepted").format(number=number)
    if state.state == DECLINED:
        return _("worker.offer.declined").format(number=number)
    if state.state == PASSED_ON:
        return _("worker.offer.passed_on").format(number=number)
    if state.state == WITHDRAWN:
        gone = render("offer_gone", lang, number=number)
        return gone[:1].upper() + gone[1:] + "."
    return None


def _every_note(state: OfferState, lang: str) -> list[str]:
    """Every line an earlier redraw may have written about this offer."""
    kinds = (YOURS, DECLINED, PASSED_ON, WITHDRAWN)
    return [note for kind in kinds
            if (note := _note(OfferState(state.order_id, state.number, kind), lang))]


def _edited(
    message: Message, text: str, keyboard: InlineKeyboardMarkup | None, *, parse_mode: str | None
) -> EditMessageText:
    # Sent as the webhook's answer: if the message cannot change, it stays as it is.
    return message.edit_text(text, parse_mode=parse_mode, reply_markup=keyboard,
                             disable_web_page_preview=True)


def _rows(message: Message) -> Rows:
    markup = message.reply_markup
    return [list(row) for row in markup.inline_keyboard] if markup is not None else []


def _order_of(button: InlineKeyboardButton) -> int | None:
    """The job a button acts on, when it is an offer's or a job's button."""
    data = button.callback_data or ""
    kinds: tuple[type[CallbackData], ...] = (OfferCb, JobCb)
    for kind in kinds:
        if data.startswith(f"{kind.__prefix__}:"):
            with suppress(ValueError, TypeError):
                order = getattr(kind.unpack(data), "order", None)
                return order if isinstance(order, int) else None
    return None
