"""The time step, shared by booking and rescheduling: the customer writes a time in their own
words, or picks one of the nearest free days, and gets the free starts as buttons."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bots.customer.dialog import Answer
from bots.customer.keyboards import Buttons, DayCb, MenuCb, SlotCb
from bots.customer.views import clock_time, day_label, moment
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.geo import Point
from core.shifts import epoch_minutes, from_epoch_minutes
from core.slots import Slot, SlotRules, find_slots, nearest
from core.when import TimeWindow, parse_when

SHOWN = 8  # free starts offered at once
DAYS_AHEAD = 7  # "nearest days" looks this far
WINDOW_DAYS = 14  # the most a written window is searched


@dataclass(frozen=True)
class Job:
    """What the free starts are for."""

    service_id: int
    quantity: int
    client_id: int | None
    point: Point | None = None
    address_id: int | None = None

    @classmethod
    def from_dialog(cls, dialog: dict[str, Any]) -> Job:
        point = None
        if dialog.get("lat") is not None and dialog.get("lon") is not None:
            point = Point(dialog["lat"], dialog["lon"])
        return cls(
            service_id=dialog["service_id"],
            quantity=dialog.get("quantity", 1),
            client_id=dialog.get("client_id"),
            point=point,
            address_id=None if point else dialog.get("address_id"),
        )


@dataclass(frozen=True)
class TimeDeps:
    db: Database
    config: Config
    clock: Clock
    rules: SlotRules
    lang: str

    def now(self) -> datetime:
        return self.clock.now().astimezone(self.rules.tz)


def slot_start(callback_data: SlotCb, rules: SlotRules) -> datetime:
    return from_epoch_minutes(callback_data.at, rules.tz)


def _footer(builder: Buttons) -> None:
    builder.button(text=_("time.nearest_days"), callback_data=DayCb(day=""))
    builder.button(text=_("menu.home"), callback_data=MenuCb(action="home"))


def ask_markup() -> InlineKeyboardMarkup:
    builder = Buttons()
    _footer(builder)
    builder.adjust(1)
    return builder.as_markup()


def ask_time(message: Message) -> Answer:
    return message.answer(_("time.ask"), reply_markup=ask_markup())


def slots_markup(slots: Sequence[Slot], deps: TimeDeps) -> InlineKeyboardMarkup:
    tz, lang = deps.rules.tz, deps.lang
    one_day = len({s.start.astimezone(tz).date() for s in slots}) == 1
    builder = Buttons()
    for slot in slots:
        label = clock_time(slot.start, tz) if one_day else moment(slot.start, tz, lang)
        builder.button(text=label, callback_data=SlotCb(at=epoch_minutes(slot.start)))
    _footer(builder)
    width = 4 if one_day else 2
    rows = [width] * ((len(slots) + width - 1) // width)
    builder.adjust(*rows, 1, 1)
    return builder.as_markup()


async def _free(job: Job, first: date, last: date, deps: TimeDeps) -> list[Slot]:
    return await find_slots(
        deps.db,
        service_id=job.service_id,
        first=first,
        last=last,
        now=deps.clock.now(),
        rules=deps.rules,
        point=job.point,
        address_id=job.address_id,
        client_id=job.client_id,
        quantity=job.quantity,
    )


def read_window(text: str, deps: TimeDeps) -> TimeWindow | None:
    """The customer's language first, then any we know ("завтра" typed in an English chat)."""
    now = deps.now()
    return parse_when(text, now, [deps.lang], rules=deps.config.when) or parse_when(
        text, now, None, rules=deps.config.when
    )


async def offer_for_text(message: Message, text: str, job: Job, deps: TimeDeps) -> Answer:
    window = read_window(text, deps)
    if window is None:
        return message.answer(_("time.not_understood"), reply_markup=ask_markup())
    today = deps.now().date()
    first = max(window.start.astimezone(deps.rules.tz).date(), today)
    end = window.end if window.end > window.start else window.end + timedelta(minutes=1)
    last = min((end - timedelta(minutes=1)).astimezone(deps.rules.tz).date(),
               first + timedelta(days=WINDOW_DAYS - 1))
    if last < first:
        return message.answer(_("time.passed"), reply_markup=ask_markup())
    free = await _free(job, first, last, deps)
    if window.is_moment:
        same_day = [s for s in free if s.start.astimezone(deps.rules.tz).date() == first]
        chosen = nearest(same_day, window.start, SHOWN)
        exact = any(s.start == window.start for s in chosen)
    else:
        chosen = [s for s in free if window.start <= s.start < window.end][:SHOWN]
        exact = bool(chosen)
    if exact:
        return message.answer(_("time.pick"), reply_markup=slots_markup(chosen, deps))
    return await offer_alternatives(
        message, window.start, job, deps, _("time.none_in_window"), chosen
    )


async def offer_alternatives(
    message: Message, around: datetime, job: Job, deps: TimeDeps, text: str,
    alternatives: Sequence[Slot] = (),
) -> Answer:
    """The free starts nearest ``around``; the nearest days when there are none near."""
    if not alternatives:
        day = max(around.astimezone(deps.rules.tz).date(), deps.now().date())
        wider = await _free(job, day - timedelta(days=1), day + timedelta(days=3), deps)
        alternatives = nearest(wider, around, deps.rules.alternatives)
    if alternatives:
        return message.answer(text, reply_markup=slots_markup(alternatives, deps))
    return await offer_days(message, job, deps, intro=_("time.none_soon"))


async def offer_days(
    message: Message, job: Job, deps: TimeDeps, intro: str | None = None
) -> Answer:
    today = deps.now().date()
    free = await _free(job, today, today + timedelta(days=DAYS_AHEAD - 1), deps)
    by_day: dict[date, list[Slot]] = defaultdict(list)
    for slot in free:
        by_day[slot.start.astimezone(deps.rules.tz).date()].append(slot)
    if not by_day:
        return message.answer(_("time.no_days"), reply_markup=ask_markup())
    builder = Buttons()
    for day, slots in sorted(by_day.items())[:6]:
        label = f"{day_label(slots[0].start, deps.rules.tz, deps.lang)} ({len(slots)})"
        builder.button(text=label, callback_data=DayCb(day=f"{day:%Y%m%d}"))
    builder.button(text=_("menu.home"), callback_data=MenuCb(action="home"))
    builder.adjust(2, 2, 2, 1)
    text = intro + "\n\n" + _("time.days") if intro else _("time.days")
    return message.answer(text, reply_markup=builder.as_markup())


async def offer_day(message: Message, day_text: str, job: Job, deps: TimeDeps) -> Answer:
    if not day_text:
        return await offer_days(message, job, deps)
    day = datetime.strptime(day_text, "%Y%m%d").date()
    free = await _free(job, day, day, deps)
    if not free:
        return await offer_days(message, job, deps, intro=_("time.day_full"))
    step = max(1, len(free) // (SHOWN * 2)) if len(free) > SHOWN * 2 else 1
    return message.answer(
        _("time.pick"), reply_markup=slots_markup(free[::step][:SHOWN * 2], deps)
    )
