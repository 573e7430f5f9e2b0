"""Earnings: per job by the payout scheme plus tips, and this week's and month's totals."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bots.worker.keyboards import MenuCb, home_button
from bots.worker.views import money
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.earnings import worker_earnings
from core.invites import WorkerCard

router = Router(name="worker-earnings")


@router.callback_query(MenuCb.filter(F.action == "earnings"))
async def earnings(
    callback: CallbackQuery, state: FSMContext, db: Database, config: Config, clock: Clock,
    worker: WorkerCard, lang: str,
) -> None:
    await callback.answer()
    await state.clear()
    tz, currency = config.company.tz, config.company.currency
    result = await worker_earnings(db, worker_id=worker.id,
                                   today=clock.now().astimezone(tz).date(), tz=tz)
    lines = [_("worker.earnings.title")]
    for job in result.jobs:
        lines.append(_("worker.earnings.job").format(
            day=f"{job.finished_at.astimezone(tz):%d.%m}", number=job.number,
            pay=money(job.pay, currency, lang), tips=money(job.tips, currency, lang),
        ))
    if not result.jobs:
        lines.append(_("worker.earnings.none"))
    lines.append(_("worker.earnings.week").format(total=money(result.week, currency, lang)))
    lines.append(_("worker.earnings.month").format(total=money(result.month, currency, lang)))
    if isinstance(callback.message, Message):
        await callback.message.answer("\n".join(lines), reply_markup=home_button())
