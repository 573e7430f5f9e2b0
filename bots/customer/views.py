"""How the customer bot shows money, times, services and orders. User text is escaped here."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from html import escape
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from babel.numbers import format_currency

from core.catalog import ServiceInfo
from core.messages import WEEKDAYS
from core.orders import OrderView
from core.workflows import status_label

LOCALES = {"uk": "uk_UA", "ru": "ru_UA", "en": "en_GB"}


def money(amount: int, currency: str, language: str) -> str:
    """Minor units as people read them: ``150000`` → "1 500 ₴", ``150050`` → "1 500,50 ₴"."""
    value = Decimal(amount) / 100
    pattern = "#,##0 ¤" if amount % 100 == 0 else "#,##0.00 ¤"
    text: str = format_currency(
        value, currency, format=pattern, locale=LOCALES.get(language, "en_GB"),
        currency_digits=False,
    )
    return text


def unit_name(unit: str) -> str:
    """What a price is per, e.g. "m²"; empty for a visit."""
    names = {"m2": _("unit.m2"), "item": _("unit.item"), "bottle": _("unit.bottle")}
    return names.get(unit, "")


def price(service: ServiceInfo, currency: str, language: str) -> str:
    amount = money(service.price, currency, language)
    unit = unit_name(service.unit)
    text = _("price.from").format(price=amount) if service.price_is_from else amount
    return f"{text} / {unit}" if unit else text


def moment(value: datetime, tz: ZoneInfo, language: str) -> str:
    """``пт 04.12 10:00`` in the company's time zone."""
    local = value.astimezone(tz)
    weekday = WEEKDAYS.get(language, WEEKDAYS["en"])[local.weekday()]
    return f"{weekday} {local:%d.%m %H:%M}"


def clock_time(value: datetime, tz: ZoneInfo) -> str:
    return f"{value.astimezone(tz):%H:%M}"


def day_label(value: datetime, tz: ZoneInfo, language: str) -> str:
    local = value.astimezone(tz)
    weekday = WEEKDAYS.get(language, WEEKDAYS["en"])[local.weekday()]
    return f"{weekday} {local:%d.%m}"


def order_line(order: OrderView, tz: ZoneInfo, language: str) -> str:
    """``№10001 · пт 04.12 10:00 · assigned`` for lists and buttons."""
    return (
        f"№{order.number} · {moment(order.starts_at, tz, language)} · "
        f"{status_label(order.status, language)}"
    )


def order_card(
    order: OrderView, address: str, tz: ZoneInfo, currency: str, language: str
) -> str:
    line = order.lines[0]
    name = line.names.get(language) or line.names.get("en") or line.service_code
    quantity = f" × {line.quantity}" if line.quantity > 1 else ""
    return _("orders.card").format(
        number=order.number,
        service=escape(name) + quantity,
        when=moment(order.starts_at, tz, language),
        address=escape(address),
        status=status_label(order.status, language),
        total=money(order.total, currency, language),
    )
