"""What an operator sees of a client on a call: the card, a new client, the last order again."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Integer, Table, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload

from core.booking import Booking, book_visit
from core.clients import AddressInfo, client_by_phone
from core.db import Database
from core.errors import Conflict, InvalidInput, NotFound
from core.events import record_event
from core.geo import Point
from core.models import Address, Channel, Client, ClientPhone, Order, Service, Zone
from core.one_of import one_of
from core.phones import normalise_phone
from core.slots import SlotRules
from core.zones import ZoneMap


@dataclass(frozen=True)
class OrderBrief:
    id: int
    number: str
    status: str
    starts_at: datetime
    total: int
    services: tuple[dict[str, str], ...]
    address: str


@dataclass(frozen=True)
class ClientOverview:
    id: int
    name: str
    language: str
    phones: tuple[str, ...]
    addresses: tuple[AddressInfo, ...]
    balance: int
    bonus_points: int
    bottles: int
    debt: int
    notes: str
    last_orders: tuple[OrderBrief, ...]


@dataclass(frozen=True)
class RepeatDraft:
    """The client's last order, as a new one would copy it."""

    client_id: int
    source_order_id: int
    source_number: str
    service_id: int
    service_names: dict[str, str]
    quantity: int
    address_id: int | None
    address: str
    point: Point | None
    payment_method: str | None
    extra_lines: int
    """Lines after the first, which a repeat does not copy (a visit books one service)."""


# Built once: a statement reused as is skips SQLAlchemy's cache-key walk and compiles once.
# A call's popup reads the card while dozens of calls may be ringing, so it reads plain
# columns of the tables, which skip the ORM's loading machinery.
_clients = cast(Table, Client.__table__)
_phones = cast(Table, ClientPhone.__table__)
_addresses = cast(Table, Address.__table__)
_services = cast(Table, Service.__table__)
# Clients with their phones and addresses in one read: one row per (phone, address) pair,
# a handful for any real client.
_CLIENTS = (
    select(
        _clients.c.id, _clients.c.name, _clients.c.language, _clients.c.balance,
        _clients.c.bonus_points, _clients.c.bottles, _clients.c.debt, _clients.c.notes,
        _phones.c.e164, _addresses.c.id.label("address_id"), _addresses.c.text,
        _addresses.c.lat, _addresses.c.lon, _addresses.c.zone_id,
    )
    .select_from(
        _clients.outerjoin(_phones, _phones.c.client_id == _clients.c.id).outerjoin(
            _addresses, _addresses.c.client_id == _clients.c.id
        )
    )
    .where(one_of(_clients.c.id, "client_ids", Integer()))
    .order_by(_clients.c.id, _phones.c.id, _addresses.c.id)
)
_newest_first = (Order.starts_at.desc(), Order.id.desc())
_ranked = (
    select(
        Order.id,
        func.row_number().over(partition_by=Order.client_id, order_by=_newest_first).label("rank"),
    )
    .where(one_of(Order.client_id, "client_ids", Integer()))
    .subquery()
)
# Each client's latest orders, for all the clients at once.
_LAST_ORDERS = (
    select(Order)
    .join(_ranked, _ranked.c.id == Order.id)
    .where(_ranked.c.rank <= bindparam("limit"))
    .order_by(Order.client_id, *_newest_first)
    .options(lazyload(Order.history))  # the card shows no history
)
_SERVICE_NAMES = select(_services.c.id, _services.c.names).where(
    one_of(_services.c.id, "service_ids", Integer())
)


async def _last_orders(
    tx: AsyncSession, client_ids: list[int], addresses: dict[int, str], limit: int
) -> dict[int, tuple[OrderBrief, ...]]:
    orders = list(await tx.scalars(_LAST_ORDERS, {"client_ids": client_ids, "limit": limit}))
    if not orders:
        return {}
    service_ids = sorted({line.service_id for order in orders for line in order.lines})
    rows = await tx.execute(_SERVICE_NAMES, {"service_ids": service_ids})
    names = {service_id: dict(service_names) for service_id, service_names in rows}
    briefs: dict[int, list[OrderBrief]] = {}
    for order in orders:
        briefs.setdefault(order.client_id, []).append(OrderBrief(
            id=order.id,
            number=order.number,
            status=order.status,
            starts_at=order.starts_at,
            total=order.total,
            services=tuple(names[line.service_id] for line in order.lines),
            address=addresses.get(order.address_id or 0, ""),
        ))
    return {client_id: tuple(found) for client_id, found in briefs.items()}


def _new_overview(client: Client) -> ClientOverview:
    """The card of a client just taken down: no orders yet."""
    return ClientOverview(
        id=client.id,
        name=client.name,
        language=client.language,
        phones=tuple(p.e164 for p in client.phones),
        addresses=tuple(
            AddressInfo(a.id, a.text, a.lat, a.lon, a.zone_id) for a in client.addresses
        ),
        balance=client.balance,
        bonus_points=client.bonus_points,
        bottles=client.bottles,
        debt=client.debt,
        notes=client.notes,
        last_orders=(),
    )


async def client_overview(db: Database, *, client_id: int, last_orders: int = 5) -> ClientOverview:
    """The client card: contacts, money, containers, notes and the latest orders."""
    cards = await client_overviews(db, client_ids=[client_id], last_orders=last_orders)
    if client_id not in cards:
        raise NotFound("not_found", entity="client", ref=client_id)
    return cards[client_id]


async def client_overviews(
    db: Database, *, client_ids: Collection[int], last_orders: int = 5
) -> dict[int, ClientOverview]:
    """The cards of several clients by id, in as many statements as one card takes (calls
    ringing together want theirs at once); an id no client has is left out."""
    wanted = sorted(set(client_ids))
    if not wanted:
        return {}
    async with db.transaction(read_only=True) as tx:
        rows = (await tx.execute(_CLIENTS, {"client_ids": wanted})).all()
        found: dict[int, list[Any]] = {}
        for row in rows:
            found.setdefault(row.id, []).append(row)
        addresses = {
            client_id: tuple(dict.fromkeys(  # each once, in the order they were added
                AddressInfo(row.address_id, row.text, row.lat, row.lon, row.zone_id)
                for row in client_rows
                if row.address_id is not None
            ))
            for client_id, client_rows in found.items()
        }
        orders: dict[int, tuple[OrderBrief, ...]] = {}
        if last_orders and found:
            texts = {a.id: a.text for known in addresses.values() for a in known}
            orders = await _last_orders(tx, list(found), texts, last_orders)
    return {
        client_id: ClientOverview(
            id=client_id,
            name=client_rows[0].name,
            language=client_rows[0].language,
            phones=tuple(dict.fromkeys(r.e164 for r in client_rows if r.e164 is not None)),
            addresses=addresses[client_id],
            balance=client_rows[0].balance,
            bonus_points=client_rows[0].bonus_points,
            bottles=client_rows[0].bottles,
            debt=client_rows[0].debt,
            notes=client_rows[0].notes,
            last_orders=orders.get(client_id, ()),
        )
        for client_id, client_rows in found.items()
    }


async def create_client(
    db: Database,
    *,
    phone: str,
    region: str,
    name: str,
    language: str,
    address: str = "",
    point: Point | None = None,
) -> ClientOverview:
    """A client taken down by an operator; a number that is already known is refused."""
    e164 = normalise_phone(phone, region)
    if not name.strip():
        raise InvalidInput("invalid_value", field="name", value=name, reason="empty")
    if point is not None and not address.strip():
        raise InvalidInput("invalid_value", field="address", value=address, reason="empty")
    try:
        async with db.transaction() as tx:
            owner = await client_by_phone(tx, e164)
            if owner is not None:
                raise Conflict("client_exists", phone=e164, client_id=owner.id)
            client = Client(name=name.strip(), language=language, source_channel=Channel.PHONE)
            client.phones = [ClientPhone(e164=e164)]
            client.addresses = []
            if address.strip():
                client.addresses.append(await _new_address(tx, address, point))
            tx.add(client)
            await tx.flush()
            return _new_overview(client)
    except IntegrityError as err:
        # The same number was saved by another operator a moment earlier.
        async with db.transaction(read_only=True) as tx:
            owner = await client_by_phone(tx, e164)
        if owner is None:
            raise
        raise Conflict("client_exists", phone=e164, client_id=owner.id) from err


async def _new_address(tx: AsyncSession, text: str, point: Point | None) -> Address:
    zone_id = None
    if point is not None:
        zones = ZoneMap((await tx.execute(select(Zone.id, Zone.code, Zone.polygon_wkt))).all())
        found = zones.zones_at(point)
        zone_id = found[0] if found else None
    return Address(
        text=text.strip(),
        lat=point.lat if point else None,
        lon=point.lon if point else None,
        zone_id=zone_id,
    )


async def repeat_draft(db: Database, *, client_id: int) -> RepeatDraft:
    """The client's latest order, ready to be booked again (``NotFound`` when there is none)."""
    async with db.transaction(read_only=True) as tx:
        return await _draft(tx, client_id)


async def _draft(tx: AsyncSession, client_id: int) -> RepeatDraft:
    order = await tx.scalar(
        select(Order)
        .where(Order.client_id == client_id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(1)
    )
    if order is None or not order.lines:
        raise NotFound("no_last_order", entity="order", ref=client_id)
    line = order.lines[0]
    service = await tx.get(Service, line.service_id)
    assert service is not None
    address = await tx.get(Address, order.address_id) if order.address_id else None
    return RepeatDraft(
        client_id=client_id,
        source_order_id=order.id,
        source_number=order.number,
        service_id=service.id,
        service_names=dict(service.names),
        quantity=line.quantity,
        address_id=address.id if address else None,
        address=address.text if address else "",
        point=Point(order.lat, order.lon) if order.lat is not None and order.lon is not None
        else None,
        payment_method=order.payment_method,
        extra_lines=len(order.lines) - 1,
    )


async def repeat_last_order(
    db: Database,
    *,
    client_id: int,
    source_order_id: int,
    start: datetime,
    now: datetime,
    rules: SlotRules,
    user_id: int,
) -> Booking:
    """Book the client's last order again at ``start``, as taken by a panel user on the phone.

    Booking owns its transaction (a lost race re-reads free starts for the alternatives), so
    this use case books through :func:`core.booking.book_visit` and then copies the payment
    method in a transaction of its own. ``source_order_id`` is the order the operator saw;
    a newer order placed meanwhile refuses the repeat instead of copying something unseen.
    """
    async with db.transaction(read_only=True) as tx:
        draft = await _draft(tx, client_id)
    if draft.source_order_id != source_order_id:
        raise Conflict("invalid_value", field="order", value=source_order_id, reason="outdated")
    actor = f"user:{user_id}"
    booking = await book_visit(
        db,
        client_id=client_id,
        service_id=draft.service_id,
        start=start,
        now=now,
        rules=rules,
        channel=Channel.PHONE,
        address_id=draft.address_id,
        point=None if draft.address_id else draft.point,
        quantity=draft.quantity,
        actor=actor,
    )
    if draft.payment_method is None:
        return booking
    async with db.transaction() as tx:
        order = await tx.get(Order, booking.order.id)
        assert order is not None
        if order.payment_method is None:
            order.payment_method = draft.payment_method
            record_event(
                tx,
                kind="order.edited",
                order_id=order.id,
                payload={"actor": actor, "payment_method": draft.payment_method},
            )
    return replace(booking, order=replace(booking.order, payment_method=draft.payment_method))
