"""Call popups: the panel's websocket and the dispatcher that feeds it from the live hub.

Each process runs one dispatcher. It hears every ``call.*`` event (from any process, through
the hub) and pushes to the operators connected to this process: a ringing call goes to the
operator whose extension rings, or to every operator when the extension is unknown or is
nobody's. The popup is rendered here once per language, escaped by jinja2, and sent as JSON;
the page's script only inserts it. Later frames of the call (answered, ended, missed) go to
whoever was shown its popup.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
from aiohttp import WSMsgType, web

from core.cards import ClientOverview, client_overviews
from core.staff import Permission, StaffUser, users_with_extension
from webhooks.app import DATABASE
from webhooks.live import LIVE, LiveEvent, LiveHub, Subscription
from webhooks.panel.pages import TEMPLATE_ENV, language_of, render_fragment
from webhooks.panel.sessions import require_socket
from webhooks.panel.texts import text

log = logging.getLogger(__name__)

routes = web.RouteTableDef()
REMEMBERED_CALLS = 2000
EXTENSIONS_TTL = 5.0
LAST_ORDERS = 3


@dataclass(eq=False)
class Connection:
    user: StaffUser
    language: str
    socket: web.WebSocketResponse


@dataclass
class _CallSeen:
    users: set[int] = field(default_factory=set)
    answered_by: str | None = None


class _Cards:
    """Client cards for popups, read together: the cards asked for while a read is on its way
    go in the next one, so fifty calls ringing at once take a few reads, not fifty."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self._waiting: dict[int, list[asyncio.Future[ClientOverview | None]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def card(self, client_id: int) -> ClientOverview | None:
        """The client's card; None when no client has the id (any more)."""
        asked: asyncio.Future[ClientOverview | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(client_id, []).append(asked)
        if self._reader is None:
            # Started now, it runs after the popups already scheduled have asked for theirs.
            self._reader = asyncio.create_task(self._read())
        return await asyncio.shield(asked)

    async def _read(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, {}
                try:
                    cards = await client_overviews(
                        self.db, client_ids=batch, last_orders=LAST_ORDERS
                    )
                except Exception as err:
                    for waiting in batch.values():
                        for asked in waiting:
                            if not asked.done():
                                asked.set_exception(err)
                    continue
                for client_id, waiting in batch.items():
                    for asked in waiting:
                        if not asked.done():
                            asked.set_result(cards.get(client_id))
        finally:
            self._reader = None

    async def close(self) -> None:
        reader = self._reader
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


class Popups:
    def __init__(self, db: Any, env: jinja2.Environment) -> None:
        self.db = db
        self.env = env
        self.connections: set[Connection] = set()
        self._calls: OrderedDict[Any, _CallSeen] = OrderedDict()
        self._locks: dict[Any, asyncio.Lock] = {}
        self._cards = _Cards(db)
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._extensions: dict[str, tuple[float, asyncio.Future[tuple[int, ...]]]] = {}

    def start(self, hub: LiveHub) -> None:
        subscription = hub.subscribe("call.*")
        self._task = asyncio.create_task(self._run(subscription), name="panel-popups")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._pending):
            task.cancel()
        await self._cards.close()
        for connection in list(self.connections):
            await connection.socket.close(code=1001, message=b"server shutdown")

    async def _run(self, subscription: Subscription) -> None:
        async with subscription:
            async for event in subscription:
                task = asyncio.create_task(self._handle(event))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)

    async def _handle(self, event: LiveEvent) -> None:
        call_id = event.payload.get("call_id")
        lock = self._locks.setdefault(call_id, asyncio.Lock())
        try:
            # One call's frames go out in the order of its events.
            async with lock:
                if event.kind == "call.ringing":
                    await self._ringing(call_id, event.payload)
                else:
                    await self._changed(call_id, event.kind, event.payload)
        except Exception:
            log.exception("popup for event %s failed", event.id)
        finally:
            if not lock.locked() and event.kind in ("call.ended", "call.missed"):
                self._locks.pop(call_id, None)

    def _remember(self, call_id: Any) -> _CallSeen:
        seen = self._calls.get(call_id)
        if seen is None:
            seen = self._calls[call_id] = _CallSeen()
            while len(self._calls) > REMEMBERED_CALLS:
                self._calls.popitem(last=False)
        return seen

    async def _targets(self, payload: Mapping[str, Any]) -> list[Connection]:
        operators = [c for c in self.connections if c.user.can(Permission.CALL_POPUPS)]
        extension = payload.get("extension")
        if not operators or not extension:
            return operators
        owners = await self._owners(str(extension))
        if not owners:
            return operators
        return [c for c in operators if c.user.id in owners]

    async def _owners(self, extension: str) -> tuple[int, ...]:
        """Who owns an extension, remembered for a few seconds: fifty calls at once need not
        ask the database fifty times, nor ask it again while the first answer is on its way."""
        now = time.monotonic()
        known = self._extensions.get(extension)
        if known is None or now - known[0] >= EXTENSIONS_TTL:
            asked = asyncio.ensure_future(users_with_extension(self.db, extension=extension))
            asked.add_done_callback(lambda done: self._forget_failed(extension, done))
            known = self._extensions[extension] = (now, asked)
        return await asyncio.shield(known[1])

    def _forget_failed(self, extension: str, asked: asyncio.Future[tuple[int, ...]]) -> None:
        failed = asked.cancelled() or asked.exception() is not None
        if failed and self._extensions.get(extension, (0.0, None))[1] is asked:
            del self._extensions[extension]

    async def _ringing(self, call_id: Any, payload: Mapping[str, Any]) -> None:
        targets = await self._targets(payload)
        if not targets:
            return
        client_id = payload.get("client_id")
        card, card_missing = None, False
        if client_id:
            try:
                card = await self._cards.card(int(client_id))
            except Exception:
                # The call still pops: the operator sees who rings and can open the card.
                log.exception("client card %s for call %s could not be read", client_id, call_id)
                card_missing = True
        seen = self._remember(call_id)
        frames: dict[tuple[str, bool, bool], str] = {}
        sends = []
        for connection in targets:
            can_book = connection.user.can(Permission.ORDERS_BOOK)
            can_create = connection.user.can(Permission.CLIENTS_CREATE)
            key = (connection.language, can_book, can_create)
            if key not in frames:
                # Rendered and encoded once for everyone who sees the call alike.
                html = render_fragment(
                    self.env, "popup.html", connection.language, call=payload, card=card,
                    card_missing=card_missing,
                    can_book=can_book, can_create=can_create,
                    form={"phone": payload.get("caller") or "", "name": "", "address": "",
                          "lat": "", "lon": ""},
                )
                frames[key] = json.dumps(
                    {"type": "popup", "call_id": call_id, "state": "ringing", "html": html}
                )
            seen.users.add(connection.user.id)
            sends.append(_send(connection, frames[key]))
        await asyncio.gather(*sends)

    async def _changed(self, call_id: Any, kind: str, payload: Mapping[str, Any]) -> None:
        seen = self._calls.get(call_id)
        if seen is None:
            return
        state = kind.removeprefix("call.")
        if state == "answered":
            seen.answered_by = payload.get("extension") or None
        sends = []
        for connection in self._recipients(seen.users):
            frame = {
                "type": "call",
                "call_id": call_id,
                "state": state,
                "text": self._state_text(state, seen, connection.language),
                "close": state == "ended"
                and (seen.answered_by is None or connection.user.extension != seen.answered_by),
            }
            sends.append(_send(connection, json.dumps(frame)))
        await asyncio.gather(*sends)

    @staticmethod
    def _state_text(state: str, seen: _CallSeen, language: str) -> str:
        if state == "answered":
            if seen.answered_by:
                return text("popup.answered_by", language, extension=seen.answered_by)
            return text("popup.answered", language)
        if state == "missed":
            return text("popup.missed", language)
        return text("popup.ended", language)

    def _recipients(self, user_ids: Iterable[int]) -> list[Connection]:
        wanted = set(user_ids)
        return [c for c in self.connections if c.user.id in wanted]


async def _send(connection: Connection, frame: str) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await connection.socket.send_str(frame)


POPUPS = web.AppKey("panel_popups", Popups)


@routes.get("/ws")
async def socket(request: web.Request) -> web.StreamResponse:
    user = require_socket(request, Permission.CALL_POPUPS)
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    popups = request.app[POPUPS]
    connection = Connection(user, language_of(request), ws)
    popups.connections.add(connection)
    log.info("user %s connected for call popups", user.id)
    try:
        await ws.send_json({"type": "hello", "user_id": user.id})
        async for message in ws:
            if message.type == WSMsgType.ERROR:
                break
    finally:
        popups.connections.discard(connection)
    return ws


def popups_context(parent: web.Application) -> Any:
    """Panel start-up: a dispatcher on the parent's hub; shut-down closes the sockets."""

    async def on_startup(app: web.Application) -> None:
        popups = Popups(parent[DATABASE], app[TEMPLATE_ENV])
        popups.start(parent[LIVE])
        app[POPUPS] = popups

    async def on_shutdown(app: web.Application) -> None:
        await app[POPUPS].stop()

    return on_startup, on_shutdown
