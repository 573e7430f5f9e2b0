"""Functions that only read do not wait for SQLite's write lock.

Another connection holds ``BEGIN IMMEDIATE`` on the database file (as a busy writer in another
process would) while the read functions run. A function that opened a write transaction would
wait for the lock up to the busy timeout (5 s) and miss the 2 s deadline; read-only ones read
their snapshot at once and see nothing of the uncommitted write.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from core.board import check_reassignment, day_board, route_sheet
from core.booking import book_visit, check_place
from core.cards import client_overview, repeat_draft
from core.catalog import find_service, list_categories, list_services
from core.clients import find_client, get_client
from core.db import Database, create_engine
from core.dialogs import read_dialog, save_dialog
from core.earnings import worker_earnings
from core.geo import Point
from core.invites import worker_for_telegram
from core.migrate import upgrade
from core.models import Channel, Client, Role, User, Worker
from core.offers import OFFERED, offer_states
from core.orders import client_orders, get_order
from core.profiles import client_for_telegram
from core.referrals import referral_stats
from core.schedule import worker_schedule
from core.slots import find_slots
from core.staff import get_user, users_without_password
from tests.company import CENTRE, KYIV, MONDAY, NOW, RULES, kyiv, small_company

T = TypeVar("T")

TUESDAY = MONDAY + timedelta(days=1)
HERE = Point(*CENTRE)
WORKER_CHAT = 7001
CLIENT_CHAT = 8001
DEADLINE = 2.0  # seconds; well under the busy timeout a write transaction would wait


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(
        create_engine(f"sqlite+aiosqlite:///{tmp_path / 'brigadier.db'}", busy_timeout_ms=5000)
    )
    await upgrade(database)
    yield database
    await database.dispose()


async def quick(call: Awaitable[T]) -> T:
    async with asyncio.timeout(DEADLINE):
        return await call


async def test_reads_do_not_wait_for_a_writer(sqlite_db: Database, tmp_path: Path) -> None:
    db = sqlite_db
    company = await small_company(db, workers=2)
    booking = await book_visit(
        db,
        client_id=company.client_id,
        service_id=company.service_id,
        start=kyiv(TUESDAY, 10),
        now=NOW,
        rules=RULES,
        channel=Channel.TELEGRAM,
        point=HERE,
    )
    order = booking.order
    assert order.worker_id is not None
    other_worker = next(w for w in company.worker_ids if w != order.worker_id)
    async with db.transaction() as tx:
        await tx.execute(
            update(Worker).where(Worker.id == order.worker_id).values(telegram_user_id=WORKER_CHAT)
        )
        await tx.execute(
            update(Client)
            .where(Client.id == company.client_id)
            .values(telegram_user_id=CLIENT_CHAT)
        )
        user = User(login="anna", name="Anna", role=Role.OPERATOR, password_hash=None)
        tx.add(user)
        await tx.flush()
        user_id = user.id
    await save_dialog(
        db, key="customer:8001", state="Booking:slot", data={"service_id": 1}, now=NOW
    )

    writer = sqlite3.connect(tmp_path / "brigadier.db", timeout=0, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        # Uncommitted: the readers see the snapshot from before it.
        writer.execute("UPDATE clients SET name = 'Changed' WHERE id = ?", (company.client_id,))

        # The lock is really held: a write transaction cannot begin while it is.
        impatient = Database(
            create_engine(f"sqlite+aiosqlite:///{tmp_path / 'brigadier.db'}", busy_timeout_ms=50)
        )
        try:
            with pytest.raises(OperationalError, match="locked"):
                async with impatient.transaction() as tx:
                    await tx.connection()  # BEGIN IMMEDIATE
        finally:
            await impatient.dispose()

        assert await quick(read_dialog(db, key="customer:8001")) == (
            "Booking:slot",
            {"service_id": 1},
        )
        assert await quick(read_dialog(db, key="customer:unknown")) == (None, {})

        worker = await quick(worker_for_telegram(db, telegram_user_id=WORKER_CHAT))
        assert worker is not None and worker.id == order.worker_id
        assert worker.zone_ids == (company.zone_id,)
        assert await quick(worker_for_telegram(db, telegram_user_id=1)) is None

        client = await quick(client_for_telegram(db, telegram_user_id=CLIENT_CHAT))
        assert client is not None and client.id == company.client_id
        assert client.name == "Olena"
        found = await quick(find_client(db, phone="067 123 45 67", region="UA"))
        assert found is not None and found.id == company.client_id
        card = await quick(get_client(db, client_id=company.client_id))
        assert card.phones == ("+380671234567",)
        overview = await quick(client_overview(db, client_id=company.client_id))
        assert [o.id for o in overview.last_orders] == [order.id]
        draft = await quick(repeat_draft(db, client_id=company.client_id))
        assert draft.source_order_id == order.id and draft.service_id == company.service_id

        service = await quick(find_service(db, ref="cleaning"))
        assert service.id == company.service_id and service.zone_ids == (company.zone_id,)
        assert [s.id for s in await quick(list_services(db))] == [company.service_id]
        assert [c.code for c in await quick(list_categories(db))] == ["cleaning"]
        place = await quick(check_place(db, service_id=company.service_id, point=HERE))
        assert company.zone_id in place.zone_ids
        slots = await quick(
            find_slots(
                db,
                service_id=company.service_id,
                first=TUESDAY,
                last=TUESDAY,
                now=NOW,
                rules=RULES,
                point=HERE,
                client_id=company.client_id,
            )
        )
        starts = {slot.start for slot in slots}
        assert kyiv(TUESDAY, 14) in starts

        view = await quick(get_order(db, order_id=order.id))
        assert view.number == order.number and view.status == "assigned"
        orders = await quick(client_orders(db, client_id=company.client_id, now=NOW))
        assert [o.id for o in orders.upcoming] == [order.id] and orders.past == ()
        states = await quick(offer_states(db, worker_id=order.worker_id, order_ids=[order.id]))
        assert [(s.order_id, s.state) for s in states] == [(order.id, OFFERED)]

        schedule = await quick(worker_schedule(db, worker_id=order.worker_id, today=MONDAY))
        assert [shift.weekday for shift in schedule.weekly] == [0, 1, 2, 3, 4]
        earnings = await quick(
            worker_earnings(db, worker_id=order.worker_id, today=TUESDAY, tz=KYIV)
        )
        assert earnings.jobs == () and earnings.month == 0
        sheet = await quick(route_sheet(db, worker_id=order.worker_id, day=TUESDAY, tz=KYIV))
        assert [stop.order_id for stop in sheet.stops] == [order.id]
        board = await quick(day_board(db, day=TUESDAY, zone_id=None, tz=KYIV))
        jobs = {job.order_id: row.worker_id for row in board.rows for job in row.jobs}
        assert jobs == {order.id: order.worker_id}
        assert (
            await quick(
                check_reassignment(
                    db, order_id=order.id, worker_id=other_worker, start=None, rules=RULES
                )
            )
            is None
        )

        stats = await quick(referral_stats(db, client_id=company.client_id))
        assert (stats.invited, stats.rewarded) == (0, 0)
        staff = await quick(get_user(db, user_id=user_id))
        assert staff.login == "anna" and staff.role == Role.OPERATOR
        assert await quick(users_without_password(db)) == ("anna",)
    finally:
        if writer.in_transaction:
            writer.execute("ROLLBACK")
        writer.close()

    # The lock gone, writing goes on as before.
    await quick(save_dialog(db, key="customer:8001", state=None, data={}, now=NOW))
    assert await quick(read_dialog(db, key="customer:8001")) == (None, {})
