"""Webhook delivery: each update a bot gets is POSTed to its webhook URL, as Telegram does.

Updates of one chat go one after another, in order; different chats go in parallel, at most
``max_connections`` requests at once. A request that fails is retried with growing pauses and
recorded as the webhook's last error. When the webhook answers with a method call in its body
(aiogram's ``handle_in_background=False``), the sandbox runs that call for the bot.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from http import HTTPStatus
from typing import Any

import aiohttp

from webhooks.sandbox.forms import params_from_json, params_from_multipart
from webhooks.sandbox.methods import Params
from webhooks.sandbox.state import BotApiError, SandboxBot, SandboxState, Update, Webhook

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60)
FIRST_RETRY = 0.05
LAST_RETRY = 5.0

Execute = Callable[[SandboxBot, str, Params], Awaitable[Any]]


class WebhookDelivery:
    """Delivers one bot's updates while its webhook is set."""

    def __init__(
        self,
        state: SandboxState,
        bot: SandboxBot,
        session: aiohttp.ClientSession,
        execute: Execute,
    ) -> None:
        self.state = state
        self.bot = bot
        self.session = session
        self.execute = execute
        self.lanes: dict[int, deque[Update]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        webhook = bot.webhook
        self.capacity = webhook.max_connections if webhook else 1
        self.connections = asyncio.Semaphore(self.capacity)

    async def run(self) -> None:
        bot = self.bot
        try:
            while bot.webhook is not None:
                if not bot.pending:
                    await bot.arrived.wait(5.0)
                    continue
                self._dispatch(bot.pending.popleft())
        finally:
            await self._give_back()

    def _dispatch(self, update: Update) -> None:
        self.bot.in_delivery += 1
        lane = self.lanes.get(update.chat_id)
        if lane is not None:
            lane.append(update)
            return
        self.lanes[update.chat_id] = deque([update])
        self._start(self._drain(update.chat_id))

    async def _drain(self, chat_id: int) -> None:
        lane = self.lanes[chat_id]
        while lane:
            if not await self._deliver(lane[0]):
                return
            lane.popleft()
            self.bot.in_delivery -= 1
        del self.lanes[chat_id]

    async def _deliver(self, update: Update) -> bool:
        """True once the webhook took the update; False when the webhook was removed."""
        pause = FIRST_RETRY
        while (webhook := self.bot.webhook) is not None:
            self._fit(webhook.max_connections)
            async with self.connections:
                if await self._post(webhook, update):
                    return True
            await self.bot.webhook_changed.wait(pause)
            pause = min(pause * 2, LAST_RETRY)
        return False

    def _fit(self, capacity: int) -> None:
        """Follow a max_connections changed by setWebhook, as Telegram does at once."""
        change, self.capacity = capacity - self.capacity, capacity
        for _ in range(change):
            self.connections.release()
        if change < 0:
            self._start(self._hold(-change))

    async def _hold(self, count: int) -> None:
        """Take ``count`` connections out of use for good (until a larger max_connections)."""
        for _ in range(count):
            await self.connections.acquire()

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _post(self, webhook: Webhook, update: Update) -> bool:
        headers = {SECRET_HEADER: webhook.secret_token} if webhook.secret_token else {}
        try:
            async with self.session.post(
                webhook.url, json=update.as_json(), headers=headers, timeout=REQUEST_TIMEOUT
            ) as response:
                if not 200 <= response.status < 300:
                    self._failed(webhook, _wrong_response(response.status))
                    return False
                reply = await self._reply(response)
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            self._failed(webhook, _connection_error(err))
            return False
        if reply is not None:
            await self._run_reply(*reply)
        return True

    def _failed(self, webhook: Webhook, message: str) -> None:
        log.info("webhook of bot %s failed: %s", self.bot.id, message)
        webhook.last_error_date = self.state.now()
        webhook.last_error_message = message

    @staticmethod
    async def _reply(response: aiohttp.ClientResponse) -> tuple[str, Params] | None:
        """A method call the webhook answered with, if any."""
        if response.content_type == "multipart/form-data":
            params = await params_from_multipart(
                aiohttp.MultipartReader(response.headers, response.content)
            )
        elif response.content_type == "application/json":
            try:
                params = params_from_json(await response.read())
            except BotApiError:
                return None
        else:
            return None
        name = params.text("method")
        if not name:
            return None
        del params.values["method"]
        return name, params

    async def _run_reply(self, name: str, params: Params) -> None:
        try:
            await self.execute(self.bot, name, params)
        except BotApiError as err:
            log.info("bot %s: %s from a webhook reply refused: %s", self.bot.id, name, err)

    async def _give_back(self) -> None:
        """Return updates not yet delivered to the bot's queue, in their order."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        leftovers = [update for lane in self.lanes.values() for update in lane]
        self.lanes.clear()
        self.bot.in_delivery = 0
        if leftovers:
            merged = sorted([*leftovers, *self.bot.pending], key=lambda update: update.update_id)
            self.bot.pending.clear()
            self.bot.pending.extend(merged)


def _wrong_response(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"Wrong response from the webhook: {status} {phrase}".rstrip()


def _connection_error(err: BaseException) -> str:
    if isinstance(err, TimeoutError):
        return "Connection timed out"
    if isinstance(err, aiohttp.ClientConnectorError):
        return "Connection refused"
    return f"Connection error: {type(err).__name__}"


class WebhookDeliveries:
    """One :class:`WebhookDelivery` per bot with a webhook, started and ended as they are set."""

    def __init__(self, state: SandboxState, execute: Execute) -> None:
        self.state = state
        self.execute = execute
        self.running: dict[int, asyncio.Task[None]] = {}
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.session = aiohttp.ClientSession()
        for bot in self.state.bots.values():
            self.refresh(bot)

    def refresh(self, bot: SandboxBot) -> None:
        """Start delivering for a bot whose webhook was just set (ends by itself when removed)."""
        if bot.webhook is None or self.session is None:
            return
        task = self.running.get(bot.id)
        if task is not None and not task.done():
            return
        delivery = WebhookDelivery(self.state, bot, self.session, self.execute)
        task = asyncio.create_task(delivery.run())
        # A webhook set again while the previous delivery was winding down needs a new one.
        task.add_done_callback(lambda _: self.refresh(bot))
        self.running[bot.id] = task

    async def close(self) -> None:
        session, self.session = self.session, None
        for task in self.running.values():
            task.cancel()
        await asyncio.gather(*self.running.values(), return_exceptions=True)
        self.running.clear()
        if session is not None:
            await session.close()
