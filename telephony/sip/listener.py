"""A UDP SIP listener the PBX forks inbound INVITEs to, beside the operators' phones.

It never answers 200 (that would take the call). On an INVITE it records the call ringing and
answers ``100 Trying`` and ``180 Ringing``; after ``telephony.sip_answer_delay_seconds`` it
refuses with ``486 Busy Here`` (or ``603 Decline``, ``sip_answer``), so the PBX carries on
with the real phones. A final refusal is resent until the ACK arrives (RFC 3261 timer G).

What the call became can only be known from a CANCEL that arrives while we still ring:

- ``Reason: SIP;cause=200`` (RFC 3326, "call completed elsewhere"): an operator answered it,
  so it ends as answered;
- no such Reason: the caller hung up (or the PBX gave up) before anyone answered, so it ends
  as missed and becomes a call-back task.

A CANCEL may also cross our refusal on the wire (the PBX cancelled before our 486 reached it):
our refusal stands, but the CANCEL still tells the outcome and the call ends with it. Beyond
that, once we have refused the PBX tells us nothing more: the call stays "ringing" for us. A
delay longer than the PBX's ring time lets every outcome be seen, if its forking allows a
branch to ring that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import cast

from core.calls import CallEvent, CallEventKind
from core.config import TelephonySettings
from telephony.base import PbxContext, SerialRecorder
from telephony.sip import parse
from telephony.sip.auth import source_allowed

log = logging.getLogger(__name__)

PROVIDER = "sip"
FIRST_RESEND_SECONDS = 0.5  # RFC 3261 T1
LONGEST_RESEND_SECONDS = 4.0  # T2
GIVE_UP_SECONDS = 32.0  # 64 × T1
KEEP_DONE_SECONDS = 32.0  # absorbs late retransmissions of a finished INVITE


def enabled(settings: TelephonySettings) -> bool:
    return settings.sip_enabled


@contextlib.asynccontextmanager
async def running(context: PbxContext) -> AsyncIterator[SipListener]:
    settings = context.config.telephony
    listener = SipListener(context)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: listener, local_addr=(settings.sip_host, settings.sip_port)
    )
    log.info("SIP: listening on %s:%s/udp", settings.sip_host, settings.sip_port)
    listener.recorder.start()
    try:
        yield listener
    finally:
        transport.close()
        listener.close()
        await listener.recorder.stop()


@dataclass
class _Invite:
    request: parse.SipRequest
    source: tuple[str, int]
    to_tag: str
    last: bytes = b""
    final: bool = False
    ended: bool = False  # a CANCEL told us how the call ended
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    resend: asyncio.Task[None] | None = None


class SipListener(asyncio.DatagramProtocol):
    def __init__(self, context: PbxContext) -> None:
        self._context = context
        self._settings = context.config.telephony
        self.recorder = SerialRecorder(context)
        self._transport: asyncio.DatagramTransport | None = None
        self._invites: dict[tuple[str, str], _Invite] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not source_allowed(self._settings, addr[0]):
            log.warning("SIP: datagram from %s refused (telephony.allowed_ips)", addr[0])
            return
        request = parse.parse_request(data)
        if request is None:
            return
        handler = {
            "INVITE": self._on_invite, "CANCEL": self._on_cancel, "ACK": self._on_ack,
            "OPTIONS": self._on_options,
        }.get(request.method, self._on_other)
        handler(request, addr)

    def close(self) -> None:
        for invite in self._invites.values():
            self._stop_timers(invite)
        self._invites.clear()

    # --- requests ---

    def _on_invite(self, request: parse.SipRequest, addr: tuple[str, int]) -> None:
        key = (request.branch, request.call_id)
        known = self._invites.get(key)
        if known is not None:
            self._send_raw(known.last, request, addr)  # a retransmission: same answer again
            return
        invite = _Invite(request=request, source=addr, to_tag=secrets.token_hex(6))
        self._invites[key] = invite
        self._answer(invite, 100)
        self._answer(invite, 180, contact=self._contact())
        self.recorder.put(self._event(invite, CallEventKind.RINGING))
        loop = asyncio.get_running_loop()
        invite.timers.append(
            loop.call_later(self._settings.sip_answer_delay_seconds, self._refuse, key)
        )

    def _on_cancel(self, request: parse.SipRequest, addr: tuple[str, int]) -> None:
        invite = self._invites.get((request.branch, request.call_id))
        if invite is None:
            self._send_raw(parse.response(request, 481, source=addr), request, addr)
            return
        self._send_raw(parse.response(request, 200, source=addr, to_tag=invite.to_tag),
                       request, addr)
        if invite.ended:
            return  # a retransmitted CANCEL
        invite.ended = True
        outcome = "answered" if parse.answered_elsewhere(request) else "missed"
        self.recorder.put(self._event(invite, CallEventKind.ENDED, outcome=outcome))
        if not invite.final:  # else it crossed our refusal, which stands (RFC 3261 9.2)
            self._finish(invite, 487)

    def _on_ack(self, request: parse.SipRequest, addr: tuple[str, int]) -> None:
        key = (request.branch, request.call_id)
        invite = self._invites.get(key)
        if invite is None:
            return
        self._stop_timers(invite)
        self._forget_later(key)

    def _on_options(self, request: parse.SipRequest, addr: tuple[str, int]) -> None:
        self._send_raw(parse.response(request, 200, source=addr), request, addr)

    def _on_other(self, request: parse.SipRequest, addr: tuple[str, int]) -> None:
        # BYE only follows a 200 we never send; anything else is not ours to do.
        code = 481 if request.method == "BYE" else 405
        self._send_raw(parse.response(request, code, source=addr), request, addr)

    # --- the INVITE's answers ---

    def _refuse(self, key: tuple[str, str]) -> None:
        invite = self._invites.get(key)
        if invite is None or invite.final:
            return
        self._finish(invite, 603 if self._settings.sip_answer == "decline" else 486)

    def _finish(self, invite: _Invite, code: int) -> None:
        self._stop_timers(invite)
        invite.final = True
        self._answer(invite, code)
        invite.resend = asyncio.get_running_loop().create_task(self._resend(invite))

    async def _resend(self, invite: _Invite) -> None:
        """Resend the final answer until the ACK comes (which cancels this), or give up."""
        wait, waited = FIRST_RESEND_SECONDS, 0.0
        while waited < GIVE_UP_SECONDS:
            await asyncio.sleep(wait)
            waited += wait
            self._send_raw(invite.last, invite.request, invite.source)
            wait = min(wait * 2, LONGEST_RESEND_SECONDS)
        self._invites.pop((invite.request.branch, invite.request.call_id), None)

    def _answer(self, invite: _Invite, code: int, *, contact: str | None = None) -> None:
        data = parse.response(
            invite.request, code, source=invite.source,
            to_tag=None if code == 100 else invite.to_tag, contact=contact,
        )
        invite.last = data
        self._send_raw(data, invite.request, invite.source)

    def _stop_timers(self, invite: _Invite) -> None:
        for timer in invite.timers:
            timer.cancel()
        invite.timers.clear()
        if invite.resend is not None:
            invite.resend.cancel()

    def _forget_later(self, key: tuple[str, str]) -> None:
        invite = self._invites.get(key)
        if invite is not None:
            loop = asyncio.get_running_loop()
            invite.timers.append(
                loop.call_later(KEEP_DONE_SECONDS, lambda: self._invites.pop(key, None))
            )

    # --- plumbing ---

    def _event(
        self, invite: _Invite, kind: CallEventKind, *, outcome: str | None = None
    ) -> CallEvent:
        request = invite.request
        return CallEvent(
            provider=PROVIDER,
            provider_call_id=request.call_id,
            kind=kind,
            at=self._context.clock.now(),
            caller=parse.caller_of(request),
            line=parse.uri_user(request.header("to")),
            extension=parse.uri_user(request.uri),
            outcome=outcome,
        )

    def _contact(self) -> str:
        return f"<sip:brigadier@{self._settings.sip_host}:{self._settings.sip_port}>"

    def _send_raw(self, data: bytes, request: parse.SipRequest, addr: tuple[str, int]) -> None:
        if self._transport is not None and data:
            self._transport.sendto(data, parse.reply_address(request, addr))
