"""Twilio's voice webhook fields → our call events, and the TwiML we answer. Pure: no I/O.

- The incoming-call webhook (``/pbx/twilio/voice``) means ringing; we answer with a ``<Dial>``
  of the operators' phones, whose answered leg reports to the status URL and whose end reports
  to the dial URL.
- The dial result (``/pbx/twilio/dial``, ``DialCallStatus``) ends the call: answered or not.
- Status callbacks (``/pbx/twilio/status``): an operator's leg answering (``ParentCallSid``), or
  the progress of a call, inbound or outbound (an operator calling a client back).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from xml.etree import ElementTree

from core.calls import CallDirection, CallEvent, CallEventKind
from telephony.base import optional, required, whole_seconds

PROVIDER = "twilio"
DIAL_TIMEOUT_SECONDS = 20

_RINGING = ("queued", "initiated", "ringing")
_ENDED = {
    "completed": None,  # answered or not: core knows whether it saw the answer
    "busy": "busy",
    "no-answer": "missed",
    "canceled": "missed",
    "failed": "failed",
}
_DIAL_OUTCOMES = {
    "completed": "answered",
    "answered": "answered",
    "busy": "busy",
    "no-answer": "missed",
    "canceled": "missed",
    "failed": "failed",
}


def _direction(fields: Mapping[str, str]) -> CallDirection:
    outbound = fields.get("Direction", "inbound").startswith("outbound")
    return CallDirection.OUTBOUND if outbound else CallDirection.INBOUND


def _customer(fields: Mapping[str, str], direction: CallDirection) -> str:
    """The client's side: who calls us, or whom an operator calls."""
    name = "To" if direction is CallDirection.OUTBOUND else "From"
    return fields.get(name, "").strip()


def incoming_call(fields: Mapping[str, str], *, now: datetime) -> CallEvent:
    return CallEvent(
        provider=PROVIDER,
        provider_call_id=required(PROVIDER, fields, "CallSid"),
        kind=CallEventKind.RINGING,
        at=now,
        caller=required(PROVIDER, fields, "From"),
        line=optional(fields, "To"),
    )


def dial_result(fields: Mapping[str, str], *, now: datetime) -> CallEvent:
    status = required(PROVIDER, fields, "DialCallStatus")
    return CallEvent(
        provider=PROVIDER,
        provider_call_id=required(PROVIDER, fields, "CallSid"),
        kind=CallEventKind.ENDED,
        at=now,
        caller=fields.get("From", "").strip(),
        line=optional(fields, "To"),
        duration_seconds=whole_seconds(PROVIDER, fields, "DialCallDuration"),
        outcome=_DIAL_OUTCOMES.get(status, "failed"),
        recording_url=optional(fields, "RecordingUrl"),
    )


def status_event(fields: Mapping[str, str], *, now: datetime) -> CallEvent | None:
    """The event a status callback means; None for a status that changes nothing."""
    status = required(PROVIDER, fields, "CallStatus")
    parent = optional(fields, "ParentCallSid")
    if parent is not None:
        # An operator's leg of our <Dial>: its answer is the customer's call being answered.
        if status != "in-progress":
            return None
        return CallEvent(
            provider=PROVIDER, provider_call_id=parent, kind=CallEventKind.ANSWERED, at=now,
            caller=fields.get("From", "").strip(), extension=optional(fields, "To"),
        )
    direction = _direction(fields)
    call_id = required(PROVIDER, fields, "CallSid")
    if status in _RINGING:
        kind = CallEventKind.RINGING
    elif status == "in-progress":
        kind = CallEventKind.ANSWERED
    elif status in _ENDED:
        kind = CallEventKind.ENDED
    else:
        return None
    ended = kind is CallEventKind.ENDED
    outcome = _ENDED.get(status)
    if status == "completed" and direction is CallDirection.OUTBOUND:
        outcome = "answered"  # an outbound call completes only once the client picked up
    return CallEvent(
        provider=PROVIDER,
        provider_call_id=call_id,
        kind=kind,
        at=now,
        caller=_customer(fields, direction),
        line=optional(fields, "From" if direction is CallDirection.OUTBOUND else "To"),
        duration_seconds=whole_seconds(PROVIDER, fields, "CallDuration") if ended else None,
        outcome=outcome if ended else None,
        recording_url=optional(fields, "RecordingUrl") if ended else None,
        direction=direction,
    )


def dial_operators(phones: Sequence[str], *, dial_url: str, status_url: str) -> str:
    """TwiML ringing every operator's phone at once; busy when nobody can be rung."""
    response = ElementTree.Element("Response")
    if not phones:
        ElementTree.SubElement(response, "Reject", reason="busy")
        return _xml(response)
    dial = ElementTree.SubElement(
        response, "Dial", timeout=str(DIAL_TIMEOUT_SECONDS), answerOnBridge="true",
        action=dial_url, method="POST",
    )
    for phone in phones:
        number = ElementTree.SubElement(
            dial, "Number", statusCallbackEvent="answered", statusCallback=status_url,
            statusCallbackMethod="POST",
        )
        number.text = phone
    return _xml(response)


def hang_up() -> str:
    response = ElementTree.Element("Response")
    ElementTree.SubElement(response, "Hangup")
    return _xml(response)


def _xml(element: ElementTree.Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>' + ElementTree.tostring(
        element, encoding="unicode"
    )
