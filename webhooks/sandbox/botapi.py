"""The Bot API over HTTP: ``POST {base}/bot{token}/{method}`` for methods and
``GET {base}/file/bot{token}/{path}`` for files.

Answers are Telegram's: ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N,
"description": "..."}`` with ``parameters.retry_after`` on 429.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from webhooks.sandbox.delivery import WebhookDeliveries
from webhooks.sandbox.forms import params_from_request
from webhooks.sandbox.methods import Params, call_method
from webhooks.sandbox.state import BotApiError, SandboxBot, SandboxState

log = logging.getLogger(__name__)

STATE = web.AppKey("sandbox_state", SandboxState)
DELIVERIES = web.AppKey("sandbox_deliveries", WebhookDeliveries)

_WEBHOOK_METHODS = frozenset({"setwebhook", "deletewebhook"})
dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


def _answer(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(text=dumps(body), status=status, content_type="application/json")


def _refusal(err: BotApiError) -> web.Response:
    return _answer(err.as_json(), err.status)


async def run_method(app: web.Application, bot: SandboxBot, name: str, params: Params) -> Any:
    """One method call, from an HTTP request or from a webhook's reply."""
    result = await call_method(app[STATE], bot, name, params)
    if name.lower() in _WEBHOOK_METHODS:
        app[DELIVERIES].refresh(bot)
    return result


async def bot_method(request: web.Request) -> web.Response:
    state = request.app[STATE]
    name = request.match_info["method"]
    try:
        bot = state.bot_for_token(request.match_info["token"])
        params = await params_from_request(request)
        result = await run_method(request.app, bot, name, params)
    except BotApiError as err:
        if err.status >= 500:
            log.warning("sandbox failed %s: %s", name, err.description)
        return _refusal(err)
    body: dict[str, Any] = {"ok": True, "result": result}
    if name.lower() == "setwebhook":
        body["description"] = "Webhook was set" if bot.webhook else "Webhook was deleted"
    elif name.lower() == "deletewebhook":
        body["description"] = "Webhook was deleted"
    return _answer(body)


async def download_file(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    try:
        state.bot_for_token(request.match_info["token"])
    except BotApiError as err:
        return _refusal(err)
    stored = state.files_by_path.get(request.match_info["path"])
    if stored is None:
        return _refusal(BotApiError(404, "Not Found"))
    return web.Response(body=stored.content, content_type=stored.mime_type)


def setup_bot_api(app: web.Application, state: SandboxState) -> None:
    """Put the Bot API routes and webhook delivery on the sandbox application."""
    app[STATE] = state

    async def deliveries(app: web.Application) -> AsyncIterator[None]:
        async def execute(bot: SandboxBot, name: str, params: Params) -> Any:
            return await run_method(app, bot, name, params)

        app[DELIVERIES] = WebhookDeliveries(state, execute)
        state.closing = False
        await app[DELIVERIES].start()
        yield
        await app[DELIVERIES].close()

    async def release_long_polls(app: web.Application) -> None:
        state.closing = True
        for bot in state.bots.values():
            bot.arrived.fire()
        for chat in state.chats.values():
            chat.release()

    app.cleanup_ctx.append(deliveries)
    app.on_shutdown.append(release_long_polls)
    app.router.add_route("*", "/bot{token}/{method}", bot_method)
    app.router.add_get("/file/bot{token}/{path:.+}", download_file)
