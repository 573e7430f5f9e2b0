"""Understand the time customers write: "завтра в 10", "у п'ятницю після обіду", "before noon".

:func:`parse_when` turns free text in Russian, Ukrainian or English into a :class:`TimeWindow`
in the zone of the given ``now``. The text is normalised (lower case, one apostrophe, no
punctuation or greetings), then its parts are found with our own regular expressions, in
this order, each part removed from the text once found:

1. a relative offset ("через 40 минут", "in 2 days");
2. a week ("на следующей неделе", "this week", "на вихідних");
3. a day word ("сегодня", "післязавтра", "tomorrow");
4. a weekday, maybe with "next"/"this" ("в следующую пятницу", "у п'ятницю");
5. a date: ISO, "dd.mm[.yyyy]" or a day and a month name ("3 декабря", "Dec 3"); month names,
   in any inflection of the enabled languages, are resolved by ``dateparser``;
6. a time range ("с 9 до 13", "from 9 to 1pm"), or "after"/"before" a time;
7. a single time ("в 11:30", "к 10", "at 5pm", "в 9 вечера", "опівдні");
8. a part of the day ("утром", "ввечері", "in the afternoon").

The conventions a company may change (bare hours 1 to 7 are afternoon, dayparts, a passed time
with no day named is tomorrow, the first day of the week) are in :class:`WhenRules`. These hold
always:

- an hour written as 13 to 23, as 0, or with a leading zero ("07:30") is a 24-hour time; any
  other hour ("в 4", "в 4:30") follows the bare-hour rule unless am/pm or a daypart says more;
- an exact time has passed when it is before ``now``; a window, when it ends at or before ``now``;
- a weekday ("в пятницу", "this Friday") is its next occurrence after today; "next Friday",
  "в следующую пятницу" is the Friday of the next calendar week;
- "this week" is [today, the next week's start); "at the weekend" is the coming Saturday and
  Sunday; "next week" is the whole next calendar week;
- "d.mm" is a date when it can be one, unless a time preposition comes first ("в 9.10");
- a range ends after it starts: a bare end hour that would not is read as written or in the
  afternoon ("с 9 вечера до 11" ends at 23:00), or else on the next day ("с 22 до 2").
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Literal, Protocol

LANGUAGES: tuple[str, ...] = ("ru", "uk", "en")

_DAY_MINUTES = 24 * 60
# Put where a day was found: a number right after a day is an hour ("завтра 10").
_DAY_MARK = "\ue000"


@dataclass(frozen=True)
class TimeWindow:
    """A span of time ``[start, end)``; an exact moment has ``start == end``."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"a window cannot end before it starts: {self.start} > {self.end}")

    @property
    def is_moment(self) -> bool:
        return self.start == self.end


@dataclass(frozen=True)
class WhenRules:
    """The conventions a company may change (config.toml section ``[when]``).

    Hours are whole hours of the day, 0 to 24; a daypart is ``(start, end)``, end excluded.

    - ``afternoon_bare_hours``: ``(first, last)``, inclusive. A bare hour in this range, written
      with no am/pm, daypart or 24-hour form, means the afternoon: "в 4" is 16:00. Default (1, 7).
    - ``morning``: what "утром", "вранці", "in the morning" mean. Default (8, 12).
    - ``afternoon``: what "днём", "після обіду", "in the afternoon" mean. Default (12, 17).
    - ``evening``: what "вечером", "ввечері", "in the evening" mean. Default (17, 21).
    - ``roll_passed_to_tomorrow``: when no day is named, a time of day that has already passed
      today means tomorrow. Default true.
    - ``week_start``: the first day of a calendar week, 0 = Monday ... 6 = Sunday, for "next
      week" and "next Friday". Default 0.
    """

    afternoon_bare_hours: tuple[int, int] = (1, 7)
    morning: tuple[int, int] = (8, 12)
    afternoon: tuple[int, int] = (12, 17)
    evening: tuple[int, int] = (17, 21)
    roll_passed_to_tomorrow: bool = True
    week_start: int = 0

    def __post_init__(self) -> None:
        first, last = self.afternoon_bare_hours
        if not 0 <= first <= last <= 11:
            raise ValueError(f"afternoon_bare_hours must be within 0..11: {first}..{last}")
        for name in ("morning", "afternoon", "evening"):
            start, end = getattr(self, name)
            if not 0 <= start < end <= 24:
                raise ValueError(f"{name} must be (start, end) with 0 <= start < end <= 24")
        if not 0 <= self.week_start <= 6:
            raise ValueError(f"week_start must be 0 (Monday) .. 6 (Sunday): {self.week_start}")


DEFAULT_RULES = WhenRules()


class _Impossible(Exception):
    """The text names a time that cannot exist ("31 февраля", "25:00")."""


# --- vocabulary -----------------------------------------------------------------------------
# Each entry is a regular-expression fragment. A space stands for any run of spaces and an
# apostrophe is optional (people write "пятницю" as well as "п'ятницю").

_Vocab = dict[str, tuple[str, ...]]

_RU: _Vocab = {
    "today": ("сегодня", "седня"),
    "tomorrow": ("завтра",),
    "after_tomorrow": ("послезавтра", "после завтра"),
    "tonight": (),
    "wd0": (r"понедельник\w*",),
    "wd1": (r"вторник\w*",),
    "wd2": ("сред[аыуе]",),
    "wd3": (r"четверг\w*",),
    "wd4": (r"пятниц\w*",),
    "wd5": (r"суббот\w*",),
    "wd6": (r"воскресень\w*", r"воскресен\w*"),
    "next": (r"следующ\w*", r"будущ\w*"),
    "this": (r"эт[оуиа]\w*", r"ближайш\w*"),
    "week": (r"недел\w*",),
    "weekend": (r"выходн\w*",),
    "in": ("через",),
    "u_min": (r"минут\w*", "мин"),
    "u_hour": ("часа", "часов", "час", "ч"),
    "u_day": ("день", "дня", "дней", "сутки", "суток"),
    "u_week": ("неделю", "недели", "недель"),
    "u_month": (r"месяц\w*",),
    "half_hour": ("полчаса", "пол часа"),
    "hour_and_half": ("полтора часа",),
    "morning": ("утром", "с утра", "утречком", "поутру"),
    "afternoon_after": ("после обеда", "после полудня"),
    "afternoon": ("днем", "пополудни"),
    "evening": ("вечером", "вечерком", "под вечер", "к вечеру"),
    "mk_am": ("утра", "утром"),
    "mk_day": ("дня",),
    "mk_pm": ("пополудни",),
    "mk_ev": ("вечера", "вечером"),
    "mk_ni": ("ночи", "ночью"),
    "noon": ("полдень", "полудня", "обед", "обеда"),
    "midnight": ("полночь", "полуночи"),
    "at": ("в", "во", "к", "ко", "около", "примерно", "где-то", "часам к", "часов в"),
    "at_strong": ("на",),
    "after": ("после", "с", "со", "от", "не раньше"),
    "before": ("до", "не позже", "не позднее", "раньше"),
    "from": ("с", "со", "от", "между"),
    "to": ("до", "по", "и"),
    "hour_word": ("часа", "часов", "часам", "час", "ч"),
    "minute_word": (r"минут\w*", "мин"),
    "greeting": (
        "доброе утро",
        "доброго утра",
        "добрый день",
        "доброго дня",
        "добрый вечер",
        "доброго вечера",
        "доброй ночи",
        "спокойной ночи",
    ),
}

_UK: _Vocab = {
    "today": ("сьогодні", "сьодні"),
    "tomorrow": ("завтра",),
    "after_tomorrow": ("післязавтра", "після завтра", "позавтра"),
    "tonight": (),
    "wd0": (r"понеділ\w*",),
    "wd1": (r"вівтор\w*",),
    "wd2": ("серед[аиуі]",),
    "wd3": (r"четвер\w*",),
    "wd4": (r"п'ятниц\w*",),
    "wd5": (r"субот\w*",),
    "wd6": (r"неділ\w*",),
    "next": (r"наступн\w*",),
    "this": ("цю", "цей", "цього", "цієї", "цьому", "цій", r"найближч\w*"),
    "week": (r"тиж\w*",),
    "weekend": (r"вихідн\w*",),
    "in": ("через",),
    "u_min": (r"хвилин\w*", "хв"),
    "u_hour": (r"годин\w*", "год"),
    "u_day": ("день", "дні", "днів", "дня", "добу", "доби", "діб"),
    "u_week": ("тиждень", "тижні", "тижнів"),
    "u_month": (r"місяц\w*", "місяць"),
    "half_hour": ("півгодини", "пів години"),
    "hour_and_half": ("півтори години",),
    "morning": ("вранці", "уранці", "зранку", "зрання", "ранком", "з ранку"),
    "afternoon_after": ("після обіду", "після полудня"),
    "afternoon": ("вдень", "удень", "по обіді", "пообіді", "пополудні"),
    "evening": ("ввечері", "увечері", "ввечорі", "увечорі", "вечором", "надвечір", "під вечір"),
    "mk_am": ("ранку", "зранку", "вранці"),
    "mk_day": ("дня",),
    "mk_pm": ("пополудні",),
    "mk_ev": ("вечора", "ввечері", "увечері"),
    "mk_ni": ("ночі", "вночі"),
    "noon": ("опівдні", "полудень", "полудня", "полудні", "обід", "обіду"),
    "midnight": ("опівночі", "північ", "півночі"),
    "at": ("в", "у", "о", "об", "близько", "десь", "приблизно"),
    "at_strong": ("на",),
    "after": ("після", "з", "із", "зі", "від", "не раніше"),
    "before": ("до", "не пізніше", "раніше"),
    "from": ("з", "із", "зі", "від", "між", "поміж"),
    "to": ("до", "по", "і", "й", "та"),
    "hour_word": (r"годин\w*", "год"),
    "minute_word": (r"хвилин\w*", "хв"),
    "greeting": (
        "доброго ранку",
        "добрий ранок",
        "добрий день",
        "доброго дня",
        "добрий вечір",
        "доброго вечора",
        "на добраніч",
    ),
}

_EN: _Vocab = {
    "today": ("today",),
    "tomorrow": ("tomorrow", "tmrw", "tomorow", "tommorow"),
    "after_tomorrow": ("the day after tomorrow", "day after tomorrow"),
    "tonight": ("tonight",),
    "wd0": ("mondays?", "mon"),
    "wd1": ("tuesdays?", "tues?"),
    "wd2": ("wednesdays?", "wed"),
    "wd3": ("thursdays?", "thu(?:rs?)?"),
    "wd4": ("fridays?", "fri"),
    "wd5": ("saturdays?",),
    "wd6": ("sundays?",),
    "next": ("next",),
    "this": ("this", "coming", "upcoming"),
    "week": ("week",),
    "weekend": ("weekend",),
    "in": ("in",),
    "u_min": ("minutes?", "mins?"),
    "u_hour": ("hours?", "hrs?", "h"),
    "u_day": ("days?",),
    "u_week": ("weeks?",),
    "u_month": ("months?",),
    "half_hour": ("half an hour", "half hour"),
    "hour_and_half": ("an hour and a half",),
    "morning": ("in the morning", "morning"),
    "afternoon_after": ("after lunch", "after noon"),
    "afternoon": ("in the afternoon", "afternoon"),
    "evening": ("in the evening", "evening"),
    "mk_am": ("in the morning", "morning"),
    "mk_day": (),
    "mk_pm": ("in the afternoon", "afternoon"),
    "mk_ev": ("in the evening", "evening", "tonight"),
    "mk_ni": ("at night",),
    "noon": ("noon", "midday", "lunchtime", "lunch"),
    "midnight": ("midnight",),
    "at": ("at around", "at about", "at", "around", "about"),
    "at_strong": ("on",),
    "after": ("after", "from", "since", "not before", "no earlier than"),
    "before": ("before", "by", "until", "till", "no later than", "not later than"),
    "from": ("from", "between"),
    "to": ("to", "till", "until", "and", "through"),
    "hour_word": ("o'clock", "oclock", "h"),
    "minute_word": ("minutes?", "mins?"),
    "greeting": ("good morning", "good afternoon", "good evening", "good night"),
}

_VOCABS: dict[str, _Vocab] = {"ru": _RU, "uk": _UK, "en": _EN}

# Month names only to spot a date; dateparser says which month a word is.
_MONTHS: dict[str, str] = {
    "ru": r"(?:январ|феврал|март|апрел|ма[йяюе]|июн|июл|август|сентябр|октябр|ноябр|декабр)\w*",
    "uk": r"(?:січ|лют|берез|квіт|трав|черв|лип|серп|верес|жовт|листопад|груд)\w*",
    "en": (
        r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
        r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
    ),
}

# Hours said in words after a preposition: "в десять", "о п'ятій", "at ten".
_HOUR_WORDS: dict[str, dict[str, int]] = {
    "ru": {
        "час": 1, "два": 2, "три": 3, "четыре": 4, "пять": 5, "шесть": 6, "семь": 7,
        "восемь": 8, "девять": 9, "десять": 10, "одиннадцать": 11, "двенадцать": 12,
    },
    "uk": {
        "першій": 1, "другій": 2, "третій": 3, "четвертій": 4, "п'ятій": 5, "шостій": 6,
        "сьомій": 7, "восьмій": 8, "дев'ятій": 9, "десятій": 10, "одинадцятій": 11,
        "дванадцятій": 12,
    },
    "en": {
        "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
        "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    },
}  # fmt: skip

# Amounts in words in relative offsets: "через пять минут", "in two days".
_AMOUNT_WORDS: dict[str, dict[str, int]] = {
    "ru": {
        "один": 1, "одну": 1, "одна": 1, "пару": 2, "два": 2, "две": 2, "три": 3, "четыре": 4,
        "пять": 5, "шесть": 6, "семь": 7, "восемь": 8, "девять": 9, "десять": 10,
        "пятнадцать": 15, "двадцать": 20, "тридцать": 30, "сорок": 40, "пятьдесят": 50,
    },
    "uk": {
        "один": 1, "одну": 1, "одна": 1, "пару": 2, "два": 2, "дві": 2, "три": 3, "чотири": 4,
        "п'ять": 5, "шість": 6, "сім": 7, "вісім": 8, "дев'ять": 9, "десять": 10,
        "п'ятнадцять": 15, "двадцять": 20, "тридцять": 30, "сорок": 40, "п'ятдесят": 50,
    },
    "en": {
        "a": 1, "an": 1, "one": 1, "a couple of": 2, "couple of": 2, "two": 2, "three": 3,
        "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
        "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    },
}  # fmt: skip

# Nouns after a number that show it is a count, not an hour: "в 2 комнатах", "с 3 мастерами".
_COUNTED = (
    r"(?:%|раз\w*|комнат\w*|кімнат\w*|этаж\w*|поверх\w*|человек\w*|люд\w*|мастер\w*"
    r"|майстр\w*|мин\w*|хв\w*|minut\w*|шт\w*|кран\w*|грн|гривен\w*|гривн\w*|руб\w*"
    r"|метр\w*|м2|кв\w*|room\w*|floor\w*|people|person\w*|times|uah|usd|eur|\$|€)"
)

_APOSTROPHES = re.compile("[\u2019\u02bc\u2018`\u00b4\u2032\u02b9\uff07]")
_PUNCTUATION = re.compile(r"[,;!?\"«»“”„()\[\]{}*_<>|\\~#]+|(?<!\d)\.(?!\d)")
_SPACES = re.compile(r"\s+")
_ISO_T = re.compile(r"(\d)t(\d)")
_DECIMAL_COMMA = re.compile(r"(\d),(\d)")
_LEFTOVER_CLOCK = re.compile(r"(?<![\d.])(?P<h>\d{1,2}):(?P<m>\d{2})(?!\d)")


def _fragment(text: str) -> str:
    return text.replace("'", "'?").replace(" ", r"\s+")


def _alternation(fragments: Sequence[str]) -> str:
    unique = sorted(set(fragments), key=lambda f: (-len(f), f))
    return "(?:" + "|".join(_fragment(f) for f in unique) + ")" if unique else "(?!)"


def _words(fragments: Sequence[str]) -> str:
    return r"(?<![\w'])" + _alternation(fragments) + r"(?![\w'])"


def _key(word: str) -> str:
    return _SPACES.sub(" ", word.replace("'", "")).strip()


def _unname(pattern: str) -> str:
    return re.sub(r"\(\?P<\w+>", "(?:", pattern)


class _Patterns:
    """Everything compiled for one set of languages."""

    def __init__(self, languages: tuple[str, ...]) -> None:
        self.languages = languages
        vocabs = [_VOCABS[lang] for lang in languages]

        def union(kind: str) -> list[str]:
            return [fragment for vocab in vocabs for fragment in vocab[kind]]

        def words(*kinds: str) -> str:
            return _words([fragment for kind in kinds for fragment in union(kind)])

        hour_words = [word for lang in languages for word in _HOUR_WORDS[lang]]
        amount_words = [word for lang in languages for word in _AMOUNT_WORDS[lang]]
        self.hour_words = {_key(k): v for lang in languages for k, v in _HOUR_WORDS[lang].items()}
        self.amount_words = {
            _key(k): v for lang in languages for k, v in _AMOUNT_WORDS[lang].items()
        }
        self.greeting = re.compile(words("greeting"))

        # Relative offsets: "через 40 минут", "in 2 days", "2 hours from now".
        amount = r"(?P<n>\d{1,3}(?:\.\d{1,2})?|" + _words(amount_words) + ")"
        unit_kinds = ("u_min", "u_hour", "u_day", "u_week", "u_month")
        units = "|".join(f"(?P<{kind}>{words(kind)})" for kind in unit_kinds)
        self.relative = re.compile(
            rf"{words('in')}\s+(?:(?P<half>{words('half_hour')})"
            rf"|(?P<hh>{words('hour_and_half')})|(?:{amount}\s*)?(?:{units}))"
        )
        self.later = (
            re.compile(rf"{amount}\s*(?:{units})\s+(?:from now|later)(?!\w)")
            if "en" in languages
            else None
        )

        # Weeks and days.
        next_, this = words("next"), words("this")
        self.week = re.compile(rf"(?:(?P<next>{next_})|{this})\s+{words('week')}")
        self.weekend = re.compile(rf"(?:(?P<next>{next_})\s+|{this}\s+)?{words('weekend')}")
        self.day_word = re.compile(
            f"(?P<after_tomorrow>{words('after_tomorrow')})|(?P<tomorrow>{words('tomorrow')})"
            f"|(?P<today>{words('today')})|(?P<tonight>{words('tonight')})"
        )
        weekdays = "|".join(f"(?P<wd{i}>{words(f'wd{i}')})" for i in range(7))
        self.weekday = re.compile(rf"(?:(?P<next>{next_})\s+|{this}\s+)?(?:{weekdays})")

        # Dates.
        month_names = "|".join(_MONTHS[lang] for lang in languages)
        months = rf"(?<![\w'])(?P<mon>(?:{month_names}))(?![\w'])\.?"
        day = r"(?P<d>\d{1,2})"
        year = r"(?:\s+(?P<y>\d{4})(?:\s*(?:года|году|г|року|рік|р)\.?)?)?(?!\d)"
        self.date_day_month = re.compile(
            r"(?<![\d.:/])"
            + day
            + r"(?:-?(?:го|ого|е|ое|й|ий|st|nd|rd|th))?\s+(?:of\s+)?"
            + months
            + year
        )
        self.date_month_day = re.compile(
            months
            + r"\s+"
            + day
            + r"(?:st|nd|rd|th)?(?![\d:.]|\s*(?:a\.?m|p\.?m|h\b|o'?clock))"
            + r"(?:,?\s+(?P<y>\d{4})(?!\d))?"
        )
        self.date_iso = re.compile(r"(?<![\d.])(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})(?!\d)")
        self.date_numeric = re.compile(
            r"(?<![\d.:/-])(?P<d>\d{1,2})(?P<sep>[./])(?P<mo>\d{1,2})"
            r"(?:(?P=sep)(?P<y>\d{4}|\d{2}))?(?![\d:/-]|\.\d)"
        )
        self.time_prep_before = re.compile(
            "(?:" + words("at", "after", "before", "from", "to") + r")\s*$"
        )

        # A time: "11:30", "10 часов 30 минут", "5pm", "9 утра", "о п'ятій", "полдень".
        hour_word = words("hour_word")
        digits = (
            r"(?<![\d.:/-])(?P<h>[01]?\d|2[0-3])"
            + rf"(?:[:.](?P<m>[0-5]\d)|\s*{hour_word}\.?\s*(?P<m2>[0-5]?\d)\s*"
            + rf"{words('minute_word')}\.?)?"
            + r"(?:\s*(?P<ampm>a\.?\s?m\.?|p\.?\s?m\.?)(?!\w))?"
            + rf"(?:\s*(?P<hw>{hour_word})\.?)?(?![\d:])"
        )
        in_words = rf"(?P<nw>{_words(hour_words)})(?:\s+(?P<hw2>{hour_word}))?"
        noon = rf"(?P<noon>{words('noon')})|(?P<midnight>{words('midnight')})"
        marks = "|".join(
            f"(?P<{kind}>{words(kind)})" for kind in ("mk_am", "mk_day", "mk_pm", "mk_ev", "mk_ni")
        )
        time_pattern = (
            rf"(?:{digits}|{in_words}|{noon})(?:\s+(?:{marks}))?(?!\s*{_COUNTED}(?![\w']))"
        )
        self.time = re.compile(time_pattern)
        any_time = _unname(time_pattern)
        self.single_time = re.compile(
            rf"(?:(?P<prep>{words('at')}|{_DAY_MARK})|{words('at_strong')})?\s*(?P<t>{any_time})"
        )
        self.range = re.compile(
            rf"{words('from')}\s+(?P<a>{any_time})(?:\s+{words('to')}\s+|\s*[-–—]\s*)"
            rf"(?P<b>{any_time})"
        )
        self.dash_range = re.compile(
            r"(?<![\d.:/-])(?P<a>\d{1,2}(?:[:.]\d{2})?)\s*[-–—]\s*(?P<b>\d{1,2}(?:[:.]\d{2})?"
            r"(?:\s*(?:a\.?\s?m\.?|p\.?\s?m\.?)(?!\w))?)(?![\d:/-]|\.\d)"
        )
        self.after = re.compile(rf"{words('after')}\s+(?P<a>{any_time})")
        self.before = re.compile(rf"{words('before')}\s+(?P<b>{any_time})")

        # Parts of the day.
        self.afternoon_after = re.compile(words("afternoon_after"))
        self.daypart = re.compile(
            f"(?P<morning>{words('morning')})|(?P<afternoon>{words('afternoon')})"
            f"|(?P<evening>{words('evening')})"
        )


@lru_cache(maxsize=8)
def _patterns(languages: tuple[str, ...]) -> _Patterns:
    return _Patterns(languages)


# --- dateparser, for month names ------------------------------------------------------------


class _DateParser(Protocol):
    def get_date_data(self, date_string: str) -> Any: ...


# dateparser only says which day and month "3 декабря" or "Dec 3" is (in any inflection of the
# enabled languages) and refuses impossible ones ("31 февраля"); the year is chosen here from
# ``now``. So one parser per set of languages serves every call: its relative base is a fixed
# date in a leap year, so that "29 февраля" is understood.
_DATEPARSER_SETTINGS: dict[str, Any] = {
    "PREFER_DATES_FROM": "future",
    "RELATIVE_BASE": datetime(2024, 1, 1),
    "REQUIRE_PARTS": ["day", "month"],
    "DATE_ORDER": "DMY",
    "PARSERS": ["absolute-time"],
}


@lru_cache(maxsize=8)
def _date_parser(languages: tuple[str, ...]) -> _DateParser:
    # Imported here: importing dateparser takes some 60 ms and most phrases never need it.
    module = importlib.import_module("dateparser.date")
    parser: _DateParser = module.DateDataParser(
        languages=list(languages), settings=_DATEPARSER_SETTINGS
    )
    return parser


def _month_day(day: int, month_word: str, languages: tuple[str, ...]) -> tuple[int, int] | None:
    """``(month, day)`` of "3 декабря"; None if the word is no month of these languages.

    Raises :class:`_Impossible` for a month without that day: "31 февраля".
    """
    parser = _date_parser(languages)
    found = getattr(parser.get_date_data(f"{day} {month_word}"), "date_obj", None)
    if isinstance(found, datetime) and found.day == day:
        return found.month, found.day
    if isinstance(getattr(parser.get_date_data(f"1 {month_word}"), "date_obj", None), datetime):
        raise _Impossible(f"{day} {month_word}")
    return None


# --- what was found -------------------------------------------------------------------------

_Mark = Literal["", "am", "pm", "morning", "day", "evening", "night", "fixed"]
_Daypart = Literal["morning", "afternoon", "evening"]


@dataclass(frozen=True)
class _Clock:
    """An hour as written, with what says which half of the day it is in."""

    hour: int
    minute: int = 0
    mark: _Mark = ""


@dataclass
class _Found:
    day: date | None = None
    week: tuple[date, date] | None = None
    clock: _Clock | None = None
    after: _Clock | None = None
    before: _Clock | None = None
    span: tuple[_Clock, _Clock] | None = None
    daypart: _Daypart | None = None

    def set_day(self, day: date) -> None:
        if self.day is None:
            self.day = day


def _blank(text: str, match: re.Match[str], mark: str = " ") -> str:
    return text[: match.start()] + mark + text[match.end() :]


def _normalise(text: str, patterns: _Patterns) -> str:
    text = _APOSTROPHES.sub("'", text.lower()).replace("ё", "е").replace("\u00a0", " ")
    text = _ISO_T.sub(r"\1 \2", text)
    text = _DECIMAL_COMMA.sub(r"\1.\2", text)
    text = _PUNCTUATION.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    return _SPACES.sub(" ", patterns.greeting.sub(" ", text)).strip()


def _clock(match: re.Match[str], patterns: _Patterns) -> _Clock | None:
    """The clock of a match of ``patterns.time``; None if it is no valid time."""
    groups = match.groupdict()
    mark: _Mark = ""
    if groups["noon"]:
        return _Clock(12, 0, "fixed")
    if groups["midnight"]:
        return _Clock(0, 0, "fixed")
    if groups["nw"]:
        hour = patterns.hour_words.get(_key(groups["nw"]))
        if hour is None:
            return None
        minute = 0
    else:
        written = groups["h"]
        hour = int(written)
        minute = int(groups["m"] or groups["m2"] or 0)
        if groups["ampm"]:
            if not 1 <= hour <= 12:
                return None
            mark = "am" if groups["ampm"].startswith("a") else "pm"
        elif hour >= 13 or hour == 0 or (len(written) == 2 and written.startswith("0")):
            mark = "fixed"
    if mark == "":
        if groups["mk_am"]:
            mark = "morning"
        elif groups["mk_day"] or groups["mk_pm"]:
            mark = "day"
        elif groups["mk_ev"]:
            mark = "evening"
        elif groups["mk_ni"]:
            mark = "night"
    return _Clock(hour, minute, mark)


def _is_strong(match: re.Match[str]) -> bool:
    """Whether a time stands on its own, without a preposition: "10:30", "5pm", "9 утра"."""
    g = match.groupdict()
    return bool(
        g["m"] or g["m2"] or g["ampm"] or g["hw"] or g["noon"] or g["midnight"]
        or g["mk_am"] or g["mk_pm"] or g["mk_ev"] or g["mk_ni"]
    )  # fmt: skip


def _parse_clock(text: str, patterns: _Patterns) -> tuple[_Clock, bool] | None:
    match = patterns.time.fullmatch(text.strip())
    if match is None:
        return None
    clock = _clock(match, patterns)
    return None if clock is None else (clock, _is_strong(match))


def _minutes(clock: _Clock, daypart: _Daypart | None, rules: WhenRules) -> int:
    """Minutes after midnight that the clock means, by the conventions."""
    hour, mark = clock.hour, clock.mark
    if mark == "am":
        hour = 0 if hour == 12 else hour
    elif mark == "pm":
        hour = 12 if hour == 12 else hour + 12
    elif mark in ("day", "evening"):
        hour = hour + 12 if hour < 12 else hour
    elif mark == "night":
        hour = 0 if hour == 12 else (hour + 12 if 6 <= hour < 12 else hour)
    elif mark in ("morning", "fixed"):
        pass
    elif daypart in ("afternoon", "evening"):
        hour = hour + 12 if hour < 12 else hour
    elif daypart == "morning":
        pass
    else:
        first, last = rules.afternoon_bare_hours
        if first <= hour <= last:
            hour += 12
    return hour * 60 + clock.minute


def _is_bare(clock: _Clock) -> bool:
    return clock.mark == ""


def _amount(match: re.Match[str], patterns: _Patterns) -> float:
    written = match.group("n")
    if written is None:
        return 1
    if written[0].isdigit():
        return float(written)
    return patterns.amount_words.get(_key(written), 1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    for last in (31, 30, 29, 28):
        try:
            return date(year, month + 1, min(day.day, last))
        except ValueError:
            continue
    raise _Impossible("month")  # pragma: no cover - every month has 28 days


def _next_date(today: date, month: int, day: int) -> date:
    """The first ``month``/``day`` on or after today."""
    for year in range(today.year, today.year + 9):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    raise _Impossible(f"{day}.{month}")


def _full_year(written: str) -> int:
    year = int(written)
    return year + 2000 if len(written) == 2 else year


def _week_start(day: date, rules: WhenRules) -> date:
    return day - timedelta(days=(day.weekday() - rules.week_start) % 7)


# --- the steps ------------------------------------------------------------------------------


def _take_relative(
    text: str, now: datetime, found: _Found, patterns: _Patterns
) -> tuple[str, datetime | None]:
    matches = [patterns.relative.search(text)]
    if patterns.later is not None:
        matches.append(patterns.later.search(text))
    match = next((m for m in matches if m is not None), None)
    if match is None:
        return text, None
    text = _blank(text, match)
    groups = match.groupdict()
    minutes: int | None = None
    if groups.get("half"):
        minutes = 30
    elif groups.get("hh"):
        minutes = 90
    elif groups["u_min"]:
        minutes = round(_amount(match, patterns))
    elif groups["u_hour"]:
        minutes = round(_amount(match, patterns) * 60)
    if minutes is not None:
        # A moment a number of real minutes away: count in UTC so that DST changes are right.
        moment = (now.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(now.tzinfo)
        return text, moment
    today = now.date()
    amount = int(_amount(match, patterns))
    if groups["u_day"]:
        found.set_day(today + timedelta(days=amount))
    elif groups["u_week"]:
        found.set_day(today + timedelta(weeks=amount))
    elif groups["u_month"]:
        found.set_day(_add_months(today, amount))
    return text, None


def _take_week(text: str, today: date, found: _Found, rules: WhenRules, p: _Patterns) -> str:
    match = p.week.search(text)
    if match is not None:
        this_start = _week_start(today, rules)
        if match.group("next"):
            start = this_start + timedelta(days=7)
            found.week = (start, start + timedelta(days=7))
        else:
            found.week = (today, this_start + timedelta(days=7))
        return _blank(text, match)
    match = p.weekend.search(text)
    if match is not None:
        saturday = 5
        if match.group("next"):
            base = _week_start(today, rules) + timedelta(days=7)
            start = base + timedelta(days=(saturday - base.weekday()) % 7)
            end = start + timedelta(days=2)
        elif today.weekday() == 6:
            start, end = today, today + timedelta(days=1)
        else:
            start = today + timedelta(days=(saturday - today.weekday()) % 7)
            end = start + timedelta(days=2)
        found.week = (start, end)
        return _blank(text, match)
    return text


def _take_day_word(text: str, today: date, found: _Found, p: _Patterns) -> str:
    match = p.day_word.search(text)
    if match is None:
        return text
    if match.group("after_tomorrow"):
        found.set_day(today + timedelta(days=2))
    elif match.group("tomorrow"):
        found.set_day(today + timedelta(days=1))
    else:
        found.set_day(today)
        if match.group("tonight"):
            found.daypart = "evening"
    return _blank(text, match, _DAY_MARK)


def _take_weekday(text: str, today: date, found: _Found, rules: WhenRules, p: _Patterns) -> str:
    match = p.weekday.search(text)
    if match is None:
        return text
    weekday = next(i for i in range(7) if match.group(f"wd{i}"))
    if match.group("next"):
        base = _week_start(today, rules) + timedelta(days=7)
        found.set_day(base + timedelta(days=(weekday - base.weekday()) % 7))
    elif found.week is not None:  # "в среду на следующей неделе", "на выходных в субботу"
        base = found.week[0]
        found.set_day(base + timedelta(days=(weekday - base.weekday()) % 7))
    else:
        found.set_day(today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1))
    return _blank(text, match, _DAY_MARK)


def _take_date(text: str, today: date, found: _Found, p: _Patterns) -> str:
    match = p.date_iso.search(text)
    if match is not None:
        found.set_day(date(int(match["y"]), int(match["mo"]), int(match["d"])))
        return _blank(text, match, _DAY_MARK)
    for pattern in (p.date_day_month, p.date_month_day):
        for match in pattern.finditer(text):
            month_day = _month_day(int(match["d"]), match["mon"].rstrip("."), p.languages)
            if month_day is None:
                continue  # not a month after all: "3 мартышки"
            month, day = month_day
            if match["y"]:
                found.set_day(date(_full_year(match["y"]), month, day))
            else:
                found.set_day(_next_date(today, month, day))
            return _blank(text, match, _DAY_MARK)
    for match in p.date_numeric.finditer(text):
        day, month = int(match["d"]), int(match["mo"])
        if match["y"]:
            found.set_day(date(_full_year(match["y"]), month, day))
            return _blank(text, match, _DAY_MARK)
        is_date = 1 <= month <= 12 and 1 <= day <= 31 and _exists(month, day)
        is_time = match["sep"] == "." and day <= 23 and month <= 59 and len(match["mo"]) == 2
        if is_time and (not is_date or p.time_prep_before.search(text[: match.start()])):
            continue  # a time such as "10.30" or "в 9.10"
        if not is_date:
            raise _Impossible(match.group(0))
        found.set_day(_next_date(today, month, day))
        return _blank(text, match, _DAY_MARK)
    return text


def _exists(month: int, day: int) -> bool:
    try:
        date(2024, month, day)
    except ValueError:
        return False
    return True


def _take_times(text: str, found: _Found, p: _Patterns) -> str:
    match = p.afternoon_after.search(text)
    if match is not None:
        found.daypart = "afternoon"
        text = _blank(text, match)
    for pattern in (p.range, p.dash_range):
        for match in pattern.finditer(text):
            a, b = _parse_clock(match["a"], p), _parse_clock(match["b"], p)
            if a is not None and b is not None:
                found.span = (a[0], b[0])
                return _blank(text, match)
    for match in p.after.finditer(text):
        a = _parse_clock(match["a"], p)
        if a is not None:
            found.after = a[0]
            text = _blank(text, match)
            break
    for match in p.before.finditer(text):
        b = _parse_clock(match["b"], p)
        if b is not None:
            found.before = b[0]
            text = _blank(text, match)
            break
    if found.after is not None or found.before is not None:
        return text
    for match in p.single_time.finditer(text):
        parsed = _parse_clock(match["t"], p)
        if parsed is None:
            continue
        clock, strong = parsed
        # "в 4", "к 10" and "завтра 10" are hours; a bare "4" or "на 3 дня" are not.
        if match["prep"] or strong:
            found.clock = clock
            return _blank(text, match)
    return text


def _take_daypart(text: str, found: _Found, p: _Patterns) -> str:
    match = p.daypart.search(text)
    if match is None:
        return text
    if found.daypart is None:
        found.daypart = (
            "morning" if match["morning"] else ("afternoon" if match["afternoon"] else "evening")
        )
    return _blank(text, match)


# --- putting it together --------------------------------------------------------------------


def _wall(day: date, minutes: int, zone: tzinfo) -> datetime:
    """The moment the wall clock in ``zone`` shows ``minutes`` after midnight of ``day``.

    A time that does not exist on a DST day (skipped by the clocks) becomes the real moment it
    would be, as the clock is read after the change.
    """
    days, minutes = divmod(minutes, _DAY_MINUTES)
    naive = datetime.combine(day + timedelta(days=days), time(minutes // 60, minutes % 60))
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone)


def _languages(languages: Sequence[str] | None) -> tuple[str, ...]:
    if languages is None:
        return LANGUAGES
    if isinstance(languages, str):
        languages = [languages]
    wanted = {lang.lower() for lang in languages}
    unknown = wanted - set(LANGUAGES)
    if unknown:
        raise ValueError(f"unknown languages {sorted(unknown)}; known: {list(LANGUAGES)}")
    return tuple(lang for lang in LANGUAGES if lang in wanted)


def parse_when(
    text: str,
    now: datetime,
    languages: Sequence[str] | None = None,
    *,
    rules: WhenRules = DEFAULT_RULES,
) -> TimeWindow | None:
    """The time window that ``text`` names, seen at ``now``; None if it names no time.

    ``now`` must be timezone-aware; the window is in its zone. ``languages`` limits the
    languages tried (``"ru"``, ``"uk"``, ``"en"``); None tries all. An impossible date or time
    ("31 февраля") gives None. See :class:`WhenRules` for the conventions.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    langs = _languages(languages)
    if not langs or not text:
        return None
    try:
        return _parse(text, now, langs, rules)
    except (_Impossible, ValueError, OverflowError):
        return None


def _parse(
    text: str, now: datetime, languages: tuple[str, ...], rules: WhenRules
) -> TimeWindow | None:
    p = _patterns(languages)
    zone = now.tzinfo
    assert zone is not None
    today = now.date()
    found = _Found()
    text = _normalise(text, p)

    text, moment = _take_relative(text, now, found, p)
    if moment is not None:
        return TimeWindow(moment, moment)
    text = _take_week(text, today, found, rules, p)
    text = _take_day_word(text, today, found, p)
    text = _take_weekday(text, today, found, rules, p)
    text = _take_date(text, today, found, p)
    text = _take_times(text, found, p)
    text = _take_daypart(text, found, p)
    for match in _LEFTOVER_CLOCK.finditer(text):
        if int(match["h"]) > 23 or int(match["m"]) > 59:
            raise _Impossible(match.group(0))  # "25:00", "12:75"

    if found.day is None and found.week is not None:
        start, end = found.week
        return TimeWindow(_wall(start, 0, zone), _wall(end, 0, zone))

    window = _clock_window(found, rules)
    if window is None:
        if found.day is None:
            return None
        return TimeWindow(_wall(found.day, 0, zone), _wall(found.day, _DAY_MINUTES, zone))

    start_minutes, end_minutes = window
    day = found.day
    if day is None:
        day = today
        start = _wall(day, start_minutes, zone)
        end = _wall(day, end_minutes, zone)
        passed = start < now if start_minutes == end_minutes else end <= now
        if not (passed and rules.roll_passed_to_tomorrow):
            return TimeWindow(start, end)
        day = today + timedelta(days=1)
    return TimeWindow(_wall(day, start_minutes, zone), _wall(day, end_minutes, zone))


def _clock_window(found: _Found, rules: WhenRules) -> tuple[int, int] | None:
    """``(start, end)`` in minutes after midnight of the day for the time found, if any."""
    daypart = found.daypart
    if found.clock is not None:
        minutes = _minutes(found.clock, daypart, rules)
        return minutes, minutes
    if found.span is not None:
        first, second = found.span
        start = _minutes(first, daypart, rules)
        end = _minutes(second, daypart, rules)
        pm_end = second.mark in ("pm", "day", "evening")
        if _is_bare(first) and daypart is None and pm_end and start + 12 * 60 < end:
            start += 12 * 60  # "from 9 to 11pm"
        if end <= start and _is_bare(second) and daypart is None:
            # As written, then in the afternoon ("с 9 вечера до 11"), else overnight ("с 22 до 2").
            written = second.hour * 60 + second.minute
            later = [m for m in (written, written + 12 * 60) if start < m <= _DAY_MINUTES]
            end = later[0] if later else written + _DAY_MINUTES
        elif end <= start:
            end += _DAY_MINUTES  # overnight: "с 10 вечера до 2 ночи"
        return start, end
    if found.after is not None or found.before is not None:
        start = 0 if found.after is None else _minutes(found.after, daypart, rules)
        end = _DAY_MINUTES if found.before is None else _minutes(found.before, daypart, rules)
        if end == 0:
            end = _DAY_MINUTES
        if end <= start:
            return None
        return start, end
    if daypart is not None:
        first_hour, last_hour = getattr(rules, daypart)
        return first_hour * 60, last_hour * 60
    return None


def window_to_json(window: TimeWindow | None) -> dict[str, str] | None:
    """``{"start": ISO 8601, "end": ISO 8601}`` for the command line, or None."""
    if window is None:
        return None
    return {"start": window.start.isoformat(), "end": window.end.isoformat()}
