"""Zadarma's ``Signature`` header: base64 of the *hex* HMAC-SHA1 of chosen fields, keyed by the
API secret. Which fields, in which order, depends on the event (zadarma.md, "Signature")."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from core.config import Config
from telephony.base import check_source, refused

PROVIDER = "zadarma"

SIGNED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_IVR": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
}


def signature(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def check_request(
    config: Config, *, fields: Mapping[str, str], sent: str | None, remote: str | None
) -> None:
    secret = config.secrets.zadarma_secret
    if not secret:
        raise refused(PROVIDER, "zadarma_secret is not set")
    check_source(PROVIDER, config.telephony.allowed_ips, remote)
    names = SIGNED_FIELDS.get(fields.get("event", ""))
    if names is None:
        raise refused(PROVIDER, "no signature is known for this event")
    if not sent:
        raise refused(PROVIDER, "no Signature header")
    expected = signature(secret, "".join(fields.get(name, "") for name in names))
    if not hmac.compare_digest(expected.encode(), sent.strip().encode()):
        raise refused(PROVIDER, "wrong signature")
