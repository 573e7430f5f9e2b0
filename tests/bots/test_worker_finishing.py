"""The worker finishes a job through the sandbox: the order closes by itself unless the company
requires a manager's confirmation, and the customer is told once and rates the work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.db import Database
from core.jobs import confirm_order
from core.models import Rating
from core.orders import get_order
from tests.bots.flows import tap
from tests.bots.worker_flows import WorkerApp, worker_app
from tests.company import NOW
from tests.telegram_user import TelegramUser


@pytest.fixture
async def app(fresh_db: Database) -> AsyncIterator[WorkerApp]:
    async for running in worker_app(fresh_db):
        yield running


@pytest.fixture
async def strict_app(fresh_db: Database) -> AsyncIterator[WorkerApp]:
    async for running in worker_app(fresh_db, workers__manager_confirmation_required="true"):
        yield running


async def job_under_way(app: WorkerApp) -> tuple[TelegramUser, TelegramUser, int]:
    ivan = await app.worker(0)
    customer = await app.linked_customer()
    order_id = await app.book()
    await ivan.wait_for("New job №10001")
    await tap(ivan, "✅ Accept")
    await ivan.wait_for("is yours")
    app.clock.set(NOW + timedelta(days=1, hours=2, minutes=50))
    await tap(ivan, "🚗 On the way")
    await customer.wait_for("the worker is on the way")
    await tap(ivan, "▶️ Start")
    await ivan.wait_for("in progress")
    return ivan, customer, order_id


async def complete_paid_in_cash(ivan: TelegramUser) -> dict:
    await tap(ivan, "🏁 Complete")
    await ivan.wait_for("payment method not recorded")
    await tap(ivan, "💵 Cash")
    await tap(ivan, "The full amount")
    await tap(ivan, "No tips")
    await tap(ivan, "None")
    return await ivan.wait_for("Job completed")


def texts(messages: list[dict]) -> list[str]:
    return [m.get("text") or "" for m in messages if m["from_bot"] and m["kind"] == "message"]


async def test_completing_closes_the_order_and_the_customer_is_told_once_and_rates_it(
    app: WorkerApp,
):
    ivan, customer, order_id = await job_under_way(app)

    card = await complete_paid_in_cash(ivan)

    assert "— closed" in card["text"]
    order = await get_order(app.db, order_id=order_id)
    assert order.status == "closed"
    assert [(h.to_status, h.actor) for h in order.history[-2:]] == [
        ("completed", f"worker:{app.company.worker_ids[0]}"),
        ("closed", "system"),
    ]
    told = await customer.wait_for("Order №10001 is completed. Total: 1,500.")
    assert "Rate the work from 1 to 5" in told["text"]
    await tap(customer, "5 ⭐")
    await tap(customer, "Skip")
    await customer.wait_for("glad you liked it")
    async with app.db.transaction() as tx:
        assert await tx.scalar(select(Rating.stars).where(Rating.order_id == order_id)) == 5
    after_start = [t for t in texts(await customer.messages()) if "№10001" in t]
    assert [t for t in after_start if "completed" in t or "closed" in t] == [told["text"]]

    # The old payment buttons again: a clear answer, nothing changes.
    paid = next(m for m in await ivan.messages() if "How was it paid?" in (m.get("text") or ""))
    cash = paid["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await ivan._mark()
    await ivan._request(
        "POST", f"{ivan._chat_path}/callback", {"message_id": paid["message_id"], "data": cash}
    )
    await ivan.wait_for("This button is no longer active")
    assert (await get_order(app.db, order_id=order_id)).status == "closed"


async def test_a_completed_job_waits_for_the_managers_confirmation_where_required(
    strict_app: WorkerApp,
):
    app = strict_app
    ivan, customer, order_id = await job_under_way(app)

    card = await complete_paid_in_cash(ivan)

    assert "— completed" in card["text"]
    assert (await get_order(app.db, order_id=order_id)).status == "completed"
    await customer.wait_for("Order №10001 is completed")
    await tap(customer, "4 ⭐")
    await tap(customer, "Skip")
    await customer.wait_for("glad you liked it")

    closed = await confirm_order(
        app.db,
        order_id=order_id,
        user_id=app.manager_id,
        now=app.clock.now(),
        confirmation_required=True,
    )

    assert closed.status == "closed"
    assert closed.history[-1].actor == f"user:{app.manager_id}"
    await customer.wait_for("Order №10001: closed.")
