"""Client pages: find by phone, the card, a new client, and repeating the last order."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from core.cards import client_overview, create_client, repeat_draft, repeat_last_order
from core.clients import find_client
from core.errors import BrigadierError, Conflict, InvalidInput, SlotTaken
from core.geo import Point
from core.phones import normalise_phone
from core.slots import Slot, SlotRules, find_slots
from core.staff import Permission
from webhooks.app import CLOCK, CONFIG, DATABASE
from webhooks.panel.pages import language_of, render, see_other
from webhooks.panel.sessions import PATH, require, session_of
from webhooks.panel.texts import text

routes = web.RouteTableDef()
SLOTS_SHOWN = 12
RULES = web.AppKey("panel_slot_rules", SlotRules)


def _client_id(request: web.Request) -> int:
    return int(request.match_info["client_id"])


@routes.get("/clients/find")
async def find(request: web.Request) -> web.Response:
    require(request, Permission.CLIENTS_VIEW)
    config = request.config_dict[CONFIG]
    phone = request.query.get("phone", "")
    try:
        card = await find_client(
            request.config_dict[DATABASE], phone=phone, region=config.company.phone_region
        )
    except InvalidInput as err:
        session_of(request).flash("error", err.message(language_of(request)))
        return see_other(f"{PATH}/")
    if card is not None:
        return see_other(f"{PATH}/clients/{card.id}")
    e164 = normalise_phone(phone, config.company.phone_region)
    return see_other(f"{PATH}/clients/new?phone={e164.replace('+', '%2B')}")


@routes.get(r"/clients/{client_id:\d+}")
async def card(request: web.Request) -> web.Response:
    user = require(request, Permission.CLIENTS_VIEW)
    overview = await client_overview(request.config_dict[DATABASE], client_id=_client_id(request))
    return render(request, "client.html", card=overview, can_book=user.can(Permission.ORDERS_BOOK))


def _blank_form(phone: str = "") -> dict[str, str]:
    return {"phone": phone, "name": "", "address": "", "lat": "", "lon": ""}


@routes.get("/clients/new")
async def new_client_form(request: web.Request) -> web.Response:
    require(request, Permission.CLIENTS_CREATE)
    form = _blank_form(request.query.get("phone", ""))
    return render(request, "client_new.html", form=form, error=None, existing_id=None)


@routes.post("/clients/new")
async def new_client(request: web.Request) -> web.Response:
    require(request, Permission.CLIENTS_CREATE)
    posted = await request.post()
    form = {key: str(posted.get(key, "")).strip() for key in _blank_form()}
    language = language_of(request)
    config = request.config_dict[CONFIG]
    try:
        point = _point(form["lat"], form["lon"], language)
        created = await create_client(
            request.config_dict[DATABASE],
            phone=form["phone"],
            region=config.company.phone_region,
            name=form["name"],
            language=config.company.default_language,
            address=form["address"],
            point=point,
        )
    except (InvalidInput, Conflict) as err:
        existing = err.params.get("client_id") if err.key == "client_exists" else None
        status = 409 if isinstance(err, Conflict) else 400
        return render(
            request, "client_new.html", status=status, form=form,
            error=err.message(language), existing_id=existing,
        )
    except _BadPoint as bad:
        return render(
            request, "client_new.html", status=400, form=form, error=str(bad), existing_id=None
        )
    session_of(request).flash("ok", text("new.saved", language))
    return see_other(f"{PATH}/clients/{created.id}")


class _BadPoint(Exception):
    pass


def _point(lat: str, lon: str, language: str) -> Point | None:
    if not lat and not lon:
        return None
    try:
        return Point(float(lat.replace(",", ".")), float(lon.replace(",", ".")))
    except (ValueError, BrigadierError) as err:
        raise _BadPoint(text("new.point_invalid", language)) from err


async def _free_starts(request: web.Request, client_id: int) -> tuple[object, list[Slot], int]:
    db = request.config_dict[DATABASE]
    config = request.config_dict[CONFIG]
    draft = await repeat_draft(db, client_id=client_id)
    now = request.config_dict[CLOCK].now()
    first = now.astimezone(config.company.tz).date()
    days = config.panel.slot_days
    slots = await find_slots(
        db,
        service_id=draft.service_id,
        first=first,
        last=first + timedelta(days=days - 1),
        now=now,
        rules=request.app[RULES],
        address_id=draft.address_id,
        point=None if draft.address_id else draft.point,
        client_id=client_id,
        quantity=draft.quantity,
    )
    return draft, _distinct_starts(slots)[:SLOTS_SHOWN], days


def _distinct_starts(slots: list[Slot]) -> list[Slot]:
    """One entry per start: the operator picks a time, booking picks the worker."""
    seen: dict[datetime, Slot] = {}
    for slot in sorted(slots, key=lambda s: s.start):
        seen.setdefault(slot.start, slot)
    return list(seen.values())


@routes.get(r"/clients/{client_id:\d+}/repeat")
async def repeat_form(request: web.Request) -> web.Response:
    require(request, Permission.ORDERS_BOOK)
    client_id = _client_id(request)
    draft, slots, days = await _free_starts(request, client_id)
    overview = await client_overview(request.config_dict[DATABASE], client_id=client_id,
                                     last_orders=0)
    return render(
        request, "repeat.html", card=overview, draft=draft, slots=slots, days=days, error=None
    )


@routes.post(r"/clients/{client_id:\d+}/repeat")
async def repeat(request: web.Request) -> web.Response:
    user = require(request, Permission.ORDERS_BOOK)
    client_id = _client_id(request)
    posted = await request.post()
    language = language_of(request)
    db = request.config_dict[DATABASE]
    try:
        start = datetime.fromisoformat(str(posted.get("start", "")))
        source = int(str(posted.get("source_order_id", "")))
    except ValueError as err:
        raise web.HTTPBadRequest() from err
    try:
        booking = await repeat_last_order(
            db,
            client_id=client_id,
            source_order_id=source,
            start=start,
            now=request.config_dict[CLOCK].now(),
            rules=request.app[RULES],
            user_id=user.id,
        )
    except (SlotTaken, InvalidInput) as err:
        draft, slots, days = await _free_starts(request, client_id)
        if isinstance(err, SlotTaken) and err.alternatives:
            slots = _distinct_starts(list(err.alternatives))
        overview = await client_overview(db, client_id=client_id, last_orders=0)
        return render(
            request, "repeat.html", status=409, card=overview, draft=draft, slots=slots,
            days=days, error=err.message(language),
        )
    tz = request.config_dict[CONFIG].company.tz
    when = booking.order.starts_at.astimezone(tz).strftime("%d.%m.%Y %H:%M")
    session_of(request).flash(
        "ok", text("repeat.booked", language, number=booking.order.number, when=when)
    )
    return see_other(f"{PATH}/orders/{booking.order.id}")
