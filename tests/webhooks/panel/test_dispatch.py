"""The dispatch board over real HTTP: the day, moving a job, planning the day, route sheets."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import aiohttp
from sqlalchemy import select

from core.board import reassign_order
from core.db import Database, create_engine
from core.models import Address, ClientPhone, Event, Order, OutboxMessage, Role
from core.orders import change_status
from tests.clock import ManualClock
from tests.company import RULES, kyiv
from tests.core.test_routes import (
    DAY,
    NOW,
    Day,
    add_client,
    add_order,
    add_worker,
    base_company,
    two_workers_day,
)
from tests.webhooks.panel.conftest import add_user, logged_in, serving

BOARD = f"/panel/dispatch?day={DAY.isoformat()}"
PLAN_PAGE = re.compile(r"/panel/dispatch/plans/([\w-]+)/apply")


async def small_day(db) -> tuple[Day, int, int, int]:
    """A cleaner 8–18, a cleaner 12–18 and a 90-minute order booked for 10:00–11:00."""
    day = Day()
    await base_company(db, day)
    early = await add_worker(db, day, skills=("cleaning",), zones=("city",), telegram=111)
    late = await add_worker(db, day, skills=("cleaning",), zones=("city",), hours=(12, 18),
                            telegram=222)
    client = await add_client(db, day, telegram=500)
    order = await add_order(db, day, client_id=client, window=(10, 0, 60))
    return day, early, late, order


async def load(db, order_id: int) -> Order:
    async with db.transaction() as tx:
        return await tx.get(Order, order_id)


async def test_the_board_shows_jobs_and_orders_without_a_worker(fresh_db):
    day, early, late, order = await small_day(fresh_db)
    taken = await add_order(fresh_db, day, client_id=day.orders[order].client_id,
                            window=(14, 0, 0), worker_id=late, status="assigned")
    await add_user(fresh_db, "dina", role=Role.DISPATCHER)
    async with serving(fresh_db, clock=ManualClock(NOW)) as server, \
            logged_in(server, "dina") as dina:
        status, body = await dina.get(BOARD)
        assert status == 200, body
        assert 'href="/panel/dispatch"' in body  # in the menu
        for worker in (early, late):
            assert f'data-worker-id="{worker}"' in body
        row = body.split(f'<div class="board-row" role="row" data-worker-id="{late}">')[1]
        assert 'class="job status-assigned"' in row.split("board-row")[0]
        assert f'data-order-id="{taken}"' in row.split("board-row")[0]
        unplaced = body.split('<aside id="unplaced">')[1].split("</aside>")[0]
        assert f"№{order + 10000}" in unplaced and "window 10:00–11:00" in unplaced
        assert f'data-order-id="{taken}"' not in unplaced

        status, body = await dina.get(f"{BOARD}&zone={day.zone_ids['east']}")
        assert status == 200 and "Nobody works this day" in body
        status, grid = await dina.get(f"/panel/dispatch/grid?day={DAY.isoformat()}")
        assert grid.startswith('<div id="grid"') and f'data-order-id="{taken}"' in grid


async def test_an_operator_has_no_dispatch_board(fresh_db):
    await small_day(fresh_db)
    await add_user(fresh_db, "olha", role=Role.OPERATOR)
    await add_user(fresh_db, "max", role=Role.MANAGER)
    async with serving(fresh_db, clock=ManualClock(NOW)) as server, \
            logged_in(server, "olha") as olha, logged_in(server, "max") as manager:
        status, body = await olha.get("/panel/")
        assert 'href="/panel/dispatch"' not in body
        for path in (BOARD, "/panel/dispatch/workers/1/sheet", "/panel/dispatch/check"):
            status, body = await olha.get(path)
            assert status == 403 and "Access denied" in body, path
        status, _ = await olha.post("/panel/dispatch/plan", {"day": DAY.isoformat()})
        assert status == 403
        status, _ = await olha.post("/panel/dispatch/assign", {"order_id": "1",
                                                               "worker_id": "1"})
        assert status == 403
        status, _ = await manager.get(BOARD)
        assert status == 200


async def test_a_move_breaking_a_window_or_a_shift_is_refused_with_the_reason(fresh_db):
    _, early, late, order = await small_day(fresh_db)
    await add_user(fresh_db, "dina", role=Role.DISPATCHER)
    async with serving(fresh_db, clock=ManualClock(NOW)) as server, \
            logged_in(server, "dina") as dina:
        await dina.get(BOARD)
        async with dina.http.get(dina.url(
            f"/panel/dispatch/check?order={order}&worker={late}&day={DAY.isoformat()}"
        )) as response:
            answer = await response.json()
        assert answer == {"ok": False,
                          "reason": "10:00–11:30 is outside the worker's shift (12:00–18:00)"}

        status, body = await dina.post("/panel/dispatch/assign", {
            "order_id": str(order), "worker_id": str(late), "day": DAY.isoformat()})
        assert status == 200
        assert "Not moved: 10:00–11:30 is outside the worker&#39;s shift (12:00–18:00)" in body
        status, body = await dina.post("/panel/dispatch/assign", {
            "order_id": str(order), "worker_id": str(early), "start": "12:00",
            "day": DAY.isoformat()})
        assert "Not moved: a start at 12:00 breaks the client&#39;s booked window" in body
        assert (await load(fresh_db, order)).worker_id is None

        async with dina.http.get(dina.url(
            f"/panel/dispatch/check?order={order}&worker={early}&start=10:30"
            f"&day={DAY.isoformat()}"
        )) as response:
            assert (await response.json())["ok"] is True
        status, body = await dina.post("/panel/dispatch/assign", {
            "order_id": str(order), "worker_id": str(early), "start": "10:30",
            "day": DAY.isoformat()})
        assert f"Order №{order + 10000} is given to the worker at 10:30" in body
    moved = await load(fresh_db, order)
    assert (moved.worker_id, moved.status, moved.starts_at) == (early, "assigned",
                                                                kyiv(DAY, 10, 30))
    async with fresh_db.transaction() as tx:
        events = [(e.kind, e.payload["planner"]) for e in await tx.scalars(
            select(Event).where(Event.order_id == order))]
    assert len(events) == 1 and events[0][0] == "order.assigned"
    assert events[0][1].startswith("user:")


async def test_planning_shows_the_proposal_and_applying_it_tells_everyone(fresh_db):
    _, orders, first, second = await two_workers_day(fresh_db)
    await add_user(fresh_db, "dina", role=Role.DISPATCHER)
    async with serving(fresh_db, clock=ManualClock(NOW)) as server, \
            logged_in(server, "dina") as dina:
        await dina.get(BOARD)
        status, body = await dina.post("/panel/dispatch/plan", {"day": DAY.isoformat()})
        assert status == 200, body
        assert f"Proposed plan for {DAY:%d.%m.%Y}" in body
        totals = unescape(body.split('id="plan-totals"')[1].split("</p>")[0])
        assert re.search(r"\d+ min on the road, [\d.]+ km, \d+ min waiting", totals)
        for worker in (first, second):
            assert f'<tr class="route" data-worker-id="{worker}">' in body
        for order in orders:
            assert f"№{order + 10000}" in body
        assert "Every order is placed" in body
        token = PLAN_PAGE.search(body).group(1)
        assert [(await load(fresh_db, o)).worker_id for o in orders] == [None] * 4  # not yet
        proposed = body.split('<td class="proposed">')[1]
        assert re.search(r"\d+ min on the road, [\d.]+ km, \d+ min waiting", proposed)

        status, body = await dina.post(f"/panel/dispatch/plans/{token}/apply",
                                       {"day": DAY.isoformat()})
        assert status == 200
        assert "Plan applied: 4 assigned" in body
    assert {(await load(fresh_db, o)).status for o in orders} == {"assigned"}
    async with fresh_db.transaction() as tx:
        outbox = {(m.bot, m.chat_id, m.template) for m in await tx.scalars(
            select(OutboxMessage))}
    workers = {(bot, chat) for bot, chat, template in outbox
               if template == "notice.route_planned"}
    assert workers <= {("worker", 111), ("worker", 222)} and workers
    customers = {(bot, chat) for bot, chat, template in outbox
                 if template.startswith("notice.arrival")}
    assert customers == {("customer", 500), ("customer", 502)}


async def test_a_stale_plan_is_refused_and_a_plan_applies_once(fresh_db):
    _, orders, _, _ = await two_workers_day(fresh_db)
    await add_user(fresh_db, "dina", role=Role.DISPATCHER)
    async with serving(fresh_db, clock=ManualClock(NOW)) as server, \
            logged_in(server, "dina") as dina:
        await dina.get(BOARD)
        _, body = await dina.post("/panel/dispatch/plan", {"day": DAY.isoformat()})
        token = PLAN_PAGE.search(body).group(1)
        await change_status(fresh_db, order_id=orders[0], target="cancelled", actor="user:1",
                            now=NOW, reason="client called")
        _, body = await dina.post(f"/panel/dispatch/plans/{token}/apply",
                                  {"day": DAY.isoformat()})
        assert "The plan was not applied: the orders changed after the plan was made" in body
        assert str(orders[0] + 10000) in body
        assert [(await load(fresh_db, o)).worker_id for o in orders[1:]] == [None] * 3

        _, body = await dina.post(f"/panel/dispatch/plans/{token}/apply",
                                  {"day": DAY.isoformat()})
        assert "this plan is no longer kept" in body
        status, body = await dina.get(f"/panel/dispatch/plans/{token}")
        assert status == 404 and "plan the day again" in body


async def sheet_page(db: Database, worker_id: int) -> tuple[int, str]:
    """The worker's route sheet for DAY, as a dispatcher opens it."""
    await add_user(db, "dina", role=Role.DISPATCHER)
    async with serving(db, clock=ManualClock(NOW)) as server, logged_in(server, "dina") as dina:
        return await dina.get(f"/panel/dispatch/workers/{worker_id}/sheet?day={DAY.isoformat()}")


async def test_the_route_sheet_lists_stops_in_order_with_navigator_links(fresh_db):
    day, early, _, first = await small_day(fresh_db)
    client = day.orders[first].client_id
    second = await add_order(fresh_db, day, client_id=client, point=(50.46, 30.55),
                             window=(14, 0, 0), worker_id=early, status="assigned")
    async with fresh_db.transaction() as tx:
        address = Address(client_id=client, text="Khreshchatyk <1>", lat=50.45, lon=30.52,
                          comment="code 12")
        tx.add_all([address, ClientPhone(client_id=client, e164="+380671234567")])
        await tx.flush()
        (await tx.get(Order, first)).address_id = address.id
        (await tx.get(Order, first)).customer_comment = "ring twice"
    await reassign_order(fresh_db, order_id=first, worker_id=early, start=None, actor="user:1",
                         now=NOW, rules=RULES)
    status, body = await sheet_page(fresh_db, early)
    assert status == 200
    assert re.findall(r'<tr class="stop" data-order-id="(\d+)"', body) == [str(first),
                                                                          str(second)]
    assert "Khreshchatyk &lt;1&gt;" in body and "code 12" in body and "ring twice" in body
    assert "+380 67 123 4567" in body and "10:00–11:30" in body and "cleaning" in body
    google = unescape(re.search(r'id="google-route" class="button" href="([^"]+)"', body)[1])
    assert google.startswith("https://www.google.com/maps/dir/?api=1&origin=50.450000,30.520000")
    assert "destination=50.460000,30.550000" in google and "waypoints=50.450000,30.520000" in google
    yandex = unescape(re.search(r'id="yandex-route" class="button" href="([^"]+)"', body)[1])
    assert yandex == ("https://yandex.ru/maps/?rtext=50.450000,30.520000~50.450000,30.520000"
                      "~50.460000,30.550000&rtt=auto")


async def test_a_change_in_another_instance_reaches_the_board(fresh_db):
    """Two app instances with their own engines and hubs: the writer is not the server."""
    _, early, _, order = await small_day(fresh_db)
    await add_user(fresh_db, "dina", role=Role.DISPATCHER)
    url = fresh_db.engine.url.render_as_string(hide_password=False)
    other = Database(create_engine(url))
    try:
        async with serving(fresh_db, clock=ManualClock(NOW)) as server, \
                serving(other, clock=ManualClock(NOW)) as _second, \
                logged_in(server, "dina") as dina:
            socket = await dina.http.ws_connect(
                dina.url(f"/panel/dispatch/ws?day={DAY.isoformat()}"))
            hello = await socket.receive_json(timeout=5)
            assert hello == {"type": "hello", "day": DAY.isoformat()}
            await reassign_order(other, order_id=order, worker_id=early, start=None,
                                 actor="user:2", now=NOW, rules=RULES)
            frame = await socket.receive_json(timeout=5)
            assert frame == {"type": "board", "kind": "order.assigned", "order_id": order,
                             "workers": [early], "day": DAY.isoformat()}
            await socket.close()
    finally:
        await other.dispose()


async def test_a_board_socket_from_another_site_is_refused(fresh_db):
    await add_user(fresh_db, "dina", role=Role.DISPATCHER)
    async with serving(fresh_db, clock=ManualClock(NOW)) as server, \
            logged_in(server, "dina") as dina:
        try:
            await dina.http.ws_connect(dina.url("/panel/dispatch/ws"),
                                       headers={"Origin": "https://evil.example"})
        except aiohttp.WSServerHandshakeError as err:
            assert err.status == 403
        else:
            raise AssertionError("the socket opened")


async def test_a_long_route_goes_to_google_maps_in_legs_that_join(fresh_db):
    day, early, _, first = await small_day(fresh_db)
    client = day.orders[first].client_id
    async with fresh_db.transaction() as tx:
        await tx.delete(await tx.get(Order, first))
    for n in range(12):  # 12 stops of 20 minutes from 08:00, with the worker's home: 13 points
        await add_order(fresh_db, day, client_id=client, point=(50.40 + n / 100, 30.50),
                        window=(8 + n * 40 // 60, n * 40 % 60, 0), minutes=20,
                        worker_id=early, status="assigned")
    status, body = await sheet_page(fresh_db, early)
    assert status == 200
    assert 'id="google-route"' not in body
    legs = re.findall(r'id="google-route-(\d)" class="button google-leg" href="([^"]+)"[^>]*>'
                      r"([^<]+)</a>", body)
    assert [(n, label) for n, _, label in legs] == [
        ("1", "Google Maps: stops 1–10"), ("2", "Google Maps: stops 10–12")]
    routes = []
    for _, url, _ in legs:
        query = parse_qs(urlsplit(unescape(url)).query)
        waypoints = query["waypoints"][0].split("|")
        assert len(waypoints) <= 9  # what Google opens from a link
        routes.append([query["origin"][0], *waypoints, query["destination"][0]])
    assert routes[0][-1] == routes[1][0]  # the second leg sets off where the first ended
    stops = [f"{50.40 + n / 100:.6f},30.500000" for n in range(12)]
    assert routes[0][1:] + routes[1][1:] == stops
