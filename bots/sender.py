"""The outbox sender: delivers queued chat messages to Telegram within its limits.

Claiming and recording results is core's (``core/outbox.py``); this loop renders each message
in its language, sends it through the right bot and reports what Telegram said. The overall
limit is kept here by spacing sends; the per-chat limit and the order within a chat are kept by
the claim, across every sender. A message is marked sent only after Telegram accepted it, so a
sender killed mid-drain loses nothing: its claimed rows are taken again when their lease ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
)

from core.clock import Clock, SystemClock
from core.config import OutboxSettings
from core.db import Database
from core.messages import render
from core.outbox import (
    DeliveryRules,
    OutgoingMessage,
    claim_messages,
    mark_failed_attempt,
    mark_sent,
    mark_unreachable,
    postpone,
)

log = logging.getLogger(__name__)

Markup = Callable[[OutgoingMessage], Any]
LEASE = timedelta(seconds=60)
# Slightly under the limit: sends spaced this way never put more than the limit in any second.
SPACING_MARGIN = 1.01
MAX_IN_FLIGHT = 64


class OutboxSender:
    """Drains the outbox for ``bots`` (name → aiogram ``Bot``) until cancelled."""

    def __init__(
        self,
        database: Callable[[], Database],
        bots: Mapping[str, Bot],
        settings: OutboxSettings,
        *,
        markup: Markup | None = None,
        lease: timedelta = LEASE,
        clock: Clock | None = None,
    ) -> None:
        self._database = database
        self.bots = dict(bots)
        self.settings = settings
        self.rules = DeliveryRules(
            per_chat_interval=timedelta(seconds=1 / settings.per_chat_per_second),
            lease=lease,
            max_attempts=settings.max_attempts,
        )
        self._markup = markup or (lambda message: None)
        # Delivery runs on real time: Telegram's limits are, whatever a test does to the app clock.
        self.clock = clock or SystemClock()
        self._spacing = SPACING_MARGIN / settings.global_per_second
        self._next_send = 0.0
        self._in_flight: set[asyncio.Task[None]] = set()
        self._room = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.sent = 0

    @property
    def db(self) -> Database:
        return self._database()

    async def run(self) -> None:
        log.info("outbox sender started for %s", ", ".join(sorted(self.bots)))
        try:
            while True:
                if not await self.drain_once():
                    await asyncio.sleep(self.settings.poll_seconds)
        finally:
            await self._stop_in_flight()

    async def drain_once(self) -> int:
        """Claim about a second's worth of messages and start sending them; how many."""
        batch = max(1, round(self.settings.global_per_second))
        try:
            claimed = await claim_messages(
                self.db, bots=self.bots.keys(), now=self.clock.now(), limit=batch, rules=self.rules
            )
        except Exception:
            log.exception("outbox: claiming failed; trying again shortly")
            return 0
        for message in claimed:
            await self._wait_for_slot()
            await self._room.acquire()
            task = asyncio.create_task(self._deliver(message))
            self._in_flight.add(task)
            task.add_done_callback(self._finished)
        return len(claimed)

    async def drain(self) -> None:
        """Send everything due now and wait for the answers (tests and the bench)."""
        while await self.drain_once():
            pass
        await asyncio.gather(*self._in_flight)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._room.release()

    async def _wait_for_slot(self) -> None:
        now = time.monotonic()
        if self._next_send > now:
            await asyncio.sleep(self._next_send - now)
        self._next_send = max(self._next_send, time.monotonic()) + self._spacing

    def _pause(self, seconds: float) -> None:
        """Telegram said "too many requests": nobody sends until it has passed."""
        self._next_send = max(self._next_send, time.monotonic() + seconds)

    async def _deliver(self, message: OutgoingMessage) -> None:
        bot = self.bots[message.bot]
        text = render(message.template, message.language, **message.params)
        try:
            await bot.send_message(
                message.chat_id, text, parse_mode=None, reply_markup=self._markup(message)
            )
        except TelegramRetryAfter as err:
            self._pause(err.retry_after)
            until = self.clock.now() + timedelta(seconds=err.retry_after)
            await postpone(self.db, message_id=message.id, until=until, error=err.message)
            log.info("outbox %s: retry after %ss", message.id, err.retry_after)
        except TelegramForbiddenError as err:
            await mark_unreachable(
                self.db, message_id=message.id, bot=message.bot, chat_id=message.chat_id,
                now=self.clock.now(), error=err.message,
            )
            log.info("outbox %s: %s chat %s is unreachable", message.id, message.bot,
                     message.chat_id)
        except TelegramBadRequest as err:
            await self._failed(message, err.message, permanent=True)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as err:
            # Network trouble, Telegram's own errors: back off and try again.
            await self._failed(message, f"{type(err).__name__}: {err}", permanent=False)
        else:
            await mark_sent(self.db, message_id=message.id, now=self.clock.now())
            self.sent += 1

    async def _failed(self, message: OutgoingMessage, error: str, *, permanent: bool) -> None:
        state = await mark_failed_attempt(
            self.db, message_id=message.id, now=self.clock.now(), error=error, rules=self.rules,
            permanent=permanent,
        )
        log.warning("outbox %s not delivered (%s), now %s: %s", message.id, message.template,
                    state, error)

    async def _stop_in_flight(self) -> None:
        for task in list(self._in_flight):
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)
