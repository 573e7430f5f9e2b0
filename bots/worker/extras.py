"""Extras on site: a service or goods from the catalog, the new total waiting for a manager."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bots.worker.actions import parse_count
from bots.worker.cards import show_card
from bots.worker.keyboards import ExtraCb, JobCb, home_button
from bots.worker.states import Extra
from bots.worker.views import money, name_in
from core.catalog import list_services
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.extras import propose_extra
from core.invites import WorkerCard

router = Router(name="worker-extras")


@router.callback_query(JobCb.filter(F.act == "extra"))
async def choose_extra(
    callback: CallbackQuery, callback_data: JobCb, state: FSMContext, db: Database,
    config: Config, lang: str,
) -> None:
    await callback.answer()
    await state.clear()
    builder = InlineKeyboardBuilder()
    for service in await list_services(db):
        price = money(service.price, config.company.currency, lang)
        builder.button(text=f"{name_in(service.names, lang)} — {price}",
                       callback_data=ExtraCb(order=callback_data.order, service=service.id))
    builder.adjust(1)
    if isinstance(callback.message, Message):
        await callback.message.answer(_("worker.extra.choose"), reply_markup=home_button(builder))


@router.callback_query(ExtraCb.filter())
async def extra_chosen(callback: CallbackQuery, callback_data: ExtraCb, state: FSMContext) -> None:
    await callback.answer()
    await state.set_state(Extra.quantity)
    await state.set_data({"order_id": callback_data.order, "service_id": callback_data.service})
    if isinstance(callback.message, Message):
        await callback.message.answer(_("worker.extra.ask_quantity"))


@router.message(Extra.quantity, F.text)
async def quantity_written(
    message: Message, state: FSMContext, db: Database, config: Config, clock: Clock,
    worker: WorkerCard, lang: str,
) -> None:
    quantity = parse_count(message.text or "")
    if quantity is None or quantity < 1:
        await message.answer(_("worker.pay.bad_count"))
        return
    data = await state.get_data()
    change = await propose_extra(db, worker_id=worker.id, order_id=data["order_id"],
                                 service_id=data["service_id"], quantity=quantity,
                                 now=clock.now())
    await state.clear()
    note = _("worker.extra.sent").format(
        service=name_in(change.service, lang),
        total=money(change.total_now, config.company.currency, lang),
    )
    await show_card(message, db, config, worker, change.order_id, lang, note=note)
