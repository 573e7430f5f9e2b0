"""Every panel text exists in Ukrainian, Russian and English, and every one used is defined."""

from __future__ import annotations

import re
from pathlib import Path

from core.messages import LANGUAGES
from webhooks.panel.texts import TEXTS

PANEL = Path(__file__).resolve().parents[3] / "webhooks" / "panel"
USED = re.compile(r"""(?:\b_|\btext)\(\s*["']([a-z_]+\.[a-z_.]+|brand)["']""")


def test_every_text_is_in_all_three_languages():
    for key, texts in TEXTS.items():
        for language in LANGUAGES:
            assert texts.get(language), f"{key} has no {language} text"


def test_every_text_the_panel_uses_is_defined():
    used = set()
    for path in [*PANEL.glob("templates/*.html"), *PANEL.glob("*.py")]:
        used |= set(USED.findall(path.read_text(encoding="utf-8")))
    assert used, "no texts found: the pattern is wrong"
    assert used - set(TEXTS) == set()
    # Keys built at run time: a state or payment method name appended to a prefix.
    for state in ("ringing", "answered", "ended", "missed"):
        assert f"state.{state}" in TEXTS
    from core.extras import APPROVED, PENDING, REJECTED

    for decision in (PENDING, APPROVED, REJECTED):
        assert f"decision.{decision}" in TEXTS
    from core.orders import PAYMENT_METHODS

    for method in PAYMENT_METHODS:
        assert f"payment.{method}" in TEXTS
