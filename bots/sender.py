"""The outbox sender: delivers queued chat messages to Telegram within its limits.

Claiming and recording results is core's (``core/outbox.py``); this loop renders each message
in its language, sends it through the right bot and reports what Telegram said. The overall
limit is kept by spacing sends, booked on a lane every sender shares (several processes send
for one bot, and the limit is the bot's), and a "retry after" holds the lane for every sender.
The per-chat limit and the order within a chat are kept by the claim, across every sender. A
message is marked sent only after Telegram accepted it, so a sender killed mid-drain loses
nothing: its claimed rows are taken again when their lease ends.

Urgent templates (job offers) are claimed first. Several rows of one chat of a template the bot
knows how to show together (``joined``) go out as one message: the texts one after another and
the buttons built for all of them; Telegram's one answer is recorded for every row. Templates
named in ``paid_broadcast_templates`` go as paid broadcasts (``allow_paid_broadcast``: up to
1,000 a second overall, 0.1 Star each) when the free sends already lined up would keep them
waiting; everything else keeps to the free overall limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
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
    Accepted,
    Delivery,
    DeliveryRules,
    OutgoingMessage,
    anything_due,
    book_sends,
    claim_messages,
    hold_lane,
    mark_all_sent,
    mark_failed_attempt,
    mark_unreachable,
    postpone,
)

log = logging.getLogger(__name__)

Markup = Callable[[OutgoingMessage], Any]
JoinedMarkup = Callable[[Sequence[OutgoingMessage]], Any]
# Runs once a row of its template is delivered, e.g. to edit an earlier message it makes stale.
FollowUp = Callable[[Database, Bot, OutgoingMessage], Awaitable[None]]
LEASE = timedelta(seconds=60)
# Slightly under the limit: sends spaced this way never put more than the limit in any second.
SPACING_MARGIN = 1.01
# How late a send may start and still count its successor's spacing from its booked moment.
CATCH_UP_SECONDS = 0.1
# A send unanswered this long stops holding up the one a second's worth of sends after it.
ANSWER_WAIT_SECONDS = 5.0
MAX_IN_FLIGHT = 64
# Claims hold about this much of a second's sending: a newly queued offer waits at most this
# long behind ordinary notices already claimed.
CLAIM_SECONDS = 0.25
# The lane of free sends all senders book on (core.outbox.book_sends).
FREE_LANE = "free"
# A payable message goes as a paid broadcast only when a free send would wait longer than this.
FREE_WAIT_BEFORE_PAYING = 0.25


class _Pace:
    """Spaces sends so that no second holds more than ``per_second`` of them.

    Sends keep to their spacing counted from the moments booked for them, so an event loop that
    gets round to a send a little late (up to :data:`CATCH_UP_SECONDS`) loses no time: the next
    send makes it up. What keeps catching up from crowding a second is a guard on the sends
    themselves: a send starts only a second after Telegram answered the one ``per_second``
    places back. Telegram accepted that one before it answered, so no second (as Telegram
    counts, whatever the delays on the way) holds more than ``per_second`` of this lane's sends.
    """

    def __init__(self, per_second: float) -> None:
        self.spacing = SPACING_MARGIN / per_second
        self.next = 0.0
        self._answers: deque[asyncio.Future[float]] = deque(maxlen=max(1, int(per_second)))

    def wait(self) -> float:
        """Seconds until the next free slot."""
        return max(0.0, self.next - time.monotonic())

    async def take(self) -> asyncio.Future[float]:
        """Wait for the next slot; the send then answers the returned future with
        ``time.monotonic()`` once Telegram has answered, or it has failed."""
        delay = self.wait()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(self._answers) == self._answers.maxlen:
            earlier = self._answers[0]
            try:
                # A send Telegram never answers must not stop the lane: after a while, it is
                # taken as answered then.
                answered = await asyncio.wait_for(asyncio.shield(earlier), ANSWER_WAIT_SECONDS)
            except TimeoutError:
                answered = time.monotonic()
            gap = answered + 1.0 - time.monotonic()
            if gap > 0:
                await asyncio.sleep(gap)
        self.next = max(self.next, time.monotonic() - CATCH_UP_SECONDS) + self.spacing
        answer: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._answers.append(answer)
        return answer

    def not_before(self, moment: float) -> None:
        """The next send waits for ``moment`` (``time.monotonic()``) at least."""
        self.next = max(self.next, moment)

    def pause(self, seconds: float) -> None:
        """Telegram said "too many requests": this lane sends nothing until it has passed."""
        self.next = max(self.next, time.monotonic() + seconds)


# A claimed batch: its deliveries (paid ones first), and when its first free send may go.
_Batch = tuple[list[tuple[Delivery, bool]], float]


def _answer(answered: asyncio.Future[float]) -> None:
    """Telegram has answered the send (or it failed, or never went out): now."""
    if not answered.done():
        answered.set_result(time.monotonic())


class _SentLog:
    """Records what Telegram accepted, the answers that arrive together in one transaction:
    thirty messages a second would otherwise be thirty transactions a second, each a turn at
    SQLite's one write lock. A recorder returns once its answer is written."""

    BATCH = 64

    def __init__(self, database: Callable[[], Database], rules: DeliveryRules) -> None:
        self._database = database
        self._rules = rules
        self._waiting: list[tuple[Accepted, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, accepted: Accepted) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((accepted, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await done

    async def _write(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.BATCH]
            del self._waiting[: self.BATCH]
            try:
                await mark_all_sent(
                    self._database(), [accepted for accepted, _ in batch], rules=self._rules
                )
            except Exception as err:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(err)
            except BaseException:
                for _, done in batch:
                    done.cancel()
                raise
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def finish(self) -> None:
        """Write down what is waiting: those messages are in their chats already."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)


class OutboxSender:
    """Drains the outbox for ``bots`` (name → aiogram ``Bot``) until cancelled."""

    def __init__(
        self,
        database: Callable[[], Database],
        bots: Mapping[str, Bot],
        settings: OutboxSettings,
        *,
        markup: Markup | None = None,
        joined: Mapping[str, JoinedMarkup] | None = None,
        follow_ups: Mapping[str, FollowUp] | None = None,
        lease: timedelta = LEASE,
        clock: Clock | None = None,
    ) -> None:
        self._database = database
        self.bots = dict(bots)
        self.settings = settings
        self._joined = dict(joined or {})
        self._follow_ups = dict(follow_ups or {})
        self.rules = DeliveryRules(
            per_chat_interval=timedelta(seconds=1 / settings.per_chat_per_second),
            per_chat_burst=settings.per_chat_burst,
            lease=lease,
            max_attempts=settings.max_attempts,
            urgent=frozenset(settings.urgent_templates),
            joinable=frozenset(self._joined),
        )
        self._markup = markup or (lambda message: None)
        # Delivery runs on real time: Telegram's limits are, whatever a test does to the app clock.
        self.clock = clock or SystemClock()
        self._free = _Pace(settings.global_per_second)
        self._paid = _Pace(settings.paid_broadcast_per_second)
        self._sent_log = _SentLog(lambda: self.db, self.rules)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._room = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.sent = 0  # Telegram messages (a joined one counts once)
        self.rows_sent = 0  # outbox rows they carried
        self.paid = 0  # messages sent as paid broadcasts

    @property
    def db(self) -> Database:
        return self._database()

    async def run(self) -> None:
        log.info("outbox sender started for %s", ", ".join(sorted(self.bots)))
        ahead: asyncio.Task[_Batch] | None = None
        try:
            while True:
                planned, booked = await (ahead or self._claim_and_book())
                ahead = None
                if not planned:
                    await self._until_due()
                    continue
                # A full batch: more is likely due. The next batch is claimed and booked while
                # this one goes out, so it follows on the lane without a gap.
                more = len(planned) >= self._batch()
                if more:
                    ahead = asyncio.create_task(self._claim_and_book())
                self._free.not_before(booked)
                for delivery, paid in planned:
                    await self._start(delivery, paid=paid)
                if not more:
                    await self._until_due()
        finally:
            if ahead is not None:
                ahead.cancel()
                await asyncio.gather(ahead, return_exceptions=True)
            await self._stop_in_flight()

    async def _claim_and_book(self) -> _Batch:
        """Claim the next batch and book its free sends: the deliveries (paid ones first) and
        when the first free send may go (``time.monotonic()``)."""
        planned = self._lanes(await self._claim())
        return planned, await self._book_free_sends(planned)

    async def _until_due(self) -> None:
        """Idle: look every ``poll_seconds`` whether anything is due, a read that waits for no
        writer, and claim (which writes) only once something is."""
        while True:
            await asyncio.sleep(self.settings.poll_seconds)
            try:
                if await anything_due(self.db, bots=self.bots.keys(), now=self.clock.now()):
                    return
            except Exception:
                log.exception("outbox: looking for due messages failed; trying again shortly")

    async def drain_once(self) -> int:
        """Claim a quarter second's worth of messages and start sending them; how many."""
        planned, booked = await self._claim_and_book()
        self._free.not_before(booked)
        for delivery, paid in planned:
            await self._start(delivery, paid=paid)
        return len(planned)

    def _batch(self) -> int:
        return max(1, round(self.settings.global_per_second * CLAIM_SECONDS))

    async def _claim(self) -> list[Delivery]:
        batch = self._batch()
        extra = 0
        if self.settings.paid_broadcast_templates:
            extra = round(self.settings.paid_broadcast_per_second * CLAIM_SECONDS)
        try:
            return await claim_messages(
                self.db, bots=self.bots.keys(), now=self.clock.now(), limit=batch,
                rules=self.rules, extra_urgent=extra,
            )
        except Exception:
            log.exception("outbox: claiming failed; trying again shortly")
            return []

    async def _book_free_sends(self, planned: list[tuple[Delivery, bool]]) -> float:
        """Book this batch's free sends on the lane all senders share (Telegram's overall limit
        is the bot's, however many processes send); when the first may go, no sooner."""
        count = sum(1 for _, paid in planned if not paid)
        if not count:
            return 0.0
        now = self.clock.now()
        try:
            start = await book_sends(self.db, lane=FREE_LANE, count=count, now=now,
                                     spacing=timedelta(seconds=self._free.spacing))
        except Exception:
            log.exception("outbox: booking sends on the shared lane failed; pacing alone")
            return 0.0
        return time.monotonic() + (start - now).total_seconds()

    async def _start(self, delivery: Delivery, *, paid: bool) -> None:
        await self._room.acquire()
        try:
            answered = await (self._paid if paid else self._free).take()
        except BaseException:
            self._room.release()
            raise
        task = asyncio.create_task(self._deliver(delivery, paid=paid, answered=answered))
        self._in_flight.add(task)
        task.add_done_callback(self._finished)
        task.add_done_callback(lambda _: _answer(answered))  # cancelled before it was sent

    def _lanes(self, claimed: list[Delivery]) -> list[tuple[Delivery, bool]]:
        """Which deliveries go free and which as paid broadcasts (those first: no waiting).

        A payable one is paid for when the free sends already lined up would keep it waiting
        longer than ``FREE_WAIT_BEFORE_PAYING``."""
        payable = self.settings.paid_broadcast_templates
        waiting = self._free.wait()
        planned = []
        for delivery in claimed:
            if delivery.first.template in payable and waiting > FREE_WAIT_BEFORE_PAYING:
                planned.append((delivery, True))
            else:
                planned.append((delivery, False))
                waiting += self._free.spacing
        return sorted(planned, key=lambda plan: not plan[1])

    async def drain(self) -> None:
        """Send everything due now and wait for the answers (tests and the bench)."""
        while await self.drain_once():
            pass
        await asyncio.gather(*self._in_flight)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._room.release()

    def _compose(self, delivery: Delivery) -> tuple[str, Any]:
        messages = delivery.messages
        texts = [render(m.template, m.language, **m.params) for m in messages]
        if not delivery.joined:
            return texts[0], self._markup(messages[0])
        joined_markup = self._joined[delivery.first.template]
        return self.rules.joined_separator.join(texts), joined_markup(messages)

    async def _deliver(
        self, delivery: Delivery, *, paid: bool, answered: asyncio.Future[float]
    ) -> None:
        first = delivery.first
        bot = self.bots[first.bot]
        text, markup = self._compose(delivery)
        try:
            try:
                sent = await bot.send_message(
                    first.chat_id, text, parse_mode=None, reply_markup=markup,
                    allow_paid_broadcast=True if paid else None,
                )
            finally:
                _answer(answered)
        except TelegramRetryAfter as err:
            (self._paid if paid else self._free).pause(err.retry_after)
            until = self.clock.now() + timedelta(seconds=err.retry_after)
            if not paid:
                await self._hold_free_lane(until)
            await postpone(self.db, message_ids=delivery.ids, until=until, error=err.message)
            log.info("outbox %s: retry after %ss", delivery.ids, err.retry_after)
        except TelegramForbiddenError as err:
            await mark_unreachable(
                self.db, message_ids=delivery.ids, bot=first.bot, chat_id=first.chat_id,
                now=self.clock.now(), error=err.message,
            )
            log.info("outbox %s: %s chat %s is unreachable", delivery.ids, first.bot,
                     first.chat_id)
        except TelegramBadRequest as err:
            await self._failed(delivery, err.message, permanent=True)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as err:
            # Network trouble, Telegram's own errors: back off and try again.
            await self._failed(delivery, f"{type(err).__name__}: {err}", permanent=False)
        else:
            await self._sent_log.record(
                Accepted(tuple(delivery.ids), self.clock.now(), sent.message_id)
            )
            self.sent += 1
            self.rows_sent += len(delivery.messages)
            self.paid += paid
            await self._follow_up(bot, delivery)

    async def _hold_free_lane(self, until: datetime) -> None:
        """Every sender of the bot waits with this one: Telegram's limit is the bot's."""
        try:
            await hold_lane(self.db, lane=FREE_LANE, until=until)
        except Exception:
            log.exception("outbox: holding the shared lane failed; this sender waits alone")

    async def _follow_up(self, bot: Bot, delivery: Delivery) -> None:
        for message in delivery.messages:
            follow_up = self._follow_ups.get(message.template)
            if follow_up is None:
                continue
            try:
                await follow_up(self.db, bot, message)
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception:
                # The message itself is delivered; what follows it is a courtesy.
                log.exception("outbox %s: follow-up of %s failed", message.id, message.template)

    async def _failed(self, delivery: Delivery, error: str, *, permanent: bool) -> None:
        state = await mark_failed_attempt(
            self.db, message_ids=delivery.ids, now=self.clock.now(), error=error,
            rules=self.rules, permanent=permanent,
        )
        log.warning("outbox %s not delivered (%s), now %s: %s", delivery.ids,
                    delivery.first.template, state, error)

    async def _stop_in_flight(self) -> None:
        for task in list(self._in_flight):
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        await self._sent_log.finish()
