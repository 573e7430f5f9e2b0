"""A local Telegram: a Bot API server for our bots and a web chat where a person plays the user.

Telegram is unreachable from development and test machines, so the sandbox stands in for it.
aiogram reaches it through ``AiohttpSession(api=TelegramAPIServer.from_base(base))`` with
``base`` from :func:`sandbox_base_url`, the same code path as real Telegram.
"""

from __future__ import annotations

from aiohttp import web

from core.config import Config
from webhooks.sandbox.botapi import STATE, setup_bot_api
from webhooks.sandbox.chat import setup_chat
from webhooks.sandbox.limits import SandboxLimits
from webhooks.sandbox.state import BotApiError, SandboxState

__all__ = [
    "SANDBOX_PATH",
    "STATE",
    "BotApiError",
    "SandboxLimits",
    "SandboxState",
    "create_sandbox_app",
    "sandbox_base_url",
]

SANDBOX_PATH = "/sandbox"


def create_sandbox_app(state: SandboxState) -> web.Application:
    """The sandbox as an aiohttp sub-application; mount it at :data:`SANDBOX_PATH`."""
    app = web.Application()
    setup_bot_api(app, state)
    setup_chat(app)
    return app


def sandbox_base_url(config: Config) -> str:
    """The base URL bots give ``TelegramAPIServer.from_base`` to reach the sandbox."""
    if config.telegram.sandbox_url:
        return config.telegram.sandbox_url.rstrip("/")
    host = config.http.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.http.port}{SANDBOX_PATH}"
