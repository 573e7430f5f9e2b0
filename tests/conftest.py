"""Test databases: every ``db`` test runs on SQLite and on PostgreSQL.

PostgreSQL is taken from ``BRIGADIER_TEST_PG_URL`` (default: the local server). Each test run
gets its own database, created from a migrated template and dropped afterwards. Without a
reachable server the PostgreSQL half skips with the reason; under ``CI=true`` it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import Database, create_engine
from core.migrate import upgrade

PG_URL = os.environ.get(
    "BRIGADIER_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
ENGINES = ("sqlite", "postgresql")


def _plain_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresServer:
    """Creates throwaway databases on the test server."""

    def __init__(self) -> None:
        self.prefix = f"brigadier_test_{uuid.uuid4().hex[:8]}"
        self.template: str | None = None
        self.created: list[str] = []
        self.error: str | None = None

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(_plain_dsn(PG_URL), timeout=5)

    async def new_database(self) -> str:
        """A new migrated database; returns its SQLAlchemy URL."""
        admin = await self._admin()
        try:
            if self.template is None:
                self.template = f"{self.prefix}_template"
                await admin.execute(f'CREATE DATABASE "{self.template}"')
                self.created.append(self.template)
                url = make_url(PG_URL).set(database=self.template).render_as_string(False)
                database = Database(create_engine(url))
                await upgrade(database)
                await database.dispose()
            name = f"{self.prefix}_{len(self.created)}"
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            self.created.append(name)
        finally:
            await admin.close()
        return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

    async def drop_all(self) -> None:
        if not self.created:
            return
        admin = await self._admin()
        try:
            for name in reversed(self.created):
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
async def postgres() -> AsyncIterator[PostgresServer]:
    server = PostgresServer()
    try:
        admin = await server._admin()
        await admin.close()
    except (OSError, asyncpg.PostgresError) as err:
        server.error = f"PostgreSQL at {_plain_dsn(PG_URL)} is unreachable: {err}"
    yield server
    await server.drop_all()


def _require(server: PostgresServer) -> None:
    if server.error is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{server.error} (CI=true: PostgreSQL is required)")
    pytest.skip(server.error)


async def new_database(kind: str, postgres: PostgresServer, tmp_path: Path) -> Database:
    """A migrated database of its own, committing for real (for races and processes)."""
    if kind == "postgresql":
        _require(postgres)
        return Database(create_engine(await postgres.new_database(), pool_size=20))
    database = Database(
        create_engine(f"sqlite+aiosqlite:///{tmp_path / 'brigadier.db'}", pool_size=20)
    )
    await upgrade(database)
    return database


@pytest.fixture(scope="session", params=ENGINES)
async def engine(
    request: pytest.FixtureRequest,
    postgres: PostgresServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[AsyncEngine]:
    database = await new_database(request.param, postgres, tmp_path_factory.mktemp("db"))
    yield database.engine
    await database.dispose()


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[Database]:
    """A database whose every change is rolled back after the test."""
    async with engine.connect() as connection:
        outer = await connection.begin()
        yield Database(connection)
        await outer.rollback()


@pytest.fixture(params=ENGINES)
async def fresh_db(
    request: pytest.FixtureRequest, postgres: PostgresServer, tmp_path: Path
) -> AsyncIterator[Database]:
    """A database of the test's own that really commits (races, several connections)."""
    database = await new_database(request.param, postgres, tmp_path)
    yield database
    await database.dispose()


@pytest.fixture
async def pg_db(postgres: PostgresServer, tmp_path: Path) -> AsyncIterator[Database]:
    """A database of the test's own on PostgreSQL, for what only PostgreSQL does."""
    database = await new_database("postgresql", postgres, tmp_path)
    yield database
    await database.dispose()


REDIS_URL = os.environ.get("BRIGADIER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
async def redis_url() -> AsyncIterator[str]:
    """The test Redis; skipped with the reason when unreachable (a failure under ``CI=true``)."""
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as err:
        await client.aclose()
        message = f"Redis at {REDIS_URL} is unreachable: {err}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true: Redis is required)")
        pytest.skip(message)
    await client.aclose()
    yield REDIS_URL


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of the test's own; its keys are deleted afterwards."""
    import redis.asyncio as redis

    prefix = f"brigadier_test_{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.from_url(redis_url)
    async for key in client.scan_iter(match=f"{prefix}*"):
        await client.delete(key)
    await client.aclose()
