"""Webhook delivery: the sandbox POSTs updates to a bot's own aiohttp server, as Telegram does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.webhooks.sandbox.conftest import CUSTOMER_BOT, Sandbox

SECRET = "webhook-Secret_1"


@asynccontextmanager
async def webhook_server(app: web.Application) -> AsyncIterator[str]:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/webhook"))
    finally:
        await server.close()


def echo_dispatcher() -> Dispatcher:
    dispatcher = Dispatcher()

    @dispatcher.message(F.text.startswith("reply in body"))
    async def in_body(message: Message):
        return message.answer(f"body: {message.text}")  # a method call the webhook answers with

    @dispatcher.message(F.text)
    async def echo(message: Message, bot: Bot) -> None:
        await bot.send_message(message.chat.id, f"echo: {message.text}")

    return dispatcher


def aiogram_webhook(bot: Bot, *, secret: str = SECRET, in_background: bool) -> web.Application:
    app = web.Application()
    SimpleRequestHandler(
        echo_dispatcher(), bot, secret_token=secret, handle_in_background=in_background
    ).register(app, path="/webhook")
    return app


async def test_updates_reach_the_webhook_with_the_secret_and_get_updates_conflicts(
    sandbox: Sandbox,
):
    bot = sandbox.bot()
    async with webhook_server(aiogram_webhook(bot, in_background=True)) as url:
        assert await bot.set_webhook(url, secret_token=SECRET)
        user = await sandbox.user()

        await user.send("hello")

        await user.wait_for("echo: hello")
        with pytest.raises(TelegramConflictError) as refused:
            await bot.get_updates()
        assert refused.value.message == (
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first"
        )
        info = await bot.get_webhook_info()
        assert (info.url, info.pending_update_count, info.last_error_message) == (url, 0, None)
        await bot.delete_webhook()


async def test_method_in_the_webhook_reply_is_executed(sandbox: Sandbox):
    bot = sandbox.bot()
    async with webhook_server(aiogram_webhook(bot, in_background=False)) as url:
        await bot.set_webhook(url, secret_token=SECRET)
        user = await sandbox.user()

        await user.send("reply in body please")

        reply = await user.wait_for("body: reply in body please")
        assert reply["from_bot"]
        await bot.delete_webhook()


async def test_wrong_secret_is_recorded_and_retried_until_the_webhook_is_fixed(sandbox: Sandbox):
    bot = sandbox.bot()
    async with webhook_server(aiogram_webhook(bot, in_background=True)) as url:
        await bot.set_webhook(url, secret_token="not-the-secret")
        user = await sandbox.user()
        await user.send("are you there")

        for _ in range(100):
            info = await bot.get_webhook_info()
            if info.last_error_message:
                break
            await asyncio.sleep(0.02)
        assert info.last_error_message == "Wrong response from the webhook: 401 Unauthorized"
        assert info.pending_update_count == 1

        await bot.set_webhook(url, secret_token=SECRET)
        await user.wait_for("echo: are you there")
        await bot.delete_webhook()


async def test_updates_of_one_chat_arrive_in_order(sandbox: Sandbox):
    received: list[str] = []

    async def record(request: web.Request) -> web.Response:
        update = await request.json()
        await asyncio.sleep(0.005 * (len(received) % 3))  # uneven handling times
        received.append(update["message"]["text"])
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/webhook", record)
    bot = sandbox.bot()
    async with webhook_server(app) as url:
        await bot.set_webhook(url)
        user = await sandbox.user()
        for number in range(20):
            await user.send(f"m{number}")
        for _ in range(200):
            if len(received) == 20:
                break
            await asyncio.sleep(0.01)
        await bot.delete_webhook()

    assert received == [f"m{number}" for number in range(20)]


async def test_deleting_the_webhook_returns_undelivered_updates_to_get_updates(sandbox: Sandbox):
    async def unavailable(request: web.Request) -> web.Response:
        return web.Response(status=502)

    app = web.Application()
    app.router.add_post("/webhook", unavailable)
    bot = sandbox.bot()
    async with webhook_server(app) as url:
        await bot.set_webhook(url)
        user = await sandbox.user()
        await user.send("first")
        await user.send("second")
        await asyncio.sleep(0.1)

        await bot.delete_webhook()

    updates = await bot.get_updates()
    assert [u.message.text for u in updates] == ["first", "second"]


async def test_secret_token_with_unallowed_characters_is_refused(sandbox: Sandbox):
    with pytest.raises(TelegramBadRequest, match="secret token contains unallowed characters"):
        await sandbox.bot().set_webhook("http://127.0.0.1:9/webhook", secret_token="no spaces!")


async def test_a_newer_long_poll_ends_the_older_one(sandbox: Sandbox):
    bot = sandbox.bot()
    older = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.1)

    assert await bot.get_updates(timeout=0) == []

    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await asyncio.wait_for(older, 2)


async def test_webhook_gets_at_most_max_connections_updates_at_once(sandbox: Sandbox):
    in_flight, most = 0, 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/webhook", slow)
    bot = sandbox.bot()
    async with webhook_server(app) as url:
        await bot.set_webhook(url, max_connections=5)
        users = [await sandbox.user(f"User {n}") for n in range(12)]
        for user in users:
            await user.send("at once")
        await until_delivered(sandbox)
        assert most == 5

        # Set again with fewer connections, as a bot under load may: it holds at once.
        most = 0
        await bot.set_webhook(url, max_connections=2)
        for user in users:
            await user.send("again")
        await until_delivered(sandbox)
        await bot.delete_webhook()
    assert most == 2


async def until_delivered(sandbox: Sandbox) -> None:
    bot = sandbox.state.bot_named(CUSTOMER_BOT)
    assert bot is not None
    for _ in range(300):
        await asyncio.sleep(0.01)
        if not bot.pending and not bot.in_delivery:
            return
    raise AssertionError("updates still waiting for the webhook")
