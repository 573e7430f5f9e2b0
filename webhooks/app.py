"""The aiohttp application: one process serves health, and later the bots, PBXs and panel."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import NoReturn

from aiohttp import web
from aiohttp_remotes import XForwardedStrict
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bots.runtime import TelegramRuntime
from core.clock import Clock, SystemClock
from core.config import Config
from core.db import Database
from core.errors import DatabaseNotReady
from core.migrate import check_migrated
from core.profiles import telegram_accounts
from webhooks.live import LIVE, live_context
from webhooks.pbx import create_pbx_app, pbx_listeners
from webhooks.sandbox import SANDBOX_PATH, SandboxState, create_sandbox_app, sandbox_base_url
from webhooks.watch import watch_context

log = logging.getLogger(__name__)

CONFIG = web.AppKey("config", Config)
DATABASE = web.AppKey("database", Database)
CLOCK = web.AppKey("clock", Clock)
# The local Telegram (telegram.mode = "sandbox"); its base URL is webhooks.sandbox.sandbox_base_url.
SANDBOX = web.AppKey("sandbox", SandboxState)
# The bots and the outbox sender, when the app runs them (create_app(..., bots=True)).
TELEGRAM = web.AppKey("telegram", TelegramRuntime)


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers and is migrated; 503 with the reason otherwise."""
    db = request.app[DATABASE]
    body: dict[str, str] = {"status": "ok", "database": "ok", "engine": db.dialect}
    try:
        async with db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        await check_migrated(db)
    except (DatabaseNotReady, SQLAlchemyError, OSError) as err:
        reason = err.message() if isinstance(err, DatabaseNotReady) else str(err).splitlines()[0]
        log.warning("health check failed: %s", reason)
        body.update(status="unavailable", database=reason)
        return web.json_response(body, status=503)
    return web.json_response(body)


class BehindProxy(XForwardedStrict):
    """The app sits behind one reverse proxy: the client's address, scheme and host come from
    the X-Forwarded-* headers it adds, and a request that did not come through it is refused
    (a forged X-Forwarded-For cannot pass the PBX allow-list or dodge the login limit).
    ``/healthz`` may be asked directly."""

    def __init__(self, proxies: tuple[str, ...]) -> None:
        super().__init__([list(proxies)], white_paths=("/healthz",))

    async def raise_error(self, request: web.Request) -> NoReturn:
        log.warning("refused %s %s from %s: not through the trusted proxy",
                    request.method, request.path, request.remote)
        raise web.HTTPBadRequest(
            text='{"error": "bad_request", "message": "requests must come through the proxy"}',
            content_type="application/json",
        )


def create_app(
    config: Config, db: Database | None = None, *, clock: Clock | None = None, bots: bool = False
) -> web.Application:
    """The whole HTTP service. ``db`` is opened from the config unless given (tests).

    ``bots`` also runs the Telegram bots and the outbox sender (``brigadier run`` does).
    """
    app = web.Application()
    if config.http.trusted_proxies:
        app.middlewares.append(BehindProxy(config.http.trusted_proxies).middleware)
    app[CONFIG] = config
    app[CLOCK] = clock or SystemClock()

    async def database(app: web.Application) -> AsyncIterator[None]:
        own = db is None
        app[DATABASE] = (
            db if db is not None else Database.from_settings(config.database, config.path.parent)
        )
        yield
        if own:
            await app[DATABASE].dispose()

    app.cleanup_ctx.append(database)
    app.cleanup_ctx.append(live_context(lambda: app[DATABASE], config.panel.live_poll_seconds))
    app.cleanup_ctx.append(pbx_listeners(
        config, database=lambda: app[DATABASE], clock=app[CLOCK], live=lambda: app.get(LIVE)
    ))
    app.router.add_get("/healthz", healthz)
    if config.telegram.mode == "sandbox":
        app[SANDBOX] = SandboxState(clock=app[CLOCK])
        app.add_subapp(SANDBOX_PATH, create_sandbox_app(app[SANDBOX]))
    if bots:
        _add_bots(app, config)

    from webhooks.panel import create_panel  # the panel's views import this module's keys

    app.add_subapp("/panel", create_panel(app))
    app.add_subapp("/pbx", create_pbx_app(
        config, database=lambda: app[DATABASE], clock=app[CLOCK], live=lambda: app.get(LIVE)
    ))
    return app


async def _sandbox_accounts(app: web.Application) -> AsyncIterator[None]:
    """Our sandbox keeps its users in memory and the company keeps them in the database: at
    start, everyone the bots know (the demo company's people, those who wrote before a restart)
    is a sandbox user again, so the bots' messages reach them and the web chat can play them."""
    sandbox, runtime = app[SANDBOX], app[TELEGRAM]
    try:
        accounts = await telegram_accounts(app[DATABASE])
    except SQLAlchemyError as err:
        log.warning("the sandbox starts without the bots' known users: %s", err)
        accounts = []
    for account in accounts:
        running = runtime.bots.get(account.bot)
        bot = sandbox.bot_named(running.username) if running is not None else None
        if bot is not None:
            sandbox.add_known_user(
                bot, id=account.user_id, name=account.name, language_code=account.language,
                phone_number=account.phone,
            )
    yield


def _add_bots(app: web.Application, config: Config) -> None:
    """The bots' webhook routes under /telegram/, the bots and the sender as background work."""
    sandbox = app.get(SANDBOX)
    runtime = TelegramRuntime(
        config,
        database=lambda: app[DATABASE],
        clock=app[CLOCK],
        sandbox_url=sandbox_base_url(config) if config.telegram.mode == "sandbox" else None,
    )
    if sandbox is not None and not config.telegram.sandbox_url:
        # Our own sandbox knows the bots by the names the config gives them.
        for running in runtime.bots.values():
            sandbox.add_bot(running.token, running.username)
        app.cleanup_ctx.append(_sandbox_accounts)
    app[TELEGRAM] = runtime
    runtime.mount(app)
    app.cleanup_ctx.append(runtime.context)
    app.cleanup_ctx.append(watch_context(config, database=lambda: app[DATABASE], clock=app[CLOCK]))
