"""The worker bot end to end: the app on real HTTP, the sandbox as Telegram, workers and a
customer as sandbox users, a manual clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
from sqlalchemy import update

from core.booking import book_visit
from core.db import Database
from core.invites import create_invite
from core.models import (
    Channel,
    Client,
    Role,
    Service,
    ServiceSkill,
    ServiceZone,
    Unit,
    User,
    Worker,
    Zone,
)
from tests.bots.conftest import BotApp, bot_config, start_app
from tests.clock import ManualClock
from tests.company import CENTRE, NOW, RULES, small_company
from tests.telegram_user import TelegramUser
from webhooks.app import SANDBOX
from webhooks.sandbox import SandboxLimits

WORKER_BOT = "brigadier_worker_bot"


@dataclass
class WorkerApp(BotApp):
    manager_id: int = 0

    async def worker(self, index: int, first_name: str = "Ivan") -> TelegramUser:
        """A sandbox user bound to the company's worker ``index`` through an invite."""
        user = await TelegramUser.create(self.http, self.base, WORKER_BOT, first_name,
                                         language_code="en")
        invite = await create_invite(self.db, worker=self.company.worker_ids[index],
                                     now=self.clock.now(), lifetime=timedelta(hours=1))
        await user.send(f"/start {invite.token}")
        await user.wait_for("Welcome")
        return user

    async def linked_customer(self) -> TelegramUser:
        """The company's client in the customer bot, known to it from the first message."""
        customer = await self.customer("Olena", language_code="en")
        async with self.db.transaction() as tx:
            await tx.execute(update(Client).where(Client.id == self.company.client_id)
                             .values(telegram_user_id=customer.user_id, language="en"))
        await customer.send("/start")  # a bot may not write first
        await customer.wait_for("Hello")
        return customer

    async def book(self, service_id: int | None = None, hour: int = 10, quantity: int = 1) -> int:
        booking = await book_visit(
            self.db, client_id=self.company.client_id,
            service_id=service_id or self.company.service_id,
            start=(NOW + timedelta(days=1)).replace(hour=hour), now=self.clock.now(),
            rules=RULES, channel=Channel.PHONE, point=_point(), quantity=quantity,
        )
        return booking.order.id

    async def service(self, code: str, workflow: str, unit: Unit = Unit.VISIT) -> int:
        async with self.db.transaction() as tx:
            base = await tx.get(Service, self.company.service_id)
            assert base is not None
            service = Service(
                code=code, category_id=base.category_id, names={"en": code.title()},
                workflow=workflow, unit=unit, price=5000, duration_minutes=60,
                skills=[ServiceSkill(skill="cleaning")],
                zones=[ServiceZone(zone_id=self.company.zone_id)],
            )
            tx.add(service)
            await tx.flush()
            return service.id


def _point():
    from core.geo import Point

    return Point(*CENTRE)


async def worker_app(db: Database, **overrides: str) -> AsyncIterator[WorkerApp]:
    company = await small_company(db, workers=2)
    async with db.transaction() as tx:
        manager = User(login="maria", name="Maria", role=Role.MANAGER, telegram_user_id=None)
        tx.add(manager)
        await tx.flush()
        await tx.execute(update(Zone).where(Zone.id == company.zone_id)
                         .values(responsible_user_id=manager.id))
        await tx.execute(update(Worker).values(payout_scheme="percent:40"))
        manager_id = manager.id
    clock = ManualClock(NOW)
    config = bot_config(**overrides)
    server = await start_app(db, clock, config)
    server.app[SANDBOX].limits = SandboxLimits.off()
    bot = server.app[SANDBOX].bot_named(WORKER_BOT)
    assert bot is not None
    for _ in range(200):
        if bot.webhook is not None:
            break
        await asyncio.sleep(0.02)
    assert bot.webhook is not None, "the worker bot never set its webhook"
    async with aiohttp.ClientSession() as http:
        try:
            yield WorkerApp(config, db, clock, company, server, http, manager_id)
        finally:
            await server.close()
