"""Job offers under load: 200 orders assigned at once to 50 workers, through the sandbox.

For each engine: 50 workers join the worker bot by invite, 200 orders are booked at once (each
booking assigns the best worker and queues the offer), the outbox sender delivers the offers
through the sandbox, every worker presses Accept on each offer. Prints the median and p95 of

- assignment (the booking's commit) → the offer in the worker's chat, and
- Accept pressed → the order's ``order.accepted`` event written (the status change).

Telegram's limits stay on in the sandbox and the sender: about 30 messages a second overall
and one a second per chat, so 200 offers take at least ~7 s and a worker's fourth offer waits
~3 s behind the first three. ``--global-rate 1000`` shows the pipeline with the overall limit
of paid broadcasts; the per-chat limit stays.

    python bench/offers.py [--orders 200] [--workers 50] [--engines sqlite,postgresql]
                           [--global-rate 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from bench.bot import database, free_port
from core.booking import book_visit
from core.config import load_config
from core.geo import Point
from core.invites import create_invite
from core.models import Channel, Client, ClientPhone, Event
from tests.clock import ManualClock
from tests.company import CENTRE, NOW, RULES, kyiv, small_company
from webhooks.app import SANDBOX, create_app

BOT = "brigadier_worker_bot"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def figures(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (f"{name}: n={len(ms)} median {statistics.median(ms):.0f} ms, "
            f"p95 {percentile(ms, 0.95):.0f} ms")


async def run(engine: str, orders: int, workers: int, rate: float) -> None:
    async with database(engine) as db:
        company = await small_company(db, workers=workers, duration=60, hours=(8, 20))
        async with db.transaction() as tx:
            clients = []
            for n in range(orders):
                client = Client(name=f"C{n}", phones=[ClientPhone(e164=f"+38050{n:07d}")])
                tx.add(client)
                clients.append(client)
            await tx.flush()
            client_ids = [c.id for c in clients]
        port = free_port()
        config = load_config(environ={
            "BRIGADIER__HTTP__PORT": str(port), "BRIGADIER__OUTBOX__POLL_SECONDS": "0.02",
            "BRIGADIER__OUTBOX__GLOBAL_PER_SECOND": str(rate),
            "BRIGADIER__WORKERS__CHECK_SECONDS": "3600",
        })
        clock = ManualClock(NOW)
        app = create_app(config, db, clock=clock, bots=True)
        server = TestServer(app, host="127.0.0.1", port=port)
        await server.start_server()
        try:
            state = app[SANDBOX]
            bot = state.bot_named(BOT)
            for _ in range(500):
                if bot.webhook is not None:
                    break
                await asyncio.sleep(0.02)
            chats = {}
            for worker_id in company.worker_ids:
                user = state.add_user(first_name=f"W{worker_id}", language_code="en")
                invite = await create_invite(db, worker=worker_id, now=clock.now(),
                                             lifetime=timedelta(hours=1))
                state.user_sends(bot, user, {"text": f"/start {invite.token}"})
                chats[worker_id] = (user, state.chat(bot, user))
            for _user, chat in chats.values():
                while not any("Welcome" in (m.text or "") for m in chat.messages.values()):
                    await chat.changed.wait(0.2)
            await asyncio.sleep(1.1)  # the welcome counted against each chat's limit
            day = NOW.date() + timedelta(days=1)
            starts = [kyiv(day, 8 + (n // workers) % 12) for n in range(orders)]
            assigned: dict[str, float] = {}

            retried = 0

            async def book(n: int) -> None:
                nonlocal retried
                for _attempt in range(10):
                    try:
                        booking = await book_visit(
                            db, client_id=client_ids[n], service_id=company.service_id,
                            start=starts[n], now=clock.now(), rules=RULES,
                            channel=Channel.PHONE, point=Point(*CENTRE),
                        )
                    except DBAPIError:
                        # PostgreSQL may pick one of two bookings locking workers as a deadlock
                        # victim; the customer's tap is simply tried again.
                        retried += 1
                        continue
                    assigned[booking.order.number] = time.monotonic()
                    return

            await asyncio.gather(*(book(n) for n in range(orders)))
            arrived: dict[str, float] = {}
            pressed: dict[int, float] = {}
            deadline = time.monotonic() + 120
            while len(arrived) < len(assigned) and time.monotonic() < deadline:
                for user, chat in chats.values():
                    for message in list(chat.messages.values()):
                        text = message.text or ""
                        if not text.startswith("New job №"):
                            continue
                        number = text[len("New job №"):].split(":")[0]
                        if number in arrived:
                            continue
                        arrived[number] = time.monotonic()
                        rows = (message.reply_markup or {}).get("inline_keyboard") or []
                        data = rows[0][0]["callback_data"]
                        pressed[int(number) - 10000] = time.time()
                        state.user_presses(bot, user, message.message_id, data)
                await asyncio.sleep(0.005)
            await asyncio.sleep(2)
            async with db.transaction() as tx:
                accepted = {
                    order_id: at for order_id, at in await tx.execute(
                        select(Event.order_id, Event.created_at)
                        .where(Event.kind == "order.accepted")
                    )
                }
            to_offer = [arrived[n] - assigned[n] for n in arrived]
            to_status = [accepted[o].replace(tzinfo=UTC).timestamp() - pressed[o]
                         for o in pressed if o in accepted]
            print(f"{engine}: {len(assigned)} orders to {workers} workers, "
                  f"overall limit {rate:g}/s, per chat 1/s, {retried} bookings retried")
            print("  " + figures("assignment → offer in chat", to_offer))
            print("  " + figures("Accept → status change", to_status))
        finally:
            await server.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--global-rate", type=float, default=30.0)
    args = parser.parse_args()
    for engine in args.engines.split(","):
        await run(engine, args.orders, args.workers, args.global_rate)


if __name__ == "__main__":
    asyncio.run(main())
