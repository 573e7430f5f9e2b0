"""Serve the application until stopped, refusing an unmigrated database up front."""

from __future__ import annotations

import asyncio
import gc
import logging

from aiohttp import web

from core.config import Config
from core.db import Database
from core.migrate import check_migrated
from webhooks.app import create_app

log = logging.getLogger(__name__)


def settle_memory() -> None:
    """Move everything alive after start-up out of the garbage collector's way.

    Modules, the ORM's mappers and compiled statements live as long as the process; freezing
    them keeps full collections from walking them again and again, which otherwise shows up
    as latency spikes on requests that allocate many rows.
    """
    gc.collect()
    gc.freeze()


async def serve(config: Config) -> None:
    db = Database.from_settings(config.database, config.path.parent)
    try:
        await check_migrated(db)
        runner = web.AppRunner(create_app(config, db, bots=True), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, config.http.host, config.http.port)
        await site.start()
        settle_memory()
        log.info("serving on http://%s:%s", config.http.host, config.http.port)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
    finally:
        await db.dispose()
