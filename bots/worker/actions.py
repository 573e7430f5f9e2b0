"""Doing the job: on the way, start, pause with a reason, resume, complete with the payment
(or, for items from the workshop, hand them over with the payment), and the worker's own
comment."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bots.worker.cards import show_card
from bots.worker.errors import refusal
from bots.worker.keyboards import JobCb, PayCb, StepCb, payment_keyboard, step_button
from bots.worker.states import Comment, Complete, Pause
from bots.worker.views import money
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.errors import TransitionRefused
from core.intake import deliver_items
from core.invites import WorkerCard
from core.jobs import (
    MAX_COMMENT,
    complete_job,
    job_card,
    pause_job,
    resume_job,
    set_off,
    set_worker_comment,
    start_job,
)
from core.orders import OrderView
from core.slots import SlotRules
from core.workflows import Status, WorkflowKind

router = Router(name="worker-actions")
MAX_TEXT = 500


def parse_amount(text: str) -> int | None:
    """"1500", "1 500", "1500,50" → minor units; None when it is not an amount."""
    cleaned = text.replace(" ", "").replace("\xa0", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if value < 0 or value != value.quantize(Decimal("0.01")) or value > 10_000_000:
        return None
    return int(value * 100)


def parse_count(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) <= 6 else None


def _message(callback: CallbackQuery) -> Message | None:
    return callback.message if isinstance(callback.message, Message) else None


@router.callback_query(JobCb.filter(F.act.in_({"go", "start", "resume"})))
async def simple_step(
    callback: CallbackQuery, callback_data: JobCb, db: Database, config: Config, clock: Clock,
    rules: SlotRules, worker: WorkerCard, lang: str,
) -> None:
    args: dict[str, Any] = {"worker_id": worker.id, "order_id": callback_data.order,
                            "now": clock.now()}
    if callback_data.act == "go":
        order = await set_off(db, rules=rules, **args)
    elif callback_data.act == "start":
        order = await start_job(db, **args)
    else:
        order = await resume_job(db, **args)
    await callback.answer()
    if (message := _message(callback)) is not None:
        await show_card(message, db, config, worker, order.id, lang)


@router.callback_query(JobCb.filter(F.act == "pause"))
async def ask_pause_reason(
    callback: CallbackQuery, callback_data: JobCb, state: FSMContext
) -> None:
    await callback.answer()
    await state.set_state(Pause.reason)
    await state.set_data({"order_id": callback_data.order})
    if (message := _message(callback)) is not None:
        await message.answer(_("worker.pause.ask"))


@router.message(Pause.reason, F.text)
async def pause_with_reason(
    message: Message, state: FSMContext, db: Database, config: Config, clock: Clock,
    worker: WorkerCard, lang: str,
) -> None:
    if len(message.text or "") > MAX_TEXT:
        await message.answer(_("worker.too_long").format(limit=MAX_TEXT))
        return
    order_id = (await state.get_data())["order_id"]
    await pause_job(db, worker_id=worker.id, order_id=order_id, reason=message.text or "",
                    now=clock.now())
    await state.clear()
    await show_card(message, db, config, worker, order_id, lang)


FINISHING = {"complete": Status.COMPLETED, "hand_over": Status.DELIVERED}
"""The job's last step with the payment, and the status it leads to."""


def _finishing(workflow: str) -> str:
    return "hand_over" if workflow == WorkflowKind.PICKUP_DELIVERY else "complete"


async def _finish_job(
    db: Database, config: Config, clock: Clock, worker: WorkerCard, act: str, order_id: int,
    **payment: Any,
) -> OrderView:
    finish = complete_job if act == "complete" else deliver_items
    return await finish(
        db, worker_id=worker.id, order_id=order_id, now=clock.now(), referrals=config.referrals,
        confirmation_required=config.workers.manager_confirmation_required, **payment,
    )


def _done(act: str) -> str:
    return _("worker.complete.done") if act == "complete" else _("worker.hand_over.done")


@router.callback_query(JobCb.filter(F.act.in_(FINISHING)))
async def try_finish(
    callback: CallbackQuery, callback_data: JobCb, db: Database, config: Config, clock: Clock,
    worker: WorkerCard, lang: str,
) -> None:
    """Finish as it stands; core says what is missing (the payment), which is asked next."""
    await callback.answer()
    message = _message(callback)
    try:
        order = await _finish_job(db, config, clock, worker, callback_data.act,
                                  callback_data.order)
    except TransitionRefused as refused:
        if refused.key != "workflow.payment_not_recorded":
            raise
        if message is not None:
            await message.answer(refusal(refused, lang) + "\n" + _("worker.pay.ask"),
                                 reply_markup=payment_keyboard(callback_data.order))
        return
    if message is not None:
        await show_card(message, db, config, worker, order.id, lang,
                        note=_done(callback_data.act))


@router.callback_query(PayCb.filter())
async def payment_chosen(
    callback: CallbackQuery, callback_data: PayCb, state: FSMContext, db: Database,
    config: Config, worker: WorkerCard, lang: str,
) -> None:
    card = await job_card(db, worker_id=worker.id, order_id=callback_data.order,
                          confirmation_required=config.workers.manager_confirmation_required)
    act = _finishing(card.order.workflow)
    if FINISHING[act] not in card.allowed:
        # A payment button under a job already finished, or not yet ready to finish.
        await callback.answer(_("worker.stale"), show_alert=True)
        return
    await callback.answer()
    await state.set_state(Complete.amount)
    await state.set_data({"order_id": callback_data.order, "method": callback_data.method,
                          "act": act})
    if (message := _message(callback)) is not None:
        total = money(card.order.total, config.company.currency, lang)
        await message.answer(_("worker.pay.ask_amount").format(total=total),
                             reply_markup=step_button(_("worker.pay.full"), "full_amount"))


async def _next(message: Message, state: FSMContext, key: str, value: int | None) -> None:
    await state.update_data({key: value})
    if key == "amount":
        await state.set_state(Complete.tips)
        await message.answer(_("worker.pay.ask_tips"),
                             reply_markup=step_button(_("worker.pay.no_tips"), "no_tips"))
    elif key == "tips":
        await state.set_state(Complete.mileage)
        await message.answer(_("worker.pay.ask_mileage"),
                             reply_markup=step_button(_("worker.pay.no_mileage"), "no_mileage"))


async def _finish(
    message: Message, state: FSMContext, db: Database, config: Config, clock: Clock,
    worker: WorkerCard, lang: str, mileage: int,
) -> None:
    data = await state.get_data()
    act = data.get("act", "complete")
    order = await _finish_job(
        db, config, clock, worker, act, data["order_id"], payment_method=data["method"],
        amount_received=data.get("amount"), tips=data.get("tips") or 0, mileage_km=mileage,
    )
    await state.clear()
    await show_card(message, db, config, worker, order.id, lang, note=_done(act))


@router.message(Complete.amount, F.text)
async def amount_written(message: Message, state: FSMContext) -> None:
    amount = parse_amount(message.text or "")
    if amount is None:
        await message.answer(_("worker.pay.bad_amount"))
        return
    await _next(message, state, "amount", amount)


@router.message(Complete.tips, F.text)
async def tips_written(message: Message, state: FSMContext) -> None:
    tips = parse_amount(message.text or "")
    if tips is None:
        await message.answer(_("worker.pay.bad_amount"))
        return
    await _next(message, state, "tips", tips)


@router.message(Complete.mileage, F.text)
async def mileage_written(
    message: Message, state: FSMContext, db: Database, config: Config, clock: Clock,
    worker: WorkerCard, lang: str,
) -> None:
    mileage = parse_count(message.text or "")
    if mileage is None:
        await message.answer(_("worker.pay.bad_count"))
        return
    await _finish(message, state, db, config, clock, worker, lang, mileage)


@router.callback_query(StepCb.filter(F.action.in_({"full_amount", "no_tips", "no_mileage"})))
async def step_skipped(
    callback: CallbackQuery, callback_data: StepCb, state: FSMContext, raw_state: str | None,
    db: Database, config: Config, clock: Clock, worker: WorkerCard, lang: str,
) -> None:
    expected = {"full_amount": Complete.amount.state, "no_tips": Complete.tips.state,
                "no_mileage": Complete.mileage.state}[callback_data.action]
    message = _message(callback)
    if raw_state != expected or message is None:
        await callback.answer(_("worker.stale"))
        return
    await callback.answer()
    if callback_data.action == "full_amount":
        await _next(message, state, "amount", None)
    elif callback_data.action == "no_tips":
        await _next(message, state, "tips", 0)
    else:
        await _finish(message, state, db, config, clock, worker, lang, 0)


@router.callback_query(JobCb.filter(F.act == "comment"))
async def ask_comment(callback: CallbackQuery, callback_data: JobCb, state: FSMContext) -> None:
    await callback.answer()
    await state.set_state(Comment.text)
    await state.set_data({"order_id": callback_data.order})
    if (message := _message(callback)) is not None:
        await message.answer(_("worker.comment.ask"))


@router.message(Comment.text, F.text)
async def comment_written(
    message: Message, state: FSMContext, db: Database, config: Config, worker: WorkerCard,
    lang: str,
) -> None:
    if len(message.text or "") > MAX_COMMENT:
        await message.answer(_("worker.too_long").format(limit=MAX_COMMENT))
        return
    order_id = (await state.get_data())["order_id"]
    await set_worker_comment(db, worker_id=worker.id, order_id=order_id,
                             comment=message.text or "")
    await state.clear()
    await show_card(message, db, config, worker, order_id, lang)
