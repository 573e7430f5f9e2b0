"""My orders: upcoming and past, an order's card, rescheduling and cancelling it."""

from __future__ import annotations

from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, User
from aiogram.utils.i18n import gettext as _

from bots.customer.dialog import Answer, menu_after, reset, show_menu, too_long
from bots.customer.keyboards import Buttons, DayCb, MenuCb, OrderCb, SlotCb, StepCb
from bots.customer.states import Cancel, Reschedule
from bots.customer.times import (
    Job,
    TimeDeps,
    ask_time,
    offer_alternatives,
    offer_day,
    offer_for_text,
    slot_start,
)
from bots.customer.views import moment, order_card, order_line
from core.booking import reschedule_order
from core.clients import get_client
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.errors import NotFound, SlotTaken
from core.geo import Point
from core.orders import OrderView, change_status, client_orders, get_order
from core.slots import SlotRules
from core.workflows import OrderFacts, Status, allowed_targets, workflow

router = Router(name="orders")


def _message(callback: CallbackQuery) -> Message | None:
    return callback.message if isinstance(callback.message, Message) else None


async def _own_order(db: Database, order_id: int, client_id: int | None) -> OrderView:
    order = await get_order(db, order_id=order_id)
    if client_id is None or order.client_id != client_id:
        raise NotFound("not_found", entity="order", ref=order.number)
    return order


def _job(order: OrderView) -> Job:
    point = Point(order.lat, order.lon) if order.lat is not None and order.lon is not None else None
    line = order.lines[0]
    return Job(
        service_id=line.service_id, quantity=line.quantity, client_id=order.client_id,
        point=point, address_id=None if point else order.address_id,
    )


@router.callback_query(MenuCb.filter(F.action == "orders"))
async def list_orders(
    callback: CallbackQuery, state: FSMContext, db: Database, clock: Clock, rules: SlotRules,
    client_id: int | None, lang: str,
) -> None:
    await callback.answer()
    await reset(state)
    message = _message(callback)
    if message is None:
        return
    if client_id is None:
        await show_menu(message, _("orders.none"))
        return
    orders = await client_orders(db, client_id=client_id, now=clock.now(), limit=8)
    if not orders.upcoming and not orders.past:
        await show_menu(message, _("orders.none"))
        return
    builder = Buttons()
    lines = []
    if orders.upcoming:
        lines.append(_("orders.upcoming"))
    for order in orders.upcoming:
        builder.button(text=order_line(order, rules.tz, lang),
                       callback_data=OrderCb(id=order.id, action="view"))
        lines.append(order_line(order, rules.tz, lang))
    if orders.past:
        lines.append(_("orders.past"))
    for order in orders.past[:5]:
        builder.button(text=order_line(order, rules.tz, lang),
                       callback_data=OrderCb(id=order.id, action="view"))
        lines.append(order_line(order, rules.tz, lang))
    builder.button(text=_("menu.home"), callback_data=MenuCb(action="home"))
    builder.adjust(1)
    await message.answer("\n".join(lines), reply_markup=builder.as_markup())


def _card_markup(order: OrderView) -> InlineKeyboardMarkup:
    facts = OrderFacts(status=Status(order.status), worker_id=order.worker_id,
                       payment_method=order.payment_method)
    builder = Buttons()
    if Status(order.status) in workflow(order.workflow).editable:
        builder.button(text=_("orders.reschedule"),
                       callback_data=OrderCb(id=order.id, action="reschedule"))
    if Status.CANCELLED in allowed_targets(order.workflow, facts):
        builder.button(text=_("orders.cancel"), callback_data=OrderCb(id=order.id, action="cancel"))
    builder.button(text=_("menu.orders"), callback_data=MenuCb(action="orders"))
    builder.adjust(1)
    return builder.as_markup()


async def show_card(
    message: Message, order: OrderView, db: Database, config: Config, rules: SlotRules,
    lang: str,
) -> None:
    card = await get_client(db, client_id=order.client_id)
    address = next((a.text for a in card.addresses if a.id == order.address_id), "")
    text = order_card(order, address, rules.tz, config.company.currency, lang)
    await message.answer(text, reply_markup=_card_markup(order))


@router.callback_query(OrderCb.filter(F.action == "view"))
async def view_order(
    callback: CallbackQuery, callback_data: OrderCb, state: FSMContext, db: Database,
    config: Config, rules: SlotRules, client_id: int | None, lang: str,
) -> None:
    await callback.answer()
    await reset(state)
    order = await _own_order(db, callback_data.id, client_id)
    message = _message(callback)
    if message is not None:
        await show_card(message, order, db, config, rules, lang)


# --- reschedule ----------------------------------------------------------------------------------


@router.callback_query(OrderCb.filter(F.action == "reschedule"))
async def start_reschedule(
    callback: CallbackQuery, callback_data: OrderCb, state: FSMContext, db: Database,
    client_id: int | None,
) -> Answer | None:
    await callback.answer()
    await _own_order(db, callback_data.id, client_id)
    await reset(state)
    await state.set_state(Reschedule.time)
    await state.update_data(order_id=callback_data.id)
    message = _message(callback)
    return None if message is None else ask_time(message)


def _deps(db: Database, config: Config, clock: Clock, rules: SlotRules, lang: str) -> TimeDeps:
    return TimeDeps(db=db, config=config, clock=clock, rules=rules, lang=lang)


@router.message(Reschedule.time, F.text)
async def reschedule_time_written(
    message: Message, dialog: dict[str, Any], db: Database, config: Config, clock: Clock,
    rules: SlotRules, lang: str,
) -> Answer | None:
    if await too_long(message):
        return None
    order = await _own_order(db, dialog["order_id"], dialog.get("client_id"))
    return await offer_for_text(message, message.text or "", _job(order),
                                _deps(db, config, clock, rules, lang))


@router.callback_query(Reschedule.time, DayCb.filter())
async def reschedule_day(
    callback: CallbackQuery, callback_data: DayCb, dialog: dict[str, Any], db: Database,
    config: Config, clock: Clock, rules: SlotRules, lang: str,
) -> Answer | None:
    await callback.answer()
    order = await _own_order(db, dialog["order_id"], dialog.get("client_id"))
    message = _message(callback)
    if message is None:
        return None
    return await offer_day(message, callback_data.day, _job(order),
                           _deps(db, config, clock, rules, lang))


@router.callback_query(Reschedule.time, SlotCb.filter())
async def reschedule_slot(
    callback: CallbackQuery, callback_data: SlotCb, state: FSMContext, dialog: dict[str, Any],
    event_from_user: User, db: Database, config: Config, clock: Clock, rules: SlotRules,
    lang: str,
) -> Answer | None:
    await callback.answer()
    start = slot_start(callback_data, rules)
    message = _message(callback)
    try:
        booking = await reschedule_order(
            db, order_id=dialog["order_id"], start=start, now=clock.now(), rules=rules,
            actor=f"telegram:{event_from_user.id}", client_id=dialog.get("client_id"),
        )
    except SlotTaken as err:
        if message is None:
            return None
        order = await _own_order(db, dialog["order_id"], dialog.get("client_id"))
        return await offer_alternatives(message, start, _job(order),
                                        _deps(db, config, clock, rules, lang),
                                        _("booking.slot_taken"), err.alternatives)
    await reset(state)
    order = booking.order
    text = _("orders.rescheduled").format(
        number=order.number, when=moment(order.starts_at, rules.tz, lang)
    )
    return menu_after(callback, text)


# --- cancel --------------------------------------------------------------------------------------


@router.callback_query(OrderCb.filter(F.action == "cancel"))
async def start_cancel(
    callback: CallbackQuery, callback_data: OrderCb, state: FSMContext, db: Database,
    client_id: int | None,
) -> None:
    await callback.answer()
    order = await _own_order(db, callback_data.id, client_id)
    await reset(state)
    await state.set_state(Cancel.reason)
    await state.update_data(order_id=order.id, number=order.number)
    message = _message(callback)
    if message is not None:
        await message.answer(_("orders.ask_reason").format(number=order.number),
                             reply_markup=cancel_markup())


def cancel_markup() -> InlineKeyboardMarkup:
    builder = Buttons()
    builder.button(text=_("orders.reason_plans"), callback_data=StepCb(action="plans_changed"))
    builder.button(text=_("orders.keep"), callback_data=MenuCb(action="home"))
    builder.adjust(1)
    return builder.as_markup()


async def _cancel(
    target: Message, reason: str, state: FSMContext, dialog: dict[str, Any], user: User,
    db: Database, clock: Clock,
) -> None:
    order = await _own_order(db, dialog["order_id"], dialog.get("client_id"))
    cancelled = await change_status(
        db, order_id=order.id, target=Status.CANCELLED.value, actor=f"telegram:{user.id}",
        now=clock.now(), reason=reason,
    )
    await reset(state)
    await show_menu(target, _("orders.cancelled").format(number=cancelled.number))


@router.message(Cancel.reason, F.text)
async def reason_written(
    message: Message, state: FSMContext, dialog: dict[str, Any], event_from_user: User,
    db: Database, clock: Clock,
) -> None:
    if await too_long(message):
        return
    reason = (message.text or "").strip()
    await _cancel(message, reason, state, dialog, event_from_user, db, clock)


@router.callback_query(Cancel.reason, StepCb.filter(F.action == "plans_changed"))
async def plans_changed(
    callback: CallbackQuery, state: FSMContext, dialog: dict[str, Any], event_from_user: User,
    db: Database, clock: Clock,
) -> None:
    await callback.answer()
    message = _message(callback)
    if message is not None:
        await _cancel(message, _("orders.reason_plans"), state, dialog, event_from_user, db,
                      clock)


async def reprompt(message: Message, state_name: str, dialog: dict[str, Any]) -> Answer | None:
    if state_name == Reschedule.time.state:
        return ask_time(message)
    if state_name == Cancel.reason.state:
        number = escape(str(dialog.get("number", "")))
        return message.answer(_("orders.ask_reason").format(number=number),
                              reply_markup=cancel_markup())
    return None
