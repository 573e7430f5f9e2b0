"""What every PBX adapter shares: its context, its refusals, and the registry of adapters.

A provider is a folder ``telephony/<provider>/``: ``parse.py`` turns the provider's request into
a :class:`core.calls.CallEvent` (pure), ``auth.py`` checks that the request is the provider's,
and the transport is either ``views.py`` (webhooks: a ``routes`` table mounted under ``/pbx/``)
or ``listener.py`` (a socket of ours: ``enabled(settings)`` and ``running(context)``, an async
context manager). Adding a provider is its folder plus one line below.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from aiohttp import web

from core.calls import CallEvent, CallView, record_call_event, record_call_events
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.errors import BrigadierError, Forbidden, InvalidInput
from webhooks.live import LiveEvent, LiveHub

log = logging.getLogger(__name__)

WEBHOOK_ADAPTERS: Mapping[str, str] = {
    "binotel": "telephony.binotel.views",
    "zadarma": "telephony.zadarma.views",
    "twilio": "telephony.twilio.views",
}
LISTENER_ADAPTERS: Mapping[str, str] = {
    "asterisk": "telephony.asterisk.listener",
    "sip": "telephony.sip.listener",
}


def no_hub() -> LiveHub | None:
    return None


BATCH_LIMIT = 32  # events one transaction records at most
# Transactions recording at once: on PostgreSQL one works while the other waits for the server;
# SQLite writes one at a time whatever we do.
LANES = {"postgresql": 2, "sqlite": 1}


class CallRecorder:
    """Records one process's call events, those that arrive together in one transaction.

    Fifty calls ringing at once would otherwise queue fifty transactions: for SQLite's one write
    lock, whose busy handler sleeps and retries rather than queueing, or for connections beyond
    the pool's, opened and closed again, each commit waking every process's live hub. Here
    ``LANES`` transactions run at a time and the events that arrive meanwhile go together into
    the next ones. A transaction that fails is retried one event at a time, so one bad event
    fails only its own request.
    """

    def __init__(self) -> None:
        self._waiting: list[tuple[CallEvent, asyncio.Future[CallView]]] = []
        self._lanes: set[asyncio.Task[None]] = set()
        self._busy = 0  # lanes draining; counted apart from the tasks, which end a bit later

    async def record(self, db: Database, event: CallEvent, *, region: str) -> CallView:
        done: asyncio.Future[CallView] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, done))
        lanes = LANES.get(db.dialect, 1)
        if self._busy < lanes:
            self._busy += 1
            lane = asyncio.create_task(self._drain(db, region, lanes))
            self._lanes.add(lane)
            lane.add_done_callback(self._lanes.discard)
        return await done

    async def _drain(self, db: Database, region: str, lanes: int) -> None:
        try:
            while self._waiting:
                # The waiting events shared among the lanes: one lane's long transaction would
                # hold back every event in it while the others idle.
                size = min(BATCH_LIMIT, -(-len(self._waiting) // lanes))
                batch = self._waiting[:size]
                del self._waiting[:size]
                try:
                    await self._record(db, batch, region)
                finally:
                    for _, done in batch:
                        done.cancel()  # only those the lane was stopped before settling
        finally:
            self._busy -= 1

    async def _record(
        self, db: Database, batch: list[tuple[CallEvent, asyncio.Future[CallView]]], region: str
    ) -> None:
        if len(batch) > 1:
            try:
                views = await record_call_events(
                    db, events=[event for event, _ in batch], region=region
                )
            except Exception:
                pass  # recorded again one by one below, each with its own outcome
            else:
                for (_, done), view in zip(batch, views, strict=True):
                    _settle(done, view)
                return
        for event, done in batch:
            try:
                view = await record_call_event(db, event=event, region=region)
            except Exception as err:
                _settle(done, err)
            else:
                _settle(done, view)


def _settle(done: asyncio.Future[CallView], outcome: CallView | Exception) -> None:
    if done.done():
        return  # its request went away meanwhile
    if isinstance(outcome, Exception):
        done.set_exception(outcome)
    else:
        done.set_result(outcome)


@dataclass(frozen=True)
class PbxContext:
    """What an adapter needs: settings, the database (opened when the app starts), the clock,
    and this process's live hub when it runs one."""

    config: Config
    database: Callable[[], Database]
    clock: Clock
    live: Callable[[], LiveHub | None] = no_hub
    recorder: CallRecorder = field(default_factory=CallRecorder, repr=False, compare=False)

    async def record(self, event: CallEvent) -> CallView:
        view = await self.recorder.record(
            self.database(), event, region=self.config.company.phone_region
        )
        hub = self.live()
        if hub is not None:
            # Operators connected to this process see the popup now; the others' processes
            # hear of it from the database as always.
            hub.publish(
                LiveEvent(e.id, e.kind, None, e.payload, e.created_at) for e in view.events
            )
        return view


PBX = web.AppKey("pbx", PbxContext)


def refused(provider: str, reason: str) -> Forbidden:
    return Forbidden("pbx.refused", provider=provider, reason=reason)


def malformed(provider: str, field: str, reason: str, value: object = None) -> InvalidInput:
    return InvalidInput("pbx.malformed", field=field, value=value, provider=provider, reason=reason)


def required(provider: str, fields: Mapping[str, str], name: str) -> str:
    """A field the request must carry, non-empty."""
    value = fields.get(name, "").strip()
    if not value:
        raise malformed(provider, name, "is missing")
    return value


def optional(fields: Mapping[str, str], name: str) -> str | None:
    return fields.get(name, "").strip() or None


def whole_seconds(provider: str, fields: Mapping[str, str], name: str) -> int | None:
    text = fields.get(name, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError as err:
        raise malformed(provider, name, "is not a whole number", text) from err
    if value < 0:
        raise malformed(provider, name, "is negative", text)
    return value


def check_source(provider: str, allowed: tuple[str, ...], remote: str | None) -> None:
    """The request's source address must be on ``telephony.allowed_ips`` when that is set."""
    if not allowed:
        return
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError as err:
        raise refused(provider, "unknown source address") from err
    if not any(address in ipaddress.ip_network(net, strict=False) for net in allowed):
        raise refused(provider, f"source {address} is not allowed")


def webhook_adapters() -> Iterator[tuple[str, ModuleType]]:
    for name, module in WEBHOOK_ADAPTERS.items():
        yield name, importlib.import_module(module)


@contextlib.asynccontextmanager
async def listeners_running(context: PbxContext) -> AsyncIterator[None]:
    """Run every listener the settings enable until the block ends."""
    async with contextlib.AsyncExitStack() as stack:
        for name, path in LISTENER_ADAPTERS.items():
            module = importlib.import_module(path)
            if module.enabled(context.config.telephony):
                log.info("starting the %s listener", name)
                await stack.enter_async_context(module.running(context))
        yield


class SerialRecorder:
    """Records a listener's call events one after another, off the socket's callbacks.

    One queue keeps a call's events in the order they arrived; a failure is logged and the next
    event still goes through (a listener must not die of one bad call).
    """

    def __init__(self, context: PbxContext) -> None:
        self._context = context
        self._queue: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run())

    def put(self, event: CallEvent) -> None:
        self._queue.put_nowait(event)

    async def stop(self) -> None:
        """Record what is queued, then stop."""
        await self._queue.join()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._context.record(event)
            except BrigadierError as err:
                log.warning("%s call %s not recorded: %s", event.provider,
                            event.provider_call_id, err)
            except Exception:
                log.exception("%s call %s not recorded", event.provider, event.provider_call_id)
            finally:
                self._queue.task_done()


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """JSON nesting as PHP form brackets: ``{"a": {"b": 1}}`` → ``{"a[b]": "1"}``."""
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten(value, name))
        elif isinstance(value, list):
            flat.update(flatten({str(n): item for n, item in enumerate(value)}, name))
        elif value is not None:
            flat[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return flat


def public_base(request: web.Request, config: Config) -> str:
    """The https base the PBX reached us at: from settings behind a proxy, else as requested."""
    configured = config.telephony.public_base_url.rstrip("/")
    return configured or f"{request.scheme}://{request.host}"


async def read_fields(request: web.Request) -> dict[str, str]:
    """A POST body as flat fields: form encoding, or JSON with nesting as PHP brackets."""
    if request.content_type == "application/json":
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise InvalidInput("invalid_value", field="body", value="", reason="not JSON") from err
        if not isinstance(data, dict):
            raise InvalidInput("invalid_value", field="body", value="", reason="not an object")
        return flatten(data)
    try:
        form = await request.post()
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidInput("invalid_value", field="body", value="", reason="not a form") from err
    return {key: value for key, value in form.items() if isinstance(value, str)}
