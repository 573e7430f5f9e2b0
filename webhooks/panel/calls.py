"""The call log: recent and missed calls, and the call-back tasks to work through."""

from __future__ import annotations

from aiohttp import web

from core.calls import close_callback_task, list_callback_tasks, list_calls
from core.staff import Permission
from webhooks.app import CLOCK, DATABASE
from webhooks.panel.pages import language_of, render, see_other
from webhooks.panel.sessions import PATH, require, session_of
from webhooks.panel.texts import text

routes = web.RouteTableDef()
SHOWN = 100


@routes.get("/calls")
async def call_log(request: web.Request) -> web.Response:
    user = require(request, Permission.CALLS_VIEW)
    db = request.config_dict[DATABASE]
    missed_only = request.query.get("missed") == "1"
    calls = await list_calls(db, limit=SHOWN, missed_only=missed_only)
    tasks = await list_callback_tasks(db, open_only=True)
    return render(
        request, "calls.html", calls=calls, tasks=tasks, missed_only=missed_only,
        can_close=user.can(Permission.CALLBACKS_CLOSE),
    )


@routes.post(r"/callbacks/{task_id:\d+}/close")
async def close_task(request: web.Request) -> web.Response:
    user = require(request, Permission.CALLBACKS_CLOSE)
    posted = await request.post()
    await close_callback_task(
        request.config_dict[DATABASE],
        task_id=int(request.match_info["task_id"]),
        user_id=user.id,
        now=request.config_dict[CLOCK].now(),
        note=str(posted.get("note", "")),
    )
    session_of(request).flash("ok", text("calls.task_closed", language_of(request)))
    return see_other(f"{PATH}/calls")
