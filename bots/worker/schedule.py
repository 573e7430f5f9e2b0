"""The worker's schedule: weekly hours, extra hours on a date and days off, each working
interval in one of the zones the manager allows (asked only when there is a choice); an
overlap is refused naming both."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bots.worker.keyboards import MenuCb, ScheduleCb, WeekdayCb, ZoneCb, home_button
from bots.worker.states import Schedule
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.invites import WorkerCard
from core.messages import WEEKDAYS
from core.models import ShiftExceptionKind
from core.schedule import worker_schedule
from core.shifts import (
    ShiftInfo,
    WorkZone,
    add_shift_exception,
    add_shift_pattern,
    worker_zones,
)

router = Router(name="worker-schedule")
HOURS = re.compile(r"^\s*(\d{1,2})(?:[:.](\d{2}))?\s*[-–—]\s*(\d{1,2})(?:[:.](\d{2}))?\s*$")
DAY = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})(?:\.(\d{4}))?\s*$")


def parse_hours(text: str) -> tuple[time, time] | None:
    """"9-18", "09:00–18:30" → (start, end)."""
    found = HOURS.match(text)
    if found is None:
        return None
    h1, m1, h2, m2 = (int(part or 0) for part in found.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        return None
    return time(h1, m1), time(23, 59) if h2 == 24 else time(h2, m2)


def parse_day(text: str, today: date) -> date | None:
    """"05.12" (the next such date) or "05.12.2026"."""
    found = DAY.match(text)
    if found is None:
        return None
    day, month, year = found.groups()
    try:
        moment = date(int(year) if year else today.year, int(month), int(day))
    except ValueError:
        return None
    if year is None and moment < today:
        moment = moment.replace(year=today.year + 1)
    return moment


def _message(callback: CallbackQuery) -> Message | None:
    return callback.message if isinstance(callback.message, Message) else None


def _in_zone(shift: ShiftInfo, zone_names: dict[int, str]) -> str:
    return f" · {zone_names[shift.zone_id]}" if shift.zone_id in zone_names else ""


async def show_schedule(
    message: Message, db: Database, config: Config, clock: Clock, worker: WorkerCard, lang: str,
    note: str | None = None,
) -> None:
    today = clock.now().astimezone(config.company.tz).date()
    view = await worker_schedule(db, worker_id=worker.id, today=today)
    names = WEEKDAYS.get(lang, WEEKDAYS["en"])
    lines = [note] if note else []
    lines.append(_("worker.schedule.title"))
    for shift in view.weekly:
        assert shift.weekday is not None and shift.starts and shift.ends
        lines.append(f"{names[shift.weekday]} {shift.starts:%H:%M}–{shift.ends:%H:%M}"
                     + _in_zone(shift, view.zone_names))
    if not view.weekly:
        lines.append(_("worker.schedule.no_weekly"))
    for shift in view.exceptions:
        assert shift.day is not None
        hours = f" {shift.starts:%H:%M}–{shift.ends:%H:%M}" if shift.starts and shift.ends else ""
        kind = _("worker.schedule.off") if shift.kind == "off" else _("worker.schedule.extra")
        lines.append(f"{shift.day:%d.%m.%Y}{hours}: {kind}" + _in_zone(shift, view.zone_names))
    builder = InlineKeyboardBuilder()
    builder.button(text=_("worker.schedule.add_weekly"), callback_data=ScheduleCb(action="weekly"))
    builder.button(text=_("worker.schedule.add_extra"), callback_data=ScheduleCb(action="extra"))
    builder.button(text=_("worker.schedule.add_off"), callback_data=ScheduleCb(action="day_off"))
    builder.adjust(2)
    await message.answer("\n".join(lines), reply_markup=home_button(builder))


@router.callback_query(MenuCb.filter(F.action == "schedule"))
async def schedule(
    callback: CallbackQuery, state: FSMContext, db: Database, config: Config, clock: Clock,
    worker: WorkerCard, lang: str,
) -> None:
    await callback.answer()
    await state.clear()
    if (message := _message(callback)) is not None:
        await show_schedule(message, db, config, clock, worker, lang)


@router.callback_query(ScheduleCb.filter(F.action == "weekly"))
async def choose_weekday(callback: CallbackQuery, state: FSMContext, lang: str) -> None:
    await callback.answer()
    await state.clear()
    builder = InlineKeyboardBuilder()
    for weekday, name in enumerate(WEEKDAYS.get(lang, WEEKDAYS["en"])):
        builder.button(text=name, callback_data=WeekdayCb(weekday=weekday))
    builder.adjust(7)
    if (message := _message(callback)) is not None:
        await message.answer(_("worker.schedule.choose_day"), reply_markup=builder.as_markup())


@router.callback_query(WeekdayCb.filter())
async def weekday_chosen(
    callback: CallbackQuery, callback_data: WeekdayCb, state: FSMContext
) -> None:
    await callback.answer()
    await state.set_state(Schedule.hours)
    await state.set_data({"weekday": callback_data.weekday})
    if (message := _message(callback)) is not None:
        await message.answer(_("worker.schedule.ask_hours"))


@router.callback_query(ScheduleCb.filter(F.action.in_({"extra", "day_off"})))
async def ask_date(callback: CallbackQuery, callback_data: ScheduleCb, state: FSMContext) -> None:
    await callback.answer()
    await state.set_state(Schedule.day_off if callback_data.action == "day_off"
                          else Schedule.extra_day)
    await state.set_data({})
    if (message := _message(callback)) is not None:
        await message.answer(_("worker.schedule.ask_day"))


def zone_keyboard(zones: tuple[WorkZone, ...]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for zone in zones:
        builder.button(text=zone.name, callback_data=ZoneCb(zone=zone.id))
    builder.adjust(2)
    return builder.as_markup()


@router.message(Schedule.hours, F.text)
async def hours_written(
    message: Message, state: FSMContext, db: Database, config: Config, clock: Clock,
    worker: WorkerCard, lang: str,
) -> None:
    hours = parse_hours(message.text or "")
    if hours is None:
        await message.answer(_("worker.schedule.bad_hours"))
        return
    data = await state.update_data({"starts": f"{hours[0]:%H:%M}", "ends": f"{hours[1]:%H:%M}"})
    zones = await worker_zones(db, worker_id=worker.id)
    if len(zones) > 1:
        await state.set_state(Schedule.zone)
        await message.answer(_("worker.schedule.choose_zone"), reply_markup=zone_keyboard(zones))
        return
    await _save(message, state, data, zones[0].id if zones else None, db, config, clock, worker,
                lang)


@router.callback_query(ZoneCb.filter())
async def zone_chosen(
    callback: CallbackQuery, callback_data: ZoneCb, state: FSMContext, raw_state: str | None,
    db: Database, config: Config, clock: Clock, worker: WorkerCard, lang: str,
) -> None:
    message = _message(callback)
    if raw_state != Schedule.zone.state or message is None:
        await callback.answer(_("worker.stale"), show_alert=True)
        return
    await callback.answer()
    # Back to the hours first: if core refuses them (an overlap), the worker writes others.
    await state.set_state(Schedule.hours)
    await _save(message, state, await state.get_data(), callback_data.zone, db, config, clock,
                worker, lang)


@router.message(Schedule.zone)
async def zone_expected(message: Message, db: Database, worker: WorkerCard) -> None:
    zones = await worker_zones(db, worker_id=worker.id)
    await message.answer(_("worker.schedule.use_buttons"), reply_markup=zone_keyboard(zones))


async def _save(
    message: Message, state: FSMContext, data: dict[str, Any], zone_id: int | None,
    db: Database, config: Config, clock: Clock, worker: WorkerCard, lang: str,
) -> None:
    """Weekly hours from today on, or extra hours on the chosen date, in ``zone_id``."""
    starts, ends = time.fromisoformat(data["starts"]), time.fromisoformat(data["ends"])
    if "weekday" in data:
        today = clock.now().astimezone(config.company.tz).date()
        await add_shift_pattern(db, worker_id=worker.id, weekday=data["weekday"], starts=starts,
                                ends=ends, valid_from=today, zone_id=zone_id)
    else:
        await add_shift_exception(db, worker_id=worker.id, day=date.fromisoformat(data["day"]),
                                  kind=ShiftExceptionKind.EXTRA, starts=starts, ends=ends,
                                  zone_id=zone_id)
    await state.clear()
    await show_schedule(message, db, config, clock, worker, lang, _("worker.schedule.saved"))


@router.message(Schedule.extra_day, F.text)
async def extra_day_written(
    message: Message, state: FSMContext, config: Config, clock: Clock
) -> None:
    today = clock.now().astimezone(config.company.tz).date()
    day = parse_day(message.text or "", today)
    if day is None:
        await message.answer(_("worker.schedule.bad_day"))
        return
    await state.set_state(Schedule.hours)
    await state.set_data({"day": day.isoformat()})
    await message.answer(_("worker.schedule.ask_hours"))


@router.message(Schedule.day_off, F.text)
async def day_off_written(
    message: Message, state: FSMContext, db: Database, config: Config, clock: Clock,
    worker: WorkerCard, lang: str,
) -> None:
    today = clock.now().astimezone(config.company.tz).date()
    day = parse_day(message.text or "", today)
    if day is None:
        await message.answer(_("worker.schedule.bad_day"))
        return
    await add_shift_exception(db, worker_id=worker.id, day=day, kind=ShiftExceptionKind.OFF)
    await state.clear()
    await show_schedule(message, db, config, clock, worker, lang, _("worker.schedule.saved"))
