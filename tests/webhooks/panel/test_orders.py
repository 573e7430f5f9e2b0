"""A manager decides on the order page: extras a worker added on site, and finished work."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import select, update

from core.extras import propose_extra
from core.jobs import changes_the_desk, complete_job
from core.messages import render
from core.models import OutboxMessage, Role, User
from core.orders import get_order
from tests.clock import ManualClock
from tests.company import kyiv
from tests.core.test_jobs import CUSTOMER_CHAT, TUESDAY, job_in_progress
from tests.webhooks.panel.conftest import add_user, logged_in, panel_config, serving

MANAGER_CHAT = 9100


async def _told(db, template: str) -> list[tuple[int, dict]]:
    async with db.transaction(read_only=True) as tx:
        rows = await tx.execute(
            select(OutboxMessage.chat_id, OutboxMessage.params)
            .where(OutboxMessage.template == template)
        )
        return [(row.chat_id, dict(row.params)) for row in rows]


async def _on_telegram(db, user_id: int, chat: int) -> None:
    async with db.transaction() as tx:
        await tx.execute(update(User).where(User.id == user_id).values(telegram_user_id=chat))


async def test_a_manager_approves_an_extra_and_an_operator_cannot(fresh_db):
    company, order_id, worker_id = await job_in_progress(fresh_db)
    await add_user(fresh_db, "olga", Role.OPERATOR)
    maria_user = await add_user(fresh_db, "maria", Role.MANAGER)
    await _on_telegram(fresh_db, maria_user.id, MANAGER_CHAT)
    change = await propose_extra(fresh_db, worker_id=worker_id, order_id=order_id,
                                 service_id=company.service_id, quantity=2,
                                 now=kyiv(TUESDAY, 11))
    # The manager hears at once that a worker on site waits for a decision.
    ((chat, params),) = await _told(fresh_db, "notice.extra_proposed")
    assert chat == MANAGER_CHAT
    assert render("notice.extra_proposed", "en", **params) == (
        f"Order №{change.number}: the worker asks to add Cleaning × 2; with it the total is "
        "4,500. Approve or reject it in the panel, under “To decide”."
    )
    page = f"/panel/orders/{order_id}"
    approve = f"{page}/changes/{change.id}/approve"
    async with serving(fresh_db, clock=ManualClock(kyiv(TUESDAY, 11, 5))) as server:
        async with logged_in(server, "olga") as olga:
            status, body = await olga.get(page)
            assert status == 200 and "Waiting for approval" in body
            assert "/approve" not in body and "To decide" not in body
            status, _ = await olga.post(approve, {})
            assert status == 403
            assert (await olga.get("/panel/waiting"))[0] == 403

        async with logged_in(server, "maria") as maria:
            status, body = await maria.get("/panel/waiting")
            assert status == 200 and f"№{change.number}" in body
            status, body = await maria.get(page)
            assert "Approve" in body and "4,500" in body  # the total with the extra
            status, body = await maria.post(approve, {})
            assert status == 200
            assert f"The extra is added to order №{change.number}" in body
            assert "Approved" in body and "Waiting for approval" not in body

            status, body = await maria.post(approve, {})  # a second tap, or another manager
            assert status == 200 and "this change has already been decided" in body

    order = await get_order(fresh_db, order_id=order_id)
    assert order.total == 450000  # 1,500 and two more at 1,500, counted once
    assert [chat for chat, _ in await _told(fresh_db, "notice.extra_approved")] == [CUSTOMER_CHAT]


async def test_a_rejection_needs_a_reason_which_the_page_shows_as_text(fresh_db):
    company, order_id, worker_id = await job_in_progress(fresh_db)
    change = await propose_extra(fresh_db, worker_id=worker_id, order_id=order_id,
                                 service_id=company.service_id, quantity=1,
                                 now=kyiv(TUESDAY, 11))
    await add_user(fresh_db, "maria", Role.MANAGER)
    reject = f"/panel/orders/{order_id}/changes/{change.id}/reject"
    async with serving(fresh_db) as server, logged_in(server, "maria") as maria:
        await maria.get(f"/panel/orders/{order_id}")
        status, body = await maria.post(reject, {"reason": "   "})
        assert status == 200 and "Waiting for approval" in body  # nothing decided
        status, body = await maria.post(reject, {"reason": "<b>Not agreed</b> with the client"})
        assert status == 200 and "is rejected; the worker is told why" in body
        assert "&lt;b&gt;Not agreed&lt;/b&gt; with the client" in body
        assert "<b>Not agreed</b>" not in body
        # A change of another order is not decided through this one's page.
        status, _ = await maria.post(f"/panel/orders/{order_id + 1}/changes/{change.id}/reject",
                                     {"reason": "x"})
        assert status == 404
    order = await get_order(fresh_db, order_id=order_id)
    assert order.total == 150000


async def test_finished_work_waits_on_the_desk_until_a_manager_confirms_it(fresh_db):
    _company, order_id, worker_id = await job_in_progress(fresh_db)
    manager = await add_user(fresh_db, "maria", Role.MANAGER)
    await _on_telegram(fresh_db, manager.id, MANAGER_CHAT)
    done = await complete_job(fresh_db, worker_id=worker_id, order_id=order_id,
                              now=kyiv(TUESDAY, 12), payment_method="cash",
                              confirmation_required=True)
    assert done.status == "completed"
    told = await _told(fresh_db, "notice.awaits_confirmation")
    assert [chat for chat, _ in told] == [MANAGER_CHAT]
    assert render("notice.awaits_confirmation", "en", **told[0][1]) == (
        f"Order №{done.number} is finished (total 1,500) and waits for your confirmation "
        "in the panel, under “To decide”."
    )
    config = panel_config(BRIGADIER__WORKERS__MANAGER_CONFIRMATION_REQUIRED="true")
    page = f"/panel/orders/{order_id}"
    clock = ManualClock(kyiv(TUESDAY, 13))
    async with (
        serving(fresh_db, clock=clock, config=config) as server,
        logged_in(server, "maria") as maria,
    ):
        status, body = await maria.get("/panel/waiting")
        assert f"№{done.number}" in body and "Nothing waits." in body  # no extras
        status, body = await maria.get(page)
        assert "Confirm the work and close the order" in body
        status, body = await maria.post(f"{page}/confirm", {})
        assert status == 200 and f"Order №{done.number} is confirmed and closed." in body
        assert "Confirm the work" not in body

        status, body = await maria.post(f"{page}/confirm", {})
        assert status == 200 and "confirmed and closed" not in body
        status, body = await maria.get("/panel/waiting")
        assert f"№{done.number}" not in body

    closed = await get_order(fresh_db, order_id=order_id)
    assert closed.status == "closed"
    assert closed.history[-1].actor == f"user:{manager.id}"


async def test_the_decision_desk_hears_what_changes_for_a_manager(fresh_db):
    company, order_id, worker_id = await job_in_progress(fresh_db)
    await add_user(fresh_db, "olga", Role.OPERATOR)
    await add_user(fresh_db, "maria", Role.MANAGER)
    async with serving(fresh_db, clock=ManualClock(kyiv(TUESDAY, 11))) as server:
        async with logged_in(server, "olga") as olga:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await olga.http.ws_connect(olga.url("/panel/waiting/ws"))
            assert refused.value.status == 403
        async with logged_in(server, "maria") as maria:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await maria.http.ws_connect(maria.url("/panel/waiting/ws"),
                                            headers={"Origin": "https://evil.example"})
            assert refused.value.status == 403

            socket = await maria.http.ws_connect(maria.url("/panel/waiting/ws"))
            assert await socket.receive_json(timeout=5) == {"type": "hello"}
            change = await propose_extra(fresh_db, worker_id=worker_id, order_id=order_id,
                                         service_id=company.service_id, quantity=1,
                                         now=kyiv(TUESDAY, 11))
            assert await socket.receive_json(timeout=5) == {
                "type": "desk", "kind": "order.change_proposed", "order_id": order_id}
            page = f"/panel/orders/{order_id}"
            status, _ = await maria.post(f"{page}/changes/{change.id}/approve", {})
            assert status == 200
            frame = await socket.receive_json(timeout=5)
            assert (frame["kind"], frame["order_id"]) == ("order.change_approved", order_id)

            await complete_job(fresh_db, worker_id=worker_id, order_id=order_id,
                               now=kyiv(TUESDAY, 12), payment_method="cash",
                               confirmation_required=True)
            kinds = {(await socket.receive_json(timeout=5))["kind"] for _ in range(2)}
            assert kinds == {"order.status_changed", "order.awaits_confirmation"}
            await socket.close()


def test_only_what_a_manager_decides_on_changes_the_desk():
    assert changes_the_desk("order.change_proposed", {})
    assert changes_the_desk("order.change_rejected", {})
    assert changes_the_desk("order.status_changed", {"from": "in_progress", "to": "completed"})
    assert changes_the_desk("order.status_changed", {"from": "completed", "to": "closed"})
    assert not changes_the_desk("order.status_changed", {"from": "assigned", "to": "on_the_way"})
    assert not changes_the_desk("order.booked", {})
