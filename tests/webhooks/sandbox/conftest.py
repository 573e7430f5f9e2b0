"""A sandbox served over real HTTP on 127.0.0.1, and real aiogram bots pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.telegram_user import TelegramUser
from webhooks.sandbox import SANDBOX_PATH, SandboxState, create_sandbox_app

CUSTOMER_TOKEN = "111:customer-secret"
CUSTOMER_BOT = "test_customer_bot"


class PlainHttpSession(AiohttpSession):
    """aiogram's own session; closing skips the quarter-second pause kept for TLS shutdowns,
    which plain HTTP to 127.0.0.1 does not need (requests go through aiogram unchanged)."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


@dataclass
class Sandbox:
    state: SandboxState
    server: TestServer
    http: aiohttp.ClientSession
    bots: list[Bot] = field(default_factory=list)

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @property
    def base(self) -> str:
        return self.url + SANDBOX_PATH

    def bot(self, token: str = CUSTOMER_TOKEN, *, html: bool = True) -> Bot:
        """A real aiogram bot talking to the sandbox over HTTP."""
        session = PlainHttpSession(api=TelegramAPIServer.from_base(self.base))
        default = DefaultBotProperties(parse_mode="HTML" if html else None)
        bot = Bot(token, session=session, default=default)
        self.bots.append(bot)
        return bot

    async def user(self, first_name: str = "Olena", bot: str = CUSTOMER_BOT, **details: object
                   ) -> TelegramUser:
        return await TelegramUser.create(self.http, self.base, bot, first_name, **details)


async def serve_sandbox(state: SandboxState) -> TestServer:
    app = web.Application()
    app.add_subapp(SANDBOX_PATH, create_sandbox_app(state))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    state = SandboxState()
    state.add_bot(CUSTOMER_TOKEN, CUSTOMER_BOT)
    server = await serve_sandbox(state)
    async with aiohttp.ClientSession() as http:
        running = Sandbox(state=state, server=server, http=http)
        try:
            yield running
        finally:
            for bot in running.bots:
                await bot.session.close()
            await server.close()
