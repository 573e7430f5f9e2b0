"""The customer bot's buttons. Callback data stays within Telegram's 64 bytes: ids, not text."""

from __future__ import annotations

from itertools import islice

from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from core.outbox import OutgoingMessage

ROW_WIDTH = 8  # Telegram shows at most eight buttons in a row


class Buttons:
    """Inline buttons laid out in rows, as aiogram's ``InlineKeyboardBuilder`` lays them out
    (``button``, ``adjust``, ``as_markup``), without its deep copy of every button on every
    call: a keyboard is built on nearly every update."""

    def __init__(self) -> None:
        self._buttons: list[InlineKeyboardButton] = []
        self._sizes: tuple[int, ...] = (ROW_WIDTH,)

    def button(self, *, text: str, callback_data: CallbackData | str) -> None:
        if isinstance(callback_data, CallbackData):
            callback_data = callback_data.pack()
        self._buttons.append(InlineKeyboardButton(text=text, callback_data=callback_data))

    def adjust(self, *sizes: int) -> None:
        """Rows of these sizes in turn; the last size holds for the rest."""
        if any(not 1 <= size <= ROW_WIDTH for size in sizes):
            raise ValueError(f"row sizes are 1-{ROW_WIDTH}, not {sizes}")
        self._sizes = sizes or (ROW_WIDTH,)

    def as_markup(self) -> InlineKeyboardMarkup:
        rows: list[list[InlineKeyboardButton]] = []
        buttons = iter(self._buttons)
        for index in range(len(self._buttons)):
            row = list(islice(buttons, self._sizes[min(index, len(self._sizes) - 1)]))
            if not row:
                break
            rows.append(row)
        return InlineKeyboardMarkup(inline_keyboard=rows)


class MenuCb(CallbackData, prefix="m"):
    action: str  # home, book, orders, bonuses, invite, support, settings


class CategoryCb(CallbackData, prefix="c"):
    id: int


class ServiceCb(CallbackData, prefix="s"):
    id: int


class AddressCb(CallbackData, prefix="a"):
    id: int


class DayCb(CallbackData, prefix="d"):
    day: str  # YYYYMMDD; empty: the list of the nearest days


class SlotCb(CallbackData, prefix="t"):
    at: int  # minutes since the epoch, UTC


class ConfirmCb(CallbackData, prefix="ok"):
    token: str


class StepCb(CallbackData, prefix="st"):
    action: str  # change_time, drop, skip_comment, plans_changed


class CallMeCb(CallbackData, prefix="cm"):
    reason: str


class OrderCb(CallbackData, prefix="o"):
    id: int
    action: str  # view, reschedule, cancel


class RateCb(CallbackData, prefix="r"):
    order: int
    stars: int


class LanguageCb(CallbackData, prefix="l"):
    code: str


LANGUAGE_NAMES = {"uk": "Українська", "ru": "Русский", "en": "English"}


_MAIN_MENUS: dict[str, InlineKeyboardMarkup] = {}


def main_menu() -> InlineKeyboardMarkup:
    """The main menu in the current language (made once per language)."""
    language = I18n.get_current().current_locale
    menu = _MAIN_MENUS.get(language)
    if menu is None:
        menu = _MAIN_MENUS[language] = _main_menu()
    return menu


def _main_menu() -> InlineKeyboardMarkup:
    builder = Buttons()
    builder.button(text=_("menu.book"), callback_data=MenuCb(action="book"))
    builder.button(text=_("menu.orders"), callback_data=MenuCb(action="orders"))
    builder.button(text=_("menu.bonuses"), callback_data=MenuCb(action="bonuses"))
    builder.button(text=_("menu.invite"), callback_data=MenuCb(action="invite"))
    builder.button(text=_("menu.support"), callback_data=MenuCb(action="support"))
    builder.button(text=_("menu.settings"), callback_data=MenuCb(action="settings"))
    builder.adjust(1, 2, 2, 1)
    return builder.as_markup()


def home_button() -> InlineKeyboardMarkup:
    builder = Buttons()
    builder.button(text=_("menu.home"), callback_data=MenuCb(action="home"))
    return builder.as_markup()


def location_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=_("booking.share_location"), request_location=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def contact_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=_("booking.share_phone"), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def stars_keyboard(order_id: int) -> InlineKeyboardMarkup:
    builder = Buttons()
    for stars in range(1, 6):
        builder.button(text=f"{stars} ⭐", callback_data=RateCb(order=order_id, stars=stars))
    builder.adjust(5)
    return builder.as_markup()


def languages_keyboard() -> InlineKeyboardMarkup:
    builder = Buttons()
    for code, name in LANGUAGE_NAMES.items():
        builder.button(text=name, callback_data=LanguageCb(code=code))
    builder.button(text=_("menu.home"), callback_data=MenuCb(action="home"))
    builder.adjust(3, 1)
    return builder.as_markup()


RATED_NOTICES = ("notice.rate_order", "notice.items_delivered")
"""Notices of finished work, which the customer rates with the stars under them."""


def notice_markup(message: OutgoingMessage) -> InlineKeyboardMarkup | None:
    """Buttons the outbox sender puts under a notice: stars under "rate your order"."""
    if message.bot == "customer" and message.template in RATED_NOTICES:
        order_id = message.params.get("order_id")
        if isinstance(order_id, int):
            return stars_keyboard(order_id)
    return None
