"""The bots' texts: gettext catalogs (``bots/locales/<lang>/LC_MESSAGES/brigadier.po``).

Catalogs are read straight from the ``.po`` files with Babel when the bots start, so there is
no compile step. Message ids are stable keys (``booking.ask_time``); every language, English
included, has its own text for each (``tests/bots/test_i18n.py`` checks none is missing).
"""

from __future__ import annotations

import gettext
import io
from pathlib import Path

from aiogram.utils.i18n import I18n
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = Path(__file__).resolve().parent / "locales"
DOMAIN = "brigadier"


def read_catalog(path: Path) -> Translations:
    """A gettext catalog from a ``.po`` file, compiled in memory."""
    with path.open("rb") as file:
        catalog = read_po(file)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


class CatalogI18n(I18n):
    """aiogram's i18n core, fed from ``.po`` files instead of compiled ``.mo`` ones."""

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        translations: dict[str, gettext.GNUTranslations] = {}
        for folder in sorted(self.path.iterdir()):
            po = folder / "LC_MESSAGES" / f"{self.domain}.po"
            if po.is_file():
                translations[folder.name] = read_catalog(po)
        return translations


def load_i18n(default_language: str) -> CatalogI18n:
    return CatalogI18n(path=LOCALES, default_locale=default_language, domain=DOMAIN)
