"""How the worker bot shows jobs, money and the month. Outside text is escaped here."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from html import escape
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from babel.numbers import format_currency

from core.jobs import JobCard, JobLine
from core.messages import WEEKDAYS
from core.workflows import status_label

LOCALES = {"uk": "uk_UA", "ru": "ru_UA", "en": "en_GB"}


def money(amount: int, currency: str, language: str) -> str:
    pattern = "#,##0 ¤" if amount % 100 == 0 else "#,##0.00 ¤"
    text: str = format_currency(Decimal(amount) / 100, currency, format=pattern,
                                locale=LOCALES.get(language, "en_GB"), currency_digits=False)
    return text


def name_in(names: Mapping[str, str], language: str) -> str:
    return names.get(language) or names.get("en") or next(iter(names.values()), "")


def job_line(job: JobLine, tz: ZoneInfo, language: str, day: date | None = None) -> str:
    """One job in a list; one from another ``day`` (items still held) shows its date."""
    marks = ("⚡" if job.express else "") + ("⏳" if job.waiting else "")
    start, end = job.starts_at.astimezone(tz), job.ends_at.astimezone(tz)
    begins = f"{start:%d.%m %H:%M}" if day is not None and start.date() != day else f"{start:%H:%M}"
    text = (f"{begins}–{end:%H:%M} №{job.number} {escape(name_in(job.service, language))}"
            f" — {escape(status_label(job.status, language))}")
    if job.address:
        text += f", {escape(job.address)}"
    return f"{marks} {text}" if marks else text


def map_links(lat: float, lon: float) -> str:
    google = f"https://www.google.com/maps/search/?api=1&query={lat},{lon}"
    yandex = f"https://yandex.com/maps/?pt={lon},{lat}&z=16&l=map"
    return f'<a href="{google}">Google Maps</a> · <a href="{yandex}">Yandex Maps</a>'


def address_links(address: str) -> str:
    google = f"https://www.google.com/maps/search/?api=1&query={quote(address)}"
    return f'<a href="{google}">Google Maps</a>'


def card_text(card: JobCard, tz: ZoneInfo, language: str, currency: str) -> str:
    order = card.order
    start, end = order.starts_at.astimezone(tz), order.ends_at.astimezone(tz)
    weekday = WEEKDAYS.get(language, WEEKDAYS["en"])[start.weekday()]
    lines = [
        _("worker.card.title").format(number=order.number,
                                      status=escape(status_label(order.status, language))),
        f"🕒 {weekday} {start:%d.%m %H:%M}–{end:%H:%M}",
        f"📍 {escape(card.address)}",
    ]
    if order.lat is not None and order.lon is not None:
        lines.append(map_links(order.lat, order.lon))
    elif card.address:
        lines.append(address_links(card.address))
    lines.append(f"👤 {escape(card.client_name)} " + " ".join(card.phones))
    for names, quantity, amount in card.services:
        count = f" × {quantity}" if quantity != 1 else ""
        lines.append(f"• {escape(name_in(names, language))}{count} — "
                     f"{money(amount, currency, language)}")
    lines.append(_("worker.card.total").format(total=money(order.total, currency, language)))
    if order.priority == "express":
        lines.append(_("worker.card.express"))
    if order.customer_comment:
        lines.append(_("worker.card.customer_comment").format(
            text=escape(order.customer_comment)))
    if order.manager_comment:
        lines.append(_("worker.card.manager_comment").format(text=escape(order.manager_comment)))
    if order.worker_comment:
        lines.append(_("worker.card.worker_comment").format(text=escape(order.worker_comment)))
    if card.pending_extras:
        lines.append(_("worker.card.extras_pending").format(count=card.pending_extras))
    return "\n".join(lines)


def month_calendar(first: date, counts: Mapping[date, int], language: str) -> str:
    """A compact month: day numbers by week, a day with jobs marked with their count."""
    names = WEEKDAYS.get(language, WEEKDAYS["en"])
    rows = [" ".join(f"{name[:2]:>3}" for name in names)]
    for week in calendar.Calendar().monthdatescalendar(first.year, first.month):
        cells = []
        for day in week:
            if day.month != first.month:
                cells.append("   ")
            elif counts.get(day):
                cells.append(f"{day.day:>2}" + ("•" if counts[day] < 10 else "+"))
            else:
                cells.append(f"{day.day:>2} ")
        rows.append(" ".join(cells))
    return "<pre>" + "\n".join(rows) + "</pre>"
