"""The operator panel: server-rendered pages, a websocket for call popups, a little script."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from core.routes import RouteRules
from core.slots import SlotRules
from webhooks.app import CONFIG, DATABASE
from webhooks.panel import auth, calls, clients, dispatch, orders, popups
from webhooks.panel.errors import error_middleware
from webhooks.panel.pages import CONFIG as PANEL_CONFIG
from webhooks.panel.pages import TEMPLATE_ENV, create_environment
from webhooks.panel.sessions import SESSION_CODEC, SessionCodec, session_middleware

STATIC = Path(__file__).resolve().parent / "static"


def create_panel(parent: web.Application) -> web.Application:
    """The ``/panel`` sub-application; it uses the parent's database, clock and live hub."""
    config = parent[CONFIG]
    panel = web.Application(
        middlewares=[
            error_middleware,
            session_middleware(lambda request: request.config_dict[DATABASE]),
        ]
    )
    panel[PANEL_CONFIG] = config
    panel[TEMPLATE_ENV] = create_environment(config)
    panel[SESSION_CODEC] = SessionCodec.from_config(config)
    panel[clients.RULES] = SlotRules.from_config(config)
    panel[dispatch.ROUTE_RULES] = RouteRules.from_config(config)
    for module in (auth, clients, orders, calls, popups, dispatch):
        panel.router.add_routes(module.routes)
    panel.router.add_static("/static", STATIC)
    on_startup, on_shutdown = popups.popups_context(parent)
    panel.on_startup.append(on_startup)
    panel.on_shutdown.append(on_shutdown)
    on_startup, on_shutdown = dispatch.board_context(parent)
    panel.on_startup.append(on_startup)
    panel.on_shutdown.append(on_shutdown)
    on_startup, on_shutdown = orders.desk_context(parent)
    panel.on_startup.append(on_startup)
    panel.on_shutdown.append(on_shutdown)
    return panel
