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
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from aiohttp import web

from core.calls import CallEvent, CallView, record_call_event
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.errors import BrigadierError, Forbidden, InvalidInput

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


@dataclass(frozen=True)
class PbxContext:
    """What an adapter needs: settings, the database (opened when the app starts), the clock."""

    config: Config
    database: Callable[[], Database]
    clock: Clock

    async def record(self, event: CallEvent) -> CallView:
        return await record_call_event(
            self.database(), event=event, region=self.config.company.phone_region
        )


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
