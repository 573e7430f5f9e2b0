"""Photos before and after the job: fetched through the Bot API into the configured folder."""

from __future__ import annotations

from pathlib import Path

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bots.worker.cards import show_card
from bots.worker.keyboards import JobCb, StepCb, step_button
from bots.worker.states import Intake, Photos
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.invites import WorkerCard
from core.photos import attach_photo, photo_path

router = Router(name="worker-photos")


def photo_folder(config: Config) -> Path:
    folder = Path(config.workers.photo_folder)
    return folder if folder.is_absolute() else config.path.parent / folder


async def keep_photo(message: Message, bot: Bot, config: Config, order_id: int) -> Path:
    """Download the largest size of the message's photo into storage; its path."""
    assert message.photo
    largest = message.photo[-1]
    path = photo_path(photo_folder(config), order_id, largest.file_unique_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    await bot.download(largest.file_id, destination=path)
    return path


@router.callback_query(JobCb.filter(F.act.in_({"before", "after"})))
async def ask_photo(callback: CallbackQuery, callback_data: JobCb, state: FSMContext) -> None:
    await callback.answer()
    await state.set_state(Photos.waiting)
    await state.set_data({"order_id": callback_data.order, "kind": callback_data.act})
    if isinstance(callback.message, Message):
        await callback.message.answer(
            _("worker.photo.ask"), reply_markup=step_button(_("worker.photo.done"), "photos_done")
        )


@router.message(Photos.waiting, F.photo)
async def photo_sent(
    message: Message, state: FSMContext, bot: Bot, db: Database, config: Config, clock: Clock,
    worker: WorkerCard,
) -> None:
    data = await state.get_data()
    path = await keep_photo(message, bot, config, data["order_id"])
    assert message.photo
    photo = await attach_photo(db, worker_id=worker.id, order_id=data["order_id"],
                               kind=data["kind"], path=str(path), now=clock.now(),
                               telegram_file_id=message.photo[-1].file_id)
    await message.answer(_("worker.photo.saved").format(count=photo.photos_of_kind),
                         reply_markup=step_button(_("worker.photo.done"), "photos_done"))


@router.callback_query(StepCb.filter(F.action == "photos_done"))
async def photos_done(
    callback: CallbackQuery, state: FSMContext, raw_state: str | None, db: Database,
    config: Config, worker: WorkerCard, lang: str,
) -> None:
    if raw_state not in (Photos.waiting.state, Intake.photos.state):
        await callback.answer(_("worker.stale"))
        return
    await callback.answer()
    order_id = (await state.get_data())["order_id"]
    await state.clear()
    if isinstance(callback.message, Message):
        await show_card(callback.message, db, config, worker, order_id, lang)
