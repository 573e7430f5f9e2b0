"""SIP over UDP, as much as a listener that only rings needs (RFC 3261). Pure: no I/O.

Requests are read into a :class:`SipRequest`; responses are built by copying the request's
Via headers (the top one marked with the address it came from, RFC 3581), From, To (with our
tag), Call-ID and CSeq. Compact header names are expanded; names are case-insensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COMPACT = {
    "v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
    "c": "content-type", "k": "supported", "s": "subject", "e": "content-encoding",
}
REASONS = {
    100: "Trying", 180: "Ringing", 200: "OK", 405: "Method Not Allowed",
    481: "Call/Transaction Does Not Exist", 486: "Busy Here", 487: "Request Terminated",
    603: "Decline",
}
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS"
ANONYMOUS = "anonymous"

_URI_USER = re.compile(r"(?:sips?|tel):([^@;>?\s]+)", re.IGNORECASE)
_PARAM = re.compile(r";\s*([\w.!%*+`'~-]+)(?:=(\"[^\"]*\"|[^;,\s]*))?")


@dataclass(frozen=True)
class SipRequest:
    method: str
    uri: str
    headers: tuple[tuple[str, str], ...]  # (lower-case full name, value), in order

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]

    @property
    def call_id(self) -> str:
        return self.header("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = (self.header("cseq") or "").strip().partition(" ")
        return (int(number) if number.isdigit() else -1, method.strip().upper())

    @property
    def branch(self) -> str:
        return param(self.vias[0], "branch") or "" if self.vias else ""

    @property
    def vias(self) -> list[str]:
        """Every Via value, top first (one header line may carry several)."""
        return [part.strip() for value in self.all("via") for part in value.split(",")]


def parse_request(data: bytes) -> SipRequest | None:
    """A SIP request, or None for a response or anything unreadable."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    head, _, _body = text.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    start = lines[0].split(" ")
    if len(start) != 3 or start[2].strip() != "SIP/2.0":
        return None
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # a folded continuation line
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip().lower()
        headers.append((COMPACT.get(key, key), value.strip()))
    request = SipRequest(method=start[0].upper(), uri=start[1], headers=tuple(headers))
    if not request.call_id or not request.vias or request.cseq[0] < 0:
        return None
    return request


def param(value: str, name: str) -> str | None:
    """A ``;name=value`` parameter of a header (outside its <URI>), or "" for a bare flag."""
    outside = value.rsplit(">", 1)[-1] if ">" in value else value
    for key, found in _PARAM.findall(outside):
        if key.lower() == name:
            return found.strip('"')
    return None


def uri_user(value: str | None) -> str | None:
    """The user part of the (first) SIP or tel URI in a header or Request-URI."""
    if not value:
        return None
    match = _URI_USER.search(value)
    return match.group(1) if match else None


def caller_of(request: SipRequest) -> str:
    """Who calls, most trusted source first: P-Asserted-Identity, Remote-Party-ID, From."""
    if "id" in (request.header("privacy") or "").lower().replace(" ", "").split(";"):
        return ANONYMOUS
    rpid = next((value for value in request.all("remote-party-id")
                 if (param(value, "party") or "calling").lower() == "calling"), None)
    for source in (request.header("p-asserted-identity"), rpid, request.header("from")):
        user = uri_user(source)
        if user:
            return ANONYMOUS if user.lower() in (ANONYMOUS, "restricted", "unknown") else user
    return ANONYMOUS


def answered_elsewhere(cancel: SipRequest) -> bool:
    """``Reason: SIP;cause=200`` on a CANCEL: another phone took the call (RFC 3326)."""
    for reason in cancel.all("reason"):
        if reason.strip().upper().startswith("SIP") and param(reason, "cause") == "200":
            return True
    return False


def response(
    request: SipRequest,
    code: int,
    *,
    source: tuple[str, int],
    to_tag: str | None = None,
    contact: str | None = None,
) -> bytes:
    vias = request.vias
    lines = [f"SIP/2.0 {code} {REASONS.get(code, 'Unknown')}"]
    lines.append(f"Via: {_mark_source(vias[0], source)}")
    lines.extend(f"Via: {via}" for via in vias[1:])
    lines.append(f"From: {request.header('from') or ''}")
    to = request.header("to") or ""
    if to_tag and param(to, "tag") is None:
        to = f"{to};tag={to_tag}"
    lines.append(f"To: {to}")
    lines.append(f"Call-ID: {request.call_id}")
    lines.append(f"CSeq: {request.header('cseq')}")
    if contact:
        lines.append(f"Contact: {contact}")
    if code == 405:
        lines.append(f"Allow: {ALLOW}")
    lines.append("Server: Brigadier")
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def reply_address(request: SipRequest, source: tuple[str, int]) -> tuple[str, int]:
    """Where responses go: the source with ``;rport`` (RFC 3581), else the Via's sent-by port."""
    top = request.vias[0]
    if param(top, "rport") is not None:
        return source
    sent_by = top.split(None, 1)[-1].split(";", 1)[0]
    port = sent_by.rsplit(":", 1)[-1] if ":" in sent_by else ""
    return (source[0], int(port) if port.isdigit() else 5060)


def _mark_source(via: str, source: tuple[str, int]) -> str:
    host, port = source
    if param(via, "rport") is not None:
        via = re.sub(r";\s*rport(=[^;]*)?", f";rport={port}", via, count=1)
    if param(via, "received") is None:
        via = f"{via};received={host}"
    return via
