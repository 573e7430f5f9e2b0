"""Job offers under load: 200 orders assigned to 50 workers, through the sandbox.

The application runs with its bots, its outbox sender (the shipped configuration) and the
sandbox in this process; 50 workers join the worker bot by invite; 200 orders are booked at once
from another process (each booking assigns the best worker and queues the offer), as customers
and operators would; every worker presses Accept on each offer 1–5 s after it arrives, as a
person reading it would (``--think 0``: at once). For each engine, four scenarios:

- booked: offers go out as the bookings commit (free limits);
- booked-paid: the same, with offers allowed to go as paid broadcasts once the free limit is
  spent (Telegram's ``allow_paid_broadcast``, which a company turns on in its configuration);
- burst: the sender is held until all 200 are booked, then released: 200 offers due at once
  (free limits: about 30 messages a second overall, one a second per chat);
- burst-paid: the same, with offers allowed to go as paid broadcasts once the free limit is spent.

Prints, per order, median / p95 / max of

- assignment → offer in chat: from the assigning transaction (its ``order.assigned`` event,
  written just before the commit; in the bursts, from the release) to the offer standing in
  the worker's chat in the sandbox;
- Accept → status change: from the press to the ``order.accepted`` event written by the
  transaction that changes the status, and to the toast in the chat (after that commit);

how fast the assignments came (their busiest second: above the free limit of 30 a second, offers
queue at Telegram's limit whatever the sender does), and what it took from Telegram: messages
sent (free / paid), offers per message, 429 answers, the busiest second of free sends (limit 30)
and the Stars the paid ones cost (0.1 each).

The sandbox plays Telegram in the application's own process; with ``--think 0`` all 200 Accepts
of a burst come within about a second, and Accept → status change then measures how fast one
process works through them (sandbox included), not the wait of a single tap.

    python bench/offers.py [--orders 200] [--workers 50] [--engines sqlite,postgresql]
                           [--scenarios booked,booked-paid,burst,burst-paid] [--think 1-5]
                           [--free-limit 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from bench.bot import free_port, opened
from core.booking import book_visit
from core.config import load_config
from core.db import Database, create_engine
from core.geo import Point
from core.invites import create_invite
from core.models import Channel, Client, ClientPhone, Event
from tests.clock import ManualClock
from tests.company import CENTRE, NOW, RULES, kyiv, small_company
from webhooks.app import SANDBOX, TELEGRAM, create_app
from webhooks.sandbox.state import Chat, SandboxState

BOT = "brigadier_worker_bot"
OFFER = re.compile(r"New job №(\d+)")
YOURS = re.compile(r"Job №(\d+) is yours")
ACCEPT = re.compile(r"wo:(\d+):1")
PAID = {False: "[]", True: '["notice.job_offer"]'}
# name: (offers held until every order is booked, offers may go as paid broadcasts)
SCENARIOS = {
    "booked": (False, False), "booked-paid": (False, True),
    "burst": (True, False), "burst-paid": (True, True),
}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def figures(name: str, seconds: list[float]) -> str:
    if not seconds:
        return f"{name}: none"
    ms = [s * 1000 for s in seconds]
    return (f"{name}: n={len(ms)}, median {statistics.median(ms):.0f} ms, "
            f"p95 {percentile(ms, 0.95):.0f} ms, max {max(ms):.0f} ms")


def busiest_second(times: list[float]) -> int:
    times = sorted(times)
    most, first = 0, 0
    for last, moment in enumerate(times):
        while moment - times[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def wall(at: datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


@dataclass
class Watch:
    """What the sandbox saw, with wall-clock times: sends, refusals, offers, presses, toasts."""

    sends: list[tuple[float, bool]] = field(default_factory=list)  # (time, paid)
    refused: int = 0
    arrived: dict[int, float] = field(default_factory=dict)  # order number → in the chat
    offers_per_message: list[int] = field(default_factory=list)
    pressed: dict[int, float] = field(default_factory=dict)  # order id → Accept pressed
    toasts: dict[int, float] = field(default_factory=dict)  # order number → toast shown
    think: tuple[float, float] = (0.0, 0.0)  # seconds a worker takes to read an offer
    chance: random.Random = field(default_factory=lambda: random.Random(7))

    def count_sends(self, state: SandboxState) -> None:
        check = state.check_send_rate

        def recording(bot: Any, chat_id: int, *, paid: bool = False) -> None:
            try:
                check(bot, chat_id, paid=paid)
            except Exception:
                self.refused += 1
                raise
            self.sends.append((time.time(), paid))

        state.check_send_rate = recording  # type: ignore[method-assign]

    def follow(self, state: SandboxState, chat: Chat, press: Callable[[int, str], None]) -> None:
        """Note offers and toasts as the chat gets them; press every Accept once read."""
        add = chat.add

        def adding(**message: Any) -> Any:
            stored = add(**message)
            if not message.get("from_bot"):
                return stored
            at, text = time.time(), stored.text or ""
            if stored.kind == "toast":
                for number in YOURS.findall(text):
                    self.toasts.setdefault(int(number), at)
                return stored
            numbers = [int(n) for n in OFFER.findall(text)]
            if numbers:
                self.offers_per_message.append(len(numbers))
            for number in numbers:
                self.arrived.setdefault(number, at)
            for row in (stored.reply_markup or {}).get("inline_keyboard", []):
                for button in row:
                    data = button.get("callback_data") or ""
                    if (accept := ACCEPT.fullmatch(data)) and int(accept[1]) not in self.pressed:
                        self.pressed[int(accept[1])] = at
                        asyncio.get_running_loop().call_later(
                            self.chance.uniform(*self.think),
                            self._press, press, int(accept[1]), stored.message_id, data)
            return stored

        chat.add = adding  # type: ignore[method-assign]

    def _press(self, press: Callable[[int, str], None], order_id: int, message_id: int,
               data: str) -> None:
        self.pressed[order_id] = time.time()
        press(message_id, data)


async def book_elsewhere(
    db: Database, client_ids: list[int], service_id: int, starts: list[datetime]
) -> tuple[dict[int, int], int]:
    """Book every order at once from another process, as customers and operators would: the
    application's process is left to the sender, the sandbox and the worker bot."""
    spec = {"url": db.engine.url.render_as_string(hide_password=False), "clients": client_ids,
            "service": service_id, "starts": [start.isoformat() for start in starts]}
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--book", json.dumps(spec), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await child.communicate()
    if child.returncode:
        raise RuntimeError("the booking process failed")
    answer = json.loads(out)
    return {int(k): v for k, v in answer["numbers"].items()}, answer["retried"]


async def book_all(spec: dict[str, Any]) -> None:
    """The booking process: every order booked concurrently; prints order id → number."""
    db = Database(create_engine(spec["url"], pool_size=20, busy_timeout_ms=120_000))
    numbers: dict[int, int] = {}
    retried = 0
    connections = asyncio.Semaphore(20)  # all at once, as many in the database as it has room

    async def book(client_id: int, start: datetime) -> None:
        async with connections:
            await book_one(client_id, start)

    async def book_one(client_id: int, start: datetime) -> None:
        nonlocal retried
        for _attempt in range(10):
            try:
                booking = await book_visit(
                    db, client_id=client_id, service_id=spec["service"], start=start,
                    now=NOW, rules=RULES, channel=Channel.PHONE, point=Point(*CENTRE),
                )
            except DBAPIError:
                # PostgreSQL may pick one of two bookings locking workers as a deadlock
                # victim; the customer's tap is simply tried again.
                retried += 1
                continue
            numbers[booking.order.id] = int(booking.order.number)
            return

    try:
        await asyncio.gather(*(
            book(client_id, datetime.fromisoformat(start))
            for client_id, start in zip(spec["clients"], spec["starts"], strict=True)
        ))
    finally:
        await db.dispose()
    print(json.dumps({"numbers": numbers, "retried": retried}))


async def run(
    engine: str, scenario: str, orders: int, workers: int, think: tuple[float, float],
    free_limit: float = 30.0,
) -> None:
    async with opened(engine) as db:
        company = await small_company(db, workers=workers, duration=60, hours=(8, 20))
        async with db.transaction() as tx:
            clients = [Client(name=f"C{n}", phones=[ClientPhone(e164=f"+38050{n:07d}")])
                       for n in range(orders)]
            tx.add_all(clients)
            await tx.flush()
            client_ids = [c.id for c in clients]
        port = free_port()
        config = load_config(environ={
            "BRIGADIER__HTTP__PORT": str(port), "BRIGADIER__WORKERS__CHECK_SECONDS": "3600",
            "BRIGADIER__OUTBOX__PAID_BROADCAST_TEMPLATES": PAID[SCENARIOS[scenario][1]],
            "BRIGADIER__OUTBOX__GLOBAL_PER_SECOND": str(free_limit),
        })
        clock = ManualClock(NOW)
        app = create_app(config, db, clock=clock, bots=True)
        server = TestServer(app, host="127.0.0.1", port=port)
        await server.start_server()
        try:
            state = app[SANDBOX]
            state.limits = replace(state.limits, global_per_second=free_limit,
                                   global_burst=round(free_limit))
            bot = state.bot_named(BOT)
            while bot.webhook is None:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            watch = Watch(think=think)
            watch.count_sends(state)
            for worker_id in company.worker_ids:
                user = state.add_user(first_name=f"W{worker_id}", language_code="en")
                invite = await create_invite(db, worker=worker_id, now=clock.now(),
                                             lifetime=timedelta(hours=1))
                state.user_sends(bot, user, {"text": f"/start {invite.token}"})
                chat = state.chat(bot, user)
                watch.follow(state, chat, lambda message_id, data, user=user:
                             state.user_presses(bot, user, message_id, data))
            for worker_user in [c for c in state.chats.values() if c.bot is bot]:
                while not any("Welcome" in (m.text or "") for m in worker_user.messages.values()):
                    await worker_user.changed.wait(0.2)
            await asyncio.sleep(1.1)  # the welcome counted against each chat's limit
            watch.sends.clear()  # what the welcomes took (50 at once: some wait as told)
            watch.refused = 0
            sender = app[TELEGRAM].sender
            sent_before = sender.sent

            day = NOW.date() + timedelta(days=1)
            starts = [kyiv(day, 8 + (n // workers) % 12) for n in range(orders)]
            numbers: dict[int, int] = {}  # order id → number

            hold = SCENARIOS[scenario][0]
            bots = sender.bots
            if hold:
                sender.bots = {}  # claims nothing until every order is booked
            started = time.monotonic()
            booked, retried = await book_elsewhere(db, client_ids, company.service_id, starts)
            numbers.update(booked)
            booked_in = time.monotonic() - started
            released = time.time()
            sender.bots = bots
            deadline = time.monotonic() + 120
            while (len(watch.arrived) < len(numbers) or len(watch.toasts) < len(numbers)) \
                    and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            async with db.transaction() as tx:
                events = list(await tx.execute(
                    select(Event.kind, Event.order_id, Event.created_at)
                    .where(Event.kind.in_(("order.assigned", "order.accepted")))
                ))
            assigned = {numbers[o]: wall(at) for kind, o, at in events
                        if kind == "order.assigned" and o in numbers}
            accepted = {o: wall(at) for kind, o, at in events if kind == "order.accepted"}
            to_offer = [watch.arrived[n] - (released if hold else assigned[n])
                        for n in assigned if n in watch.arrived]
            to_status = [accepted[o] - watch.pressed[o] for o in watch.pressed if o in accepted]
            to_toast = [watch.toasts[numbers[o]] - watch.pressed[o] for o in watch.pressed
                        if numbers.get(o) in watch.toasts]
            free = [at for at, paid in watch.sends if not paid]
            paid = [at for at, paid in watch.sends if paid]
            joined = watch.offers_per_message
            print(f"{engine} · {scenario}: {len(numbers)} orders booked in {booked_in:.1f} s "
                  f"({retried} retried) to {workers} workers, {len(watch.arrived)} offers "
                  f"delivered, {len(accepted)} accepted {think[0]:g}–{think[1]:g} s after")
            if not hold and assigned:
                came = sorted(assigned.values())
                print(f"  assignments: {len(came) / max(came[-1] - came[0], 1e-9):.0f}/s on "
                      f"average, {busiest_second(came)} in the busiest second")
            start = "release" if hold else "assignment"
            print("  " + figures(f"{start} → offer in chat".ljust(25), to_offer))
            print("  " + figures("Accept → status change   ", to_status))
            print("  " + figures("Accept → toast in chat   ", to_toast))
            print(f"  Telegram: {sender.sent - sent_before} outbox messages ({len(free)} free, "
                  f"{len(paid)} paid = {0.1 * len(paid):.1f} Stars), offers per message "
                  f"{statistics.mean(joined) if joined else 0:.1f} (max {max(joined, default=0)}),"
                  f" 429 answers {watch.refused}, busiest second {busiest_second(free)} free "
                  f"(limit {config.outbox.global_per_second:g}) / {busiest_second(paid)} paid")
        finally:
            await server.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--free-limit", type=float, default=30.0,
                        help="free messages a second overall, in the sandbox and the sender "
                        "alike (Telegram's: 30); to see what the limit alone costs")
    parser.add_argument("--think", default="1-5",
                        help="seconds from an offer arriving to Accept, as from-to; 0: at once")
    parser.add_argument("--book", help=argparse.SUPPRESS)
    args = parser.parse_args()
    low, _, high = args.think.partition("-")
    think = (float(low), float(high or low))
    if args.book:
        await book_all(json.loads(args.book))
        return
    for engine in args.engines.split(","):
        for scenario in args.scenarios.split(","):
            await run(engine, scenario, args.orders, args.workers, think, args.free_limit)


if __name__ == "__main__":
    asyncio.run(main())
