"""The database handle: an async engine and the one way to open a transaction.

SQLite (aiosqlite) is the default engine and PostgreSQL (asyncpg) the production one. On SQLite
the driver's own transaction handling is switched off and every transaction starts with
``BEGIN IMMEDIATE``: writers queue on the database lock instead of failing half-way, which is
what makes booking safe across processes there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core.config import DatabaseSettings

READ_ONLY = "brigadier_read_only"  # an execution option: begin the transaction to read only


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
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(
            url,
            echo=echo,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"timeout": busy_timeout_ms / 1000},
        )
        _prepare_sqlite(engine, busy_timeout_ms)
        return engine
    return create_async_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


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


class Database:
    """Opens transactions. Service functions take it; transports never touch a session.

    ``bind`` may be an engine, or a connection already inside a transaction (tests), in which
    case each ``transaction()`` becomes a savepoint of it.
    """

    def __init__(self, bind: AsyncEngine | AsyncConnection) -> None:
        self.bind = bind
        self.engine = bind if isinstance(bind, AsyncEngine) else bind.engine
        options: dict[str, Any] = {"expire_on_commit": False}
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
    async def transaction(self, *, read_only: bool = False) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block ends, rolls back when it raises.

        ``read_only``: the block must only read. On SQLite it then neither takes nor waits for
        the write lock, so busy writers do not hold up what only shows data.
        """
        async with self._sessions() as session, session.begin():
            if read_only and isinstance(self.bind, AsyncEngine):
                await session.connection(execution_options={READ_ONLY: True})
            yield session

    async def dispose(self) -> None:
        if isinstance(self.bind, AsyncEngine):
            await self.bind.dispose()
