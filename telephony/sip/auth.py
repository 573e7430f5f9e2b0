"""Plain SIP carries no signature we could check: a datagram is accepted only from the addresses
on ``telephony.allowed_ips`` (set it to the PBX's), and the listener binds to ``sip_host``,
normally an address of the private network the PBX forks to."""

from __future__ import annotations

from core.config import TelephonySettings
from core.errors import Forbidden
from telephony.base import check_source

PROVIDER = "sip"


def source_allowed(settings: TelephonySettings, host: str) -> bool:
    try:
        check_source(PROVIDER, settings.allowed_ips, host)
    except Forbidden:
        return False
    return True
