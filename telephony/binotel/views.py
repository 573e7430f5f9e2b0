"""Binotel's webhook, ``POST /pbx/binotel/{secret}``: one URL, ``requestType`` picks the act."""

from __future__ import annotations

from aiohttp import web

from core.calls import identify_caller
from core.messages import render
from telephony.base import PBX, malformed, public_base, read_fields
from telephony.binotel import parse
from telephony.binotel.auth import check_request

routes = web.RouteTableDef()

SUCCESS = {"status": "success"}
NAME_LENGTH = 43  # Binotel's widget cuts the name about here


@routes.post("/binotel/{secret}")
async def webhook(request: web.Request) -> web.Response:
    context = request.app[PBX]
    check_request(context.config, secret_in_url=request.match_info["secret"],
                  remote=request.remote)
    fields = await read_fields(request)
    kind = parse.request_type(fields)
    if kind in parse.SETTINGS_REQUESTS:
        return await _call_settings(request, parse.settings_request(fields))
    if kind in parse.LIVE_REQUESTS:
        await context.record(parse.live_event(fields, now=context.clock.now()))
    elif kind == parse.COMPLETED:
        await context.record(parse.completed_event(fields, now=context.clock.now()))
    elif kind not in parse.IGNORED_REQUESTS:
        raise malformed(parse.PROVIDER, "requestType", "is not a known request", kind)
    return web.json_response(SUCCESS)


async def _call_settings(request: web.Request, asked: parse.SettingsRequest) -> web.Response:
    """Name the caller and link their card, so Binotel's phones and widget show them."""
    context = request.app[PBX]
    config = context.config
    caller = await identify_caller(
        context.database(), caller=asked.caller, region=config.company.phone_region
    )
    if caller.client_id is None:
        return web.json_response({})
    base = public_base(request, config)
    return web.json_response({
        "customerData": {
            "name": (caller.client_name or caller.number)[:NAME_LENGTH],
            "linkToCrmUrl": f"{base}/panel/clients/{caller.client_id}",
            "linkToCrmTitle": render("pbx.card_link", config.company.default_language),
        }
    })
