"""Twilio's voice webhooks under ``/pbx/twilio/``: the incoming call, the dial result, statuses."""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDictProxy

from core.calls import operator_phones
from telephony.base import PBX, malformed, public_base
from telephony.twilio import parse
from telephony.twilio.auth import check_request

routes = web.RouteTableDef()

FORM = "application/x-www-form-urlencoded"


async def _signed_fields(request: web.Request) -> dict[str, str]:
    """The POST fields, once the signature over the public URL and them has been checked."""
    context = request.app[PBX]
    if request.content_type != FORM:
        raise malformed(parse.PROVIDER, "Content-Type", f"must be {FORM}", request.content_type)
    form: MultiDictProxy[str | object] = await request.post()  # type: ignore[assignment]
    url = public_base(request, context.config) + request.path_qs
    check_request(context.config, url=url, form=form,
                  sent=request.headers.get("X-Twilio-Signature"), remote=request.remote)
    return {name: value for name, value in form.items() if isinstance(value, str)}


def _twiml(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/xml", charset="utf-8")


@routes.post("/twilio/voice")
async def incoming_call(request: web.Request) -> web.Response:
    """Pop the card, then ring the operators' phones."""
    context = request.app[PBX]
    fields = await _signed_fields(request)
    await context.record(parse.incoming_call(fields, now=context.clock.now()))
    phones = await operator_phones(
        context.database(), region=context.config.company.phone_region
    )
    base = public_base(request, context.config)
    return _twiml(parse.dial_operators(
        phones, dial_url=f"{base}/pbx/twilio/dial", status_url=f"{base}/pbx/twilio/status"
    ))


@routes.post("/twilio/dial")
async def dial_result(request: web.Request) -> web.Response:
    context = request.app[PBX]
    fields = await _signed_fields(request)
    await context.record(parse.dial_result(fields, now=context.clock.now()))
    return _twiml(parse.hang_up())


@routes.post("/twilio/status")
async def status_callback(request: web.Request) -> web.Response:
    context = request.app[PBX]
    fields = await _signed_fields(request)
    event = parse.status_event(fields, now=context.clock.now())
    if event is not None:
        await context.record(event)
    return web.Response(status=204)
