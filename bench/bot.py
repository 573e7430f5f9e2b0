"""The customer bot under load, and the outbox drain, against the Telegram sandbox.

1. 200 customers book at once, each as a person would: /start, Book, the service, a shared
   location, "завтра о 10" (or another time when that one is gone), a slot, the phone, Confirm.
   As in production, the application runs apart from Telegram: this process serves the sandbox
   (the Bot API and webhook delivery, at most ``--connections`` updates in flight, Telegram's
   ``max_connections``) and plays the customers on the sandbox directly (as its web chat
   would); ``--processes`` application processes (``brigadier run`` with its bots, sharing one
   port) get the updates by webhook and answer them through the sandbox's Bot API. Prints the
   updates our webhook handled per second and the median / p95 ms from a webhook request
   arriving at the application to its response, on SQLite and on PostgreSQL (goal on
   PostgreSQL: at least 500 updates/s with p95 under 50 ms), the median / p95 ms the customers
   waited from a message or tap to its answer in the chat (the queue for a webhook connection
   included), then the CPU time each part spent per update: the application, this process
   (sandbox and customers), the database server.
   Dialog state lives in Redis on PostgreSQL when Redis answers (``--storage``), else in the
   database; the line says which. Then the same customers each write 8 messages the bot
   answers from the dialog alone (``bare``): what every update costs before its own work.
2. The outbox sender drains 3,000 messages to 300 chats with Telegram's limits on (sandbox and
   sender alike): prints the rate against the configured global limit (goal: at least 95%) and
   whether any limit was exceeded (429 answers, busiest second, sends over a chat's bucket).
   ``--senders 2`` drains with two senders at once, as two processes would: together they
   keep to the one overall limit.

    python bench/bot.py [--customers 200] [--engines sqlite,postgresql] [--processes 2]
                        [--connections 8] [--storage auto|database|redis]
                        [--flows booking,bare]
                        [--messages 3000] [--chats 300] [--senders 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from aiohttp import web
from sqlalchemy.engine import make_url

from bots.runtime import SANDBOX_TOKENS
from bots.sender import OutboxSender
from core.config import load_config
from core.db import Database, create_engine
from core.events import Notice, record_event
from core.migrate import upgrade
from tests.clock import ManualClock
from tests.company import NOW, small_company
from webhooks.app import create_app
from webhooks.sandbox import SANDBOX_PATH, SandboxLimits, SandboxState, create_sandbox_app
from webhooks.sandbox.state import StoredMessage
from webhooks.serve import settle_memory

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get(
    "BRIGADIER_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("BRIGADIER_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
BOT = "brigadier_customer_bot"
WORKER_BOT = "brigadier_worker_bot"
TIMES = ("завтра о 10", "завтра о 12", "завтра о 14", "завтра після 15", "у середу вранці",
         "у середу після обіду", "у четвер о 10", "у четвер після 13", "у п'ятницю вранці")
POOL_SIZE = 20
BUSY_TIMEOUT_MS = 120_000  # SQLite: customers at once queue on its single writer; wait, not fail


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def database(engine: str) -> AsyncIterator[str]:
    """A fresh migrated database; yields its URL."""
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
            db = Database(create_engine(url))
            await upgrade(db)
            await db.dispose()
            yield url
        return
    name = f"brigadier_bench_{uuid.uuid4().hex[:8]}"
    admin_dsn = make_url(PG_URL).set(drivername="postgresql").render_as_string(False)
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_URL).set(database=name).render_as_string(False)
    try:
        db = Database(create_engine(url))
        await upgrade(db)
        await db.dispose()
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def open_database(url: str) -> Database:
    return Database(create_engine(url, pool_size=POOL_SIZE, busy_timeout_ms=BUSY_TIMEOUT_MS))


@asynccontextmanager
async def opened(engine: str) -> AsyncIterator[Database]:
    async with database(engine) as url:
        db = open_database(url)
        try:
            yield db
        finally:
            await db.dispose()


# --- the application processes -------------------------------------------------------------


async def serve(args: argparse.Namespace) -> None:
    """One application process, as ``brigadier run`` serves (webhooks/serve.py), on the bench
    company's clock; on SIGTERM it writes how long each webhook request took, and when."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)  # as brigadier run has it
    config = load_config(environ=os.environ)
    db = open_database(args.database)
    app = create_app(config, db, clock=ManualClock(NOW), bots=True)
    spent: list[tuple[float, float]] = []

    @web.middleware
    async def timing(request: web.Request, handler):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            if request.path.startswith("/telegram/"):
                spent.append((started, (time.perf_counter() - started) * 1000))

    app.middlewares.append(timing)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    # Several processes share the port, the kernel spreads Telegram's connections over them.
    await web.TCPSite(runner, config.http.host, config.http.port, reuse_port=True).start()
    settle_memory()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await db.dispose()
        write_timings(Path(args.timings), spent)


@dataclass
class AppProcess:
    process: asyncio.subprocess.Process
    timings: Path
    log: Path


def write_timings(path: Path, spent: list[tuple[float, float]]) -> None:
    path.write_text(json.dumps(spent))


def read_timings(app: AppProcess) -> list[float]:
    if not app.timings.exists():
        raise SystemExit(f"an application process failed; its log:\n{app.log.read_text()}")
    return [ms for _at, ms in json.loads(app.timings.read_text())]


@asynccontextmanager
async def applications(
    count: int, url: str, sandbox_url: str, storage: str, connections: int, folder: Path
) -> AsyncIterator[list[AppProcess]]:
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BRIGADIER")}
    environ.update({
        "BRIGADIER__HTTP__PORT": str(port),
        "BRIGADIER__TELEGRAM__MODE": "sandbox",
        "BRIGADIER__TELEGRAM__SANDBOX_URL": sandbox_url,
        "BRIGADIER__TELEGRAM__WEBHOOK_MAX_CONNECTIONS": str(connections),
        "BRIGADIER__SECRETS__TELEGRAM_WEBHOOK_SECRET": secrets.token_urlsafe(24),
        "BRIGADIER__SECRETS__SESSION_SECRET": "bench session secret",
        "BRIGADIER__OUTBOX__GLOBAL_PER_SECOND": "1000",  # this part measures our handling,
        "BRIGADIER__OUTBOX__PER_CHAT_PER_SECOND": "100",  # not Telegram's limits
        "BRIGADIER_SECRETS_FILE": str(folder / "no-secrets.toml"),
    })
    if storage == "redis":
        environ["BRIGADIER__REDIS__URL"] = REDIS_URL
        environ["BRIGADIER__REDIS__KEY_PREFIX"] = f"brigadier_bench_{uuid.uuid4().hex[:8]}"
    running: list[AppProcess] = []
    try:
        for n in range(count):
            timings, log = folder / f"timings-{n}.json", folder / f"app-{n}.log"
            with open(log, "wb") as output:  # noqa: ASYNC230 (once, at start)
                process = await asyncio.create_subprocess_exec(
                    sys.executable, __file__, "serve", "--database", url,
                    "--timings", str(timings),
                    env=environ, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT,
                )
            running.append(AppProcess(process, timings, log))
        yield running
    finally:
        for app in running:
            if app.process.returncode is None:
                app.process.terminate()
        for app in running:
            try:
                await asyncio.wait_for(app.process.wait(), 30)
            except TimeoutError:
                app.process.kill()


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far (Linux)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime and stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


class ServerCpu:
    """CPU time of the database server's processes serving the bench database, and of Redis
    when it keeps the dialogs (backends that start during the run count from their start)."""

    def __init__(self, url: str, storage: str) -> None:
        parsed = make_url(url)
        self.database = parsed.database if parsed.get_backend_name() == "postgresql" else None
        self.redis = storage == "redis"
        self.before: dict[int, float] = {}

    def _pids(self) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            ours = self.database is not None and command.startswith("postgres: ") and (
                f" {self.database} " in command
            )
            if ours or (self.redis and command.startswith("redis-server")):
                found.append(int(entry.name))
        return found

    def start(self) -> None:
        self.before = {pid: cpu_seconds([pid]) for pid in self._pids()}

    def spent(self) -> float:
        return sum(cpu_seconds([pid]) - self.before.get(pid, 0.0) for pid in self._pids())


async def redis_answers() -> bool:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except (OSError, ConnectionError, TimeoutError, Exception):  # any failure: not there
        return False
    finally:
        await client.aclose()


# --- the customers -------------------------------------------------------------------------


class Customer:
    """A sandbox user acting straight on the sandbox's state: no polling over HTTP, so the
    time goes to the webhook path being measured (sandbox → app → Bot API)."""

    # ms from each message or tap to the answer awaited, of all customers
    seen: ClassVar[list[float]] = []

    def __init__(self, state: SandboxState, number: int) -> None:
        self.state = state
        self.bot = state.bot_named(BOT)
        self.user = state.add_user(first_name=f"Customer {number}", language_code="uk")
        self.chat = state.chat(self.bot, self.user)
        self.mark = 0
        self.acted = time.perf_counter()

    def _act(self) -> None:
        self.mark = self.chat.revision
        self.acted = time.perf_counter()

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
                    Customer.seen.append((time.perf_counter() - self.acted) * 1000)
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


@asynccontextmanager
async def sandbox_server(state: SandboxState) -> AsyncIterator[str]:
    """The sandbox's Bot API on a port of its own; yields its base URL."""
    app = web.Application()
    app.add_subapp(SANDBOX_PATH, create_sandbox_app(state))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}{SANDBOX_PATH}"
    finally:
        await runner.cleanup()


def webhooks_in_log(log: Path) -> int:
    return log.read_text(errors="replace").count("gets updates at")


async def webhooks_set(state: SandboxState, apps: list[AppProcess]) -> None:
    """Until every application process has set both bots' webhooks (one URL, one secret)."""
    deadline = time.monotonic() + 60
    while True:
        if all(webhooks_in_log(app.log) >= 2 for app in apps):
            return
        if any(app.process.returncode is not None for app in apps):
            raise SystemExit("an application process ended at start; see its log")
        if time.monotonic() > deadline:
            raise SystemExit("the application never set its webhooks")
        await asyncio.sleep(0.05)


async def chatter(state: SandboxState, number: int) -> bool:
    """The bare path every update pays: 8 messages the bot answers from the dialog alone (the
    first one also looks the customer up), no booking step."""
    me = Customer(state, number)
    for _ in range(8):
        me.send({"text": "привіт"})
        await me.wait(lambda message: True)
    return True


FLOWS = {"booking": customer, "bare": chatter}


async def bookings(engine: str, customers: int, processes: int, connections: int,
                   storage: str, flow: str = "booking") -> None:
    if storage == "auto":
        storage = "redis" if engine == "postgresql" and await redis_answers() else "database"
    state = SandboxState(limits=SandboxLimits.off())  # measures our handling, not Telegram
    state.add_bot(SANDBOX_TOKENS["customer"], BOT)
    state.add_bot(SANDBOX_TOKENS["worker"], WORKER_BOT)
    with tempfile.TemporaryDirectory() as folder:
        async with database(engine) as url, sandbox_server(state) as sandbox_url:
            db = Database(create_engine(url))
            await small_company(db, workers=20, hours=(8, 20), duration=60)
            await db.dispose()
            async with applications(
                processes, url, sandbox_url, storage, connections, Path(folder)
            ) as apps:
                await webhooks_set(state, apps)
                pids = [app.process.pid for app in apps]
                servers = ServerCpu(url, storage)
                app_cpu, _ = cpu_seconds(pids), servers.start()
                own_cpu, started = time.process_time(), time.perf_counter()
                Customer.seen.clear()
                done = await asyncio.gather(
                    *(FLOWS[flow](state, n) for n in range(customers)), return_exceptions=True
                )
                elapsed = time.perf_counter() - started
                own_cpu = time.process_time() - own_cpu
                app_cpu = cpu_seconds(pids) - app_cpu
                server_cpu = servers.spent()
            spent = [ms for app in apps for ms in read_timings(app)]
    spent.sort()
    p95 = spent[int(len(spent) * 0.95) - 1]
    booked = sum(1 for result in done if result is True)
    count = len(spent)
    what = f"{booked} booked" if flow == "booking" else "bare path (no booking step)"
    print(f"{engine:10} {customers} customers, {what}, {count} updates in "
          f"{elapsed:.1f} s: {count / elapsed:.0f} updates/s, median "
          f"{statistics.median(spent):.1f} ms, p95 {p95:.1f} ms per update "
          f"({processes} app processes, {connections} connections, dialogs in {storage})")
    seen = sorted(Customer.seen)
    print(f"{'':10} as the customers saw it (from a message or tap to the answer in the chat, "
          f"the queue for a webhook connection included): median "
          f"{statistics.median(seen):.1f} ms, p95 {seen[int(len(seen) * 0.95) - 1]:.1f} ms")
    servers_spent = (
        "SQLite works inside the application" if engine == "sqlite"
        else f"database{' and Redis' if storage == 'redis' else ''} server "
        f"{server_cpu / count * 1000:.1f}"
    )
    print(f"{'':10} CPU ms per update: application {app_cpu / count * 1000:.1f}, "
          f"sandbox and customers {own_cpu / count * 1000:.1f}, {servers_spent}")
    # Everything shares this machine's cores: at this CPU cost per update, no arrangement of
    # processes handles more than this many updates a second here.
    cores = len(os.sched_getaffinity(0))
    ceiling = cores / ((app_cpu + own_cpu + server_cpu) / count)
    print(f"{'':10} CPU ceiling on this machine ({cores} cores): {ceiling:.0f} updates/s")


async def drain(engine: str, messages: int, chats: int, senders: int = 1) -> None:
    from aiogram import Bot
    from aiogram.client.telegram import TelegramAPIServer

    from tests.webhooks.sandbox.conftest import PlainHttpSession, serve_sandbox
    from webhooks.sandbox import SANDBOX_PATH

    config = load_config(environ={})
    limits = config.outbox
    state = SandboxState(limits=SandboxLimits(
        per_chat_per_second=limits.per_chat_per_second, per_chat_burst=limits.per_chat_burst,
        global_per_second=limits.global_per_second,
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

    def recording(bot, chat_id, *, paid=False):  # type: ignore[no-untyped-def]
        nonlocal refused
        try:
            check(bot, chat_id, paid=paid)
        except Exception:
            refused += 1
            raise
        accepted.append((chat_id, time.monotonic()))

    state.check_send_rate = recording  # type: ignore[method-assign]
    server = await serve_sandbox(state)
    async with opened(engine) as db:
        async with db.transaction() as tx:
            for n in range(messages):
                notice = Notice("customer", users[n % chats], "uk", "notice.order_status",
                                {"number": n, "status": "ok"})
                record_event(tx, kind="bench", notices=[notice])
        base = str(server.make_url(SANDBOX_PATH))
        bot = Bot(token, session=PlainHttpSession(api=TelegramAPIServer.from_base(base)))
        # Several senders, as several processes run them: the overall limit is still the bot's.
        tasks = [
            asyncio.create_task(OutboxSender(lambda: db, {"customer": bot}, limits,
                                             lease=timedelta(seconds=120)).run())
            for _ in range(senders)
        ]
        started = time.perf_counter()
        while len(accepted) < messages:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - started
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bot.session.close()
    await server.close()
    times = sorted(at for _chat, at in accepted)
    busiest, first = 0, 0
    for last, moment in enumerate(times):
        while moment - times[first] >= 1.0:
            first += 1
        busiest = max(busiest, last - first + 1)
    per_chat: dict[int, list[float]] = {}
    for chat, at in accepted:
        per_chat.setdefault(chat, []).append(at)
    over = sum(
        over_the_bucket(times, limits.per_chat_per_second, limits.per_chat_burst)
        for times in per_chat.values()
    )
    rate = messages / elapsed
    print(f"{engine:10} {senders} sender{'s' if senders > 1 else ''} drained {messages} messages "
          f"to {chats} chats in {elapsed:.1f} s: "
          f"{rate:.1f}/s = {rate / limits.global_per_second:.1%} of the "
          f"{limits.global_per_second:g}/s limit; 429 answers {refused}; busiest second "
          f"{busiest}; sends over a chat's limit ({limits.per_chat_burst} at once, then "
          f"{limits.per_chat_per_second:g}/s) {over}")


def over_the_bucket(times: list[float], per_second: float, burst: int) -> int:
    """Sends to one chat that a token bucket of ``burst``, refilled at ``per_second``, refuses."""
    tokens, last, over = float(burst), 0.0, 0
    for n, moment in enumerate(sorted(times)):
        if n:
            tokens = min(float(burst), tokens + (moment - last) * per_second)
        last = moment
        if tokens < 1.0 - 0.01:
            over += 1
        tokens -= 1.0
    return over


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--storage", choices=("auto", "database", "redis"), default="auto")
    parser.add_argument("--flows", default=",".join(FLOWS),
                        help="booking: the whole booking; bare: the path every update pays")
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--chats", type=int, default=300)
    parser.add_argument("--senders", type=int, default=1,
                        help="outbox senders draining at once, as several processes run them")
    commands = parser.add_subparsers(dest="command")
    one_app = commands.add_parser("serve", help="one application process (the bench starts it)")
    one_app.add_argument("--database", required=True)
    one_app.add_argument("--timings", required=True)
    args = parser.parse_args()
    if args.command == "serve":
        await serve(args)
        return
    engines = args.engines.split(",")
    for engine in engines:
        for flow in args.flows.split(","):
            await bookings(engine, args.customers, args.processes, args.connections,
                           args.storage, flow)
    await drain(engines[-1], args.messages, args.chats, args.senders)


if __name__ == "__main__":
    asyncio.run(main())
