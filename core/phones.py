"""Phone numbers, normalised to E.164 with ``phonenumbers`` in the company's default region."""

from __future__ import annotations

import phonenumbers

from core.errors import InvalidInput


def normalise_phone(text: str, region: str, *, field: str = "phone") -> str:
    """``"(067) 123-45-67"`` → ``"+380671234567"``; anything that is not a real number fails."""
    raw = text.strip()
    candidates = [raw]
    digits = "".join(ch for ch in raw if ch.isdigit())
    if not raw.startswith("+") and digits.startswith(
        str(phonenumbers.country_code_for_region(region))
    ):
        # "380671234567": the international form typed without its plus sign.
        candidates.insert(0, "+" + digits)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidInput("invalid_phone", field=field, value=text)


def display_phone(e164: str) -> str:
    """The international form people read: ``+380 67 123 4567``."""
    number = phonenumbers.parse(e164)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def normalise_local_phone(text: str, region: str, *, field: str = "phone") -> str:
    """Like :func:`normalise_phone`, refusing a valid number of another country."""
    e164 = normalise_phone(text, region, field=field)
    if phonenumbers.region_code_for_number(phonenumbers.parse(e164)) != region:
        raise InvalidInput("foreign_phone", field=field, value=text, region=region)
    return e164
