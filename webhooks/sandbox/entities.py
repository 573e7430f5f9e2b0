"""Telegram's HTML parse mode: markup in, plain text plus message entities out, and back.

``parse_html`` follows Telegram's own parser (TDLib ``parse_html``): only the tags Telegram
knows, only the entities ``&lt; &gt; &amp; &quot;`` and numeric ones, and the same refusals
with the same wording ("Unsupported start tag ... at byte offset N"). Offsets and lengths of
entities count UTF-16 code units, as the Bot API does.

``render_html`` turns text plus entities into HTML for the sandbox's chat page; every character
of the text is escaped and only a fixed set of tags is ever written.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Entity = dict[str, Any]

# Tag name → entity type, as Telegram's HTML parse mode accepts them.
TAG_ENTITIES: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}

_NAMED_CHARACTERS = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_NAME_TOKEN = re.compile(r"[A-Za-z0-9.\-]*")
_USER_LINK = re.compile(r"tg://user\?id=(\d+)$")


class EntityParseError(ValueError):
    """Markup Telegram refuses; the message is Telegram's text after "can't parse entities: "."""


@dataclass
class _OpenTag:
    name: str
    start: int  # UTF-16 offset in the plain text
    attributes: dict[str, str] = field(default_factory=dict)


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's offsets and lengths."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def parse_html(markup: str) -> tuple[str, list[Entity]]:
    """Plain text and entities of ``markup``; raises :class:`EntityParseError` like Telegram."""
    parser = _HtmlParser(markup)
    return parser.run()


class _HtmlParser:
    def __init__(self, markup: str) -> None:
        self.markup = markup
        self.pos = 0
        self.out: list[str] = []
        self.offset = 0  # UTF-16 length of the text so far
        self.stack: list[_OpenTag] = []
        self.entities: list[Entity] = []

    def run(self) -> tuple[str, list[Entity]]:
        markup = self.markup
        size = len(markup)
        while self.pos < size:
            char = markup[self.pos]
            if char == "&":
                self._character_reference()
            elif char == "<":
                self._tag()
            else:
                self._append(char)
                self.pos += 1
        if self.stack:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        self.entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
        return "".join(self.out), self.entities

    def _append(self, text: str) -> None:
        self.out.append(text)
        self.offset += utf16_length(text)

    def _byte_offset(self, index: int) -> int:
        return len(self.markup[:index].encode("utf-8"))

    def _character_reference(self) -> None:
        decoded, end = decode_character_reference(self.markup, self.pos)
        if decoded is None:
            self._append("&")
            self.pos += 1
            return
        self._append(decoded)
        self.pos = end

    def _tag(self) -> None:
        begin = self.pos
        if self.markup.startswith("</", begin):
            self._end_tag(begin)
        else:
            self._start_tag(begin)

    def _start_tag(self, begin: int) -> None:
        markup = self.markup
        i = begin + 1
        while i < len(markup) and not markup[i].isspace() and markup[i] not in ">/":
            i += 1
        if i >= len(markup):
            raise EntityParseError(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
        name = markup[begin + 1 : i].lower()
        if name not in TAG_ENTITIES:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {self._byte_offset(begin)}'
            )
        attributes, i = self._attributes(name, begin, i)
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self._byte_offset(begin)}'
            )
        self.stack.append(_OpenTag(name=name, start=self.offset, attributes=attributes))
        self.pos = i + 1

    def _attributes(self, name: str, begin: int, i: int) -> tuple[dict[str, str], int]:
        markup = self.markup
        attributes: dict[str, str] = {}
        while True:
            while i < len(markup) and markup[i].isspace():
                i += 1
            if i >= len(markup):
                raise EntityParseError(
                    f"Unclosed start tag at byte offset {self._byte_offset(begin)}"
                )
            if markup[i] == ">":
                return attributes, i
            if markup.startswith("/>", i):
                return attributes, i + 1
            attribute_begin = i
            while i < len(markup) and not markup[i].isspace() and markup[i] not in "=>":
                i += 1
            attribute = markup[attribute_begin:i].lower()
            if not attribute:
                raise EntityParseError(
                    f'Empty attribute name in the tag "{name}" at byte offset '
                    f"{self._byte_offset(begin)}"
                )
            while i < len(markup) and markup[i].isspace():
                i += 1
            if i >= len(markup) or markup[i] != "=":
                if i < len(markup) and (markup[i] == ">" or markup[i].isalpha()):
                    attributes[attribute] = ""  # a bare attribute, e.g. <blockquote expandable>
                    continue
                raise EntityParseError(
                    f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                    f"at byte offset {self._byte_offset(begin)}"
                )
            i += 1
            while i < len(markup) and markup[i].isspace():
                i += 1
            value, i = self._attribute_value(begin, i)
            attributes[attribute] = value

    def _attribute_value(self, begin: int, i: int) -> tuple[str, int]:
        markup = self.markup
        if i >= len(markup):
            raise EntityParseError(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
        quote = markup[i]
        if quote not in "'\"":
            token = _NAME_TOKEN.match(markup, i)
            end = token.end() if token else i
            if end >= len(markup) or not (markup[end].isspace() or markup[end] == ">"):
                raise EntityParseError(
                    f"Unexpected end of name token at byte offset {self._byte_offset(i)}"
                )
            return markup[i:end].lower(), end
        i += 1
        value: list[str] = []
        while i < len(markup) and markup[i] != quote:
            if markup[i] == "&":
                decoded, end = decode_character_reference(markup, i)
                if decoded is not None:
                    value.append(decoded)
                    i = end
                    continue
            value.append(markup[i])
            i += 1
        if i >= len(markup):
            raise EntityParseError(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
        return "".join(value), i + 1

    def _end_tag(self, begin: int) -> None:
        markup = self.markup
        i = begin + 2
        while i < len(markup) and not markup[i].isspace() and markup[i] != ">":
            i += 1
        name = markup[begin + 2 : i].lower()
        while i < len(markup) and markup[i].isspace():
            i += 1
        if i >= len(markup) or markup[i] != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {self._byte_offset(begin)}")
        if not self.stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {self._byte_offset(begin)}")
        opened = self.stack.pop()
        if name and name != opened.name:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {self._byte_offset(begin)}, "
                f'expected "</{opened.name}>", found "</{name}>"'
            )
        self.pos = i + 1
        self._close(opened)

    def _close(self, opened: _OpenTag) -> None:
        length = self.offset - opened.start
        if length <= 0:
            return
        entity: Entity = {
            "type": TAG_ENTITIES[opened.name],
            "offset": opened.start,
            "length": length,
        }
        if opened.name == "a":
            entity = self._link(entity, opened)
        elif opened.name == "code" and self._merge_into_pre(opened, length):
            return
        elif opened.name == "pre" and opened.attributes.get("language"):
            entity["language"] = opened.attributes["language"]
        elif opened.name == "blockquote" and "expandable" in opened.attributes:
            entity["type"] = "expandable_blockquote"
        elif opened.name == "tg-emoji":
            entity["custom_emoji_id"] = opened.attributes.get("emoji-id", "")
        self.entities.append(entity)

    def _link(self, entity: Entity, opened: _OpenTag) -> Entity:
        url = opened.attributes.get("href") or "".join(self.out)[-entity["length"] :]
        user = _USER_LINK.match(url)
        if user:
            return {**entity, "type": "text_mention", "user": {"id": int(user.group(1))}}
        return {**entity, "url": url}

    def _merge_into_pre(self, opened: _OpenTag, length: int) -> bool:
        """``<pre><code class="language-x">`` is one pre entity with a language."""
        language = opened.attributes.get("class", "")
        if not language.startswith("language-") or not self.stack:
            return False
        outer = self.stack[-1]
        if outer.name != "pre" or outer.start != opened.start:
            return False
        outer.attributes["language"] = language.removeprefix("language-")
        return True


def decode_character_reference(text: str, pos: int) -> tuple[str | None, int]:
    """The character a reference at ``text[pos]`` ('&') stands for, and the index after it."""
    end = pos + 1
    if text.startswith("&#", pos):
        end += 1
        hexadecimal = text.startswith("x", end) or text.startswith("X", end)
        if hexadecimal:
            end += 1
        digits_begin = end
        allowed = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        while end < len(text) and text[end] in allowed:
            end += 1
        digits = text[digits_begin:end]
        code = int(digits, 16 if hexadecimal else 10) if digits else 0
        if code == 0 or code >= 0x10FFFF or end - pos >= 10 or 0xD800 <= code <= 0xDFFF:
            return None, pos
        character = chr(code)
    else:
        while end < len(text) and text[end].isascii() and text[end].isalpha():
            end += 1
        named = _NAMED_CHARACTERS.get(text[pos + 1 : end])
        if named is None:
            return None, pos
        character = named
    if end < len(text) and text[end] == ";":
        end += 1
    return character, end


# ---------------------------------------------------------------------------------------------
# Rendering for the chat page

_SAFE_LINK = re.compile(r"(https?|tg|mailto|tel):", re.IGNORECASE)

_RENDERED_TAGS: dict[str, tuple[str, str]] = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "spoiler": ('<span class="spoiler">', "</span>"),
    "code": ("<code>", "</code>"),
    "pre": ("<pre>", "</pre>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
    "expandable_blockquote": ('<blockquote class="expandable">', "</blockquote>"),
    "text_mention": ('<span class="mention">', "</span>"),
}


def _opening(entity: Entity) -> tuple[str, str]:
    if entity.get("type") == "text_link":
        url = str(entity.get("url", ""))
        if _SAFE_LINK.match(url):
            href = html.escape(url, quote=True)
            return f'<a href="{href}" target="_blank" rel="noopener noreferrer">', "</a>"
        return '<span class="link">', "</span>"
    return _RENDERED_TAGS.get(str(entity.get("type")), ("", ""))


def _utf16_boundaries(text: str) -> list[int]:
    """``result[k]`` is the index in ``text`` where UTF-16 offset ``k`` falls."""
    boundaries: list[int] = []
    for index, char in enumerate(text):
        boundaries.append(index)
        if ord(char) > 0xFFFF:
            boundaries.append(index)
    boundaries.append(len(text))
    return boundaries


def render_html(text: str, entities: list[Entity] | None) -> str:
    """Escaped ``text`` with its entities as a small, fixed set of HTML tags; newlines kept."""
    if not entities:
        return html.escape(text)
    boundaries = _utf16_boundaries(text)
    last = len(boundaries) - 1
    spans: list[tuple[int, int, str, str]] = []
    for entity in entities:
        try:
            start = boundaries[min(max(int(entity["offset"]), 0), last)]
            end = boundaries[min(max(int(entity["offset"]) + int(entity["length"]), 0), last)]
        except (KeyError, TypeError, ValueError):
            log.debug("skipping a malformed entity %r", entity)
            continue
        opening, closing = _opening(entity)
        if opening and end > start:
            spans.append((start, end, opening, closing))
    spans.sort(key=lambda span: (span[0], -span[1]))
    return _nest(text, spans)


def _nest(text: str, spans: list[tuple[int, int, str, str]]) -> str:
    """Write spans as properly nested tags, closing and reopening where two overlap."""
    events = sorted({0, len(text)} | {s for s, _, _, _ in spans} | {e for _, e, _, _ in spans})
    parts: list[str] = []
    open_spans: list[tuple[int, int, str, str]] = []
    pending = list(reversed(spans))
    previous = 0
    for point in events:
        parts.append(html.escape(text[previous:point]))
        previous = point
        if any(end == point for _, end, _, _ in open_spans):
            keep = [span for span in open_spans if span[1] != point]
            parts.extend(span[3] for span in reversed(open_spans))
            parts.extend(span[2] for span in keep)
            open_spans = keep
        while pending and pending[-1][0] == point:
            span = pending.pop()
            parts.append(span[2])
            open_spans.append(span)
    parts.extend(span[3] for span in reversed(open_spans))
    return "".join(parts)
