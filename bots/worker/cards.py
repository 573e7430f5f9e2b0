"""The job card: what the worker needs on site and only the actions allowed now."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bots.worker.keyboards import JobCb, MenuCb, OfferCb
from bots.worker.views import card_text
from core.config import Config
from core.db import Database
from core.invites import WorkerCard
from core.jobs import JobCard, job_card
from core.workflows import Status, WorkflowKind

ON_SITE = (Status.IN_PROGRESS, Status.PAUSED)


def card_keyboard(card: JobCard) -> InlineKeyboardMarkup:
    order = card.order
    status = Status(order.status)
    builder = InlineKeyboardBuilder()

    def act(text: str, code: str) -> None:
        builder.button(text=text, callback_data=JobCb(order=order.id, act=code))

    for target in card.allowed:
        if target == Status.ACCEPTED:
            builder.button(text=_("worker.offer.accept"),
                           callback_data=OfferCb(order=order.id, accept=True))
        elif target == Status.CONFIRMED and status == Status.ASSIGNED:
            builder.button(text=_("worker.offer.decline"),
                           callback_data=OfferCb(order=order.id, accept=False))
        elif target == Status.ON_THE_WAY:
            act(_("worker.act.go"), "go")
        elif target == Status.IN_PROGRESS:
            act(_("worker.act.resume") if status == Status.PAUSED else _("worker.act.start"),
                "resume" if status == Status.PAUSED else "start")
        elif target == Status.PAUSED:
            act(_("worker.act.pause"), "pause")
        elif target == Status.COMPLETED:
            act(_("worker.act.complete"), "complete")
        elif target == Status.PICKED_UP:
            act(_("worker.act.pick"), "pick")
        elif target == Status.INSPECTED:
            act(_("worker.act.inspect"), "inspect")
        elif target == Status.READY:
            act(_("worker.act.ready"), "ready")
        elif target == Status.OUT_FOR_DELIVERY:
            act(_("worker.act.dispatch"), "dispatch")
        elif target == Status.RETURNING:
            act(_("worker.act.take_back"), "take_back")
        elif target == Status.RETURNED:
            act(_("worker.act.returned"), "returned")
        elif target == Status.DELIVERED and order.workflow == WorkflowKind.PICKUP_DELIVERY:
            act(_("worker.act.hand_over"), "hand_over")
        elif target == Status.DELIVERED:
            act(_("worker.act.deliver"), "deliver")
    if status == Status.PICKED_UP:
        act(_("worker.act.item"), "item")
    if status in ON_SITE or status == Status.PICKED_UP:
        act(_("worker.act.extra"), "extra")
    if status in ON_SITE:
        act(_("worker.act.before"), "before")
        act(_("worker.act.after"), "after")
    act(_("worker.act.comment"), "comment")
    if order.lat is not None and order.lon is not None:
        act(_("worker.act.map"), "map")
    builder.button(text=_("worker.menu.home"), callback_data=MenuCb(action="home"))
    builder.adjust(2)
    return builder.as_markup()


async def card_view(
    db: Database, config: Config, worker: WorkerCard, order_id: int, lang: str,
    *, note: str | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    """The job card's text (HTML) and buttons."""
    card = await job_card(
        db, worker_id=worker.id, order_id=order_id,
        confirmation_required=config.workers.manager_confirmation_required,
    )
    text = card_text(card, config.company.tz, lang, config.company.currency)
    if note:
        text = f"{note}\n\n{text}"
    return text, card_keyboard(card)


async def show_card(
    message: Message, db: Database, config: Config, worker: WorkerCard, order_id: int,
    lang: str, *, note: str | None = None,
) -> None:
    text, keyboard = await card_view(db, config, worker, order_id, lang, note=note)
    await message.answer(text, reply_markup=keyboard, disable_web_page_preview=True)
