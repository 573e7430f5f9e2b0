"""The live hub: events written by any process, pushed to the websockets of every process.

The ``events`` table is the source of truth: core writes an event in the same transaction as
the change it describes, so a pushed event is always a committed one. Each process runs one
hub that reads new events by id and hands them to its local subscribers, who subscribe by
event kind (``"call.ringing"``, or ``"call.*"`` for a whole family).

What wakes a hub depends on the engine:

- PostgreSQL: a statement trigger on ``events`` (migrations 0006 and 0012) sends each new
  event, as JSON, in a ``pg_notify('brigadier_events', ...)``; PostgreSQL delivers them at
  commit to every process listening, whoever wrote the event (a webhook, a bot, the command
  line). The hub hands them on without reading the table; an event too large for a
  notification comes with an empty payload, and the hub reads it. A slow poll backs this up
  in case a notification is lost while reconnecting.
- SQLite (one machine, several processes): the hub polls the table every
  ``panel.live_poll_seconds`` (20 ms by default); one indexed read of ``id > last seen``, on a
  connection the hub keeps for it.

The hub also keeps the process's copy of the catalog and zones current (``core/reference.py``):
a ``catalog.changed`` event from any process drops it.

A process that has just committed events may also :meth:`LiveHub.publish` them: its own
subscribers hear them at once instead of after the next notification or poll, and the read that
finds them in the table later passes them over, so nobody hears an event twice.

Redis pub/sub is not used here although it could carry the signal: publishing would need
every writer to publish after its commit, and a writer that forgets (or crashes in between)
would leave panels silent; the database's own signal cannot be forgotten.

Ids are handed out before commit, so on PostgreSQL a later id can become visible before an
earlier one. The hub therefore remembers the ids it has seen above its low-water mark and
keeps looking for a missing id for ``GAP_SECONDS`` (a rolled-back transaction leaves a gap for
ever) before giving up on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from aiohttp import web
from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from core import reference
from core.db import Database
from core.models import Event

log = logging.getLogger(__name__)

CHANNEL = "brigadier_events"
GAP_SECONDS = 10.0
BATCH = 500
PG_FALLBACK_POLL_SECONDS = 2.0
QUEUE_LIMIT = 1000


_events = cast(Table, Event.__table__).c
# Built once, and of plain columns: read after every commit of a busy minute.
_NEW_EVENTS = (
    select(_events.id, _events.kind, _events.order_id, _events.payload, _events.created_at)
    .where(_events.id > bindparam("after"))
    .order_by(_events.id)
    .limit(BATCH)
)


@dataclass(frozen=True)
class LiveEvent:
    id: int
    kind: str
    order_id: int | None
    payload: Mapping[str, Any]
    created_at: datetime


def _matches(patterns: frozenset[str], kind: str) -> bool:
    if kind in patterns or "*" in patterns:
        return True
    return any(p.endswith(".*") and kind.startswith(p[:-1]) for p in patterns)


class Subscription:
    """Events of the chosen kinds, in id order, from the moment of subscribing."""

    def __init__(self, hub: LiveHub, patterns: frozenset[str]) -> None:
        self._hub = hub
        self.patterns = patterns
        self._queue: asyncio.Queue[LiveEvent] = asyncio.Queue(QUEUE_LIMIT)

    def offer(self, event: LiveEvent) -> None:
        if not _matches(self.patterns, event.kind):
            return
        if self._queue.full():
            # A consumer this far behind is stuck; dropping the oldest keeps the rest current.
            self._queue.get_nowait()
            log.warning("live subscriber lagging; dropped an event before %s", event.id)
        self._queue.put_nowait(event)

    async def get(self) -> LiveEvent:
        return await self._queue.get()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> LiveEvent:
        return await self.get()

    def close(self) -> None:
        self._hub._subscriptions.discard(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class LiveHub:
    def __init__(self, db: Database, *, poll_seconds: float = 0.05) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self._subscriptions: set[Subscription] = set()
        self._wake = asyncio.Event()
        self._low: int | None = None
        self._seen: set[int] = set()
        self._gaps: dict[int, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._reader: AsyncConnection | None = None  # SQLite: the poll's own connection

    def subscribe(self, *kinds: str) -> Subscription:
        """Hear events of these kinds (``"order.*"`` for all ``order.`` kinds, ``"*"`` for all)."""
        subscription = Subscription(self, frozenset(kinds))
        self._subscriptions.add(subscription)
        return subscription

    def publish(self, events: Iterable[LiveEvent]) -> None:
        """Hand events this process has just committed to its subscribers now."""
        for event in events:
            if self._low is None or event.id <= self._low or event.id in self._seen:
                continue  # read already, or the hub has not begun: it starts after them
            self._deliver(event)

    def wake(self) -> None:
        """Look for new events now (a notification arrived, or a test is impatient)."""
        self._wake.set()

    async def start(self) -> None:
        """Start after the newest event; a database not ready yet is retried in the loop."""
        try:
            await self._begin_at_newest()
        except (SQLAlchemyError, OSError) as err:
            log.warning("live hub waits for the database: %s", _first_line(err))
        self._tasks.append(asyncio.create_task(self._run(), name="live-hub"))
        if self.db.dialect == "postgresql":
            self._tasks.append(asyncio.create_task(self._listen(), name="live-hub-listen"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self._close_reader()

    async def _close_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            with contextlib.suppress(Exception):
                await reader.close()

    async def _run(self) -> None:
        interval = (
            PG_FALLBACK_POLL_SECONDS if self.db.dialect == "postgresql" else self.poll_seconds
        )
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that lands as the wait ends, and stop() would then hang.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                if self._low is None:
                    await self._begin_at_newest()
                while await self._fetch() == BATCH:
                    pass
            except (SQLAlchemyError, OSError) as err:
                log.warning("live hub cannot read events, retrying: %s", _first_line(err))
                await asyncio.sleep(1)
            except Exception:
                log.exception("live hub failed reading events; retrying")
                await asyncio.sleep(1)

    async def _begin_at_newest(self) -> None:
        async with self.db.transaction(read_only=True) as tx:
            self._low = await tx.scalar(select(func.coalesce(func.max(Event.id), 0))) or 0

    async def _fetch(self) -> int:
        if self._low is None:
            return 0
        read = self._read_sqlite if self.db.dialect == "sqlite" else self._read
        events = await read(self._low)
        for event in events:
            # A notification may have handed an event on, and moved the mark past it, while
            # the read was on its way.
            if event.id > self._low and event.id not in self._seen:
                self._deliver(event)
        self._advance(self._low)
        return len(events)

    def _deliver(self, event: LiveEvent) -> None:
        self._seen.add(event.id)
        self._gaps.pop(event.id, None)
        if event.kind == reference.CHANGED:
            reference.forget(self.db)  # another process changed the catalog or the zones
        for subscription in list(self._subscriptions):
            subscription.offer(event)

    async def _read(self, after: int) -> list[LiveEvent]:
        async with self.db.transaction(read_only=True) as tx:
            rows = await tx.execute(_NEW_EVENTS, {"after": after})
            return [
                LiveEvent(row.id, row.kind, row.order_id, dict(row.payload), row.created_at)
                for row in rows
            ]

    async def _read_sqlite(self, after: int) -> list[LiveEvent]:
        """A plain read on the driver, on a connection the hub keeps: twenty times a second
        from every process, it takes one trip to the driver's thread where checking out a
        connection and opening a transaction would take a dozen."""
        if self._reader is None:
            self._reader = await self.db.engine.connect()
        try:
            raw = await self._reader.get_raw_connection()
            driver: Any = raw.driver_connection
            rows = await driver.execute_fetchall(
                "SELECT id, kind, order_id, payload, created_at FROM events"
                " WHERE id > ? ORDER BY id LIMIT ?",
                (after, BATCH),
            )
        except Exception:
            await self._close_reader()  # the next poll starts on a fresh connection
            raise
        return [
            LiveEvent(
                row[0], row[1], row[2], json.loads(row[3]),
                datetime.fromisoformat(row[4]).replace(tzinfo=UTC),
            )
            for row in rows
        ]

    def _advance(self, low: int) -> None:
        """Move the low-water mark over seen ids and over gaps waited on long enough."""
        now = time.monotonic()
        top = max(self._seen, default=low)
        for missing in range(low + 1, top):
            if missing not in self._seen:
                self._gaps.setdefault(missing, now)
        while True:
            following = low + 1
            if following in self._seen:
                self._seen.discard(following)
            elif following in self._gaps and now - self._gaps[following] > GAP_SECONDS:
                del self._gaps[following]
            else:
                break
            low = following
        self._low = low

    async def _listen(self) -> None:
        """PostgreSQL: hold a connection that LISTENs, and wake the reader on each NOTIFY."""
        while True:
            try:
                async with self.db.engine.connect() as connection:
                    raw = await connection.get_raw_connection()
                    driver: Any = raw.driver_connection
                    lost = asyncio.Event()
                    await driver.add_listener(CHANNEL, self._notified)
                    driver.add_termination_listener(lambda _conn, lost=lost: lost.set())
                    self.wake()  # anything committed while we were not listening
                    try:
                        await lost.wait()
                    finally:
                        with contextlib.suppress(Exception):
                            await driver.remove_listener(CHANNEL, self._notified)
                log.warning("live hub lost its LISTEN connection; reconnecting")
            except (SQLAlchemyError, OSError) as err:
                log.warning("live hub cannot LISTEN, retrying: %s", _first_line(err))
            except Exception:
                log.exception("live hub cannot LISTEN; retrying")
            await asyncio.sleep(1)

    def _notified(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        """An event committed somewhere: handed on as it came, or read when it came without."""
        if self._low is None or not payload:
            self._wake.set()
            return
        try:
            data = json.loads(payload)
            event = LiveEvent(
                int(data["id"]), data["kind"], data["order_id"], data["payload"],
                datetime.fromisoformat(data["created_at"]),
            )
        except (ValueError, KeyError, TypeError):
            log.warning("live hub got a notification it cannot read; reading the table")
            self._wake.set()
            return
        if event.id > self._low and event.id not in self._seen:
            self._deliver(event)
            self._advance(self._low)


def _first_line(err: BaseException) -> str:
    return next(iter(str(err).strip().splitlines()), type(err).__name__)


LIVE = web.AppKey("live", LiveHub)


def live_context(
    database: Callable[[], Database], poll_seconds: float
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` entry running the hub while the application runs."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        hub = LiveHub(database(), poll_seconds=poll_seconds)
        await hub.start()
        app[LIVE] = hub
        yield
        await hub.stop()

    return context
