"""The customer bot under load, and the outbox drain, against the Telegram sandbox.

1. 200 customers book at once, each as a person would: /start, Book, the service, a shared
   location, "завтра о 10" (or another time when that one is gone), a slot, the phone, Confirm.
   The application runs with its bots in this process, updates arrive by webhook from the
   sandbox, and customers act on the sandbox directly (as its web chat would). Prints the
   updates handled per second and the median / p95 ms our webhook took per update, on SQLite
   and on PostgreSQL (goal on PostgreSQL: at least 500 updates/s with p95 under 50 ms).
2. The outbox sender drains 3,000 messages to 300 chats with Telegram's limits on (sandbox and
   sender alike): prints the rate against the configured global limit (goal: at least 95%) and
   whether any limit was exceeded (429 answers, busiest second, closest two sends to one chat).

    python bench/bot.py [--customers 200] [--engines sqlite,postgresql]
                        [--messages 3000] [--chats 300]

The sandbox and the application share one process and its CPU, so the update figures are a
floor for the application alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.engine import make_url

from bots.sender import OutboxSender
from core.config import OutboxSettings, load_config
from core.db import Database, create_engine
from core.events import Notice, record_event
from core.migrate import upgrade
from tests.clock import ManualClock
from tests.company import NOW, small_company
from webhooks.app import SANDBOX, TELEGRAM, create_app
from webhooks.sandbox import SandboxLimits, SandboxState
from webhooks.sandbox.state import StoredMessage

PG_URL = os.environ.get(
    "BRIGADIER_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
BOT = "brigadier_customer_bot"
TIMES = ("завтра о 10", "завтра о 12", "завтра о 14", "завтра після 15", "у середу вранці",
         "у середу після обіду", "у четвер о 10", "у четвер після 13", "у п'ятницю вранці")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def database(engine: str) -> AsyncIterator[Database]:
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            # 200 customers at once queue on SQLite's single writer: let them wait, not fail.
            db = Database(create_engine(f"sqlite+aiosqlite:///{folder}/bench.db", pool_size=20,
                                        busy_timeout_ms=120_000))
            await upgrade(db)
            try:
                yield db
            finally:
                await db.dispose()
        return
    name = f"brigadier_bench_{uuid.uuid4().hex[:8]}"
    admin_dsn = make_url(PG_URL).set(drivername="postgresql").render_as_string(False)
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    db = Database(create_engine(make_url(PG_URL).set(database=name).render_as_string(False),
                                pool_size=20))
    try:
        await upgrade(db)
        yield db
    finally:
        await db.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


class Customer:
    """A sandbox user acting straight on the sandbox's state: no polling over HTTP, so the
    process's time goes to the webhook path being measured (sandbox → app → Bot API)."""

    def __init__(self, state: SandboxState, number: int) -> None:
        self.state = state
        self.bot = state.bot_named(BOT)
        self.user = state.add_user(first_name=f"Customer {number}", language_code="uk")
        self.chat = state.chat(self.bot, self.user)
        self.mark = 0

    def _act(self) -> None:
        self.mark = self.chat.revision

    def send(self, content: dict) -> None:
        self._act()
        self.state.user_sends(self.bot, self.user, content)

    def press(self, message: StoredMessage, text: str) -> None:
        rows = (message.reply_markup or {}).get("inline_keyboard") or []
        data = next(b["callback_data"] for row in rows for b in row if b["text"] == text)
        self._act()
        self.state.user_presses(self.bot, self.user, message.message_id, data)

    async def wait(self, accepts: Callable[[StoredMessage], bool]) -> StoredMessage:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for message in list(self.chat.messages.values()):
                if message.from_bot and message.revision > self.mark and accepts(message):
                    return message
            await self.chat.changed.wait(0.2)
        raise AssertionError(f"customer {self.user.id}: no answer")


def buttons(message: StoredMessage) -> list[str]:
    rows = (message.reply_markup or {}).get("inline_keyboard") or []
    return [b["text"] for row in rows for b in row]


def saying(text: str) -> Callable[[StoredMessage], bool]:
    return lambda message: text in (message.text or "")


async def customer(state: SandboxState, number: int) -> bool:
    me = Customer(state, number)
    me.send({"text": "/start"})
    me.press(await me.wait(saying("Вітаємо")), "🧹 Замовити")
    me.press(await me.wait(saying("Оберіть послугу")), "Прибирання — 1\xa0500 ₴")
    await me.wait(saying("Куди приїхати"))
    me.send({"location": {"latitude": 50.45, "longitude": 30.52}})
    await me.wait(saying("Коли вам зручно"))
    me.send({"text": TIMES[number % len(TIMES)]})
    offer = await me.wait(lambda m: any(":" in b for b in buttons(m)))
    times = [b for b in buttons(offer) if ":" in b]
    me.press(offer, times[number % len(times)])
    await me.wait(saying("поділитися номером"))
    phone = f"+38050{number:07d}"
    me.send({"contact": {"phone_number": phone, "first_name": "C", "user_id": me.user.id}})
    for _attempt in range(5):
        summary = await me.wait(saying("Перевірте замовлення"))
        me.press(summary, "✅ Підтвердити")
        result = await me.wait(lambda m: "оформлено на" in (m.text or "")
                               or "щойно зайняли" in (m.text or ""))
        if "оформлено" in (result.text or ""):
            return True
        me.press(result, next(b for b in buttons(result) if ":" in b))
    return False


async def bookings(engine: str, customers: int) -> None:
    async with database(engine) as db:
        await small_company(db, workers=20, hours=(8, 20), duration=60)
        port = free_port()
        config = load_config(environ={"BRIGADIER__HTTP__PORT": str(port)})
        app = create_app(config, db, clock=ManualClock(NOW), bots=True)
        spent: list[float] = []

        @web.middleware
        async def timing(request: web.Request, handler):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return await handler(request)
            finally:
                if request.path.startswith("/telegram/"):
                    spent.append((time.perf_counter() - started) * 1000)

        app.middlewares.append(timing)
        server = TestServer(app, host="127.0.0.1", port=port)
        await server.start_server()
        app[SANDBOX].limits = SandboxLimits.off()  # this part measures our handling, not Telegram
        app[TELEGRAM].sender.settings = OutboxSettings(global_per_second=1000,
                                                       per_chat_per_second=100)
        try:
            while app[SANDBOX].bot_named(BOT).webhook is None:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            state = app[SANDBOX]
            started = time.perf_counter()
            done = await asyncio.gather(
                *(customer(state, n) for n in range(customers)), return_exceptions=True
            )
            elapsed = time.perf_counter() - started
        finally:
            await server.close()
    spent.sort()
    p95 = spent[int(len(spent) * 0.95) - 1]
    booked = sum(1 for result in done if result is True)
    print(f"{engine:10} {customers} customers, {booked} booked, {len(spent)} updates in "
          f"{elapsed:.1f} s: {len(spent) / elapsed:.0f} updates/s, median "
          f"{statistics.median(spent):.1f} ms, p95 {p95:.1f} ms per update")


async def drain(engine: str, messages: int, chats: int) -> None:
    from aiogram import Bot
    from aiogram.client.telegram import TelegramAPIServer

    from tests.webhooks.sandbox.conftest import PlainHttpSession, serve_sandbox
    from webhooks.sandbox import SANDBOX_PATH

    config = load_config(environ={})
    limits = config.outbox
    state = SandboxState(limits=SandboxLimits(
        per_chat_per_second=limits.per_chat_per_second, global_per_second=limits.global_per_second,
    ))
    token = "111111:customer-sandbox"
    sandbox_bot = state.add_bot(token, BOT)
    users = []
    for n in range(chats):
        user = state.add_user(first_name=f"Chat {n}")
        state.chat(sandbox_bot, user).started = True
        users.append(user.id)
    accepted: list[tuple[int, float]] = []
    refused = 0
    check = state.check_send_rate

    def recording(bot, chat_id):  # type: ignore[no-untyped-def]
        nonlocal refused
        try:
            check(bot, chat_id)
        except Exception:
            refused += 1
            raise
        accepted.append((chat_id, time.monotonic()))

    state.check_send_rate = recording  # type: ignore[method-assign]
    server = await serve_sandbox(state)
    async with database(engine) as db:
        async with db.transaction() as tx:
            for n in range(messages):
                notice = Notice("customer", users[n % chats], "uk", "notice.order_status",
                                {"number": n, "status": "ok"})
                await record_event(tx, kind="bench", notices=[notice])
        base = str(server.make_url(SANDBOX_PATH))
        bot = Bot(token, session=PlainHttpSession(api=TelegramAPIServer.from_base(base)))
        sender = OutboxSender(lambda: db, {"customer": bot}, limits,
                              lease=timedelta(seconds=120))
        task = asyncio.create_task(sender.run())
        started = time.perf_counter()
        while len(accepted) < messages:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - started
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bot.session.close()
    await server.close()
    times = sorted(at for _chat, at in accepted)
    busiest, first = 0, 0
    for last, moment in enumerate(times):
        while moment - times[first] >= 1.0:
            first += 1
        busiest = max(busiest, last - first + 1)
    closest = min(
        (b - a for chat in set(users)
         for a, b in zip(sorted(t for c, t in accepted if c == chat),
                         sorted(t for c, t in accepted if c == chat)[1:], strict=False)),
        default=float("inf"),
    )
    rate = messages / elapsed
    print(f"{engine:10} drained {messages} messages to {chats} chats in {elapsed:.1f} s: "
          f"{rate:.1f}/s = {rate / limits.global_per_second:.1%} of the "
          f"{limits.global_per_second:g}/s limit; 429 answers {refused}; busiest second "
          f"{busiest}; closest sends to one chat {closest:.2f} s "
          f"(limit {1 / limits.per_chat_per_second:.2f} s)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--chats", type=int, default=300)
    args = parser.parse_args()
    engines = args.engines.split(",")
    for engine in engines:
        await bookings(engine, args.customers)
    await drain(engines[-1], args.messages, args.chats)


if __name__ == "__main__":
    asyncio.run(main())
