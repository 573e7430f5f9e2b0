"""core.when.parse_when: the phrases of tests/core/data/when_cases.toml and its contract."""

from __future__ import annotations

import random
import tomllib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.when import (
    DEFAULT_RULES,
    LANGUAGES,
    TimeWindow,
    WhenRules,
    parse_when,
    window_to_json,
)

DATA = Path(__file__).parent / "data" / "when_cases.toml"
KYIV = ZoneInfo("Europe/Kyiv")
NOW = datetime(2026, 11, 24, 14, 5, tzinfo=KYIV)  # a Tuesday


@dataclass(frozen=True)
class Case:
    text: str
    lang: str | None
    now: datetime
    start: str | None
    end: str | None


def _now(written: str, zone: ZoneInfo) -> datetime:
    moment = datetime.fromisoformat(written)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone)
    return moment.astimezone(zone)


def load_cases() -> list[Case]:
    data: dict[str, Any] = tomllib.loads(DATA.read_text(encoding="utf-8"))
    zone = ZoneInfo(data["zone"])
    cases = []
    for raw in data["case"]:
        none = raw.get("none", False)
        assert none == ("start" not in raw and "end" not in raw), raw
        cases.append(
            Case(
                text=raw["text"],
                lang=raw.get("lang"),
                now=_now(raw.get("now", data["now"]), zone),
                start=raw.get("start"),
                end=raw.get("end"),
            )
        )
    return cases


CASES = load_cases()


def _ids(cases: list[Case]) -> list[str]:
    counts = Counter(case.text for case in cases)
    ids = []
    for case in cases:
        if counts[case.text] == 1:
            ids.append(case.text)
        else:
            ids.append(f"{case.text} [{case.lang or 'any'} @ {case.now.isoformat()}]")
    return ids


def test_data_file_covers_enough() -> None:
    assert len(CASES) >= 150
    langs = Counter(case.lang for case in CASES)
    for lang in LANGUAGES:
        assert langs[lang] >= 40, lang
    assert sum(case.start is None for case in CASES) >= 20
    assert len({case.now for case in CASES}) >= 3


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_phrase(case: Case) -> None:
    languages = None if case.lang is None else [case.lang]
    window = parse_when(case.text, case.now, languages)
    if case.start is None:
        assert window is None
        return
    assert window is not None, "no window found"
    assert (window.start.isoformat(), window.end.isoformat()) == (case.start, case.end)
    assert window.start.tzinfo is case.now.tzinfo
    assert window.end.tzinfo is case.now.tzinfo
    if case.lang is not None:
        # A phrase understood in its own language means the same when all are tried.
        assert parse_when(case.text, case.now) == window


def test_languages_limit_what_is_tried() -> None:
    assert parse_when("завтра в 10", NOW, ["en"]) is None
    assert parse_when("tomorrow at 10", NOW, ["ru", "uk"]) is None
    tomorrow_ten = datetime(2026, 11, 25, 10, tzinfo=KYIV)
    for languages in (None, ["ru"], ("uk", "ru"), ["ru", "uk", "en"]):
        window = parse_when("завтра в 10", NOW, languages)
        assert window == TimeWindow(tomorrow_ten, tomorrow_ten), languages
    assert parse_when("у п'ятницю після обіду", NOW, ["uk"]) is not None
    assert parse_when("у п'ятницю після обіду", NOW, ["ru"]) is None
    assert parse_when("3 грудня", NOW, ["uk"]) is not None
    assert parse_when("3 грудня", NOW, ["ru", "en"]) is None
    assert parse_when("завтра в 10", NOW, []) is None


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown languages"):
        parse_when("завтра", NOW, ["de"])


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_when("завтра в 10", datetime(2026, 11, 24, 14, 5))


@pytest.mark.parametrize("zone", ["Europe/Kyiv", "America/New_York", "Asia/Tokyo", "UTC"])
def test_results_are_in_the_zone_of_now(zone: str) -> None:
    now = datetime(2026, 11, 24, 14, 5, tzinfo=ZoneInfo(zone))
    for text in ("завтра в 10", "через 40 минут", "next week", "у п'ятницю після обіду"):
        window = parse_when(text, now)
        assert window is not None, text
        assert window.start.tzinfo is now.tzinfo, text
        assert window.end.tzinfo is now.tzinfo, text
    window = parse_when("завтра в 10", now)
    assert window is not None
    assert (window.start.hour, window.start.minute, window.start.day) == (10, 0, 25)


def test_fixed_offset_now() -> None:
    now = datetime(2026, 11, 24, 14, 5, tzinfo=UTC)
    window = parse_when("завтра в 10", now)
    assert window is not None
    assert window.start == datetime(2026, 11, 25, 10, tzinfo=UTC)


def test_relative_moment_keeps_seconds_of_now() -> None:
    now = NOW.replace(second=30)
    window = parse_when("через 40 минут", now)
    assert window is not None
    assert window.start == window.end == now + timedelta(minutes=40)
    assert window.is_moment


def test_rules_change_the_conventions() -> None:
    rules = WhenRules(
        afternoon_bare_hours=(1, 6),
        morning=(9, 12),
        afternoon=(13, 18),
        evening=(18, 22),
        roll_passed_to_tomorrow=False,
        week_start=6,
    )

    def window(text: str) -> tuple[str, str] | None:
        found = parse_when(text, NOW, rules=rules)
        return None if found is None else (found.start.isoformat(), found.end.isoformat())

    assert window("в 7") == ("2026-11-24T07:00:00+02:00",) * 2
    assert window("в 6") == ("2026-11-24T18:00:00+02:00",) * 2
    assert window("завтра утром") == ("2026-11-25T09:00:00+02:00", "2026-11-25T12:00:00+02:00")
    assert window("after lunch") == ("2026-11-24T13:00:00+02:00", "2026-11-24T18:00:00+02:00")
    assert window("ввечері") == ("2026-11-24T18:00:00+02:00", "2026-11-24T22:00:00+02:00")
    # Not rolled to tomorrow: 10:00 today, already passed.
    assert window("в 10") == ("2026-11-24T10:00:00+02:00",) * 2
    # Weeks start on Sunday: next week is Sunday 29 Nov .. Sunday 6 Dec.
    assert window("next week") == ("2026-11-29T00:00:00+02:00", "2026-12-06T00:00:00+02:00")
    assert window("next friday") == ("2026-12-04T00:00:00+02:00", "2026-12-05T00:00:00+02:00")
    assert WhenRules() == DEFAULT_RULES


@pytest.mark.parametrize(
    "fields",
    [
        {"afternoon_bare_hours": (7, 1)},
        {"afternoon_bare_hours": (1, 13)},
        {"morning": (12, 8)},
        {"evening": (17, 25)},
        {"week_start": 7},
    ],
)
def test_rules_are_checked(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        WhenRules(**fields)


def test_window_to_json() -> None:
    assert window_to_json(None) is None
    window = parse_when("завтра с 9 до 13", NOW)
    assert window_to_json(window) == {
        "start": "2026-11-25T09:00:00+02:00",
        "end": "2026-11-25T13:00:00+02:00",
    }


def test_window_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError):
        TimeWindow(NOW, NOW - timedelta(minutes=1))


ALPHABET = (
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяґєії'ʼ’abcdefghijklmnopqrstuvwxyz"
    '0123456789 ::..//--–,;!?()«»"\t\n\u00a0\ue000\\[]{}*+^$|'
)
WORDS = [
    "завтра", "в", "у", "о", "с", "з", "до", "после", "після", "через", "на", "к", "10", "9",
    "13", "25", "31", "12:30", "24:00", "03.12", "31.02", "29.02", "пятницу", "п'ятницю",
    "утром", "вранці", "вечера", "дня", "часа", "минут", "декабря", "лютого", "Dec", "at",
    "pm", "am", "from", "to", "between", "and", "next", "week", "неделе", "тижня", "in",
    "hours", "days", "noon", "полдень", "опівдні", "-", "–", "9999", "0", "00:00", "2026-02-31",
    "1,5", "пол", "полтора", "tonight", "weekend", "выходных", "2026-13-01", "99.99.9999",
]  # fmt: skip


def test_garbage_never_raises() -> None:
    rng = random.Random(20261124)
    for _ in range(1500):
        if rng.random() < 0.5:
            text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))
        else:
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8)))
        now = NOW + timedelta(days=rng.randint(-400, 400), minutes=rng.randint(0, 1440))
        window = parse_when(text, now)
        if window is not None:
            assert window.start <= window.end, text
            assert window.start.tzinfo is now.tzinfo, text


@pytest.mark.parametrize("text", ["", " ", "\u0000", "x" * 5000, "в " * 2000, "1" * 300])
def test_odd_input_gives_none(text: str) -> None:
    assert parse_when(text, NOW) is None
