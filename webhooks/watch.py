"""The periodic checks of the working day, run as background work of the application:
offers nobody answered pass on, late starts are flagged. Each run acts once across all
processes (the claims are in core); ``now`` is the application's clock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

from aiohttp import web

from core.clock import Clock
from core.config import Config
from core.db import Database
from core.offers import expire_offers
from core.slots import SlotRules
from core.watch import flag_late_starts

log = logging.getLogger(__name__)


async def check_once(db: Database, config: Config, clock: Clock) -> None:
    """One round of every check (also what tests and the bench call)."""
    workers = config.workers
    rules = SlotRules.from_config(config)
    passed = await expire_offers(
        db, now=clock.now(), answer_within=timedelta(minutes=workers.offer_timeout_minutes),
        rules=rules,
    )
    late = await flag_late_starts(
        db, now=clock.now(), grace=timedelta(minutes=workers.late_start_grace_minutes),
        tz=config.company.tz,
    )
    if passed or late:
        log.info("watch: %s offers passed on, %s late starts flagged", len(passed), len(late))


def watch_context(
    config: Config, *, database: Callable[[], Database], clock: Clock
) -> Callable[[web.Application], AsyncIterator[None]]:
    """``cleanup_ctx``: the checks every ``workers.check_seconds`` while the app runs."""

    async def run() -> None:
        while True:
            try:
                await check_once(database(), config, clock)
            except Exception:
                log.exception("watch: a check failed; trying again next round")
            await asyncio.sleep(config.workers.check_seconds)

    async def context(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return context
