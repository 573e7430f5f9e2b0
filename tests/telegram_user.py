"""A Telegram user for tests: talks to one bot through the sandbox's user-side JSON API.

    async with aiohttp.ClientSession() as http:
        olena = await TelegramUser.create(http, base_url, "brigadier_customer_bot", "Olena")
        await olena.send("/start")
        menu = await olena.wait_for("Choose a service")
        await olena.press("Cleaning")
        await olena.wait_for(lambda m: "address" in (m["text"] or ""))

``wait_for`` looks at bot messages that are new or changed since the user's last action
(send, share, press) and that no earlier ``wait_for`` returned; an edited message counts as
changed, so pressing a button and waiting for the edit works. Callback answers (toasts) are
entries with ``kind == "toast"``; ``wait_for`` sees them too, ``last_bot_message`` does not.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

Entry = dict[str, Any]
Match = str | Callable[[Entry], bool]

POLL_SECONDS = 0.02
KYIV = (50.4501, 30.5234)


class TelegramUser:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        bot_username: str,
        user_id: int,
        *,
        phone_number: str | None = None,
        location: tuple[float, float] = KYIV,
    ) -> None:
        base = base_url.rstrip("/")
        self.base_url = base if base.endswith("/sandbox") else f"{base}/sandbox"
        self.http = http
        self.bot_username = bot_username.lstrip("@")
        self.user_id = user_id
        self.phone_number = phone_number
        self.location = location
        self._since = 0  # chat revision at the last action
        self._seen: set[tuple[int, int]] = set()  # (message_id, revision) already returned

    @classmethod
    async def create(
        cls,
        http: aiohttp.ClientSession,
        base_url: str,
        bot_username: str,
        first_name: str = "Test",
        **details: Any,
    ) -> TelegramUser:
        """A new sandbox user (``id``, ``last_name``, ``username``, ``language_code``,
        ``phone_number`` may be given) talking to ``bot_username``."""
        location = details.pop("location", KYIV)
        probe = cls(http, base_url, bot_username, 0)
        user = await probe._request("POST", "/api/users", {"first_name": first_name, **details})
        return cls(
            http,
            base_url,
            bot_username,
            user["id"],
            phone_number=user.get("phone_number"),
            location=location,
        )

    # --- plumbing ---

    @property
    def _chat_path(self) -> str:
        return f"/api/chats/{self.bot_username}/{self.user_id}"

    async def _request(self, verb: str, path: str, body: Any = None) -> Any:
        url = self.base_url + path
        async with self.http.request(verb, url, json=body) as response:
            text = await response.text()
            if response.status != 200:
                raise AssertionError(f"{verb} {path} answered {response.status}: {text}")
            return json.loads(text)

    async def _mark(self) -> None:
        """Remember where the chat stood before an action; replies come after it."""
        self._since = (await self.chat())["revision"]

    # --- what a user does ---

    async def send(self, text: str) -> Entry:
        """Write a text message; returns the Telegram Message the bot receives."""
        await self._mark()
        return await self._request("POST", f"{self._chat_path}/messages", {"text": text})

    async def share_contact(self, phone: str | None = None, **contact: Any) -> Entry:
        """Share the user's own contact (or, with ``user_id=...``, someone else's card)."""
        phone = phone or self.phone_number
        if phone is None:
            raise AssertionError("this user has no phone number; pass one")
        await self._mark()
        body = {"contact": {"phone_number": phone, **contact}}
        return await self._request("POST", f"{self._chat_path}/messages", body)

    async def share_location(self, latitude: float, longitude: float) -> Entry:
        await self._mark()
        body = {"location": {"latitude": latitude, "longitude": longitude}}
        return await self._request("POST", f"{self._chat_path}/messages", body)

    async def send_photo(self, content: bytes, caption: str | None = None) -> Entry:
        await self._mark()
        body: dict[str, Any] = {"photo_base64": base64.b64encode(content).decode()}
        if caption is not None:
            body["caption"] = caption
        return await self._request("POST", f"{self._chat_path}/messages", body)

    async def send_sticker(self) -> Entry:
        await self._mark()
        return await self._request("POST", f"{self._chat_path}/messages", {"sticker": True})

    async def press(self, button_text: str) -> Entry:
        """Press a button by its text: an inline button on the last bot message that has an
        inline keyboard, else a button of the reply keyboard shown under the input field."""
        messages = await self.messages()
        inline = _last_inline_keyboard(messages)
        if inline is not None:
            button = _find_button(inline["reply_markup"]["inline_keyboard"], button_text)
            if button is not None:
                return await self._press_inline(inline, button)
        keyboard = ((await self.chat()).get("reply_keyboard") or {}).get("keyboard", [])
        button = _find_button(keyboard, button_text)
        if button is not None:
            return await self._press_reply(button)
        raise AssertionError(
            f"no button {button_text!r}; inline buttons on message "
            f"{inline['message_id'] if inline else None}: {_button_texts(inline)}; "
            f"reply keyboard: {[_button(b).get('text') for row in keyboard for b in row]}"
        )

    async def _press_inline(self, message: Entry, button: dict[str, Any]) -> Entry:
        if "callback_data" not in button:
            raise AssertionError(f"button {button['text']!r} has no callback data: {button}")
        await self._mark()
        body = {"message_id": message["message_id"], "data": button["callback_data"]}
        return await self._request("POST", f"{self._chat_path}/callback", body)

    async def _press_reply(self, button: dict[str, Any]) -> Entry:
        if button.get("request_contact"):
            return await self.share_contact()
        if button.get("request_location"):
            return await self.share_location(*self.location)
        return await self.send(button["text"])

    async def block(self) -> None:
        await self._request("POST", f"{self._chat_path}/block")

    async def unblock(self) -> None:
        await self._request("POST", f"{self._chat_path}/unblock")

    # --- what a user sees ---

    async def messages(self, after_id: int = 0) -> list[Entry]:
        """The chat as it is now, both directions, with callback answers (``kind="toast"``)."""
        return await self._request("GET", f"{self._chat_path}/messages?after_id={after_id}")

    async def chat(self) -> Entry:
        """``{"bot", "user", "started", "blocked", "revision", "reply_keyboard"}``."""
        return await self._request("GET", self._chat_path)

    async def reply_keyboard(self) -> list[str]:
        """Texts of the reply keyboard shown under the input field, row by row."""
        keyboard = (await self.chat()).get("reply_keyboard") or {}
        return [_button(b)["text"] for row in keyboard.get("keyboard", []) for b in row]

    async def last_bot_message(self) -> Entry | None:
        for entry in reversed(await self.messages()):
            if entry["from_bot"] and entry["kind"] == "message":
                return entry
        return None

    async def wait_for(self, match: Match, timeout: float = 5.0) -> Entry:  # noqa: ASYNC109
        """The first bot message (or toast) new since the last action that matches: a substring
        of its text or caption, or a predicate over the transcript entry."""
        accepts = _matcher(match)
        deadline = time.monotonic() + timeout
        while True:
            fresh = [entry for entry in await self.messages() if self._is_new(entry)]
            for entry in fresh:
                if accepts(entry):
                    self._seen.add((entry["message_id"], entry["revision"]))
                    return entry
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"no bot message matching {_describe(match)} within {timeout}s; "
                    f"new since the last action: {_summaries(fresh) or 'nothing'}"
                )
            await asyncio.sleep(POLL_SECONDS)

    def _is_new(self, entry: Entry) -> bool:
        return (
            entry["from_bot"]
            and entry["revision"] > self._since
            and (entry["message_id"], entry["revision"]) not in self._seen
        )


def _matcher(match: Match) -> Callable[[Entry], bool]:
    if callable(match):
        return match
    return lambda entry: match in (entry.get("text") or entry.get("caption") or "")


def _describe(match: Match) -> str:
    return repr(match) if isinstance(match, str) else getattr(match, "__name__", "predicate")


def _summaries(entries: list[Entry]) -> list[str]:
    summaries = []
    for entry in entries:
        body = entry.get("text") or entry.get("caption")
        if body is None:
            body = next(
                (name for name in ("location", "photo", "document", "contact") if entry.get(name)),
                "?",
            )
        edited = " (edited)" if entry["edited"] else ""
        buttons = _button_texts(entry)
        summaries.append(
            f"#{entry['message_id']} {entry['kind']}{edited}: {body!r}"
            + (f" buttons {buttons}" if buttons else "")
        )
    return summaries


def _last_inline_keyboard(messages: list[Entry]) -> Entry | None:
    for entry in reversed(messages):
        markup = entry.get("reply_markup") or {}
        if entry["from_bot"] and entry["kind"] == "message" and markup.get("inline_keyboard"):
            return entry
    return None


def _button(button: str | dict[str, Any]) -> dict[str, Any]:
    return {"text": button} if isinstance(button, str) else button


def _find_button(rows: list[list[Any]], text: str) -> dict[str, Any] | None:
    for row in rows:
        for button in map(_button, row):
            if button.get("text") == text:
                return button
    return None


def _button_texts(entry: Entry | None) -> list[str]:
    if not entry:
        return []
    markup = entry.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [b if isinstance(b, str) else b.get("text", "") for row in rows for b in row]
