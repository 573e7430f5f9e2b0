"""Running the bots inside the web application started by ``brigadier run``.

``telegram.mode`` says how updates arrive:

- ``sandbox`` (the default): the bots talk to the local sandbox this process serves at
  ``/sandbox`` with made-up tokens, and the sandbox delivers updates to our own webhook routes,
  the same code path as production;
- ``polling``: long polling with the real tokens (development against real Telegram);
- ``webhook``: ``setWebhook({webhook_base_url}/telegram/<bot>, secret_token=...)`` and the
  routes below; a request without the right secret header is refused (401) unprocessed.

Each bot is a name ("customer", later "worker") with its own dispatcher, webhook path and
token; the outbox sender delivers for all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter
from aiogram.fsm.storage.base import BaseStorage
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import FormData, JsonPayload, Payload, web

from bots.customer import build_dispatcher
from bots.customer.consent import consent_markup
from bots.customer.keyboards import notice_markup
from bots.i18n import load_i18n
from bots.sender import OutboxSender
from bots.storage import create_storage, hold_dialog_writes
from bots.worker import build_dispatcher as build_worker_dispatcher
from bots.worker.keyboards import notice_markup as worker_notice_markup
from bots.worker.offers import offer_passed_on
from core.clock import Clock
from core.config import Config
from core.db import Database
from core.errors import ConfigError
from core.outbox import OutgoingMessage

log = logging.getLogger(__name__)

TELEGRAM_PATH = "/telegram"
SANDBOX_TOKENS = {"customer": "111111:customer-sandbox", "worker": "222222:worker-sandbox"}
RETRIES_AFTER_429 = 3
WEBHOOK_RETRY_FIRST, WEBHOOK_RETRY_LAST = 0.05, 5.0


class WaitWhenAsked(BaseRequestMiddleware):
    """A dialog's answer that hit Telegram's limit waits as asked and goes again."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        for _attempt in range(RETRIES_AFTER_429):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as err:
                await asyncio.sleep(err.retry_after)
        return await make_request(bot, method)


class KeepAnswerModels(BaseRequestMiddleware):
    """Keeps aiogram's ``Response[<result type>]`` models alive.

    pydantic caches a parametrised generic model only while something references it, so
    aiogram's ``Response[Message]`` is garbage-collected after use and built again (a few
    milliseconds of schema work) on a later answer; holding them makes that once per process.
    """

    kept: ClassVar[dict[Any, Any]] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in self.kept:
            self.kept[returning] = Response[returning]  # type: ignore[valid-type]
        return await make_request(bot, method)


def json_body(bot: Bot, method: TelegramMethod[Any]) -> dict[str, Any] | None:
    """The method as a Bot API JSON body; None when it uploads a file (that takes a form)."""
    files: dict[str, Any] = {}
    body: dict[str, Any] = {}
    for key, value in method.model_dump(warnings=False).items():
        prepared = bot.session.prepare_value(value, bot=bot, files=files, _dumps_json=False)
        if prepared is not None:
            body[key] = prepared
    return None if files else body


class JsonWebhookAnswers(SimpleRequestHandler):
    """aiogram's webhook handler, answering with the handler's method as a JSON body.

    Telegram takes a webhook answer as JSON or as a form; JSON is far cheaper to build and to
    read than aiogram's multipart form. A method uploading a file keeps the form.
    """

    def _build_response_writer(
        self, bot: Bot, result: TelegramMethod[TelegramType] | None
    ) -> Payload:
        body = json_body(bot, result) if result else None
        if body is None:
            return super()._build_response_writer(bot=bot, result=result)
        return JsonPayload({"method": result.__api_method__, **body}, dumps=bot.session.json_dumps)


class JsonSession(AiohttpSession):
    """aiogram's session, posting each method as JSON, which the Bot API takes as well as a
    form and which costs far less to build; a file upload still goes as a form."""

    def build_form_data(self, bot: Bot, method: TelegramMethod[TelegramType]) -> FormData:
        body = json_body(bot, method)
        if body is None:
            return super().build_form_data(bot, method)
        # aiohttp posts any payload given as the form; aiogram hands it on untouched.
        return cast(FormData, JsonPayload(body, dumps=self.json_dumps))


class LocalSession(JsonSession):
    """Plain HTTP to this very process: closing needs no pause for TLS shutdowns."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


@dataclass
class RunningBot:
    name: str
    token: str
    username: str
    dispatcher: Dispatcher
    bot: Bot  # dialogs: waits and retries when Telegram says "too many requests"
    sender_bot: Bot  # the outbox: its sender handles "too many requests" itself
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def own_base_url(config: Config) -> str:
    """Where Telegram (or the sandbox) reaches this process's webhooks."""
    if config.telegram.webhook_base_url:
        return config.telegram.webhook_base_url.rstrip("/")
    host = config.http.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.http.port}"


class TelegramRuntime:
    """The bots and the outbox sender of one process."""

    def __init__(
        self,
        config: Config,
        *,
        database: Callable[[], Database],
        clock: Clock,
        sandbox_url: str | None = None,
    ) -> None:
        self.config = config
        self.database = database
        self.clock = clock
        self.mode = config.telegram.mode
        self.sandbox_url = sandbox_url
        self.secret = config.secrets.telegram_webhook_secret or (
            secrets.token_urlsafe(32) if self.mode == "sandbox" else None
        )
        if self.mode == "webhook" and not self.secret:
            raise ConfigError(
                "config_invalid", file="environment", key="secrets.telegram_webhook_secret",
                reason="webhook mode needs BRIGADIER__SECRETS__TELEGRAM_WEBHOOK_SECRET",
            )
        self.storage: BaseStorage = create_storage(config, database)
        self.i18n = load_i18n(config.company.default_language)
        self.bots: dict[str, RunningBot] = {}
        self._worker_markup = worker_notice_markup(self.i18n)
        self._consent_markup = consent_markup(self.i18n)
        self.sender: OutboxSender | None = None
        self._tasks: list[asyncio.Task[None]] = []
        token = self._token("customer")
        if token is None:
            log.warning("customer bot not started: set BRIGADIER__SECRETS__CUSTOMER_BOT_TOKEN")
        else:
            username = config.telegram.customer_bot_username
            dispatcher = build_dispatcher(
                config=config, clock=clock, storage=self.storage, i18n=self.i18n,
                bot_username=username,
            )
            self._add("customer", token, username, dispatcher)
        self._add_worker_bot(config, clock)

    def _add_worker_bot(self, config: Config, clock: Clock) -> None:
        token = self._token("worker")
        if token is None:
            log.warning("worker bot not started: set BRIGADIER__SECRETS__WORKER_BOT_TOKEN")
            return
        username = config.telegram.worker_bot_username
        dispatcher = build_worker_dispatcher(
            config=config, clock=clock, storage=self.storage, i18n=self.i18n,
            bot_username=username,
        )
        self._add("worker", token, username, dispatcher)

    def _markup(self, message: OutgoingMessage) -> Any:
        """Buttons under a notice: the worker bot's, the consent question's, the customer's."""
        return (
            self._worker_markup(message) or self._consent_markup(message)
            or notice_markup(message)
        )

    # --- bots -------------------------------------------------------------------------------------

    def _token(self, name: str) -> str | None:
        if self.mode == "sandbox":
            return SANDBOX_TOKENS[name]
        token: str | None = getattr(self.config.secrets, f"{name}_bot_token")
        return token

    def _api(self) -> TelegramAPIServer:
        if self.mode == "sandbox":
            assert self.sandbox_url is not None
            return TelegramAPIServer.from_base(self.sandbox_url)
        if self.config.telegram.api_url.rstrip("/") != "https://api.telegram.org":
            return TelegramAPIServer.from_base(self.config.telegram.api_url.rstrip("/"))
        return PRODUCTION

    def _bot(self, token: str, *, retry: bool) -> Bot:
        session_class = LocalSession if self.mode == "sandbox" else JsonSession
        session = session_class(api=self._api())
        session.middleware(KeepAnswerModels())
        if retry:
            session.middleware(WaitWhenAsked())
        return Bot(token, session=session, default=DefaultBotProperties(parse_mode="HTML"))

    def _add(self, name: str, token: str, username: str, dispatcher: Dispatcher) -> None:
        """One more bot; the worker bot joins the same way with its own dispatcher."""
        hold_dialog_writes(dispatcher)
        self.bots[name] = RunningBot(
            name=name, token=token, username=username, dispatcher=dispatcher,
            bot=self._bot(token, retry=True), sender_bot=self._bot(token, retry=False),
        )

    def webhook_path(self, name: str) -> str:
        return f"{TELEGRAM_PATH}/{name}"

    def mount(self, app: web.Application) -> None:
        """The webhook routes, one per bot, under ``/telegram/`` (not in polling mode)."""
        if self.mode == "polling" or not self.bots:
            return
        telegram = web.Application()
        for running in self.bots.values():
            JsonWebhookAnswers(
                running.dispatcher, running.bot, secret_token=self.secret,
                # Answer Telegram once the update is handled: one chat's updates stay in order.
                handle_in_background=False,
            ).register(telegram, path=f"/{running.name}")
        app.add_subapp(TELEGRAM_PATH, telegram)

    # --- running ----------------------------------------------------------------------------------

    async def context(self, app: web.Application) -> AsyncIterator[None]:
        """``cleanup_ctx``: start the bots and the sender; stop them with the application."""
        db = self.database()
        for running in self.bots.values():
            running.dispatcher["db"] = db
            if self.mode == "polling":
                self._start(self._poll(running))
            else:
                self._start(self._set_webhook(running))
        if self.bots:
            self.sender = OutboxSender(
                self.database,
                {name: running.sender_bot for name, running in self.bots.items()},
                self.config.outbox,
                markup=self._markup,
                joined=self._worker_markup.joined,
                follow_ups={"notice.offer_expired": offer_passed_on(self.i18n)},
            )
            self._start(self.sender.run())
        try:
            yield
        finally:
            await self.close()

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.create_task(work))

    async def _set_webhook(self, running: RunningBot) -> None:
        url = own_base_url(self.config) + self.webhook_path(running.name)
        allowed = running.dispatcher.resolve_used_update_types()
        pause = WEBHOOK_RETRY_FIRST
        while True:
            try:
                await running.bot.set_webhook(
                    url, secret_token=self.secret, allowed_updates=allowed,
                    max_connections=self.config.telegram.webhook_max_connections,
                )
            except (TelegramNetworkError, aiohttp.ClientError, OSError) as err:
                # At start-up our own server (or the sandbox in it) may not listen yet.
                log.debug("setWebhook for %s not yet: %s", running.name, err)
                await asyncio.sleep(pause)
                pause = min(pause * 2, WEBHOOK_RETRY_LAST)
                continue
            log.info("%s bot @%s gets updates at %s", running.name, running.username, url)
            return

    async def _poll(self, running: RunningBot) -> None:
        await running.bot.delete_webhook()
        await running.dispatcher.start_polling(
            running.bot, handle_signals=False, close_bot_session=False,
            allowed_updates=running.dispatcher.resolve_used_update_types(),
        )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for running in self.bots.values():
            await running.bot.session.close()
            await running.sender_bot.session.close()
        await self.storage.close()
