"""Binotel's webhook fields (PHP form brackets) → our call events. Pure: no I/O.

``apiCallSettings`` (``gettingCallSettings`` before API 3.0) asks who calls before anyone rings
and carries no call id: it is answered, not recorded. ``receivedTheCall``, ``answeredTheCall``
and ``hangupTheCall`` follow the call live; ``apiCallCompleted`` comes after the call with its
details, and Binotel repeats it until answered ``{"status": "success"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.calls import CallDirection, CallEvent, CallEventKind
from telephony.base import malformed, optional, required, whole_seconds

PROVIDER = "binotel"
SETTINGS_REQUESTS = ("apiCallSettings", "gettingCallSettings")
LIVE_REQUESTS = {
    "receivedTheCall": CallEventKind.RINGING,
    "answeredTheCall": CallEventKind.ANSWERED,
    "hangupTheCall": CallEventKind.ENDED,
}
IGNORED_REQUESTS = ("transferredTheCall",)
COMPLETED = "apiCallCompleted"

_OUTCOMES = {
    "ANSWER": "answered", "TRANSFER": "answered", "ONLINE": "answered",
    "BUSY": "busy",
    "NOANSWER": "missed", "CANCEL": "missed", "CALLING": "missed",
    "VM": "voicemail", "VM-SUCCESS": "voicemail",
    "CONGESTION": "failed", "CHANUNAVAIL": "failed", "FAILED": "failed",
}


@dataclass(frozen=True)
class SettingsRequest:
    """Binotel asks what to show for a caller before the employees' phones ring."""

    caller: str
    line: str | None


def request_type(fields: Mapping[str, str]) -> str:
    return required(PROVIDER, fields, "requestType")


def settings_request(fields: Mapping[str, str]) -> SettingsRequest:
    caller = fields.get("externalNumber") or fields.get("srcNumber") or ""
    if not caller.strip():
        raise malformed(PROVIDER, "externalNumber", "is missing")
    return SettingsRequest(
        caller=caller.strip(), line=optional(fields, "pbxNumber") or optional(fields, "didNumber")
    )


def live_event(fields: Mapping[str, str], *, now: datetime) -> CallEvent:
    kind = LIVE_REQUESTS[request_type(fields)]
    ended = kind is CallEventKind.ENDED
    return CallEvent(
        provider=PROVIDER,
        provider_call_id=required(PROVIDER, fields, "generalCallID"),
        kind=kind,
        at=now,
        caller=fields.get("externalNumber", "").strip(),
        line=optional(fields, "pbxNumber") or optional(fields, "didNumber"),
        extension=optional(fields, "internalNumber"),
        duration_seconds=whole_seconds(PROVIDER, fields, "billsec") if ended else None,
        outcome=_outcome(fields.get("disposition")) if ended else None,
        direction=_direction(fields.get("callType")),
    )


def completed_event(fields: Mapping[str, str], *, now: datetime) -> CallEvent:
    def detail(name: str) -> str:
        return f"callDetails[{name}]"

    billsec = whole_seconds(PROVIDER, fields, detail("billsec"))
    return CallEvent(
        provider=PROVIDER,
        provider_call_id=required(PROVIDER, fields, detail("generalCallID")),
        kind=CallEventKind.ENDED,
        at=_ended_at(fields, now),
        caller=fields.get(detail("externalNumber"), "").strip(),
        line=optional(fields, "callDetails[pbxNumberData][number]"),
        extension=optional(fields, detail("internalNumber")),
        duration_seconds=billsec,
        outcome=_outcome(fields.get(detail("disposition"))),
        recording_url=optional(fields, detail("linkToCallRecordInMyBusiness")),
        direction=_direction(fields.get(detail("callType"))),
    )


def _ended_at(fields: Mapping[str, str], now: datetime) -> datetime:
    """startTime + waitsec + billsec: right even when Binotel repeats the request hours later."""
    parts = [whole_seconds(PROVIDER, fields, f"callDetails[{n}]")
             for n in ("startTime", "waitsec", "billsec")]
    start, wait, talk = parts
    if start is None:
        return now
    try:
        return datetime.fromtimestamp(start, UTC) + timedelta(seconds=(wait or 0) + (talk or 0))
    except (OverflowError, OSError, ValueError) as err:
        raise malformed(PROVIDER, "callDetails[startTime]", "is not a time", start) from err


def _outcome(disposition: str | None) -> str | None:
    if not disposition or not disposition.strip():
        return None
    text = disposition.strip().upper()
    return _OUTCOMES.get(text, text.lower()[:32])


def _direction(call_type: str | None) -> CallDirection:
    return CallDirection.OUTBOUND if (call_type or "").strip() == "1" else CallDirection.INBOUND
