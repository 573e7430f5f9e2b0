"""Every text the bots use exists, not empty, in Ukrainian, Russian and English."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

from bots.i18n import DOMAIN, LOCALES, read_catalog
from core.config import load_config

BOTS = Path(__file__).resolve().parents[2] / "bots"


def used_message_ids() -> set[str]:
    found = extract_from_dir(
        str(BOTS), method_map=[("**.py", "python")], keywords={"_": None, "__": None},
    )
    return {message for _file, _line, message, _comments, _context in found}


def test_the_code_uses_texts():
    assert {"menu.book", "booking.confirm", "error.unexpected"} <= used_message_ids()


def test_every_text_used_is_translated_in_every_language():
    used = used_message_ids()
    for language in load_config(environ={}).company.languages:
        catalog = read_catalog(LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po")
        missing = sorted(key for key in used if catalog.gettext(key) in ("", key))
        assert not missing, f"{language}: no text for {missing}"


def test_placeholders_match_across_languages():
    import string

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    catalogs = {lang: read_catalog(LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po")
                for lang in ("uk", "ru", "en")}
    for key in used_message_ids():
        english = fields(catalogs["en"].gettext(key))
        for language in ("uk", "ru"):
            assert fields(catalogs[language].gettext(key)) == english, (language, key)
