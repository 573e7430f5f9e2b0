"""Clients: found by any of their phones, with addresses placed in zones."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.errors import Conflict, InvalidInput, NotFound
from core.geo import Point
from core.models import (
    Address,
    Channel,
    Client,
    ClientPhone,
    ClientWorker,
    Worker,
    WorkerPreference,
    Zone,
)
from core.phones import normalise_phone
from core.zones import ZoneMap


@dataclass(frozen=True)
class AddressInfo:
    id: int
    text: str
    lat: float | None
    lon: float | None
    zone_id: int | None


@dataclass(frozen=True)
class ClientCard:
    id: int
    name: str
    phones: tuple[str, ...]
    language: str
    telegram_user_id: int | None
    source_channel: str
    balance: int
    bonus_points: int
    bottles: int
    debt: int
    addresses: tuple[AddressInfo, ...]


def _card(client: Client) -> ClientCard:
    return ClientCard(
        id=client.id,
        name=client.name,
        phones=tuple(p.e164 for p in client.phones),
        language=client.language,
        telegram_user_id=client.telegram_user_id,
        source_channel=client.source_channel.value,
        balance=client.balance,
        bonus_points=client.bonus_points,
        bottles=client.bottles,
        debt=client.debt,
        addresses=tuple(_address(a) for a in client.addresses),
    )


def _address(address: Address) -> AddressInfo:
    return AddressInfo(address.id, address.text, address.lat, address.lon, address.zone_id)


async def client_by_phone(tx: AsyncSession, e164: str) -> Client | None:
    return await tx.scalar(select(Client).join(ClientPhone).where(ClientPhone.e164 == e164))


async def find_client(db: Database, *, phone: str, region: str) -> ClientCard | None:
    """The client owning this phone, in whatever format it was typed."""
    e164 = normalise_phone(phone, region)
    async with db.transaction(read_only=True) as tx:
        client = await client_by_phone(tx, e164)
        return _card(client) if client else None


async def get_client(db: Database, *, client_id: int) -> ClientCard:
    async with db.transaction(read_only=True) as tx:
        client = await tx.get(Client, client_id)
        if client is None:
            raise NotFound("not_found", entity="client", ref=client_id)
        return _card(client)


async def register_client(
    db: Database,
    *,
    phone: str,
    region: str,
    name: str = "",
    language: str = "uk",
    channel: Channel = Channel.PHONE,
    telegram_user_id: int | None = None,
) -> ClientCard:
    """The client with this phone, created when new (a repeat caller is the same client)."""
    e164 = normalise_phone(phone, region)
    try:
        async with db.transaction() as tx:
            client = await client_by_phone(tx, e164)
            if client is None:
                client = Client(
                    name=name.strip(),
                    language=language,
                    source_channel=channel,
                    telegram_user_id=telegram_user_id,
                )
                client.phones = [ClientPhone(e164=e164)]
                client.addresses = []
                tx.add(client)
            else:
                if name.strip() and not client.name:
                    client.name = name.strip()
                if telegram_user_id is not None and client.telegram_user_id is None:
                    client.telegram_user_id = telegram_user_id
            await tx.flush()
            return _card(client)
    except IntegrityError as err:
        # Another request registered the same phone or Telegram account a moment earlier.
        async with db.transaction(read_only=True) as tx:
            client = await client_by_phone(tx, e164)
            if client is None:
                raise Conflict(
                    "invalid_value",
                    field="telegram_user_id",
                    value=telegram_user_id,
                    reason="already linked to another client",
                ) from err
            return _card(client)


async def add_phone(db: Database, *, client_id: int, phone: str, region: str) -> ClientCard:
    e164 = normalise_phone(phone, region)
    async with db.transaction() as tx:
        client = await tx.get(Client, client_id)
        if client is None:
            raise NotFound("not_found", entity="client", ref=client_id)
        owner = await client_by_phone(tx, e164)
        if owner is not None and owner.id != client_id:
            raise Conflict(
                "invalid_value", field="phone", value=phone, reason=f"belongs to client {owner.id}"
            )
        if owner is None:
            client.phones.append(ClientPhone(e164=e164))
            await tx.flush()
        return _card(client)


async def add_address(
    db: Database,
    *,
    client_id: int,
    text: str,
    point: Point | None = None,
    zone_id: int | None = None,
    comment: str = "",
) -> AddressInfo:
    """Save an address; with coordinates it is placed in the first zone containing it."""
    if not text.strip():
        raise InvalidInput("invalid_value", field="address", value=text, reason="empty")
    async with db.transaction() as tx:
        client = await tx.get(Client, client_id)
        if client is None:
            raise NotFound("not_found", entity="client", ref=client_id)
        if point is not None and zone_id is None:
            zones = ZoneMap((await tx.execute(select(Zone.id, Zone.code, Zone.polygon_wkt))).all())
            found = zones.zones_at(point)
            zone_id = found[0] if found else None
        address = Address(
            client_id=client_id,
            text=text.strip(),
            comment=comment,
            lat=point.lat if point else None,
            lon=point.lon if point else None,
            zone_id=zone_id,
        )
        tx.add(address)
        await tx.flush()
        return _address(address)


async def set_worker_preference(
    db: Database, *, client_id: int, worker_id: int, kind: WorkerPreference | None
) -> None:
    """Mark a worker preferred or blocked for a client (``None`` clears it)."""
    async with db.transaction() as tx:
        if await tx.get(Client, client_id) is None:
            raise NotFound("not_found", entity="client", ref=client_id)
        if await tx.get(Worker, worker_id) is None:
            raise NotFound("not_found", entity="worker", ref=worker_id)
        link = await tx.get(ClientWorker, (client_id, worker_id))
        if kind is None:
            if link is not None:
                await tx.delete(link)
        elif link is None:
            tx.add(ClientWorker(client_id=client_id, worker_id=worker_id, kind=kind))
        else:
            link.kind = kind
