"""The user's side of the sandbox: a JSON API that plays Telegram users, and the web chat page.

JSON API (under the sandbox's base, e.g. ``/sandbox``):

- ``POST /api/users`` ``{"id"?, "first_name", "last_name"?, "username"?, "language_code"?,
  "phone_number"?}`` → the user; ``GET /api/users`` → all users.
- ``GET /api/bots`` → ``[{"id", "username", "first_name", "webhook"}]`` (never the token).
- ``GET /api/chats/{bot}/{user}`` → ``{"bot", "user", "started", "blocked", "revision",
  "reply_keyboard"}``; ``GET .../wait?revision=N&timeout=S`` answers once the chat's revision
  passed N (or the timeout ended) with the same object.
- ``GET /api/chats/{bot}/{user}/messages?after_id=N`` → transcript entries, both directions.
- ``POST /api/chats/{bot}/{user}/messages`` one of ``{"text"}``, ``{"contact": {...}}``,
  ``{"location": {...}}``, ``{"photo_base64", "caption"?}``, ``{"sticker": true}`` → the
  Telegram ``Message`` the bot receives.
- ``POST /api/chats/{bot}/{user}/callback`` ``{"message_id", "data"}`` → ``{"callback_query_id"}``.
- ``POST /api/chats/{bot}/{user}/block`` and ``/unblock``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup

from webhooks.sandbox.botapi import STATE
from webhooks.sandbox.entities import render_html
from webhooks.sandbox.keyboards import inline_buttons
from webhooks.sandbox.methods import photo_sizes, store_upload
from webhooks.sandbox.state import (
    JSON,
    LANGUAGES,
    BotApiError,
    Chat,
    SandboxBot,
    SandboxState,
    SandboxUser,
    StoredMessage,
    transcript_json,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
JINJA = web.AppKey("sandbox_jinja", jinja2.Environment)
MAX_WAIT = 30.0
STICKER = (  # a 1x1 WebP, enough for a sticker's file
    b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
)
KYIV = (50.4501, 30.5234)


class UserApiError(web.HTTPException):
    """A refused user-side request, answered as ``{"error": "..."}``."""

    def __init__(self, status: int, message: str) -> None:
        self.status_code = status
        super().__init__(text=f'{{"error": {_quoted(message)}}}', content_type="application/json")


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# Reading requests


async def _body(request: web.Request) -> JSON:
    try:
        body = await request.json()
    except ValueError as err:
        raise UserApiError(400, "the body must be a JSON object") from err
    if not isinstance(body, dict):
        raise UserApiError(400, "the body must be a JSON object")
    return body


def _bot(state: SandboxState, username: str) -> SandboxBot:
    bot = state.bot_named(username)
    if bot is None:
        known = ", ".join(sorted(f"@{b.username}" for b in state.bots.values())) or "none yet"
        raise UserApiError(404, f"no bot @{username.lstrip('@')} (known: {known})")
    return bot


def _user(state: SandboxState, user_id: str) -> SandboxUser:
    try:
        user = state.users.get(int(user_id))
    except ValueError:
        user = None
    if user is None:
        raise UserApiError(404, f"no user {user_id}; create one with POST /sandbox/api/users")
    return user


def _chat(request: web.Request) -> tuple[SandboxState, Chat]:
    state = request.app[STATE]
    bot = _bot(state, request.match_info["bot"])
    user = _user(state, request.match_info["user"])
    return state, state.chat(bot, user)


def _optional_text(body: JSON, name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise UserApiError(400, f"{name} must be a string")
    return value


# ---------------------------------------------------------------------------------------------
# Users and bots


async def create_user(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _body(request)
    first_name = _optional_text(body, "first_name")
    if first_name is None:
        raise UserApiError(400, "first_name is required")
    user_id = body.get("id")
    if user_id is not None and (not isinstance(user_id, int) or isinstance(user_id, bool)):
        raise UserApiError(400, "id must be a whole number")
    if user_id is not None and user_id <= 0:
        raise UserApiError(400, "id must be positive")
    language = _optional_text(body, "language_code")
    if language is not None and language not in LANGUAGES:
        raise UserApiError(400, f"language_code must be one of {', '.join(LANGUAGES)}")
    user = state.add_user(
        id=user_id,
        first_name=first_name,
        last_name=_optional_text(body, "last_name"),
        username=_optional_text(body, "username"),
        language_code=language,
        phone_number=_optional_text(body, "phone_number"),
    )
    log.info("sandbox user %s created", user.id)
    return web.json_response(user.as_sandbox_json())


async def list_users(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response([user.as_sandbox_json() for user in state.users.values()])


async def list_bots(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response([bot.as_sandbox_json() for bot in state.bots.values()])


# ---------------------------------------------------------------------------------------------
# Chats


def chat_json(chat: Chat) -> JSON:
    return {
        "bot": chat.bot.as_sandbox_json(),
        "user": chat.user.as_sandbox_json(),
        "started": chat.started,
        "blocked": chat.blocked,
        "revision": chat.revision,
        "reply_keyboard": chat.reply_keyboard,
    }


async def show_chat(request: web.Request) -> web.Response:
    _, chat = _chat(request)
    return web.json_response(chat_json(chat))


async def wait_for_change(request: web.Request) -> web.Response:
    """Long poll: answers when the chat changed after ``revision`` or the timeout ended."""
    state, chat = _chat(request)
    try:
        revision = int(request.query.get("revision", "0"))
        timeout = min(float(request.query.get("timeout", "25")), MAX_WAIT)
    except ValueError as err:
        raise UserApiError(400, "revision and timeout must be numbers") from err
    loop_time = asyncio.get_running_loop().time
    deadline = loop_time() + timeout
    while (
        chat.revision <= revision
        and not state.closing
        and (remaining := deadline - loop_time()) > 0
    ):
        await chat.changed.wait(remaining)
    return web.json_response(chat_json(chat))


async def list_messages(request: web.Request) -> web.Response:
    _, chat = _chat(request)
    try:
        after_id = int(request.query.get("after_id", "0"))
    except ValueError as err:
        raise UserApiError(400, "after_id must be a whole number") from err
    return web.json_response([transcript_json(message) for message in chat.since(after_id)])


async def send_message(request: web.Request) -> web.Response:
    state, chat = _chat(request)
    body = await _body(request)
    content = _content(state, chat, body)
    _note_keyboard_use(chat, content)
    message = state.user_sends(chat.bot, chat.user, content)
    return web.json_response(state.message_json(chat, message))


def _content(state: SandboxState, chat: Chat, body: JSON) -> JSON:
    if "text" in body:
        return _text_content(body)
    if "contact" in body:
        return {"contact": _contact(chat.user, body["contact"])}
    if "location" in body:
        return {"location": _location(body["location"])}
    if "photo_base64" in body:
        return _photo_content(state, body)
    if body.get("sticker"):
        return {"sticker": _sticker(state)}
    raise UserApiError(400, "send one of text, contact, location, photo_base64, sticker")


def _text_content(body: JSON) -> JSON:
    text = body["text"]
    if not isinstance(text, str) or not text.strip():
        raise UserApiError(400, "text must be a non-empty string")
    if len(text) > 4096:
        raise UserApiError(400, "text is longer than Telegram's 4096 characters")
    content: JSON = {"text": text}
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return content


def _contact(user: SandboxUser, raw: Any) -> JSON:
    if not isinstance(raw, dict) or not isinstance(raw.get("phone_number"), str):
        raise UserApiError(400, 'contact must be {"phone_number": "..."}')
    contact: JSON = {
        "phone_number": raw["phone_number"],
        "first_name": raw.get("first_name") or user.first_name,
    }
    last_name = raw.get("last_name", user.last_name)
    if last_name:
        contact["last_name"] = last_name
    # Someone else's contact (a forwarded card) carries another user_id, or none at all.
    user_id = raw.get("user_id", user.id)
    if user_id is not None:
        contact["user_id"] = user_id
    return contact


def _location(raw: Any) -> JSON:
    try:
        latitude, longitude = float(raw["latitude"]), float(raw["longitude"])
    except (TypeError, KeyError, ValueError) as err:
        raise UserApiError(400, 'location must be {"latitude": ..., "longitude": ...}') from err
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise UserApiError(400, "latitude must lie in -90..90 and longitude in -180..180")
    return {"latitude": latitude, "longitude": longitude}


def _photo_content(state: SandboxState, body: JSON) -> JSON:
    try:
        data = base64.b64decode(str(body["photo_base64"]), validate=True)
    except (binascii.Error, ValueError) as err:
        raise UserApiError(400, "photo_base64 is not base64") from err
    try:
        stored = store_upload(state, data, folder="photos", filename="photo")
    except BotApiError as err:
        raise UserApiError(400, "the photo is empty") from err
    content: JSON = {"photo": photo_sizes(stored)}
    caption = _optional_text(body, "caption")
    if caption:
        content["caption"] = caption
    return content


def _sticker(state: SandboxState) -> JSON:
    stored = state.add_file(STICKER, folder="stickers", extension="webp", mime_type="image/webp")
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": "👍",
        "file_size": len(STICKER),
    }


def _note_keyboard_use(chat: Chat, content: JSON) -> None:
    """A one-time reply keyboard hides after the user used one of its buttons."""
    keyboard = chat.reply_keyboard
    if not keyboard:
        return
    for row in keyboard.get("keyboard", []):
        for button in row:
            if (
                button.get("text") == content.get("text")
                or (button.get("request_contact") and "contact" in content)
                or (button.get("request_location") and "location" in content)
            ):
                chat.used_one_time_keyboard()
                return


async def press_button(request: web.Request) -> web.Response:
    state, chat = _chat(request)
    body = await _body(request)
    message_id, data = body.get("message_id"), body.get("data")
    if not isinstance(message_id, int) or not isinstance(data, str):
        raise UserApiError(400, 'send {"message_id": int, "data": str}')
    if chat.blocked:
        raise UserApiError(409, "the user blocked this bot; unblock it first")
    try:
        query = state.user_presses(chat.bot, chat.user, message_id, data)
    except BotApiError as err:
        raise UserApiError(404, f"no bot message {message_id} in this chat") from err
    return web.json_response({"callback_query_id": query.id})


async def block(request: web.Request) -> web.Response:
    state, chat = _chat(request)
    state.set_blocked(chat.bot, chat.user, blocked=True)
    return web.json_response(chat_json(chat))


async def unblock(request: web.Request) -> web.Response:
    state, chat = _chat(request)
    state.set_blocked(chat.bot, chat.user, blocked=False)
    return web.json_response(chat_json(chat))


# ---------------------------------------------------------------------------------------------
# The web page


def telegram_html(text: str | None, entities: list[JSON] | None) -> Markup:
    """Text as Telegram shows it; the text is always escaped, entities become fixed tags."""
    return Markup(render_html(text or "", entities))


def _page_context(request: web.Request) -> JSON:
    state = request.app[STATE]
    return {
        **_links(request),
        "bots": list(state.bots.values()),
        "users": list(state.users.values()),
        "languages": LANGUAGES,
    }


async def to_index(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.path + "/")


def _links(request: web.Request) -> JSON:
    """Where the sandbox is mounted, for links in the pages."""
    base = str(request.app.router["sandbox_index"].url_for()).rstrip("/")
    return {"base": base, "static_url": f"{base}/static"}


async def user_file(request: web.Request) -> web.Response:
    """A file from the chat (a photo) for the page; users see files without a bot token."""
    stored = request.app[STATE].files.get(request.match_info["file_id"])
    if stored is None:
        raise UserApiError(404, "no such file")
    return web.Response(body=stored.content, content_type=stored.mime_type)


@aiohttp_jinja2.template("sandbox/index.html", app_key=JINJA)
async def index(request: web.Request) -> JSON:
    return {**_page_context(request), "chats": _chat_list(request.app[STATE])}


def _chat_list(state: SandboxState) -> list[tuple[str, list[JSON]]]:
    """The chats a person can pick up, bot by bot: those with messages, the latest first, then
    the ones started without any yet (people the company knows), by name."""
    by_bot: dict[str, list[JSON]] = {bot.username: [] for bot in state.bots.values()}
    for chat in state.chats.values():
        shown = [m for m in chat.messages.values() if m.kind == "message"]
        if not shown and not chat.started:
            continue
        last = shown[-1] if shown else None
        by_bot.setdefault(chat.bot.username, []).append({
            "bot": chat.bot.username, "user_id": chat.user.id,
            "name": " ".join(filter(None, (chat.user.first_name, chat.user.last_name))),
            "count": len(shown), "at": (last.edit_date or last.date) if last else 0,
            "preview": _preview(last) if last else "",
        })
    for rows in by_bot.values():
        rows.sort(key=lambda row: (-row["at"], row["name"].casefold()))
    return [(bot, rows) for bot, rows in by_bot.items() if rows]


def _preview(message: StoredMessage) -> str:
    content = message.content
    text = content.get("text") or content.get("caption")
    if not text:
        kinds = ("photo", "location", "contact", "sticker", "document")
        text = next((f"[{kind}]" for kind in kinds if kind in content), "[message]")
    first = text.strip().splitlines()[0] if text.strip() else text
    return first if len(first) <= 80 else first[:79] + "…"


@aiohttp_jinja2.template("sandbox/chat.html", app_key=JINJA)
async def chat_page(request: web.Request) -> JSON:
    _, chat = _chat(request)
    return {**_page_context(request), **_transcript_context(chat), "default_location": KYIV}


def _transcript_context(chat: Chat) -> JSON:
    messages = [transcript_json(message) for message in chat.messages.values()]
    return {"chat": chat, "messages": messages, "inline_buttons": inline_buttons}


@aiohttp_jinja2.template("sandbox/transcript.html", app_key=JINJA)
async def transcript(request: web.Request) -> JSON:
    _, chat = _chat(request)
    return {**_links(request), **_transcript_context(chat)}


def setup_chat(app: web.Application) -> None:
    """Put the user-side API and the web chat on the sandbox application."""
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        app_key=JINJA,
        filters={"telegram_html": telegram_html},
    )
    router = app.router
    router.add_get("", to_index)
    router.add_get("/", index, name="sandbox_index")
    router.add_get("/chat/{bot}/{user}", chat_page)
    router.add_get("/chat/{bot}/{user}/transcript", transcript)
    router.add_static("/static", HERE / "static")
    router.add_get("/files/{file_id}", user_file)
    router.add_post("/api/users", create_user)
    router.add_get("/api/users", list_users)
    router.add_get("/api/bots", list_bots)
    router.add_get("/api/chats/{bot}/{user}", show_chat)
    router.add_get("/api/chats/{bot}/{user}/wait", wait_for_change)
    router.add_get("/api/chats/{bot}/{user}/messages", list_messages)
    router.add_post("/api/chats/{bot}/{user}/messages", send_message)
    router.add_post("/api/chats/{bot}/{user}/callback", press_button)
    router.add_post("/api/chats/{bot}/{user}/block", block)
    router.add_post("/api/chats/{bot}/{user}/unblock", unblock)
