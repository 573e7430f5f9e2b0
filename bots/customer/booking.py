"""Booking a visit: category → service (→ quantity) → address → time → phone → confirm.

Confirming is idempotent: the confirm screen carries a one-time token, and the booking is made
with the request key ``telegram:<user>:<token>``, which core books once however many taps,
retries or processes ask for it.
"""

from __future__ import annotations

import secrets
from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, User
from aiogram.utils.i18n import gettext as _

from bots.customer.catalog import shown_categories, shown_service, shown_services
from bots.customer.dialog import Answer, drop_reply_keyboard, menu_after, reset, too_long
from bots.customer.keyboards import (
    AddressCb,
    Buttons,
    CallMeCb,
    CategoryCb,
    ConfirmCb,
    DayCb,
    MenuCb,
    ServiceCb,
    SlotCb,
    StepCb,
    contact_keyboard,
    location_keyboard,
)
from bots.customer.states import Booking
from bots.customer.times import (
    Job,
    TimeDeps,
    ask_time,
    offer_alternatives,
    offer_day,
    offer_for_text,
    slot_start,
)
from bots.customer.views import moment, money, price, unit_name
from core.booking import book_visit, check_place
from core.catalog import find_service
from core.clients import get_client, register_client
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.errors import InvalidInput, SlotTaken
from core.geo import Point
from core.models import Channel
from core.phones import normalise_local_phone
from core.referrals import record_referral
from core.slots import SlotRules
from core.support import request_callback

router = Router(name="booking")

MAX_QUANTITY = 1000


def _deps(db: Database, config: Config, clock: Clock, rules: SlotRules, lang: str) -> TimeDeps:
    return TimeDeps(db=db, config=config, clock=clock, rules=rules, lang=lang)


def _message(callback: CallbackQuery) -> Message | None:
    return callback.message if isinstance(callback.message, Message) else None


# --- category and service ----------------------------------------------------------------------


@router.callback_query(MenuCb.filter(F.action == "book"))
async def start_booking(
    callback: CallbackQuery, state: FSMContext, db: Database, config: Config, lang: str
) -> Answer | None:
    await callback.answer()
    await reset(state)
    message = _message(callback)
    if message is None:
        return None
    return await ask_category(message, state, db, config, lang)


async def ask_category(
    message: Message, state: FSMContext, db: Database, config: Config, lang: str
) -> Answer:
    categories = await shown_categories(db)
    if len(categories) == 1:
        return await ask_service(message, state, db, config, lang, categories[0].id)
    await state.set_state(Booking.category)
    builder = Buttons()
    for category in categories:
        builder.button(text=category.name(lang), callback_data=CategoryCb(id=category.id))
    builder.button(text=_("menu.home"), callback_data=MenuCb(action="home"))
    builder.adjust(1)
    return message.answer(_("booking.ask_category"), reply_markup=builder.as_markup())


@router.callback_query(Booking.category, CategoryCb.filter())
async def category_chosen(
    callback: CallbackQuery, callback_data: CategoryCb, state: FSMContext, db: Database,
    config: Config, lang: str,
) -> Answer | None:
    await callback.answer()
    message = _message(callback)
    if message is None:
        return None
    return await ask_service(message, state, db, config, lang, callback_data.id)


async def ask_service(
    message: Message, state: FSMContext, db: Database, config: Config, lang: str,
    category_id: int,
) -> Answer:
    services = [s for s in await shown_services(db) if s.category_id == category_id]
    await state.set_state(Booking.service)
    builder = Buttons()
    for service in services:
        label = f"{service.name(lang)} — {price(service, config.company.currency, lang)}"
        builder.button(text=label, callback_data=ServiceCb(id=service.id))
    builder.button(text=_("menu.home"), callback_data=MenuCb(action="home"))
    builder.adjust(1)
    return message.answer(_("booking.ask_service"), reply_markup=builder.as_markup())


@router.callback_query(Booking.service, ServiceCb.filter())
async def service_chosen(
    callback: CallbackQuery, callback_data: ServiceCb, state: FSMContext, db: Database,
    dialog: dict[str, Any], lang: str,
) -> Answer | None:
    await callback.answer()
    service = await shown_service(db, callback_data.id)
    await state.update_data(service_id=service.id, quantity=1)
    message = _message(callback)
    if message is None:
        return None
    if service.unit != "visit":
        await state.set_state(Booking.quantity)
        return message.answer(_("booking.ask_quantity").format(unit=unit_name(service.unit)))
    return await ask_address(message, state, db, dialog)


@router.message(Booking.quantity, F.text)
async def quantity_given(
    message: Message, state: FSMContext, db: Database, dialog: dict[str, Any]
) -> Answer | None:
    text = (message.text or "").strip()
    if await too_long(message) or not text.isdigit() or not 1 <= int(text) <= MAX_QUANTITY:
        return message.answer(_("booking.bad_quantity").format(limit=MAX_QUANTITY))
    await state.update_data(quantity=int(text))
    return await ask_address(message, state, db, dialog)


# --- address -------------------------------------------------------------------------------------


async def ask_address(
    message: Message, state: FSMContext, db: Database, dialog: dict[str, Any]
) -> Answer:
    await state.set_state(Booking.address)
    await state.update_data(address_id=None, lat=None, lon=None, label=None)
    ask = message.answer(_("booking.ask_address"), reply_markup=location_keyboard())
    client_id = dialog.get("client_id")
    if client_id is None:
        return ask
    card = await get_client(db, client_id=client_id)
    usable = [a for a in card.addresses if a.lat is not None or a.zone_id is not None][-5:]
    if not usable:
        return ask
    await ask
    builder = Buttons()
    for address in usable:
        builder.button(text=address.text[:60], callback_data=AddressCb(id=address.id))
    builder.adjust(1)
    return message.answer(_("booking.saved_addresses"), reply_markup=builder.as_markup())


@router.message(Booking.address, F.location)
async def location_shared(
    message: Message, state: FSMContext, db: Database, dialog: dict[str, Any],
    event_from_user: User,
) -> Answer:
    assert message.location is not None
    point = Point(message.location.latitude, message.location.longitude)
    try:
        await check_place(db, service_id=dialog["service_id"], point=point)
    except InvalidInput as err:
        if err.key not in ("outside_zones", "service_not_sold_here"):
            raise
        await state.update_data(lat=point.lat, lon=point.lon)
        builder = Buttons()
        builder.button(text=_("booking.call_me"), callback_data=CallMeCb(reason=err.key))
        builder.button(text=_("menu.home"), callback_data=MenuCb(action="home"))
        builder.adjust(1)
        return message.answer(_("booking.outside_zones"), reply_markup=builder.as_markup())
    label = dialog.get("label") or ""
    await state.update_data(lat=point.lat, lon=point.lon, address_id=None, label=label)
    await state.set_state(Booking.time)
    await drop_reply_keyboard(message, _("booking.location_ok"))
    return ask_time(message)


@router.message(Booking.address, F.text)
async def address_typed(message: Message, state: FSMContext) -> Answer | None:
    if await too_long(message):
        return None
    label = (message.text or "").strip()
    await state.update_data(label=label)
    # No geocoder: the typed text labels the address, the shared location places it.
    return message.answer(
        _("booking.need_location").format(address=escape(label)), reply_markup=location_keyboard()
    )


@router.callback_query(Booking.address, AddressCb.filter())
async def saved_address_chosen(
    callback: CallbackQuery, callback_data: AddressCb, state: FSMContext, db: Database,
    dialog: dict[str, Any],
) -> Answer | None:
    await callback.answer()
    card = await get_client(db, client_id=dialog["client_id"])
    if callback_data.id not in {a.id for a in card.addresses}:
        raise InvalidInput("invalid_value", field="address", value=callback_data.id,
                           reason="not yours")
    await state.update_data(address_id=callback_data.id, lat=None, lon=None)
    await state.set_state(Booking.time)
    message = _message(callback)
    if message is None:
        return None
    await drop_reply_keyboard(message, _("booking.address_ok"))
    return ask_time(message)


@router.callback_query(CallMeCb.filter())
async def call_me(
    callback: CallbackQuery, callback_data: CallMeCb, state: FSMContext, db: Database,
    dialog: dict[str, Any], event_from_user: User,
) -> Answer | None:
    await request_callback(
        db, telegram_user_id=event_from_user.id, client_id=dialog.get("client_id"),
        reason=callback_data.reason, lat=dialog.get("lat"), lon=dialog.get("lon"),
    )
    await callback.answer()
    await reset(state)
    return menu_after(callback, _("booking.call_me_ok"))


# --- time --------------------------------------------------------------------------------------


@router.message(Booking.time, F.text)
async def time_written(
    message: Message, dialog: dict[str, Any], db: Database, config: Config, clock: Clock,
    rules: SlotRules, lang: str,
) -> Answer | None:
    if await too_long(message):
        return None
    deps = _deps(db, config, clock, rules, lang)
    return await offer_for_text(message, message.text or "", Job.from_dialog(dialog), deps)


@router.callback_query(Booking.time, DayCb.filter())
async def day_chosen(
    callback: CallbackQuery, callback_data: DayCb, dialog: dict[str, Any], db: Database,
    config: Config, clock: Clock, rules: SlotRules, lang: str,
) -> Answer | None:
    await callback.answer()
    message = _message(callback)
    if message is None:
        return None
    deps = _deps(db, config, clock, rules, lang)
    return await offer_day(message, callback_data.day, Job.from_dialog(dialog), deps)


@router.callback_query(Booking.time, SlotCb.filter())
async def slot_chosen(
    callback: CallbackQuery, callback_data: SlotCb, state: FSMContext, dialog: dict[str, Any],
    db: Database, config: Config, clock: Clock, rules: SlotRules, lang: str,
) -> Answer | None:
    await callback.answer()
    await state.update_data(start=callback_data.at)
    message = _message(callback)
    if message is None:
        return None
    if dialog.get("client_id") is None:
        await state.set_state(Booking.phone)
        return message.answer(_("booking.ask_phone"), reply_markup=contact_keyboard())
    return await ask_confirm(message, state, db, config, rules, lang)


# --- phone ---------------------------------------------------------------------------------------


@router.message(Booking.phone, F.contact)
async def phone_shared(
    message: Message, state: FSMContext, event_from_user: User, dialog: dict[str, Any],
    db: Database, config: Config, clock: Clock, rules: SlotRules, lang: str,
) -> Answer:
    contact = message.contact
    assert contact is not None
    if contact.user_id != event_from_user.id:
        return message.answer(_("booking.own_phone_only"), reply_markup=contact_keyboard())
    try:
        phone = normalise_local_phone(contact.phone_number, config.company.phone_region)
    except InvalidInput as err:
        return message.answer(
            _("booking.phone_refused").format(reason=escape(err.message(lang))),
            reply_markup=contact_keyboard(),
        )
    name = " ".join(filter(None, (event_from_user.first_name, event_from_user.last_name)))
    card = await register_client(
        db, phone=phone, region=config.company.phone_region, name=name, language=lang,
        channel=Channel.TELEGRAM, telegram_user_id=event_from_user.id,
    )
    await state.update_data(client_id=card.id)
    referrer = dialog.get("referrer")
    if isinstance(referrer, int):
        await record_referral(db, client_id=card.id, referrer_id=referrer, now=clock.now())
    await drop_reply_keyboard(message, _("booking.phone_ok"))
    return await ask_confirm(message, state, db, config, rules, lang)


@router.message(Booking.phone)
async def phone_not_shared(message: Message) -> Answer:
    return message.answer(_("booking.use_phone_button"), reply_markup=contact_keyboard())


# --- confirm -------------------------------------------------------------------------------------


def confirm_markup(token: str) -> InlineKeyboardMarkup:
    builder = Buttons()
    builder.button(text=_("booking.confirm"), callback_data=ConfirmCb(token=token))
    builder.button(text=_("booking.change_time"), callback_data=StepCb(action="change_time"))
    builder.button(text=_("booking.drop"), callback_data=StepCb(action="drop"))
    builder.adjust(1, 2)
    return builder.as_markup()


async def ask_confirm(
    message: Message, state: FSMContext, db: Database, config: Config, rules: SlotRules,
    lang: str,
) -> Answer:
    data = await state.get_data()
    service = await shown_service(db, data["service_id"])
    quantity = data.get("quantity", 1)
    total = money(service.price * quantity, config.company.currency, lang)
    if service.price_is_from:
        total = _("price.from").format(price=total)
    address = data.get("label") or ""
    if data.get("address_id"):
        card = await get_client(db, client_id=data["client_id"])
        address = next((a.text for a in card.addresses if a.id == data["address_id"]), address)
    start = slot_start(SlotCb(at=data["start"]), rules)
    token = secrets.token_hex(6)
    await state.update_data(token=token)
    await state.set_state(Booking.confirm)
    text = _("booking.summary").format(
        service=escape(service.name(lang)),
        quantity=quantity if service.unit != "visit" else 1,
        when=moment(start, rules.tz, lang),
        address=escape(address) or _("booking.address_shared"),
        total=total,
    )
    return message.answer(text, reply_markup=confirm_markup(token))


@router.callback_query(Booking.confirm, ConfirmCb.filter())
async def confirmed(
    callback: CallbackQuery, callback_data: ConfirmCb, state: FSMContext,
    event_from_user: User, db: Database, config: Config, clock: Clock, rules: SlotRules,
    lang: str,
) -> Answer | None:
    data = await state.get_data()
    if callback_data.token != data.get("token"):
        return callback.answer(_("stale.button"))
    await callback.answer()
    job = Job.from_dialog(data)
    start = slot_start(SlotCb(at=data["start"]), rules)
    message = _message(callback)
    try:
        booking = await book_visit(
            db,
            client_id=data["client_id"],
            service_id=job.service_id,
            start=start,
            now=clock.now(),
            rules=rules,
            channel=Channel.TELEGRAM,
            point=job.point,
            address_id=job.address_id,
            address_text=data.get("label") or "",
            quantity=job.quantity,
            actor=f"telegram:{event_from_user.id}",
            request_key=f"telegram:{event_from_user.id}:{callback_data.token}",
        )
    except SlotTaken as err:
        await state.set_state(Booking.time)
        if message is None:
            return None
        deps = _deps(db, config, clock, rules, lang)
        return await offer_alternatives(
            message, start, job, deps, _("booking.slot_taken"), err.alternatives
        )
    await reset(state)
    order = booking.order
    text = _("booking.done").format(
        number=order.number, when=moment(order.starts_at, rules.tz, lang),
        total=money(order.total, config.company.currency, lang),
    )
    return menu_after(callback, text)


@router.callback_query(Booking.confirm, StepCb.filter(F.action == "change_time"))
async def change_time(callback: CallbackQuery, state: FSMContext) -> Answer | None:
    await callback.answer()
    await state.set_state(Booking.time)
    message = _message(callback)
    return None if message is None else ask_time(message)


@router.callback_query(StateFilter(Booking), StepCb.filter(F.action == "drop"))
async def drop(callback: CallbackQuery, state: FSMContext) -> Answer | None:
    await callback.answer()
    await reset(state)
    return menu_after(callback, _("booking.dropped"))


async def reprompt(
    message: Message, state_name: str, state: FSMContext, deps: TimeDeps
) -> Answer:
    """Show the step the customer is on again (after a stale button or an odd message)."""
    data = await state.get_data()
    if state_name == Booking.address.state:
        return message.answer(_("booking.ask_address"), reply_markup=location_keyboard())
    if state_name == Booking.time.state:
        return ask_time(message)
    if state_name == Booking.phone.state:
        return message.answer(_("booking.ask_phone"), reply_markup=contact_keyboard())
    if state_name == Booking.confirm.state and data.get("start") is not None:
        return await ask_confirm(message, state, deps.db, deps.config, deps.rules, deps.lang)
    if state_name == Booking.quantity.state:
        service = await find_service(deps.db, ref=data["service_id"])
        return message.answer(_("booking.ask_quantity").format(unit=unit_name(service.unit)))
    return await ask_category(message, state, deps.db, deps.config, deps.lang)

