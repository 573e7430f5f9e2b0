"""AMI events of inbound calls → our call events. No I/O; remembers the calls it follows.

A call is followed by its ``Linkedid``, the id every channel of one call shares:

- ``Newchannel`` of the call's first channel (``Uniqueid == Linkedid``): it rings; the caller
  is ``CallerIDNum`` and the line ``Exten``. A caller id of a few digits is an internal
  extension calling another: not a client's call, not followed.
- ``DialBegin``: an operator's phone rings (one per phone of a ring group).
- ``DialEnd`` with ``DialStatus: ANSWER``, or an operator's channel entering a two-party
  ``BridgeEnter``: answered.
- ``Hangup`` of the first channel: the call ended; unanswered it is busy (Q.850 cause 17) or
  missed.

Unknown events and events of calls not followed are ignored.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from core.calls import CallEvent, CallEventKind

PROVIDER = "asterisk"
MAX_FOLLOWED = 2000
INTERNAL_DIGITS = 5
BUSY_CAUSE = "17"


@dataclass
class _Followed:
    caller: str
    line: str | None
    first_channel: str
    answered_at: datetime | None = None


def extension_of(channel: str) -> str | None:
    """``PJSIP/101-0000002b`` → ``101``."""
    if "/" not in channel:
        return None
    name = channel.split("/", 1)[1]
    name = name.rsplit("-", 1)[0] if "-" in name else name
    return name or None


def _internal(caller: str) -> bool:
    return caller.isdigit() and len(caller) <= INTERNAL_DIGITS


class CallTracker:
    def __init__(self) -> None:
        self._calls: OrderedDict[str, _Followed] = OrderedDict()

    def feed(self, message: Mapping[str, str], *, now: datetime) -> CallEvent | None:
        """The call event an AMI event means, if any."""
        kind = message.get("Event", "")
        handler = getattr(self, f"_on_{kind.lower()}", None)
        linked = message.get("Linkedid", "")
        if handler is None or not linked:
            return None
        event: CallEvent | None = handler(linked, message, now)
        return event

    def _event(
        self,
        linked: str,
        kind: CallEventKind,
        now: datetime,
        *,
        extension: str | None = None,
        outcome: str | None = None,
        duration_seconds: int | None = None,
    ) -> CallEvent:
        call = self._calls[linked]
        return CallEvent(
            provider=PROVIDER, provider_call_id=linked, kind=kind, at=now, caller=call.caller,
            line=call.line, extension=extension, outcome=outcome,
            duration_seconds=duration_seconds,
        )

    def _on_newchannel(
        self, linked: str, message: Mapping[str, str], now: datetime
    ) -> CallEvent | None:
        if message.get("Uniqueid") != linked or linked in self._calls:
            return None
        caller = message.get("CallerIDNum", "").strip()
        if _internal(caller):
            return None
        self._calls[linked] = _Followed(
            caller=caller or "unknown",
            line=message.get("Exten", "").strip() or None,
            first_channel=message.get("Channel", ""),
        )
        while len(self._calls) > MAX_FOLLOWED:
            self._calls.popitem(last=False)
        return self._event(linked, CallEventKind.RINGING, now)

    def _on_dialbegin(
        self, linked: str, message: Mapping[str, str], now: datetime
    ) -> CallEvent | None:
        if linked not in self._calls:
            return None
        extension = extension_of(message.get("DestChannel", "")) or message.get("DialString")
        return self._event(linked, CallEventKind.RINGING, now, extension=extension or None)

    def _on_dialend(
        self, linked: str, message: Mapping[str, str], now: datetime
    ) -> CallEvent | None:
        if linked not in self._calls or message.get("DialStatus") != "ANSWER":
            return None
        return self._answered(linked, extension_of(message.get("DestChannel", "")), now)

    def _on_bridgeenter(
        self, linked: str, message: Mapping[str, str], now: datetime
    ) -> CallEvent | None:
        call = self._calls.get(linked)
        channel = message.get("Channel", "")
        if call is None or channel == call.first_channel:
            return None
        count = message.get("BridgeNumChannels", "")
        if not count.isdigit() or int(count) < 2:
            return None
        return self._answered(linked, extension_of(channel), now)

    def _answered(self, linked: str, extension: str | None, now: datetime) -> CallEvent:
        call = self._calls[linked]
        call.answered_at = call.answered_at or now
        return self._event(linked, CallEventKind.ANSWERED, now, extension=extension)

    def _on_hangup(
        self, linked: str, message: Mapping[str, str], now: datetime
    ) -> CallEvent | None:
        if message.get("Uniqueid") != linked or linked not in self._calls:
            return None
        call = self._calls[linked]
        if call.answered_at is not None:
            outcome = "answered"
            duration: int | None = int((now - call.answered_at).total_seconds())
        else:
            outcome = "busy" if message.get("Cause") == BUSY_CAUSE else "missed"
            duration = None
        event = self._event(linked, CallEventKind.ENDED, now, outcome=outcome,
                            duration_seconds=duration)
        del self._calls[linked]
        return event
