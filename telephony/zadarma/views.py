"""Zadarma's webhook, ``/pbx/zadarma``: GET answers the URL check, POST carries NOTIFY_*."""

from __future__ import annotations

import re

from aiohttp import web

from telephony.base import PBX, malformed, read_fields
from telephony.zadarma import parse
from telephony.zadarma.auth import check_request

routes = web.RouteTableDef()

ECHO = re.compile(r"[A-Za-z0-9_.-]{1,128}")
CALLER_NAME_LENGTH = 40


@routes.get("/zadarma")
async def echo(request: web.Request) -> web.Response:
    """Zadarma checks the URL when it is saved: answer its ``zd_echo`` back, as plain text."""
    value = request.query.get("zd_echo", "")
    if not ECHO.fullmatch(value):
        raise malformed(parse.PROVIDER, "zd_echo", "is missing or not a plain token", value)
    return web.Response(text=value, content_type="text/plain")


@routes.post("/zadarma")
async def notification(request: web.Request) -> web.Response:
    context = request.app[PBX]
    fields = await read_fields(request)
    check_request(context.config, fields=fields, sent=request.headers.get("Signature"),
                  remote=request.remote)
    event = parse.call_event(fields, now=context.clock.now())
    if event is None:
        return web.Response(text="")
    view = await context.record(event)
    if parse.event_name(fields) == "NOTIFY_START" and view.client_name:
        # Zadarma shows this name on the operators' phones while they ring.
        return web.json_response({"caller_name": view.client_name[:CALLER_NAME_LENGTH]})
    return web.Response(text="")


