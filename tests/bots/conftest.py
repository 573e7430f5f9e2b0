"""The whole application on real HTTP with its bots: the sandbox plays Telegram, a
:class:`TelegramUser` plays the customer, the clock is the only fake."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from core.config import Config, load_config
from core.db import Database
from tests.clock import ManualClock
from tests.company import NOW, Company, small_company
from tests.telegram_user import TelegramUser
from webhooks.app import SANDBOX, TELEGRAM, create_app
from webhooks.sandbox import SandboxLimits, SandboxState

CUSTOMER_BOT = "brigadier_customer_bot"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class BotApp:
    config: Config
    db: Database
    clock: ManualClock
    company: Company
    server: TestServer
    http: aiohttp.ClientSession

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.config.http.port}"

    @property
    def sandbox(self) -> SandboxState:
        return self.server.app[SANDBOX]

    async def customer(self, first_name: str = "Olena", **details: object) -> TelegramUser:
        return await TelegramUser.create(self.http, self.base, CUSTOMER_BOT, first_name, **details)


def bot_config(**overrides: str) -> Config:
    environ = {
        "BRIGADIER__HTTP__PORT": str(free_port()),
        "BRIGADIER__OUTBOX__POLL_SECONDS": "0.05",
        **{f"BRIGADIER__{key.upper()}": value for key, value in overrides.items()},
    }
    return load_config(environ=environ)


async def start_app(db: Database, clock: ManualClock, config: Config) -> TestServer:
    app = create_app(config, db, clock=clock, bots=True)
    server = TestServer(app, host="127.0.0.1", port=config.http.port)
    await server.start_server()
    bot = app[SANDBOX].bot_named(CUSTOMER_BOT)
    assert bot is not None
    for _ in range(200):
        if bot.webhook is not None:
            break
        await asyncio.sleep(0.02)
    assert bot.webhook is not None, "the customer bot never set its webhook"
    assert app[TELEGRAM].bots["customer"].username == CUSTOMER_BOT
    return server


@pytest.fixture
async def bot_app(fresh_db: Database) -> AsyncIterator[BotApp]:
    company = await small_company(fresh_db, workers=2)
    clock = ManualClock(NOW)
    config = bot_config()
    server = await start_app(fresh_db, clock, config)
    # Dialog tests click faster than one message a second; the outbox tests keep the limits.
    server.app[SANDBOX].limits = SandboxLimits.off()
    async with aiohttp.ClientSession() as http:
        try:
            yield BotApp(config, fresh_db, clock, company, server, http)
        finally:
            await server.close()


async def eventually(check, timeout: float = 5.0):  # noqa: ASYNC109
    """Poll ``check`` (an async callable) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.02)
