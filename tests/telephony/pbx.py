"""The app served for real on a local port, with every PBX's secrets set, and what it recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from core.config import Config, load_config
from core.db import Database
from core.models import Address, Call, CallbackTask, Client, ClientPhone, Event, Role, User, Zone
from core.zones import polygon_wkt
from tests.clock import ManualClock
from tests.company import CITY_RING
from webhooks.app import create_app

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 8, 15, 4, tzinfo=UTC)
BINOTEL_SECRET = "b1n0tel-url-secret"
ZADARMA_SECRET = "test-secret"
TWILIO_TOKEN = "12345"
PAYLOAD_KEYS = {
    "call_id", "provider", "caller", "client_id", "client_name", "line", "extension", "state",
    "callback_task_id",
}


def fixture(provider: str, name: str) -> bytes:
    return (ROOT / "telephony" / provider / "fixtures" / name).read_bytes()


def pbx_config(**env: str) -> Config:
    environ = {
        "BRIGADIER_SECRETS_FILE": "/nonexistent",
        "BRIGADIER__SECRETS__SESSION_SECRET": "test session secret",
        "BRIGADIER__SECRETS__BINOTEL_SECRET": BINOTEL_SECRET,
        "BRIGADIER__SECRETS__ZADARMA_KEY": "test-key",
        "BRIGADIER__SECRETS__ZADARMA_SECRET": ZADARMA_SECRET,
        "BRIGADIER__SECRETS__TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
    }
    environ.update(env)
    return load_config(environ=environ)


@asynccontextmanager
async def serving(db: Database, config: Config | None = None) -> AsyncIterator[TestClient]:
    app = create_app(config or pbx_config(), db, clock=ManualClock(NOW))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def known_client(db: Database, *, phone: str = "+380671234567") -> tuple[int, int]:
    """Olena, living in the zone of operator Iryna (extension 101); returns both ids."""
    async with db.transaction() as tx:
        iryna = User(login="iryna", name="Iryna", role=Role.OPERATOR, extension="101")
        tx.add(iryna)
        await tx.flush()
        zone = Zone(code="city", city="Kyiv", name="City", polygon_wkt=polygon_wkt(CITY_RING),
                    responsible_user_id=iryna.id)
        tx.add(zone)
        await tx.flush()
        olena = Client(name="Olena Kovalenko", phones=[ClientPhone(e164=phone)],
                       addresses=[Address(text="Khreshchatyk 1", zone_id=zone.id)])
        tx.add(olena)
        await tx.flush()
        return olena.id, iryna.id


async def calls(db: Database) -> list[Call]:
    async with db.transaction() as tx:
        return list(await tx.scalars(select(Call).order_by(Call.id)))


async def tasks(db: Database) -> list[CallbackTask]:
    async with db.transaction() as tx:
        return list(await tx.scalars(select(CallbackTask).order_by(CallbackTask.id)))


async def call_events(db: Database) -> list[tuple[str, dict[str, object]]]:
    async with db.transaction() as tx:
        found = await tx.scalars(
            select(Event).where(Event.kind.startswith("call.")).order_by(Event.id))
        return [(event.kind, dict(event.payload)) for event in found]


async def nothing_recorded(db: Database) -> bool:
    return not await calls(db) and not await call_events(db)


async def eventually(check: Callable[[], Awaitable[object]], seconds: float = 10.0) -> None:
    """Wait until ``check()`` is true: a listener records on its own time."""
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not true within {seconds} s: {check.__name__}")
