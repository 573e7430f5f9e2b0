"""What the sandbox remembers, as Telegram keeps it: bots, users, private chats, messages,
pending updates, callback queries and files.

Everything lives in one :class:`SandboxState` in the memory of the process; this is a
development and test double of Telegram, so a test makes a fresh one. Nothing here speaks
HTTP: the Bot API routes (``botapi.py``), the web chat (``chat.py``) and webhook delivery
(``delivery.py``) call in.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from core.clock import Clock, SystemClock
from webhooks.sandbox.keyboards import Markup, is_inline
from webhooks.sandbox.limits import SandboxLimits, SendLimiter

log = logging.getLogger(__name__)

JSON = dict[str, Any]

TOKEN_SHAPE = re.compile(r"(\d{1,20}):([A-Za-z0-9_-]{1,100})")
FIRST_USER_ID = 100000001
LANGUAGES = ("uk", "ru", "en")
# Update types a bot gets when it never named any (Telegram's default for allowed_updates).
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
CALLBACKS_KEPT = 10000  # answered or not, older callback queries are forgotten


class BotApiError(Exception):
    """A refusal in Telegram's words: HTTP status, description, maybe seconds to wait."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def as_json(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(reason: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {reason}")


class Signal:
    """Wakes everyone waiting when something changed; usable from plain (non-async) code."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> bool:
        """True when fired within ``seconds``."""
        event = self._event
        try:
            async with asyncio.timeout(seconds):  # not wait_for: it can swallow a cancel on 3.11
                await event.wait()
        except TimeoutError:
            return False
        return True


@dataclass
class SandboxUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    phone_number: str | None = None

    def as_json(self) -> JSON:
        """The Telegram ``User`` object."""
        user: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for name in ("last_name", "username", "language_code"):
            if getattr(self, name):
                user[name] = getattr(self, name)
        return user

    def as_chat(self) -> JSON:
        """The Telegram ``Chat`` object of the private chat with this user."""
        chat: JSON = {"id": self.id, "type": "private", "first_name": self.first_name}
        for name in ("last_name", "username"):
            if getattr(self, name):
                chat[name] = getattr(self, name)
        return chat

    def as_sandbox_json(self) -> JSON:
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "username": self.username,
            "language_code": self.language_code,
            "phone_number": self.phone_number,
        }


@dataclass
class Update:
    update_id: int
    kind: str
    chat_id: int
    payload: JSON

    def as_json(self) -> JSON:
        return {"update_id": self.update_id, self.kind: self.payload}


@dataclass
class Webhook:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass(eq=False)
class SandboxBot:
    id: int
    token: str
    username: str
    first_name: str
    pending: deque[Update] = field(default_factory=deque)
    next_update_id: int = 1
    allowed_updates: frozenset[str] | None = None
    webhook: Webhook | None = None
    arrived: Signal = field(default_factory=Signal)  # a new update, or delivery changed
    webhook_changed: Signal = field(default_factory=Signal)
    pollers: int = 0  # getUpdates calls so far; a newer one ends an older one still waiting
    in_delivery: int = 0  # updates taken by webhook delivery and not yet accepted
    commands: dict[str, list[JSON]] = field(default_factory=dict)

    def as_json(self) -> JSON:
        """The Telegram ``User`` object of the bot."""
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def as_sandbox_json(self) -> JSON:
        return {
            "id": self.id,
            "username": self.username,
            "first_name": self.first_name,
            "webhook": self.webhook is not None,
        }

    def wants(self, kind: str) -> bool:
        if self.allowed_updates is None:
            return kind not in NOT_BY_DEFAULT
        return kind in self.allowed_updates

    def confirm(self, offset: int) -> None:
        """Forget updates before ``offset`` (getUpdates' confirmation)."""
        pending = self.pending
        if offset < 0:
            while len(pending) > -offset:
                pending.popleft()
            return
        while pending and pending[0].update_id < offset:
            pending.popleft()


@dataclass
class StoredMessage:
    """A message of a chat as it is now, or a callback answer (``kind == "toast"``)."""

    message_id: int
    from_bot: bool
    date: int
    content: JSON
    revision: int
    reply_markup: Markup | None = None
    reply_to: int | None = None
    edit_date: int | None = None
    kind: str = "message"

    @property
    def text(self) -> str | None:
        return self.content.get("text")


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    mime_type: str

    def as_json(self) -> JSON:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
            "file_path": self.file_path,
        }


@dataclass
class CallbackQuery:
    id: str
    bot_id: int
    user_id: int
    message_id: int
    data: str
    answered: bool = False


@dataclass(eq=False)
class Chat:
    """The private chat of one user with one bot."""

    bot: SandboxBot
    user: SandboxUser
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    revision: int = 0
    started: bool = False  # the user wrote to the bot; only then may the bot write
    blocked: bool = False
    reply_keyboard: Markup | None = None
    changed: Signal = field(default_factory=Signal)

    def touch(self) -> int:
        self.revision += 1
        self.changed.fire()
        return self.revision

    def add(
        self,
        *,
        from_bot: bool,
        date: int,
        content: JSON,
        reply_markup: Markup | None = None,
        reply_to: int | None = None,
        kind: str = "message",
    ) -> StoredMessage:
        message = StoredMessage(
            message_id=self.next_message_id,
            from_bot=from_bot,
            date=date,
            content=content,
            revision=self.revision + 1,
            reply_markup=reply_markup,
            reply_to=reply_to,
            kind=kind,
        )
        self.next_message_id += 1
        self.messages[message.message_id] = message
        if from_bot and reply_markup and not is_inline(reply_markup):
            self._keep_reply_keyboard(reply_markup)
        self.touch()
        return message

    def _keep_reply_keyboard(self, markup: Markup) -> None:
        if "keyboard" in markup:
            self.reply_keyboard = markup
        elif markup.get("remove_keyboard"):
            self.reply_keyboard = None

    def find(self, message_id: int) -> StoredMessage | None:
        """A real message of the chat (not a callback answer), or None."""
        message = self.messages.get(message_id)
        return message if message is not None and message.kind == "message" else None

    def since(self, after_id: int) -> Iterator[StoredMessage]:
        """Messages and callback answers with ids above ``after_id``, in order."""
        if after_id <= 0:
            yield from self.messages.values()
            return
        for message_id in range(after_id + 1, self.next_message_id):
            message = self.messages.get(message_id)
            if message is not None:
                yield message

    def edit(self, message: StoredMessage, *, date: int, **changes: Any) -> StoredMessage:
        for name, value in changes.items():
            setattr(message, name, value)
        message.edit_date = date
        message.revision = self.touch()
        return message

    def release(self) -> None:
        """Wake everyone following this chat (the server is stopping)."""
        self.changed.fire()

    def delete(self, message_id: int) -> None:
        del self.messages[message_id]
        self.touch()

    def used_one_time_keyboard(self) -> None:
        if self.reply_keyboard and self.reply_keyboard.get("one_time_keyboard"):
            self.reply_keyboard = None


class SandboxState:
    """The whole sandbox Telegram: one per process, or one per test."""

    def __init__(
        self,
        *,
        limits: SandboxLimits | None = None,
        clock: Clock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits or SandboxLimits()
        self.clock = clock or SystemClock()
        self.monotonic = monotonic
        self.users: dict[int, SandboxUser] = {}
        self.bots: dict[int, SandboxBot] = {}
        self.chats: dict[tuple[int, int], Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.callbacks: OrderedDict[str, CallbackQuery] = OrderedDict()
        self.limiter = SendLimiter()
        self._usernames: dict[str, SandboxBot] = {}
        self._file_numbers = itertools.count(1)
        self._next_user_id = FIRST_USER_ID
        self.closing = False  # the server is stopping: long polls answer at once

    def now(self) -> int:
        """Unix time, as Telegram dates are."""
        return int(self.clock.now().timestamp())

    # --- bots ---

    def add_bot(self, token: str, username: str | None = None) -> SandboxBot:
        """Register a bot by its token (``digits:text``); the username is its getMe name."""
        match = TOKEN_SHAPE.fullmatch(token)
        if match is None:
            raise ValueError(f"a bot token looks like 123:abc, not {token!r}")
        bot_id = int(match.group(1))
        existing = self.bots.get(bot_id)
        if existing is not None:
            if existing.token != token:
                raise ValueError(f"bot {bot_id} is already known with another token")
            if username and username != existing.username:
                self._rename(existing, username)
            return existing
        username = (username or f"bot{bot_id}").lstrip("@")
        bot = SandboxBot(id=bot_id, token=token, username=username, first_name=username)
        self.bots[bot_id] = bot
        self._usernames[username.lower()] = bot
        log.info("sandbox knows bot %s as @%s", bot_id, username)
        return bot

    def _rename(self, bot: SandboxBot, username: str) -> None:
        self._usernames.pop(bot.username.lower(), None)
        bot.username = bot.first_name = username.lstrip("@")
        self._usernames[bot.username.lower()] = bot

    def bot_for_token(self, token: str) -> SandboxBot:
        """The bot a request's token names; unknown well-formed tokens become new bots."""
        match = TOKEN_SHAPE.fullmatch(token)
        if match is None:
            raise BotApiError(404, "Not Found")
        bot = self.bots.get(int(match.group(1)))
        if bot is None:
            return self.add_bot(token)
        if bot.token != token:
            raise BotApiError(401, "Unauthorized")
        return bot

    def bot_named(self, username: str) -> SandboxBot | None:
        return self._usernames.get(username.lstrip("@").lower())

    # --- users and chats ---

    def add_user(
        self,
        *,
        first_name: str,
        id: int | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        phone_number: str | None = None,
    ) -> SandboxUser:
        """A new user, or the given id's user with these details."""
        if id is None:
            while self._next_user_id in self.users:
                self._next_user_id += 1
            id = self._next_user_id
        user = SandboxUser(
            id=id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            phone_number=phone_number or f"+38050{id % 10_000_000:07d}",
        )
        self.users[id] = user
        return user

    def add_known_user(
        self, bot: SandboxBot, *, id: int, name: str, language_code: str | None = None,
        phone_number: str | None = None,
    ) -> SandboxUser:
        """Someone the company knows by this Telegram account, with their chat to ``bot``
        started, as it was when they wrote to it: the sandbox starts empty on each run, while
        the database remembers them. A user already here keeps their details."""
        user = self.users.get(id)
        if user is None:
            first_name, _, last_name = (name.strip() or str(id)).partition(" ")
            user = self.add_user(
                id=id, first_name=first_name, last_name=last_name.strip() or None,
                language_code=language_code, phone_number=phone_number,
            )
        self.chat(bot, user).started = True
        return user

    def chat(self, bot: SandboxBot, user: SandboxUser) -> Chat:
        key = (bot.id, user.id)
        chat = self.chats.get(key)
        if chat is None:
            chat = self.chats[key] = Chat(bot=bot, user=user)
        return chat

    def chat_for_bot(self, bot: SandboxBot, chat_id: int) -> Chat:
        """The chat a bot may write to, or Telegram's refusal."""
        chat = self.chats.get((bot.id, chat_id))
        if chat is None or not chat.started:
            if chat_id in self.users:
                raise BotApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise bad_request("chat not found")
        if chat.blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def check_send_rate(self, bot: SandboxBot, chat_id: int, *, paid: bool = False) -> None:
        wait = self.limiter.retry_after(self.limits, bot.id, chat_id, self.monotonic(), paid=paid)
        if wait:
            raise BotApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)

    # --- updates ---

    def enqueue(self, bot: SandboxBot, kind: str, chat_id: int, payload: JSON) -> Update | None:
        """Hand the bot an update, unless its allowed_updates leave this kind out."""
        if not bot.wants(kind):
            return None
        update = Update(update_id=bot.next_update_id, kind=kind, chat_id=chat_id, payload=payload)
        bot.next_update_id += 1
        bot.pending.append(update)
        bot.arrived.fire()
        return update

    # --- what a user does ---

    def user_sends(self, bot: SandboxBot, user: SandboxUser, content: JSON) -> StoredMessage:
        """The user writes to the bot; the bot gets a ``message`` update."""
        chat = self.chat(bot, user)
        if chat.blocked:
            self.set_blocked(bot, user, blocked=False)  # writing to a blocked bot restarts it
        chat.started = True
        message = chat.add(from_bot=False, date=self.now(), content=content)
        self.enqueue(bot, "message", user.id, self.message_json(chat, message))
        return message

    def user_presses(
        self, bot: SandboxBot, user: SandboxUser, message_id: int, data: str
    ) -> CallbackQuery:
        """The user presses an inline button; the bot gets a ``callback_query`` update."""
        chat = self.chat(bot, user)
        message = chat.find(message_id)
        if message is None or not message.from_bot:
            raise bad_request("MESSAGE_ID_INVALID")
        query = CallbackQuery(
            id=str(secrets.randbits(63)),
            bot_id=bot.id,
            user_id=user.id,
            message_id=message_id,
            data=data,
        )
        self.callbacks[query.id] = query
        while len(self.callbacks) > CALLBACKS_KEPT:
            self.callbacks.popitem(last=False)
        payload = {
            "id": query.id,
            "from": user.as_json(),
            "message": self.message_json(chat, message),
            "chat_instance": str(bot.id * 1_000_003 + user.id),
            "data": data,
        }
        self.enqueue(bot, "callback_query", user.id, payload)
        return query

    def set_blocked(self, bot: SandboxBot, user: SandboxUser, *, blocked: bool) -> None:
        """The user blocks or unblocks the bot; the bot gets ``my_chat_member``."""
        chat = self.chat(bot, user)
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        chat.touch()
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        payload = {
            "chat": user.as_chat(),
            "from": user.as_json(),
            "date": self.now(),
            "old_chat_member": self._member(bot, old),
            "new_chat_member": self._member(bot, new),
        }
        self.enqueue(bot, "my_chat_member", user.id, payload)

    @staticmethod
    def _member(bot: SandboxBot, status: str) -> JSON:
        member: JSON = {"status": status, "user": bot.as_json()}
        if status == "kicked":
            member["until_date"] = 0
        return member

    # --- files ---

    def add_file(
        self, content: bytes, *, folder: str, extension: str, mime_type: str
    ) -> StoredFile:
        number = next(self._file_numbers)
        stored = StoredFile(
            file_id=f"SBX{secrets.token_urlsafe(24)}",
            file_unique_id=f"U{number:x}{secrets.token_hex(4)}",
            file_path=f"{folder}/file_{number}.{extension}",
            content=content,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    # --- the JSON Telegram shows ---

    def message_json(self, chat: Chat, message: StoredMessage) -> JSON:
        """The Telegram ``Message`` object, as the bot sees it."""
        sender = chat.bot.as_json() if message.from_bot else chat.user.as_json()
        body: JSON = {
            "message_id": message.message_id,
            "from": sender,
            "chat": chat.user.as_chat(),
            "date": message.date,
        }
        if message.edit_date is not None:
            body["edit_date"] = message.edit_date
        replied = chat.find(message.reply_to) if message.reply_to else None
        if replied is not None:
            body["reply_to_message"] = self.message_json(chat, _without_reply(replied))
        body.update(message.content)
        if is_inline(message.reply_markup):
            body["reply_markup"] = message.reply_markup
        return body


def _without_reply(message: StoredMessage) -> StoredMessage:
    if message.reply_to is None:
        return message
    return StoredMessage(**{**message.__dict__, "reply_to": None})


TRANSCRIPT_FIELDS = (
    "text",
    "entities",
    "caption",
    "caption_entities",
    "location",
    "venue",
    "contact",
    "photo",
    "document",
    "sticker",
)


def transcript_json(message: StoredMessage) -> JSON:
    """One entry of the chat transcript the web page and the tests read."""
    entry: JSON = {
        "message_id": message.message_id,
        "kind": message.kind,
        "from_bot": message.from_bot,
        "date": message.date,
        "edited": message.edit_date is not None,
        "revision": message.revision,
        "reply_markup": message.reply_markup,
        "reply_to_message_id": message.reply_to,
    }
    for name in TRANSCRIPT_FIELDS:
        entry[name] = message.content.get(name)
    if message.kind == "toast":
        entry["show_alert"] = bool(message.content.get("show_alert"))
    return entry
