"""The dispatch board: the day by worker and hour, moving jobs, planning the day, route sheets.

Live: each process runs one :class:`BoardFeed` on the live hub (``order.*`` and ``route.*``);
a board open on a day hears which orders and workers of that day changed, and reloads its grid.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from aiohttp import WSMsgType, web

from core.board import check_reassignment, day_board, reassign_order, route_sheet
from core.day_plans import apply_proposal, get_proposal, propose_day
from core.errors import BrigadierError, Conflict, InvalidInput, NotFound
from core.messages import render as render_message
from core.orders import get_order
from core.routes import RouteRules
from core.staff import Permission, StaffUser
from webhooks.app import CLOCK, CONFIG, DATABASE
from webhooks.live import LIVE, LiveEvent, LiveHub, Subscription
from webhooks.panel.clients import RULES as SLOT_RULES
from webhooks.panel.pages import language_of, render, see_other
from webhooks.panel.sessions import PATH, require, require_socket, session_of
from webhooks.panel.texts import text

log = logging.getLogger(__name__)

routes = web.RouteTableDef()
ROUTE_RULES = web.AppKey("panel_route_rules", RouteRules)


def _today(request: web.Request) -> date:
    config = request.config_dict[CONFIG]
    return request.config_dict[CLOCK].now().astimezone(config.company.tz).date()


def _day(request: web.Request, value: str | None) -> date:
    if not value:
        return _today(request)
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise InvalidInput("invalid_value", field="day", value=value,
                           reason="YYYY-MM-DD") from err


def _zone(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise InvalidInput("invalid_value", field="zone", value=value, reason="a zone number")
    return int(value)


def _board_path(day: date, zone_id: int | None) -> str:
    return f"{PATH}/dispatch?day={day.isoformat()}" + (f"&zone={zone_id}" if zone_id else "")


def _start(request: web.Request, day: date, value: str) -> datetime | None:
    """``HH:MM`` on the board's day, in the company's time; empty: keep the order's start."""
    if not value:
        return None
    try:
        clock = time.fromisoformat(value)
    except ValueError as err:
        raise InvalidInput("invalid_value", field="start", value=value, reason="HH:MM") from err
    return datetime.combine(day, clock, tzinfo=request.config_dict[CONFIG].company.tz)


async def _board_context(request: web.Request, day: date, zone_id: int | None) -> dict[str, Any]:
    tz = request.config_dict[CONFIG].company.tz
    board = await day_board(request.config_dict[DATABASE], day=day, zone_id=zone_id, tz=tz)
    return {"board": board, "tz": tz, "hours": list(range(board.first_hour, board.last_hour))}


@routes.get("/dispatch")
async def board_page(request: web.Request) -> web.Response:
    user = require(request, Permission.DISPATCH_VIEW)
    day = _day(request, request.query.get("day"))
    zone_id = _zone(request.query.get("zone"))
    context = await _board_context(request, day, zone_id)
    return render(request, "dispatch.html", can_plan=user.can(Permission.DISPATCH_PLAN),
                  can_assign=user.can(Permission.DISPATCH_ASSIGN), **context)


@routes.get("/dispatch/grid")
async def board_grid(request: web.Request) -> web.Response:
    """The grid alone, for the board's script to swap in after a live update."""
    user = require(request, Permission.DISPATCH_VIEW)
    day = _day(request, request.query.get("day"))
    context = await _board_context(request, day, _zone(request.query.get("zone")))
    return render(request, "_grid.html", can_assign=user.can(Permission.DISPATCH_ASSIGN),
                  **context)


@routes.get("/dispatch/check")
async def check_move(request: web.Request) -> web.Response:
    """Whether the move the dispatcher is choosing would be refused, and why (JSON)."""
    require(request, Permission.DISPATCH_ASSIGN)
    language = language_of(request)
    query = request.query
    if not query.get("order", "").isdigit() or not query.get("worker", "").isdigit():
        return web.json_response({"ok": False, "reason": text("dispatch.pick_worker", language)})
    try:
        day = _day(request, query.get("day"))
        refusal = await check_reassignment(
            request.config_dict[DATABASE], order_id=int(query["order"]),
            worker_id=int(query["worker"]), start=_start(request, day, query.get("start", "")),
            rules=request.app[SLOT_RULES],
        )
    except BrigadierError as err:
        return web.json_response({"ok": False, "reason": err.message(language)})
    if refusal is None:
        return web.json_response({"ok": True, "reason": text("dispatch.move_ok", language)})
    key, params = refusal
    return web.json_response({"ok": False, "reason": render_message(key, language, **params)})


@routes.post("/dispatch/assign")
async def assign(request: web.Request) -> web.Response:
    user = require(request, Permission.DISPATCH_ASSIGN)
    form = await request.post()
    day = _day(request, str(form.get("day", "")))
    zone_id = _zone(str(form.get("zone", "")))
    language = language_of(request)
    session = session_of(request)
    try:
        order, worker = str(form.get("order_id", "")), str(form.get("worker_id", ""))
        if not order.isdigit() or not worker.isdigit():
            raise InvalidInput("invalid_value", field="worker_id", value=worker,
                               reason=text("dispatch.pick_worker", language))
        moved = await reassign_order(
            request.config_dict[DATABASE], order_id=int(order),
            worker_id=int(worker), start=_start(request, day, str(form.get("start", ""))),
            actor=f"user:{user.id}", now=request.config_dict[CLOCK].now(),
            rules=request.app[SLOT_RULES],
        )
    except BrigadierError as err:
        session.flash("error", text("dispatch.refused", language, reason=err.message(language)))
    else:
        tz = request.config_dict[CONFIG].company.tz
        session.flash("ok", text("dispatch.moved", language, number=moved.number,
                                 when=f"{moved.starts_at.astimezone(tz):%H:%M}"))
    return see_other(_board_path(day, zone_id))


@routes.post("/dispatch/plan")
async def plan(request: web.Request) -> web.Response:
    user = require(request, Permission.DISPATCH_PLAN)
    form = await request.post()
    day = _day(request, str(form.get("day", "")))
    zone_id = _zone(str(form.get("zone", "")))
    proposal = await propose_day(
        request.config_dict[DATABASE], day=day, zone_id=zone_id, user_id=user.id,
        rules=request.app[ROUTE_RULES], now=request.config_dict[CLOCK].now(),
    )
    return see_other(f"{PATH}/dispatch/plans/{proposal.token}")


@routes.get("/dispatch/plans/{token}")
async def proposal_page(request: web.Request) -> web.Response:
    user = require(request, Permission.DISPATCH_PLAN)
    db = request.config_dict[DATABASE]
    proposal = await get_proposal(db, token=request.match_info["token"], user_id=user.id,
                                  now=request.config_dict[CLOCK].now())
    plan = proposal.plan
    context = await _board_context(request, plan.day, plan.zone_id)
    rows = {row.worker_id: row for row in context["board"].rows}
    return render(request, "plan.html", proposal=proposal, plan=plan, rows=rows,
                  unplaced=[(u, u.message(language_of(request))) for u in plan.unplaced],
                  **context)


@routes.post("/dispatch/plans/{token}/apply")
async def apply(request: web.Request) -> web.Response:
    user = require(request, Permission.DISPATCH_PLAN)
    form = await request.post()
    day = _day(request, str(form.get("day", "")))
    zone_id = _zone(str(form.get("zone", "")))
    language = language_of(request)
    session = session_of(request)
    try:
        applied = await apply_proposal(
            request.config_dict[DATABASE], token=request.match_info["token"], user_id=user.id,
            planner=f"user:{user.id}", now=request.config_dict[CLOCK].now(),
        )
    except (Conflict, NotFound) as err:
        session.flash("error", text("dispatch.plan_refused", language,
                                    reason=err.message(language)))
    else:
        session.flash("ok", text("dispatch.plan_applied", language,
                                 assigned=len(applied.assigned),
                                 rescheduled=len(applied.rescheduled),
                                 unassigned=len(applied.unassigned),
                                 workers=len(applied.workers_told)))
    return see_other(_board_path(day, zone_id))


@routes.get(r"/dispatch/workers/{worker_id:\d+}/sheet")
async def sheet(request: web.Request) -> web.Response:
    require(request, Permission.DISPATCH_VIEW)
    day = _day(request, request.query.get("day"))
    route = await route_sheet(
        request.config_dict[DATABASE], worker_id=int(request.match_info["worker_id"]), day=day,
        tz=request.config_dict[CONFIG].company.tz,
    )
    return render(request, "sheet.html", sheet=route, tz=request.config_dict[CONFIG].company.tz)


# --- live updates ----------------------------------------------------------------------------


@dataclass(eq=False)
class Watcher:
    user: StaffUser
    day: date
    socket: web.WebSocketResponse


class BoardFeed:
    """Tells the boards open on a day which of its orders and workers changed."""

    def __init__(self, db: Any, tz: Any) -> None:
        self.db = db
        self.tz = tz
        self.watchers: set[Watcher] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self, hub: LiveHub) -> None:
        subscription = hub.subscribe("order.*", "route.*")
        self._task = asyncio.create_task(self._run(subscription), name="panel-board")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for watcher in list(self.watchers):
            await watcher.socket.close(code=1001, message=b"server shutdown")

    async def _run(self, subscription: Subscription) -> None:
        async with subscription:
            async for event in subscription:
                if not self.watchers:
                    continue
                try:
                    await self._tell(event)
                except Exception:
                    log.exception("board update for event %s failed", event.id)

    async def _tell(self, event: LiveEvent) -> None:
        day, workers = await self._what_changed(event)
        if day is None:
            return
        frame = {"type": "board", "kind": event.kind, "order_id": event.order_id,
                 "workers": sorted(workers), "day": day.isoformat()}
        await asyncio.gather(*(
            _send(watcher, frame) for watcher in list(self.watchers) if watcher.day == day
        ))

    async def _what_changed(self, event: LiveEvent) -> tuple[date | None, set[int]]:
        payload = event.payload
        workers = {
            int(payload[key]) for key in ("worker_id", "from_worker_id")
            if isinstance(payload.get(key), int)
        }
        if event.kind.startswith("route.") and isinstance(payload.get("day"), str):
            return date.fromisoformat(payload["day"]), workers
        if event.order_id is None:
            return None, workers
        try:
            order = await get_order(self.db, order_id=event.order_id)
        except NotFound:
            return None, workers
        if order.worker_id is not None:
            workers.add(order.worker_id)
        return order.starts_at.astimezone(self.tz).date(), workers


async def _send(watcher: Watcher, frame: dict[str, Any]) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await watcher.socket.send_json(frame)


BOARD_FEED = web.AppKey("panel_board_feed", BoardFeed)


@routes.get("/dispatch/ws")
async def board_socket(request: web.Request) -> web.StreamResponse:
    user = require_socket(request, Permission.DISPATCH_VIEW)
    day = _day(request, request.query.get("day"))
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    feed = request.app[BOARD_FEED]
    watcher = Watcher(user, day, ws)
    feed.watchers.add(watcher)
    try:
        await ws.send_json({"type": "hello", "day": day.isoformat()})
        async for message in ws:
            if message.type == WSMsgType.ERROR:
                break
    finally:
        feed.watchers.discard(watcher)
    return ws


def board_context(parent: web.Application) -> Any:
    """Panel start-up: a board feed on the parent's hub; shut-down closes the sockets."""

    async def on_startup(app: web.Application) -> None:
        feed = BoardFeed(parent[DATABASE], parent[CONFIG].company.tz)
        feed.start(parent[LIVE])
        app[BOARD_FEED] = feed

    async def on_shutdown(app: web.Application) -> None:
        await app[BOARD_FEED].stop()

    return on_startup, on_shutdown
