"""Order pages, and what a manager decides on them: extras a worker added on site (approve or
reject with a reason) and finished work (confirm, and the order closes).

"To decide" stays current by itself: a socket tells the open pages when what waits for a
manager changed, and each reads its lists again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable
from typing import Any

from aiohttp import WSMsgType, web

from core.cards import client_overview
from core.errors import BrigadierError, NotFound
from core.extras import (
    PENDING,
    ChangeView,
    approve_change,
    order_changes,
    pending_changes,
    reject_change,
)
from core.jobs import DESK_EVENTS, awaiting_confirmation, changes_the_desk, confirm_order
from core.orders import OrderView, get_order
from core.staff import Permission
from core.workflows import Status, workflow
from webhooks.app import CLOCK, CONFIG, DATABASE
from webhooks.live import LIVE, LiveHub, Subscription
from webhooks.panel.pages import language_of, render, see_other
from webhooks.panel.sessions import PATH, require, require_socket, session_of
from webhooks.panel.texts import text

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.get(r"/orders/{order_id:\d+}")
async def order_page(request: web.Request) -> web.Response:
    user = require(request, Permission.ORDERS_VIEW)
    db = request.config_dict[DATABASE]
    order = await get_order(db, order_id=_order_id(request))
    client = await client_overview(db, client_id=order.client_id, last_orders=0)
    address = next((a.text for a in client.addresses if a.id == order.address_id), "")
    changes = await order_changes(db, order_id=order.id)
    closing_next = workflow(order.workflow).transition(order.status, Status.CLOSED) is not None
    return render(
        request, "order.html", order=order, client=client, address=address, changes=changes,
        pending=PENDING, can_decide=user.can(Permission.ORDERS_CONFIRM),
        closing_next=closing_next,
    )


@routes.get("/waiting")
async def waiting(request: web.Request) -> web.Response:
    """What waits for a manager: extras to approve, finished work to confirm."""
    require(request, Permission.ORDERS_CONFIRM)
    db = request.config_dict[DATABASE]
    return render(
        request, "waiting.html", changes=await pending_changes(db),
        finished=await awaiting_confirmation(db),
    )


@routes.post(r"/orders/{order_id:\d+}/changes/{change_id:\d+}/approve")
async def approve(request: web.Request) -> web.Response:
    user = require(request, Permission.ORDERS_CONFIRM)
    order_id, change_id = await _change_of_order(request)
    return await _decide(request, order_id, "extras.approved", approve_change(
        request.config_dict[DATABASE], change_id=change_id, user_id=user.id,
        now=request.config_dict[CLOCK].now(),
    ))


@routes.post(r"/orders/{order_id:\d+}/changes/{change_id:\d+}/reject")
async def reject(request: web.Request) -> web.Response:
    user = require(request, Permission.ORDERS_CONFIRM)
    order_id, change_id = await _change_of_order(request)
    posted = await request.post()
    return await _decide(request, order_id, "extras.rejected", reject_change(
        request.config_dict[DATABASE], change_id=change_id, user_id=user.id,
        reason=str(posted.get("reason", ""))[:500], now=request.config_dict[CLOCK].now(),
    ))


@routes.post(r"/orders/{order_id:\d+}/confirm")
async def confirm(request: web.Request) -> web.Response:
    user = require(request, Permission.ORDERS_CONFIRM)
    order_id = _order_id(request)
    required = request.config_dict[CONFIG].workers.manager_confirmation_required
    return await _decide(request, order_id, "order.confirmed", confirm_order(
        request.config_dict[DATABASE], order_id=order_id, user_id=user.id,
        now=request.config_dict[CLOCK].now(), confirmation_required=required,
    ))


async def _decide(
    request: web.Request, order_id: int, done: str, decision: Awaitable[ChangeView | OrderView]
) -> web.Response:
    """Carry a manager's decision out and go back to the order, saying how it went: a refusal
    (decided already, no reason given, not finished yet) is said there, in words."""
    language = language_of(request)
    try:
        view = await decision
    except NotFound:
        raise
    except BrigadierError as err:
        session_of(request).flash("error", err.message(language))
    else:
        session_of(request).flash("ok", text(done, language, number=view.number))
    return see_other(f"{PATH}/orders/{order_id}")


def _order_id(request: web.Request) -> int:
    return int(request.match_info["order_id"])


async def _change_of_order(request: web.Request) -> tuple[int, int]:
    """A change is decided on its own order's page only: a forged pair is not found."""
    order_id, change_id = _order_id(request), int(request.match_info["change_id"])
    changes = await order_changes(request.config_dict[DATABASE], order_id=order_id)
    if not any(change.id == change_id for change in changes):
        raise NotFound("not_found", entity="change", ref=change_id)
    return order_id, change_id


class DecisionDesk:
    """Tells the open "To decide" pages that what waits for a manager changed."""

    def __init__(self) -> None:
        self.sockets: set[web.WebSocketResponse] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self, hub: LiveHub) -> None:
        subscription = hub.subscribe(*DESK_EVENTS)
        self._task = asyncio.create_task(self._run(subscription), name="panel-desk")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for socket in list(self.sockets):
            await socket.close(code=1001, message=b"server shutdown")

    async def _run(self, subscription: Subscription) -> None:
        async with subscription:
            async for event in subscription:
                if not self.sockets or not changes_the_desk(event.kind, event.payload):
                    continue
                frame = json.dumps({"type": "desk", "kind": event.kind,
                                    "order_id": event.order_id})
                await asyncio.gather(*(_send(socket, frame) for socket in list(self.sockets)))


async def _send(socket: web.WebSocketResponse, frame: str) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await socket.send_str(frame)


DESK = web.AppKey("panel_decision_desk", DecisionDesk)


@routes.get("/waiting/ws")
async def desk_socket(request: web.Request) -> web.StreamResponse:
    user = require_socket(request, Permission.ORDERS_CONFIRM)
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    desk = request.app[DESK]
    desk.sockets.add(ws)
    log.info("user %s watches the decisions", user.id)
    try:
        await ws.send_json({"type": "hello"})
        async for message in ws:
            if message.type == WSMsgType.ERROR:
                break
    finally:
        desk.sockets.discard(ws)
    return ws


def desk_context(parent: web.Application) -> Any:
    """Panel start-up: the desk on the parent's hub; shut-down closes the sockets."""

    async def on_startup(app: web.Application) -> None:
        desk = DecisionDesk()
        desk.start(parent[LIVE])
        app[DESK] = desk

    async def on_shutdown(app: web.Application) -> None:
        await app[DESK].stop()

    return on_startup, on_shutdown
