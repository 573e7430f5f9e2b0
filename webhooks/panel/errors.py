"""The panel's one place for errors: readable pages in the user's language, never a trace."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from core.errors import BrigadierError, Conflict, Forbidden, InvalidInput, NotFound
from webhooks.panel.pages import language_of, render
from webhooks.panel.sessions import SESSION, Handler, Session
from webhooks.panel.texts import text

log = logging.getLogger(__name__)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        title = _http_title(exc.status, request)
        return _page(request, exc.status, title, "")
    except BrigadierError as err:
        status = _status(err)
        language = language_of(request)
        title = _http_title(status, request)
        return _page(request, status, title, err.message(language))
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("panel: unexpected failure on %s %s", request.method, request.path)
        language = language_of(request)
        return _page(request, 500, text("error.title", language), text("error.unexpected",
                                                                        language))


def _status(err: BrigadierError) -> int:
    if isinstance(err, Forbidden):
        return 403
    if isinstance(err, NotFound):
        return 404
    if isinstance(err, Conflict):
        return 409
    if isinstance(err, InvalidInput):
        return 400
    return 400


def _http_title(status: int, request: web.Request) -> str:
    language = language_of(request)
    if status == 404:
        return text("error.not_found", language)
    if status == 403:
        return text("error.forbidden", language)
    return text("error.title", language)


def _page(request: web.Request, status: int, title: str, message: str) -> web.Response:
    if SESSION not in request:
        request[SESSION] = Session()
    return render(request, "error.html", status=status, title=title, message=message)
