"""The worker bot's buttons. Callback data carries ids and short codes, within 64 bytes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.orders import PAYMENT_METHODS
from core.outbox import OutgoingMessage


class MenuCb(CallbackData, prefix="wm"):
    action: str  # home, today, tomorrow, month, schedule, earnings, route, breakdown


class OfferCb(CallbackData, prefix="wo"):
    order: int
    accept: bool


class JobCb(CallbackData, prefix="wj"):
    order: int
    act: str  # view, go, start, pause, resume, complete, pick, inspect, ready, dispatch,
    # hand_over, deliver, item, extra, before, after, comment, map


class PayCb(CallbackData, prefix="wp"):
    order: int
    method: str


class StepCb(CallbackData, prefix="ws"):
    action: str  # full_amount, no_tips, no_mileage, no_defects, photos_done


class ExtraCb(CallbackData, prefix="we"):
    order: int
    service: int


class DayCb(CallbackData, prefix="wd"):
    day: str  # YYYYMMDD


class WeekdayCb(CallbackData, prefix="ww"):
    weekday: int


class ScheduleCb(CallbackData, prefix="wc"):
    action: str  # weekly, extra, day_off


class ZoneCb(CallbackData, prefix="wz"):
    zone: int


def payment_label(method: str) -> str:
    labels = {
        "cash": _("worker.pay.cash"),
        "card_to_worker": _("worker.pay.card_to_worker"),
        "terminal": _("worker.pay.terminal"),
        "online": _("worker.pay.online"),
        "bank_transfer": _("worker.pay.bank_transfer"),
    }
    return labels.get(method, method)


def main_menu() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("worker.menu.today"), callback_data=MenuCb(action="today"))
    builder.button(text=_("worker.menu.tomorrow"), callback_data=MenuCb(action="tomorrow"))
    builder.button(text=_("worker.menu.month"), callback_data=MenuCb(action="month"))
    builder.button(text=_("worker.menu.route"), callback_data=MenuCb(action="route"))
    builder.button(text=_("worker.menu.schedule"), callback_data=MenuCb(action="schedule"))
    builder.button(text=_("worker.menu.earnings"), callback_data=MenuCb(action="earnings"))
    builder.adjust(3, 1, 2)
    return builder.as_markup()


def home_button(builder: InlineKeyboardBuilder | None = None) -> InlineKeyboardMarkup:
    builder = builder or InlineKeyboardBuilder()
    builder.button(text=_("worker.menu.home"), callback_data=MenuCb(action="home"))
    return builder.as_markup()


def offer_keyboard(order_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("worker.offer.accept"), callback_data=OfferCb(order=order_id,
                                                                         accept=True))
    builder.button(text=_("worker.offer.decline"), callback_data=OfferCb(order=order_id,
                                                                          accept=False))
    builder.button(text=_("worker.job.open"), callback_data=JobCb(order=order_id, act="view"))
    builder.adjust(2, 1)
    return builder.as_markup()


def open_job_keyboard(order_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("worker.job.open"), callback_data=JobCb(order=order_id, act="view"))
    return builder.as_markup()


def payment_keyboard(order_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for method in PAYMENT_METHODS:
        builder.button(text=payment_label(method), callback_data=PayCb(order=order_id,
                                                                       method=method))
    builder.adjust(2)
    return builder.as_markup()


def step_button(text: str, action: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=text, callback_data=StepCb(action=action))
    return builder.as_markup()


JOINED_OFFERS = ("notice.job_offer", "notice.job_offered")


class NoticeMarkup:
    """Buttons under the worker bot's notices, in the reader's language: Accept / Decline
    under an offer, the job card under the others about one job. ``joined`` builds the buttons
    of several offers the outbox sends together as one message."""

    def __init__(self, i18n: I18n) -> None:
        self.i18n = i18n
        self.joined = dict.fromkeys(JOINED_OFFERS, self.offers)

    def __call__(self, message: OutgoingMessage) -> InlineKeyboardMarkup | None:
        order_id = message.params.get("order_id")
        if message.bot != "worker" or not isinstance(order_id, int):
            return None
        with self._language(message.language):
            return _markup_for(message, order_id)

    def offers(self, messages: Sequence[OutgoingMessage]) -> InlineKeyboardMarkup:
        with self._language(messages[0].language):
            return offers_keyboard([(m.params["order_id"], m.params["number"]) for m in messages])

    @contextmanager
    def _language(self, language: str) -> Iterator[None]:
        token = I18n.set_current(self.i18n)
        try:
            with self.i18n.use_locale(language):
                yield
        finally:
            I18n.reset_current(token)


def notice_markup(i18n: I18n) -> NoticeMarkup:
    return NoticeMarkup(i18n)


def offers_keyboard(offers: Sequence[tuple[int, Any]]) -> InlineKeyboardMarkup:
    """Offers joined in one message: a row per job, its buttons named by the job's number."""
    builder = InlineKeyboardBuilder()
    for order_id, number in offers:
        builder.row(
            InlineKeyboardButton(
                text=_("worker.offer.accept_number").format(number=number),
                callback_data=OfferCb(order=order_id, accept=True).pack(),
            ),
            InlineKeyboardButton(
                text=_("worker.offer.decline_number").format(number=number),
                callback_data=OfferCb(order=order_id, accept=False).pack(),
            ),
        )
    return builder.as_markup()


def _markup_for(message: OutgoingMessage, order_id: int) -> InlineKeyboardMarkup | None:
    if message.template in JOINED_OFFERS:
        return offer_keyboard(order_id)
    if message.template in ("notice.late_start_worker", "notice.extra_approved",
                            "notice.extra_rejected", "notice.consent_given",
                            "notice.consent_refused", "notice.job_moved"):
        return open_job_keyboard(order_id)
    return None
