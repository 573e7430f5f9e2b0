"""SQLite writers take turns: in arrival order within a process, the outbox sender ahead of
others but never twice in a row, and fairly across processes; a writer kept waiting past the
busy timeout fails as SQLite would. PostgreSQL connections that sat idle are checked before
use, and only those."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

import core.db
from core.db import Database, _Turns, create_engine
from tests.conftest import PostgresServer, _plain_dsn, _require

ROOT = Path(__file__).resolve().parents[2]
# Another process writing without pause: twenty writers, each transaction holding SQLite's
# lock for 20 ms of work, for as long as the test needs.
HOG = """
import asyncio, sys, time
sys.path.insert(0, {root!r})
from sqlalchemy import text
from core.db import Database, create_engine

async def main():
    db = Database(create_engine({url!r}, pool_size=20, busy_timeout_ms=60000))
    async def writer():
        while True:
            async with db.transaction() as tx:
                await tx.execute(text("INSERT INTO marks(who) VALUES ('hog')"))
                time.sleep(0.02)
    print("writing", flush=True)
    await asyncio.gather(*(writer() for _ in range(20)))

asyncio.run(main())
"""


async def sqlite_database(path: Path, **options: int) -> Database:
    db = Database(create_engine(f"sqlite+aiosqlite:///{path}", **options))
    async with db.transaction() as tx:
        await tx.execute(text("CREATE TABLE IF NOT EXISTS marks(id INTEGER PRIMARY KEY, who)"))
    return db


async def test_a_process_writing_without_pause_does_not_starve_another(tmp_path: Path):
    path = tmp_path / "shared.db"
    db = await sqlite_database(path)
    hog = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOG.format(root=str(ROOT), url=f"sqlite+aiosqlite:///{path}"),
        stdout=subprocess.PIPE,
    )
    try:
        assert hog.stdout is not None
        assert (await hog.stdout.readline()).strip() == b"writing"
        await asyncio.sleep(0.5)  # its writers queue up
        waits = []
        for _ in range(15):
            started = time.perf_counter()
            async with db.transaction() as tx:
                await tx.execute(text("INSERT INTO marks(who) VALUES ('us')"))
            waits.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)
    finally:
        hog.kill()
        await hog.wait()
        await db.dispose()
    # Left to SQLite's own retries this writer waits seconds behind every newcomer of the
    # other process; taking turns, about one of its 20 ms transactions.
    assert max(waits) < 1.0, waits
    assert statistics.median(waits) < 0.25, waits


async def test_writers_of_one_process_are_served_in_turn_the_sender_ahead_once():
    turns = _Turns()
    served: list[str] = []

    async def write(name: str, *, first: bool = False) -> None:
        await turns.acquire(first=first)
        served.append(name)
        await asyncio.sleep(0)
        turns.release()

    await turns.acquire(first=False)  # someone is writing
    waiting = [asyncio.create_task(write("a")), asyncio.create_task(write("b"))]
    await asyncio.sleep(0)
    waiting += [asyncio.create_task(write("sender 1", first=True)),
                asyncio.create_task(write("sender 2", first=True))]
    await asyncio.sleep(0)
    turns.release()
    await asyncio.gather(*waiting)

    assert served == ["sender 1", "a", "sender 2", "b"]


async def test_a_writer_given_up_on_passes_its_turn_on():
    turns = _Turns()
    await turns.acquire(first=False)
    impatient = asyncio.create_task(turns.acquire(first=False))
    patient = asyncio.create_task(turns.acquire(first=False))
    await asyncio.sleep(0)
    impatient.cancel()
    turns.release()
    await asyncio.wait_for(patient, 1)


async def test_a_writer_waiting_past_the_busy_timeout_fails_as_sqlite_does(tmp_path: Path):
    db = await sqlite_database(tmp_path / "busy.db", busy_timeout_ms=200)
    holding = asyncio.Event()

    async def hold() -> None:
        async with db.transaction() as tx:
            await tx.execute(text("INSERT INTO marks(who) VALUES ('holder')"))
            holding.set()
            await asyncio.sleep(1)

    holder = asyncio.create_task(hold())
    await holding.wait()
    try:
        started = time.perf_counter()
        with pytest.raises(OperationalError, match="database is locked"):
            async with db.transaction() as tx:
                await tx.execute(text("INSERT INTO marks(who) VALUES ('late')"))
        assert 0.15 < time.perf_counter() - started < 0.9
        # Reading is never held up by writers.
        async with asyncio.timeout(0.5), db.transaction(read_only=True) as tx:
            assert await tx.scalar(text("SELECT count(*) FROM marks")) == 0
    finally:
        await holder
        await db.dispose()
    async with db.transaction(read_only=True) as tx:
        assert await tx.scalar(text("SELECT group_concat(who) FROM marks")) == "holder"
    await db.dispose()


async def test_a_pooled_connection_lost_while_idle_is_replaced_unnoticed(
    postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
):
    _require(postgres)
    url = await postgres.new_database()
    monkeypatch.setattr(core.db, "PING_AFTER_IDLE_SECONDS", 0.2)
    db = Database(create_engine(url, pool_size=1))
    try:
        async with db.transaction(read_only=True) as tx:
            backend = await tx.scalar(text("SELECT pg_backend_pid()"))
        # The server ends the pooled connection while it is idle (a restart, a proxy's timeout).
        admin = await asyncpg.connect(_plain_dsn(url))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", backend)
        finally:
            await admin.close()
        await asyncio.sleep(0.3)

        async with db.transaction(read_only=True) as tx:
            assert await tx.scalar(text("SELECT pg_backend_pid()")) != backend
    finally:
        await db.dispose()


async def test_a_connection_in_use_a_moment_ago_is_not_pinged(postgres: PostgresServer):
    _require(postgres)
    db = Database(create_engine(await postgres.new_database(), pool_size=1))
    try:
        async with db.transaction(read_only=True) as tx:
            await tx.scalar(text("SELECT 1"))
        pings = 0
        driver = db.engine.sync_engine.dialect
        original = driver.do_ping

        def counted(connection: object) -> bool:
            nonlocal pings
            pings += 1
            return original(connection)

        driver.do_ping = counted  # type: ignore[method-assign]
        for _ in range(5):
            async with db.transaction(read_only=True) as tx:
                await tx.scalar(text("SELECT 1"))
        assert pings == 0
    finally:
        await db.dispose()


async def test_a_read_on_postgresql_opens_no_transaction_and_a_write_does(
    postgres: PostgresServer,
):
    _require(postgres)
    db = Database(create_engine(await postgres.new_database(), pool_size=1))
    # now() is the moment the statement's transaction began: the same for every statement of
    # one transaction, a new one for a statement on its own.
    began = text("SELECT now() FROM pg_sleep(0.002)")
    try:
        async with db.transaction(read_only=True) as tx:
            assert await tx.scalar(began) != await tx.scalar(began)
        async with db.transaction() as tx:
            assert await tx.scalar(began) == await tx.scalar(began)
        # The pooled connection went back to ordinary transactions.
        async with db.transaction() as tx:
            assert await tx.scalar(began) == await tx.scalar(began)
    finally:
        await db.dispose()


async def test_work_one_piece_after_another_stays_on_the_connection_returned_last(fresh_db):
    """Its statements are prepared there already; the other pooled connections stay idle."""
    held = asyncio.Event()
    all_open = asyncio.Barrier(6)

    async def busy() -> None:
        async with fresh_db.transaction(read_only=True) as tx:  # no writer's turn to wait for
            await tx.execute(text("SELECT 1"))
            await all_open.wait()
            await held.wait()

    crowd = [asyncio.create_task(busy()) for _ in range(5)]
    async with asyncio.timeout(10):
        await all_open.wait()
    held.set()
    await asyncio.gather(*crowd)  # five connections in the pool now

    used = set()
    for _ in range(10):
        async with fresh_db.transaction() as tx:
            await tx.execute(text("SELECT 1"))
            raw = await (await tx.connection()).get_raw_connection()
            used.add(id(raw.driver_connection))
    assert len(used) == 1
