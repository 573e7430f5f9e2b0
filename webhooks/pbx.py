"""The PBX webhooks under ``/pbx/``, one provider's views each, and the PBX listeners.

Every view is thin: parse the provider's request, check it is the provider's, hand the call
event to core, answer what the provider expects. Errors are mapped here, in one place: a request
that is not the provider's is refused with 403, an unusable one gets 400; neither records
anything, and nothing a PBX sends ever gets a 500.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from core.clock import Clock
from core.config import Config
from core.db import Database
from core.errors import BrigadierError, Conflict, Forbidden, NotFound
from telephony.base import PBX, PbxContext, listeners_running, no_hub, webhook_adapters
from webhooks.live import LiveHub

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _status(err: BrigadierError) -> int:
    if isinstance(err, Forbidden):
        return 403
    if isinstance(err, NotFound):
        return 404
    if isinstance(err, Conflict):
        return 409
    return 400


@web.middleware
async def pbx_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except BrigadierError as err:
        status = _status(err)
        log.warning("%s %s refused with %s: %s", request.method, request.path, status, err)
        return web.json_response({"error": err.code, "message": err.message()}, status=status)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return web.json_response(
            {"error": "unavailable", "message": "try again later"}, status=503
        )


def create_pbx_app(
    config: Config, *, database: Callable[[], Database], clock: Clock,
    live: Callable[[], LiveHub | None] = no_hub,
) -> web.Application:
    """The sub-application mounted at ``/pbx/``; ``database`` and ``live`` are read once the
    app runs."""
    app = web.Application(middlewares=[pbx_errors])
    app[PBX] = PbxContext(config=config, database=database, clock=clock, live=live)
    for _name, module in webhook_adapters():
        app.add_routes(module.routes)
    return app


def pbx_listeners(
    config: Config, *, database: Callable[[], Database], clock: Clock,
    live: Callable[[], LiveHub | None] = no_hub,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` entry running the enabled SIP and AMI listeners with the app."""

    async def run(_app: web.Application) -> AsyncIterator[None]:
        context = PbxContext(config=config, database=database, clock=clock, live=live)
        async with listeners_running(context):
            yield

    return run
