"""Rendering panel pages: one jinja2 environment, autoescaped, and the formats pages share."""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from babel.numbers import format_currency

from core.config import Config
from core.messages import LANGUAGES
from core.phones import display_phone
from core.workflows import status_label
from webhooks.panel.sessions import SESSION, session_of, user_of
from webhooks.panel.texts import translator

TEMPLATES = Path(__file__).resolve().parent / "templates"
CONFIG = web.AppKey("panel_config", Config)
TEMPLATE_ENV = web.AppKey("panel_templates", jinja2.Environment)


def create_environment(config: Config) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # the templates ship with the code: no stat() on every render
    )
    tz = config.company.tz
    currency = config.company.currency

    # Formatting a number or an amount costs more than the rest of a call popup; the same
    # ones come back again and again.
    @functools.lru_cache(maxsize=4096)
    def money(minor: int, language: str) -> str:
        return format_currency(Decimal(minor) / 100, currency, locale=language)

    def moment(value: datetime | None) -> str:
        return value.astimezone(tz).strftime("%d.%m.%Y %H:%M") if value else ""

    @functools.lru_cache(maxsize=4096)
    def phone(e164: str | None) -> str:
        if not e164:
            return ""
        try:
            return display_phone(e164)
        except Exception:
            return e164

    def named(names: dict[str, str], language: str) -> str:
        return names.get(language) or names.get("en") or next(iter(names.values()), "")

    env.globals.update(
        money=money, moment=moment, phone=phone, named=named, status_label=status_label,
        languages=LANGUAGES, company=config.company.name,
    )
    return env


def language_of(request: web.Request) -> str:
    user = user_of(request)
    if user is not None and user.language:
        return user.language
    session = request.get(SESSION)
    if session is not None and session.language:
        # After logging out the login page still speaks the user's language.
        return session.language
    return request.app[CONFIG].company.default_language


def render_fragment(env: jinja2.Environment, name: str, language: str, **context: Any) -> str:
    """A template rendered outside a request (a popup pushed over the websocket)."""
    return env.get_template(name).render(lang=language, _=translator(language), **context)


def render(
    request: web.Request, name: str, *, status: int = 200, **context: Any
) -> web.Response:
    language = language_of(request)
    session = session_of(request)
    html = request.app[TEMPLATE_ENV].get_template(name).render(
        lang=language,
        _=translator(language),
        user=user_of(request),
        csrf_token=session.csrf,
        flashes=session.pop_flashes(),
        **context,
    )
    return web.Response(text=html, content_type="text/html", status=status, charset="utf-8")


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})
