"""Binotel signs nothing: its webhook URL carries our secret, and its servers' addresses are known.

The URL registered with Binotel is ``{base}/pbx/binotel/{binotel_secret}``; set
``telephony.allowed_ips`` to Binotel's servers (binotel.md lists them) to check the source too.
"""

from __future__ import annotations

import hmac

from core.config import Config
from telephony.base import check_source, refused

PROVIDER = "binotel"


def check_request(config: Config, *, secret_in_url: str, remote: str | None) -> None:
    expected = config.secrets.binotel_secret
    if not expected:
        raise refused(PROVIDER, "binotel_secret is not set")
    if not hmac.compare_digest(secret_in_url.encode(), expected.encode()):
        raise refused(PROVIDER, "wrong secret in the URL")
    check_source(PROVIDER, config.telephony.allowed_ips, remote)
