"""Today, tomorrow, the month; opening a job card and its place on the map."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bots.worker.cards import show_card
from bots.worker.keyboards import DayCb, JobCb, MenuCb, home_button
from bots.worker.views import job_line, month_calendar
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.invites import WorkerCard
from core.jobs import job_card, worker_jobs

router = Router(name="worker-days")


def _message(callback: CallbackQuery) -> Message | None:
    return callback.message if isinstance(callback.message, Message) else None


async def show_day(
    message: Message, db: Database, config: Config, clock: Clock, worker: WorkerCard,
    day: date, lang: str,
) -> None:
    tz = config.company.tz
    today = clock.now().astimezone(tz).date()
    jobs = await worker_jobs(db, worker_id=worker.id, first=day, last=day, tz=tz,
                             now=clock.now(), items_held=day == today)
    title = _("worker.day.title").format(day=f"{day:%d.%m.%Y}")
    if not jobs:
        await message.answer(f"{title}\n{_('worker.day.none')}", reply_markup=home_button())
        return
    builder = InlineKeyboardBuilder()
    for job in jobs:
        builder.button(text=f"№{job.number} {job.starts_at.astimezone(tz):%H:%M}",
                       callback_data=JobCb(order=job.id, act="view"))
    builder.adjust(2)
    lines = [job_line(job, tz, lang, day) for job in jobs]
    await message.answer("\n".join([title, *lines]), reply_markup=home_button(builder))


@router.callback_query(MenuCb.filter(F.action.in_({"today", "tomorrow"})))
async def today_or_tomorrow(
    callback: CallbackQuery, callback_data: MenuCb, state: FSMContext, db: Database,
    config: Config, clock: Clock, worker: WorkerCard, lang: str,
) -> None:
    await callback.answer()
    await state.clear()
    today = clock.now().astimezone(config.company.tz).date()
    day = today if callback_data.action == "today" else today + timedelta(days=1)
    if (message := _message(callback)) is not None:
        await show_day(message, db, config, clock, worker, day, lang)


@router.callback_query(MenuCb.filter(F.action == "month"))
async def month(
    callback: CallbackQuery, state: FSMContext, db: Database, config: Config, clock: Clock,
    worker: WorkerCard, lang: str,
) -> None:
    await callback.answer()
    await state.clear()
    tz = config.company.tz
    first = clock.now().astimezone(tz).date().replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    jobs = await worker_jobs(db, worker_id=worker.id, first=first, last=last, tz=tz,
                             now=clock.now())
    counts = Counter(job.starts_at.astimezone(tz).date() for job in jobs)
    builder = InlineKeyboardBuilder()
    for day in sorted(counts):
        builder.button(text=f"{day:%d.%m} ({counts[day]})",
                       callback_data=DayCb(day=f"{day:%Y%m%d}"))
    builder.adjust(4)
    text = "\n".join([_("worker.month.title").format(month=f"{first:%m.%Y}"),
                      month_calendar(first, counts, lang),
                      _("worker.month.total").format(count=len(jobs))])
    if (message := _message(callback)) is not None:
        await message.answer(text, reply_markup=home_button(builder))


@router.callback_query(DayCb.filter())
async def one_day(
    callback: CallbackQuery, callback_data: DayCb, db: Database, config: Config, clock: Clock,
    worker: WorkerCard, lang: str,
) -> None:
    await callback.answer()
    try:
        day = date(int(callback_data.day[:4]), int(callback_data.day[4:6]),
                   int(callback_data.day[6:8]))
    except ValueError:
        return
    if (message := _message(callback)) is not None:
        await show_day(message, db, config, clock, worker, day, lang)


@router.callback_query(JobCb.filter(F.act == "view"))
async def open_job(
    callback: CallbackQuery, callback_data: JobCb, state: FSMContext, db: Database,
    config: Config, worker: WorkerCard, lang: str,
) -> None:
    await callback.answer()
    await state.clear()
    if (message := _message(callback)) is not None:
        await show_card(message, db, config, worker, callback_data.order, lang)


@router.callback_query(JobCb.filter(F.act == "map"))
async def show_on_map(
    callback: CallbackQuery, callback_data: JobCb, db: Database, worker: WorkerCard,
) -> None:
    await callback.answer()
    card = await job_card(db, worker_id=worker.id, order_id=callback_data.order)
    message = _message(callback)
    if message is not None and card.order.lat is not None and card.order.lon is not None:
        await message.answer_location(card.order.lat, card.order.lon)
