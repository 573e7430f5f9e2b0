"""The driver's route (water): stops in route order, bottles per stop, and "Break"."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bots.worker.actions import parse_count
from bots.worker.cards import show_card
from bots.worker.keyboards import JobCb, MenuCb, PayCb, home_button, payment_keyboard
from bots.worker.states import Breakdown, Deliver
from bots.worker.views import job_line
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.deliveries import deliver_stop, report_breakdown
from core.invites import WorkerCard
from core.jobs import worker_jobs
from core.workflows import WorkflowKind

router = Router(name="worker-route")


def _message(callback: CallbackQuery) -> Message | None:
    return callback.message if isinstance(callback.message, Message) else None


@router.callback_query(MenuCb.filter(F.action == "route"))
async def show_route(
    callback: CallbackQuery, state: FSMContext, db: Database, config: Config, clock: Clock,
    worker: WorkerCard, lang: str,
) -> None:
    await callback.answer()
    await state.clear()
    tz = config.company.tz
    today = clock.now().astimezone(tz).date()
    jobs = await worker_jobs(db, worker_id=worker.id, first=today, last=today, tz=tz,
                             now=clock.now())
    stops = sorted((job for job in jobs if job.workflow == WorkflowKind.DELIVERY),
                   key=lambda job: (job.starts_at, job.id))
    builder = InlineKeyboardBuilder()
    for stop in stops:
        builder.button(text=f"№{stop.number}", callback_data=JobCb(order=stop.id, act="view"))
    builder.button(text=_("worker.route.break"), callback_data=MenuCb(action="breakdown"))
    builder.adjust(3)
    lines = [f"{n}. {job_line(stop, tz, lang)}" for n, stop in enumerate(stops, 1)]
    text = "\n".join([_("worker.route.title"), *lines]) if stops else _("worker.route.none")
    if (message := _message(callback)) is not None:
        await message.answer(text, reply_markup=home_button(builder))


@router.callback_query(JobCb.filter(F.act == "deliver"))
async def ask_bottles(callback: CallbackQuery, callback_data: JobCb, state: FSMContext) -> None:
    await callback.answer()
    await state.set_state(Deliver.bottles)
    await state.set_data({"order_id": callback_data.order})
    if (message := _message(callback)) is not None:
        await message.answer(_("worker.deliver.ask_bottles"))


@router.message(Deliver.bottles, F.text)
async def bottles_written(message: Message, state: FSMContext) -> None:
    count = parse_count(message.text or "")
    if count is None:
        await message.answer(_("worker.pay.bad_count"))
        return
    await state.update_data({"bottles": count})
    await state.set_state(Deliver.empties)
    await message.answer(_("worker.deliver.ask_empties"))


@router.message(Deliver.empties, F.text)
async def empties_written(message: Message, state: FSMContext) -> None:
    count = parse_count(message.text or "")
    if count is None:
        await message.answer(_("worker.pay.bad_count"))
        return
    data = await state.update_data({"empties": count})
    await state.set_state(Deliver.payment)
    await message.answer(_("worker.pay.ask"), reply_markup=payment_keyboard(data["order_id"]))


@router.callback_query(Deliver.payment, PayCb.filter())
async def delivered(
    callback: CallbackQuery, callback_data: PayCb, state: FSMContext, db: Database,
    config: Config, clock: Clock, worker: WorkerCard, lang: str,
) -> None:
    data = await state.get_data()
    result = await deliver_stop(
        db, worker_id=worker.id, order_id=data["order_id"], bottles_delivered=data["bottles"],
        empties_collected=data["empties"], payment_method=callback_data.method, now=clock.now(),
        referrals=config.referrals,
        confirmation_required=config.workers.manager_confirmation_required,
    )
    await state.clear()
    await callback.answer()
    note = _("worker.deliver.done").format(bottles=result.client_bottles)
    if (message := _message(callback)) is not None:
        await show_card(message, db, config, worker, result.order.id, lang, note=note)


@router.callback_query(MenuCb.filter(F.action == "breakdown"))
async def ask_breakdown(callback: CallbackQuery, state: FSMContext) -> None:
    await callback.answer()
    await state.set_state(Breakdown.reason)
    await state.set_data({})
    if (message := _message(callback)) is not None:
        await message.answer(_("worker.route.ask_reason"))


@router.message(Breakdown.reason, F.text)
async def breakdown_reason(
    message: Message, state: FSMContext, db: Database, config: Config, clock: Clock,
    worker: WorkerCard,
) -> None:
    tz = config.company.tz
    result = await report_breakdown(db, worker_id=worker.id, reason=message.text or "",
                                    day=clock.now().astimezone(tz).date(), tz=tz,
                                    now=clock.now())
    await state.clear()
    await message.answer(
        _("worker.route.handed_back").format(orders=", ".join(result.handed_back) or "—"),
        reply_markup=home_button(),
    )
