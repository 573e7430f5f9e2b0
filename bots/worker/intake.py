"""Items from the customer's door to the workshop and back: picked up, each item with defects
and photos, the inspection finished and the customer asked to agree in the customer bot; once
produced, the items are marked ready and taken out for delivery (handing them over with the
payment is in :mod:`bots.worker.actions`)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bots.worker.cards import show_card
from bots.worker.keyboards import JobCb, StepCb, step_button
from bots.worker.photos import keep_photo
from bots.worker.states import Intake
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.intake import (
    add_intake_item,
    finish_inspection,
    finish_production,
    hand_back_items,
    pick_up_items,
    return_items,
    take_out_for_delivery,
)
from core.invites import WorkerCard
from core.photos import attach_photo

router = Router(name="worker-intake")
MAX_TEXT = 500


def _message(callback: CallbackQuery) -> Message | None:
    return callback.message if isinstance(callback.message, Message) else None


@router.callback_query(JobCb.filter(F.act.in_({"pick", "inspect"})))
async def pick_or_inspect(
    callback: CallbackQuery, callback_data: JobCb, db: Database, config: Config, clock: Clock,
    worker: WorkerCard, lang: str,
) -> None:
    act = pick_up_items if callback_data.act == "pick" else finish_inspection
    order = await act(db, worker_id=worker.id, order_id=callback_data.order, now=clock.now())
    await callback.answer()
    note = _("worker.intake.asked") if callback_data.act == "inspect" else None
    if (message := _message(callback)) is not None:
        await show_card(message, db, config, worker, order.id, lang, note=note)


@router.callback_query(JobCb.filter(F.act.in_({"ready", "dispatch"})))
async def ready_or_dispatch(
    callback: CallbackQuery, callback_data: JobCb, db: Database, config: Config, clock: Clock,
    worker: WorkerCard, lang: str,
) -> None:
    act = finish_production if callback_data.act == "ready" else take_out_for_delivery
    order = await act(db, worker_id=worker.id, order_id=callback_data.order, now=clock.now())
    await callback.answer()
    note = _("worker.ready.done") if callback_data.act == "ready" else _("worker.dispatch.done")
    if (message := _message(callback)) is not None:
        await show_card(message, db, config, worker, order.id, lang, note=note)


@router.callback_query(JobCb.filter(F.act.in_({"take_back", "returned"})))
async def bring_items_back(
    callback: CallbackQuery, callback_data: JobCb, db: Database, config: Config, clock: Clock,
    worker: WorkerCard, lang: str,
) -> None:
    """The customer did not agree: the items go back untreated, then the order is done."""
    if callback_data.act == "take_back":
        order = await return_items(db, worker_id=worker.id, order_id=callback_data.order,
                                   reason=_("worker.return.reason"), now=clock.now())
        note = _("worker.return.on_the_way")
    else:
        order = await hand_back_items(
            db, worker_id=worker.id, order_id=callback_data.order, now=clock.now(),
            confirmation_required=config.workers.manager_confirmation_required,
        )
        note = _("worker.return.done")
    await callback.answer()
    if (message := _message(callback)) is not None:
        await show_card(message, db, config, worker, order.id, lang, note=note)


@router.callback_query(JobCb.filter(F.act == "item"))
async def ask_item(callback: CallbackQuery, callback_data: JobCb, state: FSMContext) -> None:
    await callback.answer()
    await state.set_state(Intake.description)
    await state.set_data({"order_id": callback_data.order})
    if (message := _message(callback)) is not None:
        await message.answer(_("worker.intake.ask_item"))


@router.message(Intake.description, F.text)
async def item_described(message: Message, state: FSMContext) -> None:
    if len(message.text or "") > MAX_TEXT:
        await message.answer(_("worker.too_long").format(limit=MAX_TEXT))
        return
    await state.update_data({"description": message.text})
    await state.set_state(Intake.defects)
    await message.answer(_("worker.intake.ask_defects"),
                         reply_markup=step_button(_("worker.intake.no_defects"), "no_defects"))


async def _record_item(
    message: Message, state: FSMContext, db: Database, clock: Clock, worker: WorkerCard,
    defects: str,
) -> None:
    data = await state.get_data()
    item = await add_intake_item(db, worker_id=worker.id, order_id=data["order_id"],
                                 description=data["description"], defects=defects,
                                 now=clock.now())
    await state.set_state(Intake.photos)
    await state.set_data({"order_id": item.order_id, "item_id": item.id})
    await message.answer(_("worker.intake.ask_photos"))


@router.message(Intake.defects, F.text)
async def defects_written(
    message: Message, state: FSMContext, db: Database, clock: Clock, worker: WorkerCard
) -> None:
    if len(message.text or "") > MAX_TEXT:
        await message.answer(_("worker.too_long").format(limit=MAX_TEXT))
        return
    await _record_item(message, state, db, clock, worker, message.text or "")


@router.callback_query(Intake.defects, StepCb.filter(F.action == "no_defects"))
async def no_defects(
    callback: CallbackQuery, state: FSMContext, db: Database, clock: Clock, worker: WorkerCard
) -> None:
    await callback.answer()
    if (message := _message(callback)) is not None:
        await _record_item(message, state, db, clock, worker, "")


@router.message(Intake.photos, F.photo)
async def item_photo(
    message: Message, state: FSMContext, bot: Bot, db: Database, config: Config, clock: Clock,
    worker: WorkerCard,
) -> None:
    data = await state.get_data()
    path = await keep_photo(message, bot, config, data["order_id"])
    assert message.photo
    photo = await attach_photo(db, worker_id=worker.id, order_id=data["order_id"],
                               kind="intake", item_id=data["item_id"], path=str(path),
                               now=clock.now(), telegram_file_id=message.photo[-1].file_id)
    await message.answer(_("worker.photo.saved").format(count=photo.photos_of_kind),
                         reply_markup=step_button(_("worker.photo.done"), "photos_done"))
