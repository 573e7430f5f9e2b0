"""The Bot API methods the sandbox answers, over :class:`SandboxState`; no HTTP here.

Each method takes the state, the calling bot and the request's :class:`Params` and returns the
``result`` Telegram would, or raises :class:`BotApiError` with Telegram's status and words.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from webhooks.sandbox.entities import EntityParseError, parse_html
from webhooks.sandbox.keyboards import KeyboardError, Markup, is_inline, parse_reply_markup
from webhooks.sandbox.state import (
    JSON,
    BotApiError,
    Chat,
    SandboxBot,
    SandboxState,
    StoredFile,
    StoredMessage,
    Webhook,
    bad_request,
)

log = logging.getLogger(__name__)

MAX_TEXT = 4096  # Telegram: message text is 1-4096 characters after entity parsing
MAX_CAPTION = 1024
MAX_CALLBACK_ANSWER = 200
MAX_POLL_TIMEOUT = 50.0  # Telegram holds a long poll for at most about 50 seconds
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


@dataclass(frozen=True)
class Upload:
    """A file sent in a multipart request."""

    filename: str
    content: bytes
    content_type: str


class Params:
    """A request's fields, from a form (values are strings, objects JSON strings) or JSON."""

    def __init__(self, values: Mapping[str, Any], uploads: Mapping[str, Upload] | None = None):
        self.values = dict(values)
        self.uploads = dict(uploads or {})

    def get(self, name: str) -> Any:
        value = self.values.get(name)
        return None if value == "" else value

    def text(self, name: str) -> str | None:
        value = self.get(name)
        return None if value is None else str(value)

    def integer(self, name: str, *, missing: str | None = None) -> int | None:
        value = self.get(name)
        if value is None:
            if missing is not None:
                raise bad_request(missing)
            return None
        if isinstance(value, bool):
            raise bad_request(f"invalid {name} specified")
        try:
            return int(value)
        except (TypeError, ValueError) as err:
            raise bad_request(f"invalid {name} specified") from err

    def number(self, name: str) -> float:
        value = self.get(name)
        try:
            return float(value)
        except (TypeError, ValueError) as err:
            raise bad_request(f"{name} is empty" if value is None else f"invalid {name}") from err

    def flag(self, name: str) -> bool:
        value = self.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def json(self, name: str) -> Any:
        value = self.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as err:
                raise bad_request(f"can't parse {name} JSON object") from err
        return value

    def file(self, name: str) -> Upload | str | None:
        """An uploaded file (direct or ``attach://``), or a file_id/URL string."""
        if name in self.uploads:
            return self.uploads[name]
        value = self.text(name)
        if value and value.startswith("attach://"):
            upload = self.uploads.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            return upload
        return value


Method = Callable[[SandboxState, SandboxBot, Params], Any]
_METHODS: dict[str, Method] = {}


M = TypeVar("M", bound=Method)


def method(name: str) -> Callable[[M], M]:
    """Register a function as the Bot API method ``name`` (names ignore case, as Telegram's)."""

    def register(function: M) -> M:
        _METHODS[name.lower()] = function
        return function

    return register


def find_method(name: str) -> Method:
    found = _METHODS.get(name.lower())
    if found is None:
        raise BotApiError(404, "Not Found")
    return found


async def call_method(state: SandboxState, bot: SandboxBot, name: str, params: Params) -> Any:
    """Run one Bot API method; the result is the ``result`` field of Telegram's answer."""
    result = find_method(name)(state, bot, params)
    if isinstance(result, Awaitable):
        result = await result
    return result


# ---------------------------------------------------------------------------------------------
# Formatting and markup


def formatted(params: Params, field: str, *, limit: int, empty: str, too_long: str) -> JSON:
    """``{field: text, field_entities: [...]}`` after parse_mode, checked against the limits."""
    raw = params.text(field) or ""
    entities_field = "entities" if field == "text" else f"{field}_entities"
    parse_mode = (params.text("parse_mode") or "").lower()
    entities: list[JSON] = []
    if parse_mode == "html":
        try:
            raw, entities = parse_html(raw)
        except EntityParseError as err:
            raise bad_request(f"can't parse entities: {err}") from err
    elif parse_mode not in ("", "markdown", "markdownv2"):
        raise bad_request("unsupported parse_mode")
    elif params.get(entities_field) is not None:
        entities = _explicit_entities(params.json(entities_field))
    if not raw.strip():
        if field == "text":
            raise bad_request(empty)
        return {}
    if len(raw) > limit:
        raise bad_request(too_long)
    content: JSON = {field: raw}
    if entities:
        content[entities_field] = entities
    return content


def _explicit_entities(value: Any) -> list[JSON]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise bad_request("can't parse entities JSON object")
    return value


def markup_of(params: Params) -> Markup | None:
    try:
        return parse_reply_markup(params.get("reply_markup"))
    except KeyboardError as err:
        raise bad_request(str(err)) from err


def inline_markup_of(params: Params) -> Markup | None:
    markup = markup_of(params)
    if markup is not None and not is_inline(markup):
        raise bad_request("inline keyboard expected")
    return markup


def reply_target(chat: Chat, params: Params) -> int | None:
    """The message a new one answers (reply_parameters or reply_to_message_id)."""
    parameters = params.json("reply_parameters")
    allow_missing = params.flag("allow_sending_without_reply")
    message_id: Any = params.integer("reply_to_message_id")
    if isinstance(parameters, dict):
        message_id = parameters.get("message_id")
        allow_missing = allow_missing or bool(parameters.get("allow_sending_without_reply"))
    if message_id is None:
        return None
    if chat.find(int(message_id)) is None:
        if allow_missing:
            return None
        raise bad_request("message to be replied not found")
    return int(message_id)


# ---------------------------------------------------------------------------------------------
# Identity, commands, chat actions


@method("getMe")
def get_me(state: SandboxState, bot: SandboxBot, params: Params) -> JSON:
    return {
        **bot.as_json(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@method("logOut")
@method("close")
@method("setMyDescription")
@method("setMyShortDescription")
@method("setMyName")
@method("setChatMenuButton")
@method("setMyDefaultAdministratorRights")
def accepted(state: SandboxState, bot: SandboxBot, params: Params) -> bool:
    return True


def _commands_scope(params: Params) -> str:
    scope = params.json("scope") or {"type": "default"}
    language = params.text("language_code") or ""
    return f"{json.dumps(scope, sort_keys=True)}|{language}"


@method("setMyCommands")
def set_my_commands(state: SandboxState, bot: SandboxBot, params: Params) -> bool:
    commands = params.json("commands")
    if not isinstance(commands, list):
        raise bad_request("commands is empty")
    for command in commands:
        if not isinstance(command, dict) or not re.fullmatch(
            r"[a-z0-9_]{1,32}", str(command.get("command", ""))
        ):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    bot.commands[_commands_scope(params)] = commands
    return True


@method("getMyCommands")
def get_my_commands(state: SandboxState, bot: SandboxBot, params: Params) -> list[JSON]:
    return bot.commands.get(_commands_scope(params), [])


@method("deleteMyCommands")
def delete_my_commands(state: SandboxState, bot: SandboxBot, params: Params) -> bool:
    bot.commands.pop(_commands_scope(params), None)
    return True


def _chat_id(params: Params) -> int:
    value = params.get("chat_id")
    if value is None:
        raise bad_request("chat_id is empty")
    try:
        return int(value)
    except (TypeError, ValueError) as err:
        raise bad_request("chat not found") from err


@method("sendChatAction")
def send_chat_action(state: SandboxState, bot: SandboxBot, params: Params) -> bool:
    state.chat_for_bot(bot, _chat_id(params))
    action = params.text("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True


@method("getChat")
def get_chat(state: SandboxState, bot: SandboxBot, params: Params) -> JSON:
    chat_id = _chat_id(params)
    user = state.users.get(chat_id)
    if user is None or (bot.id, chat_id) not in state.chats:
        raise bad_request("chat not found")
    return {**user.as_chat(), "accent_color_id": 0, "max_reaction_count": 11}


# ---------------------------------------------------------------------------------------------
# Updates and webhooks


@method("getUpdates")
async def get_updates(state: SandboxState, bot: SandboxBot, params: Params) -> list[JSON]:
    if bot.webhook is not None:
        raise BotApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    offset = params.integer("offset")
    limit = min(max(params.integer("limit") or 100, 1), 100)
    timeout = min(max(float(params.integer("timeout") or 0), 0.0), MAX_POLL_TIMEOUT)
    allowed = params.json("allowed_updates")
    if isinstance(allowed, list):
        bot.allowed_updates = frozenset(str(kind) for kind in allowed) if allowed else None
    if offset is not None:
        bot.confirm(offset)
    bot.pollers += 1
    me = bot.pollers
    bot.arrived.fire()  # an older poll still waiting ends now
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if bot.pollers != me:
            raise BotApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        if bot.webhook is not None or state.closing:
            return []
        if bot.pending:
            return [update.as_json() for update in _first(bot, limit)]
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return []
        await bot.arrived.wait(remaining)


def _first(bot: SandboxBot, limit: int) -> list[Any]:
    updates = []
    for update in bot.pending:
        updates.append(update)
        if len(updates) == limit:
            break
    return updates


@method("setWebhook")
def set_webhook(state: SandboxState, bot: SandboxBot, params: Params) -> bool:
    url = params.text("url") or ""
    if not url:
        return delete_webhook(state, bot, params)
    if not url.startswith(("http://", "https://")):
        raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
    secret = params.text("secret_token")
    if secret is not None and not SECRET_TOKEN.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    allowed = params.json("allowed_updates")
    if isinstance(allowed, list):
        bot.allowed_updates = frozenset(str(kind) for kind in allowed) if allowed else None
    if params.flag("drop_pending_updates"):
        bot.pending.clear()
    connections = params.integer("max_connections") or 40
    bot.webhook = Webhook(
        url=url, secret_token=secret, max_connections=min(max(connections, 1), 100)
    )
    bot.arrived.fire()
    bot.webhook_changed.fire()
    log.info("bot %s delivers by webhook to %s", bot.id, url)
    return True


@method("deleteWebhook")
def delete_webhook(state: SandboxState, bot: SandboxBot, params: Params) -> bool:
    if params.flag("drop_pending_updates"):
        bot.pending.clear()
    if bot.webhook is not None:
        log.info("bot %s stopped webhook delivery", bot.id)
    bot.webhook = None
    bot.arrived.fire()
    bot.webhook_changed.fire()
    return True


@method("getWebhookInfo")
def get_webhook_info(state: SandboxState, bot: SandboxBot, params: Params) -> JSON:
    webhook = bot.webhook
    info: JSON = {
        "url": webhook.url if webhook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(bot.pending) + bot.in_delivery,
    }
    if webhook is None:
        return info
    info["max_connections"] = webhook.max_connections
    info["ip_address"] = "127.0.0.1"
    if webhook.last_error_date is not None:
        info["last_error_date"] = webhook.last_error_date
        info["last_error_message"] = webhook.last_error_message
    if bot.allowed_updates is not None:
        info["allowed_updates"] = sorted(bot.allowed_updates)
    return info


# ---------------------------------------------------------------------------------------------
# Sending


def _deliver(
    state: SandboxState, bot: SandboxBot, params: Params, content: JSON, markup: Markup | None
) -> JSON:
    chat = state.chat_for_bot(bot, _chat_id(params))
    reply_to = reply_target(chat, params)
    state.check_send_rate(bot, chat.user.id, paid=params.flag("allow_paid_broadcast"))
    message = chat.add(
        from_bot=True, date=state.now(), content=content, reply_markup=markup, reply_to=reply_to
    )
    return state.message_json(chat, message)


@method("sendMessage")
def send_message(state: SandboxState, bot: SandboxBot, params: Params) -> JSON:
    state.chat_for_bot(bot, _chat_id(params))
    content = formatted(
        params,
        "text",
        limit=MAX_TEXT,
        empty="message text is empty",
        too_long="message is too long",
    )
    return _deliver(state, bot, params, content, markup_of(params))


@method("sendLocation")
def send_location(state: SandboxState, bot: SandboxBot, params: Params) -> JSON:
    state.chat_for_bot(bot, _chat_id(params))
    content = {"location": _location(params)}
    return _deliver(state, bot, params, content, markup_of(params))


@method("sendVenue")
def send_venue(state: SandboxState, bot: SandboxBot, params: Params) -> JSON:
    state.chat_for_bot(bot, _chat_id(params))
    location = _location(params)
    title, address = params.text("title"), params.text("address")
    if not title or not address:
        raise bad_request("venue title or address is empty")
    venue = {"location": location, "title": title, "address": address}
    return _deliver(state, bot, params, {"venue": venue, "location": location}, markup_of(params))


def _location(params: Params) -> JSON:
    latitude, longitude = params.number("latitude"), params.number("longitude")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise bad_request("wrong location specified")
    return {"latitude": latitude, "longitude": longitude}


@method("sendContact")
def send_contact(state: SandboxState, bot: SandboxBot, params: Params) -> JSON:
    state.chat_for_bot(bot, _chat_id(params))
    phone, first_name = params.text("phone_number"), params.text("first_name")
    if not phone or not first_name:
        raise bad_request("phone number or first name is empty")
    contact: JSON = {"phone_number": phone, "first_name": first_name}
    if params.text("last_name"):
        contact["last_name"] = params.text("last_name")
    return _deliver(state, bot, params, {"contact": contact}, markup_of(params))


@method("sendPhoto")
def send_photo(state: SandboxState, bot: SandboxBot, params: Params) -> JSON:
    state.chat_for_bot(bot, _chat_id(params))
    stored = _stored_file(state, params.file("photo"), folder="photos", field="photo")
    content: JSON = {"photo": photo_sizes(stored)}
    content.update(_caption(params))
    return _deliver(state, bot, params, content, markup_of(params))


@method("sendDocument")
def send_document(state: SandboxState, bot: SandboxBot, params: Params) -> JSON:
    state.chat_for_bot(bot, _chat_id(params))
    given = params.file("document")
    stored = _stored_file(state, given, folder="documents", field="document")
    document: JSON = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.content),
        "mime_type": stored.mime_type,
    }
    if isinstance(given, Upload):
        document["file_name"] = given.filename
    content: JSON = {"document": document}
    content.update(_caption(params))
    return _deliver(state, bot, params, content, markup_of(params))


def _caption(params: Params) -> JSON:
    return formatted(
        params,
        "caption",
        limit=MAX_CAPTION,
        empty="",
        too_long="message caption is too long",
    )


def _stored_file(
    state: SandboxState, given: Upload | str | None, *, folder: str, field: str
) -> StoredFile:
    if isinstance(given, Upload):
        return store_upload(state, given.content, folder=folder, filename=given.filename)
    if not given:
        raise bad_request(f"there is no {field} in the request")
    stored = state.files.get(given)
    if stored is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return stored


def store_upload(state: SandboxState, content: bytes, *, folder: str, filename: str) -> StoredFile:
    if not content:
        raise bad_request("file must be non-empty")
    mime = mimetypes.guess_type(filename)[0] or _sniff_mime(content)
    extension = (mimetypes.guess_extension(mime) or ".bin").lstrip(".")
    if extension == "jpe":
        extension = "jpg"
    return state.add_file(content, folder=folder, extension=extension, mime_type=mime)


def _sniff_mime(content: bytes) -> str:
    if content.startswith(b"\x89PNG"):
        return "image/png"
    if content.startswith(b"\xff\xd8"):
        return "image/jpeg"
    return "application/octet-stream"


def image_size(content: bytes) -> tuple[int, int]:
    """Width and height of a PNG or JPEG; (0, 0) when neither."""
    if content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) >= 24:
        return int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")
    if not content.startswith(b"\xff\xd8"):
        return 0, 0
    index = 2
    while index + 9 < len(content):
        if content[index] != 0xFF:
            index += 1
            continue
        marker = content[index + 1]
        length = int.from_bytes(content[index + 2 : index + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            height = int.from_bytes(content[index + 5 : index + 7], "big")
            width = int.from_bytes(content[index + 7 : index + 9], "big")
            return width, height
        index += 2 + length
    return 0, 0


def photo_sizes(stored: StoredFile) -> list[JSON]:
    """The ``photo`` array of a message; the sandbox keeps one size, the original."""
    width, height = image_size(stored.content)
    return [
        {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "width": width,
            "height": height,
        }
    ]


# ---------------------------------------------------------------------------------------------
# Editing and deleting


def _bot_message(
    state: SandboxState, bot: SandboxBot, params: Params, missing: str
) -> tuple[Chat, StoredMessage]:
    if params.get("inline_message_id") is not None:
        raise bad_request("MESSAGE_ID_INVALID")
    chat = state.chat_for_bot(bot, _chat_id(params))
    message_id = params.integer("message_id", missing="message identifier is not specified")
    message = chat.find(message_id or 0)
    if message is None:
        raise bad_request(missing)
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return chat, message


@method("editMessageText")
def edit_message_text(state: SandboxState, bot: SandboxBot, params: Params) -> JSON:
    chat, message = _bot_message(state, bot, params, "message to edit not found")
    if message.text is None:
        raise bad_request("there is no text in the message to edit")
    content = formatted(
        params,
        "text",
        limit=MAX_TEXT,
        empty="message text is empty",
        too_long="message is too long",
    )
    markup = inline_markup_of(params)
    if content == message.content and markup == _inline(message):
        raise bad_request(NOT_MODIFIED)
    chat.edit(message, date=state.now(), content=content, reply_markup=_kept(message, markup))
    return state.message_json(chat, message)


def _inline(message: StoredMessage) -> Markup | None:
    return message.reply_markup if is_inline(message.reply_markup) else None


def _kept(message: StoredMessage, markup: Markup | None) -> Markup | None:
    """An edit replaces the inline keyboard; a reply keyboard sent with the message stays."""
    if markup is None and not is_inline(message.reply_markup):
        return message.reply_markup
    return markup


@method("editMessageCaption")
def edit_message_caption(state: SandboxState, bot: SandboxBot, params: Params) -> JSON:
    chat, message = _bot_message(state, bot, params, "message to edit not found")
    if "photo" not in message.content and "document" not in message.content:
        raise bad_request("there is no caption in the message to edit")
    kept = {
        name: value
        for name, value in message.content.items()
        if name not in ("caption", "caption_entities")
    }
    content = {**kept, **_caption(params)}
    markup = inline_markup_of(params)
    if content == message.content and markup == _inline(message):
        raise bad_request(NOT_MODIFIED)
    chat.edit(message, date=state.now(), content=content, reply_markup=_kept(message, markup))
    return state.message_json(chat, message)


@method("editMessageReplyMarkup")
def edit_message_reply_markup(state: SandboxState, bot: SandboxBot, params: Params) -> JSON:
    chat, message = _bot_message(state, bot, params, "message to edit not found")
    markup = inline_markup_of(params)
    if markup == _inline(message):
        raise bad_request(NOT_MODIFIED)
    chat.edit(message, date=state.now(), reply_markup=_kept(message, markup))
    return state.message_json(chat, message)


@method("deleteMessage")
def delete_message(state: SandboxState, bot: SandboxBot, params: Params) -> bool:
    chat = state.chat_for_bot(bot, _chat_id(params))
    message_id = params.integer("message_id", missing="message identifier is not specified")
    if chat.find(message_id or 0) is None:
        raise bad_request("message to delete not found")
    chat.delete(message_id or 0)
    return True


@method("deleteMessages")
def delete_messages(state: SandboxState, bot: SandboxBot, params: Params) -> bool:
    chat = state.chat_for_bot(bot, _chat_id(params))
    ids = params.json("message_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
        raise bad_request("message_ids is empty")
    for message_id in ids:
        if chat.find(int(message_id)) is not None:
            chat.delete(int(message_id))
    return True


# ---------------------------------------------------------------------------------------------
# Callback queries and files


@method("answerCallbackQuery")
def answer_callback_query(state: SandboxState, bot: SandboxBot, params: Params) -> bool:
    query = state.callbacks.get(params.text("callback_query_id") or "")
    if query is None or query.bot_id != bot.id or query.answered:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = params.text("text") or ""
    if len(text) > MAX_CALLBACK_ANSWER:
        raise bad_request("MESSAGE_TOO_LONG")
    query.answered = True
    if not text:
        return True
    user = state.users[query.user_id]
    chat = state.chat(bot, user)
    chat.add(
        from_bot=True,
        date=state.now(),
        content={"text": text, "show_alert": params.flag("show_alert")},
        reply_to=query.message_id,
        kind="toast",
    )
    return True


@method("getFile")
def get_file(state: SandboxState, bot: SandboxBot, params: Params) -> JSON:
    stored = state.files.get(params.text("file_id") or "")
    if stored is None:
        raise bad_request("invalid file_id")
    return stored.as_json()
