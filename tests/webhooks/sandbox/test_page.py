"""A person uses the sandbox's chat page in real Chromium to talk to a real aiogram bot."""

from __future__ import annotations

import asyncio
import html
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from tests.webhooks.sandbox.conftest import CUSTOMER_BOT, Sandbox
from webhooks.sandbox import SandboxLimits

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true needs the browser tests")
    pytest.skip(reason)


def echo_bot() -> Dispatcher:
    dispatcher = Dispatcher()

    @dispatcher.message(F.text)
    async def echo(message: Message) -> None:
        buttons = InlineKeyboardBuilder()
        buttons.button(text="Shout", callback_data="shout")
        await message.answer(
            f"You said: <b>{html.escape(message.text)}</b>", reply_markup=buttons.as_markup()
        )

    @dispatcher.callback_query(F.data == "shout")
    async def shout(query: CallbackQuery) -> None:
        await query.message.edit_text(html.escape(query.message.text.upper()))
        await query.answer("Shouted")

    return dispatcher


@asynccontextmanager
async def polling(dispatcher: Dispatcher, bot: Bot) -> AsyncIterator[None]:
    task = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, polling_timeout=5)
    )
    try:
        yield
    finally:
        await dispatcher.stop_polling()
        await asyncio.wait_for(task, 10)


@asynccontextmanager
async def browser_page(name: str):
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=LAUNCH_ARGS
        )
        page = await browser.new_page()
        page.set_default_timeout(5000)
        try:
            yield page
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            raise
        finally:
            await browser.close()


async def test_person_writes_to_a_bot_and_presses_its_button(sandbox: Sandbox):
    require_chromium()
    from playwright.async_api import expect

    sandbox.state.limits = SandboxLimits.off()
    bot = sandbox.bot()
    async with polling(echo_bot(), bot), browser_page("sandbox_chat") as page:
        await page.goto(f"{sandbox.base}/")
        await page.fill("#new-user input[name=first_name]", "Olena")
        await page.select_option("#bot-select", CUSTOMER_BOT)
        await page.click("#new-user button[type=submit]")
        await page.wait_for_url(re.compile(rf"/sandbox/chat/{CUSTOMER_BOT}/\d+$"))

        await page.fill("#text", "hello <there>")
        await page.click("#send")

        reply = page.locator(".message.bot").last
        await expect(reply.locator(".text")).to_have_text("You said: hello <there>")
        await expect(reply.locator(".text b")).to_have_text("hello <there>")
        await reply.get_by_role("button", name="Shout").click()

        await expect(reply.locator(".text")).to_have_text("YOU SAID: HELLO <THERE>")
        await expect(reply.locator(".meta")).to_contain_text("edited")
        await expect(page.locator(".toast").last).to_have_text("Shouted")
        await expect(reply.get_by_role("button", name="Shout")).to_have_count(0)
