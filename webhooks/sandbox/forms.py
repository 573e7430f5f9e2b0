"""Bot API fields from an HTTP body: a query string, url-encoded or multipart form, or JSON."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web

from webhooks.sandbox.methods import Params, Upload
from webhooks.sandbox.state import bad_request

log = logging.getLogger(__name__)


async def params_from_request(request: web.Request) -> Params:
    values: dict[str, Any] = dict(request.query)
    if not request.can_read_body:
        return Params(values)
    content_type = request.content_type
    if content_type == "application/json":
        return Params({**values, **_json_object(await request.read())})
    if content_type == "multipart/form-data":
        params = await params_from_multipart(await request.multipart())
        return Params({**values, **params.values}, params.uploads)
    form = await request.post()
    values.update({name: value for name, value in form.items() if isinstance(value, str)})
    return Params(values)


def _json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        parsed = json.loads(body)
    except ValueError as err:
        raise bad_request("can't parse JSON object") from err
    if not isinstance(parsed, dict):
        raise bad_request("can't parse JSON object")
    return parsed


async def params_from_multipart(reader: MultipartReader) -> Params:
    """Fields and files of a multipart body; files keep their part names (``attach://``)."""
    values: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        content = await part.read(decode=True)
        if part.filename is not None:
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            uploads[part.name] = Upload(part.filename, bytes(content), content_type)
        else:
            values[part.name] = bytes(content).decode(part.get_charset("utf-8"))
    return Params(values, uploads)


def params_from_json(body: bytes) -> Params:
    return Params(_json_object(body))
