"""The database handle: an async engine and the one way to open a transaction.

SQLite (aiosqlite) is the default engine and PostgreSQL (asyncpg) the production one. On SQLite
the driver's own transaction handling is switched off and every transaction starts with
``BEGIN IMMEDIATE``: writers queue on the database lock instead of failing half-way, which is
what makes booking safe across processes there.

SQLite's lock has no queue: a writer that finds it taken sleeps and tries again, ever longer
apart, so under a stream of writes the one that has waited longest is the likeliest to lose
to a newcomer, and a process that writes all the time can starve another for seconds.
Writers therefore take turns before they begin (:class:`_WriteGate`): within a process on an
asyncio lock, in the order they came, and across processes on an advisory lock of a file
beside the database (``<database>-writer.lock``), whose waiters the kernel wakes the moment it
is released. Only the writer whose turn it is talks to SQLite. SQLite writes one at a time
anyway, so nothing is lost by it.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core.config import DatabaseSettings

try:
    import fcntl
except ImportError:  # not a POSIX system: writers take turns within each process only
    fcntl = None  # type: ignore[assignment]

READ_ONLY = "brigadier_read_only"  # an execution option: begin the transaction to read only
DATABASE = "brigadier_database"  # session.info: the Database that opened the session


def resolve_url(url: str, base: Path) -> str:
    """Make a relative SQLite path relative to ``base`` (the config file's folder)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not path.is_absolute():
            path = base / path
            path.parent.mkdir(parents=True, exist_ok=True)
            return parsed.set(database=str(path)).render_as_string(hide_password=False)
    return url


def create_engine(
    url: str, *, echo: bool = False, busy_timeout_ms: int = 10000, pool_size: int = 10
) -> AsyncEngine:
    """The engine for ``url``. Its pool hands out the connection returned last (LIFO): work
    that comes one piece after another stays on the same few connections, whose prepared
    statements (asyncpg, sqlite3) are already there, and the rest of the pool stays idle
    instead of each connection preparing every statement in turn."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(
            url,
            echo=echo,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_use_lifo=True,
            connect_args={"timeout": busy_timeout_ms / 1000},
        )
        _prepare_sqlite(engine, busy_timeout_ms)
        database = parsed.database if parsed.database not in (None, "", ":memory:") else None
        _WRITE_GATES[engine.sync_engine] = _WriteGate(
            busy_timeout_ms / 1000, Path(f"{database}-writer.lock") if database else None
        )
        return engine
    engine = create_async_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_use_lifo=True
    )
    _ping_when_idle(engine, PING_AFTER_IDLE_SECONDS)
    return engine


# A pooled connection idle this long is pinged before use; one used more recently is trusted.
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """SQLAlchemy's pessimistic disconnect handling (``pool_pre_ping``), only for connections
    that sat idle: a server restart or a dropped idle connection is found before a request uses
    it, while the busy path, where a connection goes back and forth many times a second, skips
    a round trip per transaction. A failed ping makes the pool replace the connection."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _taken(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < idle_seconds:
            return  # just opened, or in use a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as err:
            raise DisconnectionError("the idle connection is gone") from err
        if not alive:
            raise DisconnectionError("the idle connection is gone")


def _prepare_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see the "begin" hook below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front so concurrent writers wait instead of deadlocking;
        # a read-only transaction reads its WAL snapshot without it.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN DEFERRED")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


class _Turns:
    """Who writes next in this process: one writer at a time, each kind in arrival order; a
    ``first`` one (the outbox sender: one turn of it serves many chats) goes ahead of the
    others, but never twice in a row while others wait."""

    def __init__(self) -> None:
        self._busy = False
        self._ahead = False  # the last turn went to a ``first`` writer ahead of others
        self._waiting: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (
            deque(), deque()
        )

    async def acquire(self, *, first: bool) -> None:
        if not self._busy and not any(self._waiting):
            self._busy = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._waiting[0 if first else 1]
        queue.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # handed over just as the wait was given up: pass it on
            else:
                queue.remove(turn)
            raise

    def release(self) -> None:
        first, others = self._waiting
        order = (others, first) if self._ahead else (first, others)
        for queue in order:
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    self._ahead = queue is first and bool(others)
                    turn.set_result(None)
                    return
        self._ahead = False
        self._busy = False


class _WriteGate:
    """A SQLite database's writers, one at a time: in this process by :class:`_Turns` (per
    event loop), then across processes (``flock`` on ``lock_path``, waited for in a thread).
    One that waits longer than the busy timeout fails as SQLite itself would."""

    def __init__(self, timeout: float, lock_path: Path | None) -> None:
        self.timeout = timeout
        self.lock_path = lock_path
        self._fd: int | None = None
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Turns] = (
            weakref.WeakKeyDictionary()
        )

    @asynccontextmanager
    async def turn(self, *, first: bool = False) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        turns = self._turns.get(loop)
        if turns is None:
            turns = self._turns[loop] = _Turns()
        try:
            async with asyncio.timeout(self.timeout):
                await turns.acquire(first=first)
                try:
                    fd = await self._lock_file(loop)
                except BaseException:
                    turns.release()
                    raise
        except TimeoutError:
            raise OperationalError(
                "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
            ) from None
        try:
            yield
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            turns.release()

    async def _lock_file(self, loop: asyncio.AbstractEventLoop) -> int | None:
        if self.lock_path is None or fcntl is None:
            return None
        if self._fd is None:
            self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        fd = self._fd
        waiting = loop.run_in_executor(None, fcntl.flock, fd, fcntl.LOCK_EX)
        try:
            await asyncio.shield(waiting)
        except BaseException:
            # Given up on (timeout, cancellation): the lock, once the thread gets it, goes back.
            def give_back(done: asyncio.Future[None]) -> None:
                if not done.cancelled() and done.exception() is None:
                    fcntl.flock(fd, fcntl.LOCK_UN)

            waiting.add_done_callback(give_back)
            raise
        return fd

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


_WRITE_GATES: weakref.WeakKeyDictionary[Engine, _WriteGate] = weakref.WeakKeyDictionary()


class Database:
    """Opens transactions. Service functions take it; transports never touch a session.

    ``bind`` may be an engine, or a connection already inside a transaction (tests), in which
    case each ``transaction()`` becomes a savepoint of it.
    """

    def __init__(self, bind: AsyncEngine | AsyncConnection) -> None:
        self.bind = bind
        self.engine = bind if isinstance(bind, AsyncEngine) else bind.engine
        options: dict[str, Any] = {"expire_on_commit": False, "info": {DATABASE: self}}
        if isinstance(bind, AsyncConnection):
            options["join_transaction_mode"] = "create_savepoint"
        self._sessions = async_sessionmaker(bind, **options)

    @classmethod
    def from_settings(cls, settings: DatabaseSettings, base: Path) -> Database:
        url = resolve_url(settings.url, base)
        return cls(
            create_engine(
                url,
                echo=settings.echo,
                busy_timeout_ms=settings.busy_timeout_ms,
                pool_size=settings.pool_size,
            )
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(
        self, *, read_only: bool = False, first: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block ends, rolls back when it raises.

        ``read_only``: the block must only read. On SQLite it then neither takes nor waits for
        the write lock, so busy writers do not hold up what only shows data. ``first``: on
        SQLite this writer goes ahead of the process's ordinary writers waiting for their turn.
        """
        gate = None if read_only or self.bind is not self.engine else (
            _WRITE_GATES.get(self.engine.sync_engine)
        )
        if gate is None:
            async with self._sessions() as session, session.begin():
                if read_only and isinstance(self.bind, AsyncEngine):
                    await session.connection(execution_options=self._read_only_options)
                yield session
            return
        async with gate.turn(first=first), self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def single_statement(self, *, first: bool = False) -> AsyncIterator[AsyncSession]:
        """For one statement that is atomic on its own (an upsert, say). PostgreSQL runs it
        without BEGIN and COMMIT, two round trips fewer; elsewhere it is a transaction."""
        if self.dialect != "postgresql" or not isinstance(self.bind, AsyncEngine):
            async with self.transaction(first=first) as tx:
                yield tx
            return
        async with self._sessions() as session:
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield session

    @functools.cached_property
    def _read_only_options(self) -> dict[str, Any]:
        if self.dialect == "postgresql":
            # Without BEGIN and COMMIT: two round trips fewer for every read. Each statement
            # still reads a snapshot of its own, as in a READ COMMITTED transaction.
            return {"isolation_level": "AUTOCOMMIT"}
        return {READ_ONLY: True}

    async def dispose(self) -> None:
        if isinstance(self.bind, AsyncEngine):
            await self.bind.dispose()
            gate = _WRITE_GATES.get(self.engine.sync_engine)
            if gate is not None:
                gate.close()  # opened again should the engine be used again
