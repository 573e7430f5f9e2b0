"""The panel in real Chromium: a call pops the card and repeats an order; a day is planned."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from core.booking import book_visit
from core.demo import seed_demo
from core.extras import approve_change, propose_extra
from core.geo import Point
from core.jobs import complete_job
from core.models import Channel, Client, Order, Role
from tests.clock import ManualClock
from tests.company import CENTRE, KYIV, MONDAY, NOW, RULES, kyiv, small_company
from tests.core.test_jobs import TUESDAY, job_in_progress
from tests.webhooks.panel.conftest import PASSWORD, add_user, panel_config, serving

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
BINOTEL_SECRET = "binotel-test-secret"


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


async def log_in(page, server, login: str, *, then: str | None = None) -> None:
    """Through the login form, as a person would; on to ``then`` after it."""
    target = "/panel/login" + (f"?next={then}" if then else "")
    await page.goto(str(server.make_url(target)))
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")


async def test_an_operator_repeats_the_callers_last_order_from_the_popup(fresh_db, chromium):
    company = await small_company(fresh_db, workers=2)
    await add_user(fresh_db, "olha", extension="101")
    async with fresh_db.transaction() as tx:
        (await tx.get(Client, company.client_id)).name = "Olena <Kovalenko>"
    await book_visit(
        fresh_db, client_id=company.client_id, service_id=company.service_id,
        start=kyiv(NOW.date(), 10), now=NOW, rules=RULES, channel=Channel.TELEGRAM,
        point=Point(*CENTRE), address_text="Volodymyrska 10",
    )
    config = panel_config(BRIGADIER__SECRETS__BINOTEL_SECRET=BINOTEL_SECRET)
    async with serving(fresh_db, clock=ManualClock(NOW), config=config) as server:
        page = await chromium.new_page()
        try:
            await log_in(page, server, "olha")
            await page.wait_for_selector('#popups[data-live="on"]', state="attached")

            async with aiohttp.ClientSession() as pbx:
                answer = await pbx.post(server.make_url(f"/pbx/binotel/{BINOTEL_SECRET}"), data={
                    "requestType": "receivedTheCall", "generalCallID": "bt-1001",
                    "externalNumber": "0671234567", "internalNumber": "101",
                    "pbxNumber": "0443334455", "callType": "0",
                })
                assert answer.status == 200, await answer.text()

            popup = page.locator(".popup")
            await popup.wait_for()
            assert "Olena <Kovalenko>" in await popup.locator(".client-name").inner_text()
            await popup.locator("[data-action=repeat]").click()  # the first click
            await page.click("#confirm-repeat")  # the second
            await page.wait_for_selector("#order-status")
            flash = await page.locator(".flash").inner_text()
            assert re.search(r"Order №\d+ is booked for", flash)
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / f"panel-repeat-{fresh_db.dialect}.png"))
            raise
        finally:
            await page.close()
    async with fresh_db.transaction() as tx:
        orders = await tx.scalar(select(func.count()).select_from(Order).where(
            Order.client_id == company.client_id, Order.channel == Channel.PHONE))
    assert orders == 1


async def test_a_dispatcher_plans_the_demo_day_and_opens_a_route_sheet(fresh_db, chromium):
    await seed_demo(fresh_db, tz=KYIV, region="UA", today=MONDAY)
    await add_user(fresh_db, "dina", role=Role.DISPATCHER)
    tomorrow = MONDAY + timedelta(days=1)
    clock = ManualClock(datetime.combine(MONDAY, time(12), tzinfo=KYIV))
    async with serving(fresh_db, clock=clock) as server:
        page = await chromium.new_page()
        try:
            await log_in(page, server, "dina", then="/panel/dispatch")
            await page.wait_for_selector('#live[data-live="on"]', state="attached")
            await page.fill("input[name=day]", tomorrow.isoformat())
            await page.click("#pick-day button")
            await page.wait_for_selector(".board-row")
            await page.click("#plan-day button")
            await page.wait_for_selector("#apply-plan", timeout=30_000)
            totals = await page.locator("#plan-totals").inner_text()
            assert re.search(r"\d+ min on the road, [\d.]+ km, \d+ min waiting", totals)
            assert await page.locator("tr.route").count() > 0
            await page.click("#apply-plan button")
            flash = page.locator(".flash.ok")
            await flash.wait_for()
            assert "Plan applied" in await flash.inner_text()
            await page.locator(".board-row:has(.job) .sheet-link").first.click()
            await page.wait_for_selector("#stops")
            assert await page.locator("tr.stop").count() > 0
            google = await page.get_attribute("#google-route", "href")
            assert google.startswith("https://www.google.com/maps/dir/?api=1&origin=")
            yandex = await page.get_attribute("#yandex-route", "href")
            assert yandex.startswith("https://yandex.ru/maps/?rtext=")
            await page.emulate_media(media="print")
            assert not await page.locator("#google-route").is_visible()  # print hides it
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / f"panel-dispatch-{fresh_db.dialect}.png"),
                                  full_page=True)
            raise
        finally:
            await page.close()


async def test_what_waits_for_a_manager_appears_on_the_open_page(fresh_db, chromium):
    company, order_id, worker_id = await job_in_progress(fresh_db)
    maria = await add_user(fresh_db, "maria", role=Role.MANAGER)
    async with serving(fresh_db, clock=ManualClock(kyiv(TUESDAY, 11))) as server:
        page = await chromium.new_page()
        try:
            await log_in(page, server, "maria", then="/panel/waiting")
            await page.wait_for_selector('#desk[data-live="on"]', state="attached")
            assert await page.locator("#waiting-extras").count() == 0

            change = await propose_extra(fresh_db, worker_id=worker_id, order_id=order_id,
                                         service_id=company.service_id, quantity=2,
                                         now=kyiv(TUESDAY, 11))
            row = page.locator("#waiting-extras tbody tr")
            await row.wait_for()
            assert f"№{change.number}" in await row.inner_text()

            # Decided elsewhere (another manager, another tab): it leaves this page.
            await approve_change(fresh_db, change_id=change.id, user_id=maria.id,
                                 now=kyiv(TUESDAY, 11, 5))
            await row.wait_for(state="detached")
            await complete_job(fresh_db, worker_id=worker_id, order_id=order_id,
                               now=kyiv(TUESDAY, 12), payment_method="cash",
                               confirmation_required=True)
            finished = page.locator("#waiting-finished tbody tr")
            await finished.wait_for()
            assert f"№{change.number}" in await finished.inner_text()
            assert page.url.endswith("/panel/waiting")  # the page itself was never reloaded
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / f"panel-waiting-{fresh_db.dialect}.png"),
                                  full_page=True)
            raise
        finally:
            await page.close()
