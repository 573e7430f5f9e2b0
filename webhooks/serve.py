"""Serve the application until stopped, refusing an unmigrated database up front."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from core.config import Config
from core.db import Database
from core.migrate import check_migrated
from webhooks.app import create_app

log = logging.getLogger(__name__)


async def serve(config: Config) -> None:
    db = Database.from_settings(config.database, config.path.parent)
    try:
        await check_migrated(db)
        runner = web.AppRunner(create_app(config, db), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, config.http.host, config.http.port)
        await site.start()
        log.info("serving on http://%s:%s", config.http.host, config.http.port)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
    finally:
        await db.dispose()
