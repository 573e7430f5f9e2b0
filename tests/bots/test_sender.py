"""The outbox sender against the sandbox: delivery within Telegram's limits, waiting when told,
giving up on blocked chats, backing off on network trouble, losing nothing in a crash; offers
first, joined per chat, and paid broadcasts only when allowed and needed."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bots.sender import OutboxSender
from core.config import OutboxSettings
from core.db import Database
from core.events import Notice, record_event
from core.models import OutboxMessage, UnreachableChat
from core.outbox import mark_reachable, sent_message
from tests.clock import ManualClock
from tests.webhooks.sandbox.conftest import PlainHttpSession, serve_sandbox
from webhooks.sandbox import SANDBOX_PATH, SandboxLimits, SandboxState

TOKEN = "111111:customer-sandbox"


@dataclass
class Sent:
    chat_id: int
    at: float
    paid: bool = False


@dataclass
class Telegram:
    state: SandboxState
    server: TestServer
    accepted: list[Sent] = field(default_factory=list)
    refused: int = 0
    bots: list[Bot] = field(default_factory=list)

    def bot(self, base: str | None = None) -> Bot:
        base = base or str(self.server.make_url(SANDBOX_PATH))
        bot = Bot(TOKEN, session=PlainHttpSession(api=TelegramAPIServer.from_base(base)))
        self.bots.append(bot)
        return bot

    def users(self, count: int) -> list[int]:
        """Users who wrote to the bot, so it may write back."""
        bot = self.state.bot_named("brigadier_customer_bot")
        ids = []
        for number in range(count):
            user = self.state.add_user(first_name=f"User {number}")
            self.state.chat(bot, user).started = True
            ids.append(user.id)
        return ids

    def texts(self, chat_id: int) -> list[str]:
        bot = self.state.bot_named("brigadier_customer_bot")
        chat = self.state.chats[(bot.id, chat_id)]
        return [m.text for m in chat.messages.values() if m.from_bot and m.text]


@pytest.fixture
async def telegram() -> AsyncIterator[Telegram]:
    state = SandboxState()
    state.add_bot(TOKEN, "brigadier_customer_bot")
    server = await serve_sandbox(state)
    recorder = Telegram(state, server)
    check = state.check_send_rate

    def recording(bot, chat_id, *, paid=False):  # what the sandbox accepted, when, as Telegram
        try:
            check(bot, chat_id, paid=paid)
        except Exception:
            recorder.refused += 1
            raise
        recorder.accepted.append(Sent(chat_id, time.monotonic(), paid))

    state.check_send_rate = recording
    try:
        yield recorder
    finally:
        for bot in recorder.bots:
            await bot.session.close()
        await server.close()


async def queue(db: Database, chats: list[int], per_chat: int, language: str = "en") -> None:
    """``per_chat`` status notices to each chat, numbered 1, 2, ... in creation order."""
    async with db.transaction() as tx:
        number = 0
        for _round in range(per_chat):
            for chat_id in chats:
                number += 1
                notice = Notice("customer", chat_id, language, "notice.order_status",
                                {"number": number, "status": "ok"})
                record_event(tx, kind="test", notices=[notice])


async def states(db: Database) -> Counter[str]:
    async with db.transaction() as tx:
        return Counter(await tx.scalars(select(OutboxMessage.state)))


def settings(
    per_chat: float = 4.0, overall: float = 20.0, attempts: int = 12, burst: int = 1
) -> OutboxSettings:
    return OutboxSettings(per_chat_per_second=per_chat, global_per_second=overall,
                          per_chat_burst=burst, max_attempts=attempts, poll_seconds=0.02)


async def drain_until_done(sender: OutboxSender, db: Database, seconds: float = 20.0) -> None:
    task = asyncio.create_task(sender.run())
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pending = await states(db)
            if not pending["pending"] and not pending["sending"]:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"outbox not drained: {await states(db)}")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def most_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_delivers_every_message_within_both_limits(fresh_db: Database, telegram: Telegram):
    telegram.state.limits = SandboxLimits(per_chat_per_second=4, per_chat_burst=1,
                                          global_per_second=20, global_burst=2)
    chats = telegram.users(8)
    await queue(fresh_db, chats, per_chat=5, language="uk")
    sender = OutboxSender(lambda: fresh_db, {"customer": telegram.bot()}, settings())

    await drain_until_done(sender, fresh_db)

    assert await states(fresh_db) == {"sent": 40}
    assert telegram.refused == 0
    assert most_in_any_second([s.at for s in telegram.accepted]) <= 20
    for chat_id in chats:
        times = [s.at for s in telegram.accepted if s.chat_id == chat_id]
        assert min(b - a for a, b in itertools.pairwise(times)) >= 0.25 * 0.95
        numbers = [int(text.split("№")[1].split(":")[0]) for text in telegram.texts(chat_id)]
        assert numbers == sorted(numbers) and len(numbers) == 5  # in order, each once
    assert telegram.texts(chats[0])[0] == "Замовлення №1: ok."


async def test_a_stalling_event_loop_is_made_up_for_without_crowding_a_second(
    fresh_db: Database, telegram: Telegram
):
    """The process is blocked for 90 ms of every 300: sends fall behind their moments and
    catch up, and answers arrive bunched, yet no second holds more than the limit."""
    telegram.state.limits = SandboxLimits(per_chat_per_second=20, per_chat_burst=20,
                                          global_per_second=20, global_burst=20)
    chats = telegram.users(20)
    await queue(fresh_db, chats, per_chat=4)
    sender = OutboxSender(lambda: fresh_db, {"customer": telegram.bot()},
                          settings(per_chat=20, overall=20, burst=20))

    async def stall() -> None:
        while True:
            await asyncio.sleep(0.21)
            time.sleep(0.09)  # noqa: ASYNC251 (blocking on purpose: a busy process)

    staller = asyncio.create_task(stall())
    try:
        await drain_until_done(sender, fresh_db)
    finally:
        staller.cancel()
        await asyncio.gather(staller, return_exceptions=True)

    assert await states(fresh_db) == {"sent": 80}
    assert telegram.refused == 0
    assert most_in_any_second([s.at for s in telegram.accepted]) <= 20


def over_the_bucket(times: list[float], per_second: float, burst: int) -> int:
    """Sends a token bucket of ``burst`` refilled at ``per_second`` would have refused."""
    tokens, last, over = float(burst), None, 0
    for moment in sorted(times):
        if last is not None:
            tokens = min(float(burst), tokens + (moment - last) * per_second)
        last = moment
        if tokens < 1.0 - 0.02:  # a few ms of slack for the clocks of two processes
            over += 1
        tokens -= 1.0
    return over


async def test_a_chat_gets_a_short_burst_at_once_then_one_message_per_interval(
    fresh_db: Database, telegram: Telegram
):
    telegram.state.limits = SandboxLimits(per_chat_per_second=2, per_chat_burst=3,
                                          global_per_second=100, global_burst=100)
    [chat] = telegram.users(1)
    await queue(fresh_db, [chat], per_chat=6)
    sender = OutboxSender(lambda: fresh_db, {"customer": telegram.bot()},
                          settings(per_chat=2, overall=100, burst=3))

    await drain_until_done(sender, fresh_db)

    assert telegram.refused == 0
    assert telegram.texts(chat) == [f"Order №{n}: ok." for n in range(1, 7)]
    times = [s.at for s in telegram.accepted]
    assert times[2] - times[0] < 0.4  # the first three at once, as Telegram lets them pass
    # then the bucket paces the chat: the other three take a token each, two a second
    assert over_the_bucket(times, per_second=2, burst=3) == 0
    assert times[-1] - times[0] >= 3 / 2 * 0.95


async def test_two_senders_keep_each_chats_bucket_together(
    fresh_db: Database, telegram: Telegram
):
    telegram.state.limits = SandboxLimits(per_chat_per_second=4, per_chat_burst=2,
                                          global_per_second=200, global_burst=200)
    chats = telegram.users(3)
    await queue(fresh_db, chats, per_chat=6)
    rules = settings(per_chat=4, overall=100, burst=2)
    senders = [OutboxSender(lambda: fresh_db, {"customer": telegram.bot()}, rules)
               for _ in range(2)]

    await asyncio.gather(*(drain_until_done(sender, fresh_db) for sender in senders))

    assert telegram.refused == 0
    assert await states(fresh_db) == {"sent": 18}
    for chat_id in chats:
        times = [s.at for s in telegram.accepted if s.chat_id == chat_id]
        assert len(times) == 6
        assert over_the_bucket(times, per_second=4, burst=2) == 0


async def test_two_senders_share_the_overall_limit(fresh_db: Database, telegram: Telegram):
    """Several processes, one bot: Telegram's overall limit is the bot's, not each sender's."""
    telegram.state.limits = SandboxLimits(per_chat_per_second=1, per_chat_burst=1,
                                          global_per_second=20, global_burst=20)
    chats = telegram.users(80)
    await queue(fresh_db, chats, per_chat=1)
    senders = [OutboxSender(lambda: fresh_db, {"customer": telegram.bot()},
                            settings(per_chat=1, overall=20)) for _ in range(2)]

    await asyncio.gather(*(drain_until_done(sender, fresh_db) for sender in senders))

    assert await states(fresh_db) == {"sent": 80}
    assert all(sender.sent > 0 for sender in senders)  # both took part
    assert telegram.refused == 0  # each alone at 20 a second: 40 together, and 429s
    # A second may hold one or two more where one sender's booked sends run a little late
    # into the other's; each sender alone would put 20 in every second.
    assert most_in_any_second([s.at for s in telegram.accepted]) <= 22


async def test_too_many_requests_waits_as_told_then_delivers(
    fresh_db: Database, telegram: Telegram
):
    telegram.state.limits = SandboxLimits(per_chat_per_second=1, per_chat_burst=1)
    [chat] = telegram.users(1)
    await queue(fresh_db, [chat], per_chat=2)
    # This sender believes in ten a second per chat: Telegram disagrees.
    sender = OutboxSender(lambda: fresh_db, {"customer": telegram.bot()}, settings(per_chat=10))

    await drain_until_done(sender, fresh_db)

    assert telegram.refused >= 1
    assert await states(fresh_db) == {"sent": 2}
    assert telegram.texts(chat) == ["Order №1: ok.", "Order №2: ok."]


async def test_when_telegram_says_wait_every_sender_of_the_bot_waits(
    fresh_db: Database, telegram: Telegram
):
    telegram.state.limits = SandboxLimits(per_chat_per_second=1, per_chat_burst=1)
    [chat] = telegram.users(1)
    await queue(fresh_db, [chat], per_chat=2)
    # This sender believes in ten a second per chat: its second send is refused, "retry after 1".
    hasty = OutboxSender(lambda: fresh_db, {"customer": telegram.bot()}, settings(per_chat=10))
    hasty_task = asyncio.create_task(hasty.run())
    try:
        deadline = time.monotonic() + 10
        while not telegram.refused and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        refused_by = time.monotonic()
        assert telegram.refused == 1
        # The refused row waits again once the sender has taken in the answer (lane held first).
        while await states(fresh_db) != {"sent": 1, "pending": 1}:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)

        # Another sender of the same bot (another process) has messages for other chats now.
        others = telegram.users(5)
        await queue(fresh_db, others, per_chat=1)
        await drain_until_done(
            OutboxSender(lambda: fresh_db, {"customer": telegram.bot()}, settings()), fresh_db
        )
    finally:
        hasty_task.cancel()
        await asyncio.gather(hasty_task, return_exceptions=True)

    assert await states(fresh_db) == {"sent": 7}
    to_others = [s.at for s in telegram.accepted if s.chat_id in others]
    assert len(to_others) == 5
    assert min(to_others) >= refused_by + 1 - 0.05  # it waited as the refused one was told
    assert telegram.refused == 1


async def test_blocked_chat_becomes_unreachable_and_is_skipped(
    fresh_db: Database, telegram: Telegram
):
    telegram.state.limits = SandboxLimits.off()
    blocked, reachable = telegram.users(2)
    bot_state = telegram.state.bot_named("brigadier_customer_bot")
    telegram.state.set_blocked(bot_state, telegram.state.users[blocked], blocked=True)
    await queue(fresh_db, [blocked, reachable], per_chat=3)
    sender = OutboxSender(lambda: fresh_db, {"customer": telegram.bot()}, settings())

    await drain_until_done(sender, fresh_db)

    assert await states(fresh_db) == {"sent": 3, "unreachable": 3}
    assert len(telegram.texts(reachable)) == 3 and telegram.texts(blocked) == []
    async with fresh_db.transaction() as tx:
        assert await tx.get(UnreachableChat, ("customer", blocked)) is not None

    # Later messages to the blocked chat are skipped without asking Telegram...
    tries = telegram.refused
    await queue(fresh_db, [blocked], per_chat=1)
    await drain_until_done(sender, fresh_db)
    assert (await states(fresh_db))["unreachable"] == 4 and telegram.refused == tries
    # ...until the person writes to the bot again.
    telegram.state.set_blocked(bot_state, telegram.state.users[blocked], blocked=False)
    assert await mark_reachable(fresh_db, bot="customer", chat_id=blocked)
    await queue(fresh_db, [blocked], per_chat=1)
    await drain_until_done(sender, fresh_db)
    assert telegram.texts(blocked) == ["Order №1: ok."]


async def test_network_errors_back_off_then_fail(fresh_db: Database, telegram: Telegram):
    [chat] = telegram.users(1)
    await queue(fresh_db, [chat], per_chat=1)
    clock = ManualClock(datetime.now(UTC))
    nowhere = telegram.bot("http://127.0.0.1:9/sandbox")
    sender = OutboxSender(lambda: fresh_db, {"customer": nowhere}, settings(attempts=2),
                          clock=clock)

    await sender.drain()
    async with fresh_db.transaction() as tx:
        row = await tx.scalar(select(OutboxMessage))
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=1)
    assert "Cannot connect" in row.last_error

    await sender.drain()  # not due yet: nothing is tried
    clock.advance(seconds=1)
    await sender.drain()
    async with fresh_db.transaction() as tx:
        row = await tx.scalar(select(OutboxMessage))
    assert (row.state, row.attempts) == ("failed", 2)


async def test_killed_mid_drain_a_restart_delivers_the_rest_at_least_once(
    fresh_db: Database, telegram: Telegram
):
    telegram.state.limits = SandboxLimits.off()
    chats = telegram.users(30)
    await queue(fresh_db, chats, per_chat=1)
    first = OutboxSender(lambda: fresh_db, {"customer": telegram.bot()}, settings(overall=40),
                         lease=timedelta(seconds=0.5))
    task = asyncio.create_task(first.run())
    while len(telegram.accepted) < 8:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    task.cancel()  # killed: some rows claimed and not sent
    await asyncio.gather(task, return_exceptions=True)
    left = await states(fresh_db)
    assert left["sent"] < 30 and left["sending"] > 0

    second = OutboxSender(lambda: fresh_db, {"customer": telegram.bot()}, settings(overall=50))
    await drain_until_done(second, fresh_db)

    assert await states(fresh_db) == {"sent": 30}
    for chat_id in chats:
        assert len(telegram.texts(chat_id)) >= 1  # at least once: one sent twice is allowed


async def test_two_senders_never_send_one_row_twice(fresh_db: Database, telegram: Telegram):
    telegram.state.limits = SandboxLimits.off()
    chats = telegram.users(40)
    await queue(fresh_db, chats, per_chat=3)
    senders = [
        OutboxSender(lambda: fresh_db, {"customer": telegram.bot()},
                     settings(per_chat=50, overall=100))
        for _ in range(2)
    ]
    tasks = [asyncio.create_task(sender.run()) for sender in senders]
    try:
        deadline = time.monotonic() + 20
        while (await states(fresh_db))["sent"] < 120 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    assert await states(fresh_db) == {"sent": 120}
    assert all(sender.sent > 0 for sender in senders)  # both did part of the work
    for chat_id in chats:
        texts = telegram.texts(chat_id)
        assert len(texts) == len(set(texts)) == 3


OFFER = "notice.job_offer"


def offers_keyboard(messages) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=f"Take {m.params['number']}", callback_data=f"t:{m.id}")]
        for m in messages
    ])


def offer_sender(db: Database, telegram: Telegram, **overrides) -> OutboxSender:
    return OutboxSender(lambda: db, {"customer": telegram.bot()}, settings(**overrides),
                        joined={OFFER: offers_keyboard})


async def queue_offers(db: Database, chat_id: int, numbers: range) -> None:
    async with db.transaction() as tx:
        for number in numbers:
            params = {"order_id": number, "number": str(number), "service": "Cleaning",
                      "when": "01.12.2026 10:00", "where": "Khreshchatyk 1", "price": "1,500 UAH",
                      "distance": "2.0"}
            record_event(tx, kind="test",
                               notices=[Notice("customer", chat_id, "en", OFFER, params)])


def bot_messages(telegram: Telegram, chat_id: int) -> list:
    bot = telegram.state.bot_named("brigadier_customer_bot")
    chat = telegram.state.chats[(bot.id, chat_id)]
    return [m for m in chat.messages.values() if m.from_bot]


async def test_offers_waiting_for_one_chat_go_out_joined_in_one_message(
    fresh_db: Database, telegram: Telegram
):
    [chat] = telegram.users(1)
    await queue_offers(fresh_db, chat, range(1, 5))

    await drain_until_done(offer_sender(fresh_db, telegram, per_chat=1), fresh_db)

    [message] = bot_messages(telegram, chat)
    assert [text.split(":")[0] for text in message.text.split("\n\n")] == [
        f"New job №{n}" for n in range(1, 5)]
    buttons = [row[0]["text"] for row in message.reply_markup["inline_keyboard"]]
    assert buttons == ["Take 1", "Take 2", "Take 3", "Take 4"]
    assert await states(fresh_db) == {"sent": 4}
    assert telegram.refused == 0


async def test_a_joined_message_keeps_within_its_row_and_text_limits(
    fresh_db: Database, telegram: Telegram
):
    [chat] = telegram.users(1)
    await queue_offers(fresh_db, chat, range(1, 13))

    await drain_until_done(offer_sender(fresh_db, telegram, per_chat=4), fresh_db)

    sizes = [len(m.text.split("\n\n")) for m in bot_messages(telegram, chat)]
    assert sizes == [8, 4]
    assert all(len(m.text) <= 3000 for m in bot_messages(telegram, chat))
    assert await states(fresh_db) == {"sent": 12}


async def test_only_the_unbroken_run_of_offers_is_joined_and_order_holds(
    fresh_db: Database, telegram: Telegram
):
    [chat] = telegram.users(1)
    await queue_offers(fresh_db, chat, range(1, 3))
    await queue(fresh_db, [chat], per_chat=1)
    await queue_offers(fresh_db, chat, range(3, 4))

    await drain_until_done(offer_sender(fresh_db, telegram, per_chat=4), fresh_db)

    texts = [m.text.split(":")[0] for m in bot_messages(telegram, chat)]
    assert texts == ["New job №1", "Order №1", "New job №3"]
    assert "New job №2" in bot_messages(telegram, chat)[0].text


async def test_offers_go_before_ordinary_notices_queued_earlier(
    fresh_db: Database, telegram: Telegram
):
    chats = telegram.users(8)
    await queue(fresh_db, chats[:6], per_chat=1)
    for chat in chats[6:]:
        await queue_offers(fresh_db, chat, range(chat, chat + 1))

    await drain_until_done(offer_sender(fresh_db, telegram, overall=4), fresh_db)

    first_two = {sent.chat_id for sent in telegram.accepted[:2]}
    assert first_two == set(chats[6:])


async def test_a_429_postpones_every_row_of_a_joined_message(
    fresh_db: Database, telegram: Telegram
):
    telegram.state.limits = SandboxLimits(per_chat_per_second=1, per_chat_burst=1)
    [chat] = telegram.users(1)
    await telegram.bot().send_message(chat, "a dialog answer just now")
    await queue_offers(fresh_db, chat, range(1, 4))

    await drain_until_done(offer_sender(fresh_db, telegram, per_chat=1), fresh_db)

    assert telegram.refused >= 1
    [_answer, offers] = bot_messages(telegram, chat)
    assert offers.text.count("New job") == 3
    assert await states(fresh_db) == {"sent": 3}


async def test_paid_broadcast_carries_offers_only_once_the_free_limit_is_spent(
    fresh_db: Database, telegram: Telegram
):
    telegram.state.limits = SandboxLimits(global_per_second=4, global_burst=4)
    chats = telegram.users(30)
    await queue(fresh_db, chats[:10], per_chat=1)
    for chat in chats[10:]:
        await queue_offers(fresh_db, chat, range(chat, chat + 1))
    sender = offer_sender(fresh_db, telegram, overall=4)
    sender.settings = replace(sender.settings, paid_broadcast_templates=(OFFER,))

    started = time.monotonic()
    await drain_until_done(sender, fresh_db)

    assert telegram.refused == 0 and await states(fresh_db) == {"sent": 30}
    paid = [sent for sent in telegram.accepted if sent.paid]
    assert {sent.chat_id for sent in paid} <= set(chats[10:])  # notices never pay
    assert 10 <= len(paid) == sender.paid <= 20
    offers_done = max(sent.at for sent in telegram.accepted if sent.chat_id in chats[10:])
    assert offers_done - started < 1.5  # 20 offers at 4 free a second would take 5 s
    bot = telegram.state.bot_named("brigadier_customer_bot")
    assert telegram.state.limiter.stars_spent(bot.id) == round(0.1 * len(paid), 1)
    assert sum(not sent.paid for sent in telegram.accepted) >= 10  # the notices, free


async def test_without_paid_templates_nothing_is_paid(fresh_db: Database, telegram: Telegram):
    telegram.state.limits = SandboxLimits(global_per_second=10, global_burst=10)
    chats = telegram.users(10)
    for chat in chats:
        await queue_offers(fresh_db, chat, range(chat, chat + 1))
    sender = offer_sender(fresh_db, telegram, overall=10)

    await drain_until_done(sender, fresh_db)

    assert sender.paid == 0 and not any(sent.paid for sent in telegram.accepted)


async def test_the_message_that_carried_joined_rows_is_remembered(
    fresh_db: Database, telegram: Telegram
):
    [chat] = telegram.users(1)
    await queue_offers(fresh_db, chat, range(1, 4))

    await drain_until_done(offer_sender(fresh_db, telegram), fresh_db)

    [message] = bot_messages(telegram, chat)
    sent = await sent_message(fresh_db, bot="customer", chat_id=chat, order_id=2,
                              templates=[OFFER])
    assert sent is not None and sent.message_id == message.message_id
    assert [m.params["order_id"] for m in sent.messages] == [1, 2, 3]
    assert await sent_message(fresh_db, bot="customer", chat_id=chat, order_id=9,
                              templates=[OFFER]) is None
