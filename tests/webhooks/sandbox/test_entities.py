"""Telegram's HTML parse mode in the sandbox, and the page's rendering of entities."""

from __future__ import annotations

import pytest

from webhooks.sandbox.entities import EntityParseError, parse_html, render_html


def test_supported_tags_become_entities_with_utf16_offsets():
    text, entities = parse_html(
        "😀 <b>Bold <i>both</i></b> <u>u</u> <s>s</s> <tg-spoiler>x</tg-spoiler> "
        '<span class="tg-spoiler">y</span> <code>c</code> <a href="tg://user?id=5">me</a>'
    )

    assert text == "😀 Bold both u s x y c me"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 9},
        {"type": "italic", "offset": 8, "length": 4},
        {"type": "underline", "offset": 13, "length": 1},
        {"type": "strikethrough", "offset": 15, "length": 1},
        {"type": "spoiler", "offset": 17, "length": 1},
        {"type": "spoiler", "offset": 19, "length": 1},
        {"type": "code", "offset": 21, "length": 1},
        {"type": "text_mention", "offset": 23, "length": 2, "user": {"id": 5}},
    ]


def test_only_four_named_character_references_are_decoded():
    text, entities = parse_html("&lt;a&gt; &amp; &quot; &#8470; &#x41; &nbsp; & alone")

    assert text == '<a> & " № A &nbsp; & alone'
    assert entities == []


def test_pre_with_a_language_and_blockquotes():
    text, entities = parse_html(
        '<pre><code class="language-python">x = 1</code></pre>'
        "<blockquote>q</blockquote><blockquote expandable>e</blockquote>"
    )

    assert text == "x = 1qe"
    assert entities == [
        {"type": "pre", "offset": 0, "length": 5, "language": "python"},
        {"type": "blockquote", "offset": 5, "length": 1},
        {"type": "expandable_blockquote", "offset": 6, "length": 1},
    ]


@pytest.mark.parametrize(
    ("markup", "reason"),
    [
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("ї<div>", 'Unsupported start tag "div" at byte offset 2'),
        ("<i>x</i   ", "Unclosed end tag at byte offset 4"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<a href="x"', "Unclosed start tag at byte offset 0"),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
    ],
)
def test_broken_markup_is_refused_like_telegram(markup: str, reason: str):
    with pytest.raises(EntityParseError) as refused:
        parse_html(markup)

    assert str(refused.value) == reason


def test_rendering_escapes_the_text_and_writes_only_known_tags():
    text = '<script>alert("x")</script> bold'

    html = render_html(text, [{"type": "bold", "offset": 28, "length": 4}])

    assert html == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; <b>bold</b>"


def test_rendering_links_keeps_only_safe_schemes_and_escapes_the_address():
    safe = render_html("map", [{"type": "text_link", "offset": 0, "length": 3,
                                "url": 'https://maps.example/?q="a"&b'}])
    unsafe = render_html("map", [{"type": "text_link", "offset": 0, "length": 3,
                                  "url": "javascript:alert(1)"}])

    assert safe == ('<a href="https://maps.example/?q=&quot;a&quot;&amp;b" target="_blank" '
                    'rel="noopener noreferrer">map</a>')
    assert unsafe == '<span class="link">map</span>'


def test_rendering_overlapping_entities_still_nests_tags():
    html = render_html("abcd", [
        {"type": "bold", "offset": 0, "length": 3},
        {"type": "italic", "offset": 2, "length": 2},
    ])

    assert html == "<b>ab<i>c</i></b><i>d</i>"


def test_round_trip_through_parse_and_render_with_astral_characters():
    text, entities = parse_html("🧹 <b>Прибирання</b> 🧽 <i>сьогодні</i>")

    assert render_html(text, entities) == "🧹 <b>Прибирання</b> 🧽 <i>сьогодні</i>"
