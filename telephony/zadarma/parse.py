"""Zadarma's NOTIFY_* fields → our call events. Pure: no I/O.

``pbx_call_id`` is the one id of a call across its scenario. ``call_start`` is the provider's
local text without a zone, so the moment we hear a notification is the event's time.
NOTIFY_IVR (a voice-menu step) and NOTIFY_RECORD (the recording needs a REST request) change
nothing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from core.calls import CallDirection, CallEvent, CallEventKind
from telephony.base import malformed, optional, required, whole_seconds

PROVIDER = "zadarma"
IGNORED = ("NOTIFY_IVR", "NOTIFY_RECORD")

_OUTCOMES = {
    "answered": "answered",
    "busy": "busy",
    "cancel": "missed",
    "no answer": "missed",
}


def event_name(fields: Mapping[str, str]) -> str:
    return required(PROVIDER, fields, "event")


def call_event(fields: Mapping[str, str], *, now: datetime) -> CallEvent | None:
    """The event a notification means; None for those that change nothing."""
    name = event_name(fields)
    if name in IGNORED:
        return None
    call_id = required(PROVIDER, fields, "pbx_call_id")
    if name in ("NOTIFY_START", "NOTIFY_INTERNAL"):
        return CallEvent(
            provider=PROVIDER, provider_call_id=call_id, kind=CallEventKind.RINGING, at=now,
            caller=required(PROVIDER, fields, "caller_id"), line=optional(fields, "called_did"),
            extension=optional(fields, "internal"),
        )
    if name == "NOTIFY_ANSWER":
        return CallEvent(
            provider=PROVIDER, provider_call_id=call_id, kind=CallEventKind.ANSWERED, at=now,
            caller=required(PROVIDER, fields, "caller_id"),
            extension=optional(fields, "internal") or optional(fields, "destination"),
        )
    if name == "NOTIFY_END":
        return CallEvent(
            provider=PROVIDER, provider_call_id=call_id, kind=CallEventKind.ENDED, at=now,
            caller=required(PROVIDER, fields, "caller_id"), line=optional(fields, "called_did"),
            extension=optional(fields, "internal"),
            duration_seconds=whole_seconds(PROVIDER, fields, "duration"),
            outcome=_outcome(fields.get("disposition")),
        )
    if name in ("NOTIFY_OUT_START", "NOTIFY_OUT_END"):
        ended = name == "NOTIFY_OUT_END"
        return CallEvent(
            provider=PROVIDER, provider_call_id=call_id,
            kind=CallEventKind.ENDED if ended else CallEventKind.RINGING, at=now,
            caller=required(PROVIDER, fields, "destination"),
            extension=optional(fields, "internal"), line=optional(fields, "caller_id"),
            duration_seconds=whole_seconds(PROVIDER, fields, "duration") if ended else None,
            outcome=_outcome(fields.get("disposition")) if ended else None,
            direction=CallDirection.OUTBOUND,
        )
    raise malformed(PROVIDER, "event", "is not a known notification", name)


def _outcome(disposition: str | None) -> str | None:
    if not disposition or not disposition.strip():
        return None
    text = disposition.strip().lower()
    return _OUTCOMES.get(text, "failed")
