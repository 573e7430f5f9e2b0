"""A person books a cleaning with the customer bot through the sandbox's chat page in Chromium.

The whole application runs with its bots, as in ``tests/bots/``; the person only uses the page:
creates a user, writes, presses buttons, shares the location and the phone from the keyboard.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from core.db import Database
from core.models import Client, Order
from tests.bots.conftest import CUSTOMER_BOT, bot_config, start_app
from tests.clock import ManualClock
from tests.company import MONDAY, NOW, Company, kyiv, small_company
from webhooks.app import SANDBOX
from webhooks.sandbox import SandboxLimits

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
PHONE = "+380671112233"
BOT_REPLY = 10_000  # ms: the bot answers through the whole app, the outbox and the sandbox


@pytest.fixture
async def chromium() -> AsyncIterator[object]:
    if not shutil.which(CHROMIUM):
        reason = f"{CHROMIUM} is missing (apt-get install chromium, or make system-packages)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true needs the browser tests")
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def app_with_bots(fresh_db: Database) -> AsyncIterator[tuple[TestServer, Company]]:
    company = await small_company(fresh_db, workers=2)
    server = await start_app(fresh_db, ManualClock(NOW), bot_config())
    # Playwright clicks faster than a person; the outbox's own tests keep the limits.
    server.app[SANDBOX].limits = SandboxLimits.off()
    try:
        yield server, company
    finally:
        await server.close()


async def test_a_person_books_a_cleaning_on_the_sandbox_page(fresh_db, chromium, app_with_bots):
    from playwright.async_api import expect

    server, _company = app_with_bots
    page = await chromium.new_page()
    page.set_default_timeout(BOT_REPLY)
    expect.set_options(timeout=BOT_REPLY)
    try:
        await page.goto(str(server.make_url("/sandbox")))
        await page.select_option("#bot-select", CUSTOMER_BOT)
        await page.fill("#new-user input[name=first_name]", "Olena")
        await page.fill("#new-user input[name=phone_number]", PHONE)
        await page.select_option("#new-user select[name=language_code]", "uk")
        await page.click("#new-user button[type=submit]")
        await page.wait_for_url(re.compile(rf"/sandbox/chat/{CUSTOMER_BOT}/\d+$"))
        user_id = int(page.url.rsplit("/", 1)[1])

        bot = page.locator(".message.bot")
        await page.fill("#text", "/start")
        await page.click("#send")
        await expect(bot.last).to_contain_text("Вітаємо, Olena")
        await bot.last.get_by_role("button", name="🧹 Замовити").click()
        await expect(bot.last).to_contain_text("Оберіть послугу")
        await bot.last.get_by_role("button", name=re.compile("^Прибирання")).click()
        await expect(bot.last).to_contain_text("Куди приїхати")
        await page.get_by_role("button", name="📍 Надіслати геолокацію").click()
        await expect(bot.last).to_contain_text("Коли вам зручно")
        await page.fill("#text", "завтра о 10")
        await page.press("#text", "Enter")
        await expect(bot.last).to_contain_text("Оберіть час")
        await bot.last.get_by_role("button", name="10:00", exact=True).click()
        await expect(bot.last).to_contain_text("поділитися номером")
        await page.get_by_role("button", name="📱 Поділитися номером").click()
        await expect(bot.last).to_contain_text("Перевірте замовлення")
        await bot.last.get_by_role("button", name="✅ Підтвердити").click()

        booked = bot.filter(has_text="оформлено на")
        await expect(booked).to_contain_text("вт 01.12 10:00")
        await expect(page.locator(".message.user .contact-card")).to_contain_text(PHONE)
        await expect(page.locator(".message.user .location-card")).to_have_count(1)
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(
            path=str(ARTIFACTS / f"sandbox-booking-{fresh_db.dialect}.png"), full_page=True
        )
        raise
    finally:
        await page.close()

    async with fresh_db.transaction() as tx:
        client = await tx.scalar(select(Client).where(Client.telegram_user_id == user_id))
        assert client is not None and [p.e164 for p in client.phones] == [PHONE]
        orders = list(await tx.scalars(select(Order).where(Order.client_id == client.id)))
    assert len(orders) == 1
    assert orders[0].starts_at == kyiv(MONDAY + timedelta(days=1), 10)
    assert orders[0].status == "assigned"
