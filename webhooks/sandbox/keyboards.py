"""Reply markup as Telegram checks it: inline keyboards, reply keyboards, their removal.

A markup the Bot API would refuse raises :class:`KeyboardError` with Telegram's description
(after "Bad Request: "), e.g. ``BUTTON_DATA_INVALID`` for callback data over 64 bytes.
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger(__name__)

Markup = dict[str, Any]

MAX_CALLBACK_DATA_BYTES = 64  # Telegram: callback_data is 1-64 bytes
MAX_INLINE_BUTTONS = 100  # Telegram refuses bigger keyboards with "reply markup is too long"

_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_URL_SCHEMES = ("http://", "https://", "tg://")
_UNPARSABLE = "can't parse reply keyboard markup JSON object"


class KeyboardError(ValueError):
    """A markup Telegram refuses; the message is Telegram's text after "Bad Request: "."""


def parse_reply_markup(raw: Any) -> Markup | None:
    """The markup from a request field (a JSON string in forms, an object in JSON bodies)."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError as err:
            raise KeyboardError(_UNPARSABLE) from err
    if not isinstance(raw, dict):
        raise KeyboardError(_UNPARSABLE)
    if "inline_keyboard" in raw:
        return {"inline_keyboard": _inline_rows(raw["inline_keyboard"])}
    if "keyboard" in raw:
        return {**raw, "keyboard": _reply_rows(raw["keyboard"])}
    if raw.get("remove_keyboard") is True or raw.get("force_reply") is True:
        return dict(raw)
    raise KeyboardError(_UNPARSABLE)


def _rows(rows: Any, kind: str) -> list[list[Any]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise KeyboardError(
            f'Field "{kind}" of the {_MARKUP_NAMES[kind]} must be an Array of Arrays'
        )
    return rows


_MARKUP_NAMES = {"inline_keyboard": "InlineKeyboardMarkup", "keyboard": "ReplyKeyboardMarkup"}


def _inline_rows(rows: Any) -> list[list[dict[str, Any]]]:
    checked = [[_inline_button(button) for button in row] for row in _rows(rows, "inline_keyboard")]
    if sum(len(row) for row in checked) > MAX_INLINE_BUTTONS:
        raise KeyboardError("reply markup is too long")
    return checked


def _inline_button(button: Any) -> dict[str, Any]:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise KeyboardError("can't parse inline keyboard button: Text must be a String")
    actions = [name for name in _INLINE_ACTIONS if name in button]
    if not actions:
        raise KeyboardError(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise KeyboardError("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not url.startswith(_URL_SCHEMES) or len(url) < 10:
            raise KeyboardError("BUTTON_URL_INVALID")
    if not button["text"].strip():
        raise KeyboardError("BUTTON_TEXT_INVALID")
    return dict(button)


def _reply_rows(rows: Any) -> list[list[dict[str, Any]]]:
    return [[_reply_button(button) for button in row] for row in _rows(rows, "keyboard")]


def _reply_button(button: Any) -> dict[str, Any]:
    if isinstance(button, str):
        button = {"text": button}
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise KeyboardError("can't parse keyboard button: Text must be a String")
    if not button["text"].strip():
        raise KeyboardError("BUTTON_TEXT_INVALID")
    return dict(button)


def inline_buttons(markup: Markup | None) -> list[dict[str, Any]]:
    """Every button of an inline keyboard, row by row; none for other markups."""
    if not markup or "inline_keyboard" not in markup:
        return []
    return [button for row in markup["inline_keyboard"] for button in row]


def is_inline(markup: Markup | None) -> bool:
    return bool(markup) and "inline_keyboard" in (markup or {})
