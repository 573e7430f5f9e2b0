"""``X-Twilio-Signature``: base64 HMAC-SHA1, keyed by the account's Auth Token, of the full URL
Twilio requested followed by each POST field's name and value, sorted by name.

Behind a TLS-terminating proxy our own view of the URL is wrong, so ``telephony.public_base_url``
names the public base. Like Twilio's SDK, the URL is tried with and without its default port.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

from multidict import MultiDictProxy
from yarl import URL

from core.config import Config
from telephony.base import check_source, refused

PROVIDER = "twilio"


def signature(token: str, url: str, fields: Iterable[tuple[str, str]]) -> str:
    values: dict[str, set[str]] = {}
    for name, value in fields:
        values.setdefault(name, set()).add(value)
    text = url + "".join(
        name + value for name in sorted(values) for value in sorted(values[name])
    )
    digest = hmac.new(token.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def url_variants(url: str) -> tuple[str, ...]:
    """The URL as given, and with its default port added or removed."""
    parsed = URL(url)
    default = {"https": 443, "http": 80}.get(parsed.scheme)
    if default is None or parsed.host is None:
        return (url,)
    if parsed.explicit_port == default:
        other = str(parsed.with_port(None))
    elif parsed.explicit_port is None:
        other = url.replace(f"{parsed.scheme}://{parsed.raw_host}",
                            f"{parsed.scheme}://{parsed.raw_host}:{default}", 1)
    else:
        return (url,)
    return (url, other)


def check_request(
    config: Config,
    *,
    url: str,
    form: MultiDictProxy[str | object],
    sent: str | None,
    remote: str | None,
) -> None:
    token = config.secrets.twilio_auth_token
    if not token:
        raise refused(PROVIDER, "twilio_auth_token is not set")
    check_source(PROVIDER, config.telephony.allowed_ips, remote)
    if not sent:
        raise refused(PROVIDER, "no X-Twilio-Signature header")
    fields = [(name, value) for name, value in form.items() if isinstance(value, str)]
    for candidate in url_variants(url):
        expected = signature(token, candidate, fields)
        if hmac.compare_digest(expected.encode(), sent.strip().encode()):
            return
    raise refused(PROVIDER, "wrong signature")
