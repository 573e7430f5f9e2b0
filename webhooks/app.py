"""The aiohttp application: one process serves health, and later the bots, PBXs and panel."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core.clock import Clock, SystemClock
from core.config import Config
from core.db import Database
from core.errors import DatabaseNotReady
from core.migrate import check_migrated

log = logging.getLogger(__name__)

CONFIG = web.AppKey("config", Config)
DATABASE = web.AppKey("database", Database)
CLOCK = web.AppKey("clock", Clock)


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


def create_app(
    config: Config, db: Database | None = None, *, clock: Clock | None = None
) -> web.Application:
    """The whole HTTP service. ``db`` is opened from the config unless given (tests)."""
    app = web.Application()
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
    app.router.add_get("/healthz", healthz)
    return app
