"""The panel served for real on a local port, and staff who log in to it like a browser."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from core.calls import CallEvent, CallEventKind, record_call_event
from core.clock import Clock
from core.config import Config, load_config
from core.db import Database
from core.models import Role
from core.staff import StaffUser, create_user
from webhooks.app import create_app

PASSWORD = "correct horse battery"
SECRET = "test session secret"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def panel_config(**env: str) -> Config:
    environ = {
        "BRIGADIER__SECRETS__SESSION_SECRET": SECRET,
        "BRIGADIER_SECRETS_FILE": "/nonexistent",
    }
    environ.update(env)
    return load_config(environ=environ)


@asynccontextmanager
async def serving(
    db: Database, *, clock: Clock | None = None, config: Config | None = None
) -> AsyncIterator[TestServer]:
    server = TestServer(create_app(config or panel_config(), db, clock=clock))
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


async def add_user(
    db: Database, login: str, role: Role = Role.OPERATOR, extension: str | None = None,
    language: str | None = "en",
) -> StaffUser:
    return await create_user(
        db, login=login, name=login.title(), role=role, password=PASSWORD, extension=extension,
        language=language,
    )


class Staff:
    """One person's browser: a cookie jar, the CSRF token of the last page, a websocket."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""
        self.socket: aiohttp.ClientWebSocketResponse | None = None

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def get(self, path: str, **kw: Any) -> tuple[int, str]:
        async with self.http.get(self.url(path), allow_redirects=kw.pop("follow", True),
                                 **kw) as response:
            body = await response.text()
            if found := CSRF.search(body):
                self.csrf = found.group(1)
            return response.status, body

    async def post(self, path: str, data: dict[str, str], *, csrf: bool = True,
                   follow: bool = True) -> tuple[int, str]:
        form = dict(data)
        if csrf:
            form.setdefault("csrf_token", self.csrf)
        async with self.http.post(self.url(path), data=form, allow_redirects=follow) as response:
            body = await response.text()
            if found := CSRF.search(body):
                self.csrf = found.group(1)
            return response.status, body

    async def login(self, login: str, password: str = PASSWORD) -> tuple[int, str]:
        await self.get("/panel/login")
        return await self.post("/panel/login", {"login": login, "password": password})

    async def connect(self) -> None:
        self.socket = await self.http.ws_connect(self.url("/panel/ws"))
        hello = await self.frame()
        assert hello["type"] == "hello"

    async def frame(self, wait: float = 5) -> dict[str, Any]:
        assert self.socket is not None
        message = await self.socket.receive(timeout=wait)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        return json.loads(message.data)

    async def frame_for(self, call_id: int, wait: float = 5) -> dict[str, Any]:
        """The next frame, which must be about ``call_id``."""
        frame = await self.frame(wait)
        assert frame["call_id"] == call_id, frame
        return frame

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        await self.http.close()


@asynccontextmanager
async def logged_in(server: TestServer, login: str) -> AsyncIterator[Staff]:
    staff = Staff(server)
    try:
        status, body = await staff.login(login)
        assert status == 200, body
        yield staff
    finally:
        await staff.close()


_call_numbers = iter(range(1, 10**9))


async def ring(
    db: Database, caller: str, *, extension: str | None = None, kind: str = "ringing",
    call: str | None = None, outcome: str | None = None,
) -> tuple[int, str]:
    """A PBX notification recorded through core; returns (call id, provider call id)."""
    provider_call_id = call or f"test-{next(_call_numbers)}"
    view = await record_call_event(
        db,
        event=CallEvent(
            provider="binotel", provider_call_id=provider_call_id, kind=CallEventKind(kind),
            at=datetime.now(UTC), caller=caller, extension=extension, outcome=outcome,
        ),
        region="UA",
    )
    return view.id, provider_call_id


async def no_frame(staff: Staff, seconds: float = 0.4) -> None:
    assert staff.socket is not None
    try:
        message = await staff.socket.receive(timeout=seconds)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected frame {message.data!r}")
