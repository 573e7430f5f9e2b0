"""Settings: ``config.toml`` read once into frozen dataclasses, then environment overrides.

Any key can be overridden with ``BRIGADIER__SECTION__KEY=value`` (the value is read as a TOML
value when it parses as one, else as a string). Secrets never live in ``config.toml``: they come
from ``BRIGADIER__SECRETS__NAME`` variables or from the secrets file named by
``BRIGADIER_SECRETS_FILE`` (default ``secrets.toml`` beside the config file, kept out of git).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from core.errors import ConfigError
from core.when import WhenRules

ENV_PREFIX = "BRIGADIER__"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"
MAX_REFERRAL_POINTS = 1_000_000


@dataclass(frozen=True)
class CompanySettings:
    name: str = "Brigadier"
    timezone: str = "Europe/Kyiv"
    phone_region: str = "UA"
    currency: str = "UAH"
    languages: tuple[str, ...] = ("uk", "ru", "en")
    default_language: str = "uk"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    # Addresses or networks of the reverse proxy in front of the app. When set, every request
    # must come through it: the client's address, scheme and host are taken from the
    # X-Forwarded-* headers it adds (what the PBX allow-list and the login limit see), and a
    # request that bypasses it is refused. Empty: requests come straight from the clients and
    # X-Forwarded-* headers are ignored.
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite+aiosqlite:///brigadier.db"
    echo: bool = False
    busy_timeout_ms: int = 10000
    pool_size: int = 10


@dataclass(frozen=True)
class SchedulingSettings:
    """How free starts are computed and workers chosen (see core/assignment.py)."""

    slot_step_minutes: int = 30
    min_lead_minutes: int = 60
    travel_speed_kmh: float = 25.0
    detour_factor: float = 1.4
    alternatives: int = 5
    max_days: int = 62


@dataclass(frozen=True)
class RedisSettings:
    """Redis for dialog state and live pushes across processes; empty URL: the database."""

    url: str = ""
    key_prefix: str = "brigadier"


@dataclass(frozen=True)
class TelegramSettings:
    """How the bots reach Telegram: the local sandbox, long polling, or webhooks."""

    mode: str = "sandbox"  # sandbox | polling | webhook
    api_url: str = "https://api.telegram.org"
    sandbox_url: str = ""  # empty: the sandbox this process serves at /sandbox
    webhook_base_url: str = ""  # public https base for setWebhook in webhook mode
    webhook_max_connections: int = 40  # Telegram's: updates in flight to our webhook, 1-100
    customer_bot_username: str = "brigadier_customer_bot"
    worker_bot_username: str = "brigadier_worker_bot"


@dataclass(frozen=True)
class OutboxSettings:
    """Delivery of queued chat messages within Telegram's limits."""

    per_chat_per_second: float = 1.0
    # Messages a chat may get at once before the per-chat rate paces it (Telegram lets short
    # bursts pass); 1: never two within the interval.
    per_chat_burst: int = 3
    global_per_second: float = 30.0
    max_attempts: int = 12
    poll_seconds: float = 0.1
    # Sent before ordinary notices (the worker bot also joins offers waiting for one chat).
    urgent_templates: tuple[str, ...] = ("notice.job_offer", "notice.job_offered")
    # Templates that may go as paid broadcasts (0.1 Star each) when the free overall limit is
    # spent; empty: never pay.
    paid_broadcast_templates: tuple[str, ...] = ()
    paid_broadcast_per_second: float = 1000.0


@dataclass(frozen=True)
class PanelSettings:
    """The operator panel: sessions, login throttling and live pushes."""

    session_max_age_minutes: int = 720
    login_attempts: int = 5
    login_window_minutes: int = 15
    live_poll_seconds: float = 0.02  # SQLite: how often the live hub reads new events
    slot_days: int = 3  # "repeat last order" offers free starts over this many days


@dataclass(frozen=True)
class TelephonySettings:
    """PBX adapters; their keys and passwords are secrets, not settings."""

    allowed_ips: tuple[str, ...] = ()
    sip_enabled: bool = False
    sip_host: str = "127.0.0.1"
    sip_port: int = 5070
    sip_answer: str = "busy"  # busy | decline
    sip_answer_delay_seconds: float = 2.0  # ringing this long before refusing
    ami_enabled: bool = False
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "brigadier"
    public_base_url: str = ""  # https base the PBXs call (Twilio signs it); empty: as requested


@dataclass(frozen=True)
class RoutingSettings:
    """Day route planning (core/routes.py) and the travel matrix it plans on."""

    budget_seconds: float = 10.0
    """The most one plan may search; small days stop far earlier (see below)."""
    min_budget_seconds: float = 0.3
    seconds_per_order: float = 0.05
    """The search gets this much per order on the day, between the minimum and the budget."""
    patience: int = 3000
    """Stop once this many search iterations in a row found nothing better."""
    osrm_url: str = ""
    """An OSRM-compatible ``/table`` service; empty: straight line × detour (see scheduling)."""
    osrm_profile: str = "driving"
    osrm_timeout_seconds: float = 10.0
    arrival_margin_minutes: int = 30
    """Customers hear an arrival window this wide around the planned start, inside their own."""


@dataclass(frozen=True)
class WorkerSettings:
    """The worker bot: offers, the day's watch, photos and invites."""

    offer_timeout_minutes: int = 15
    """An offer not answered this long passes to the next best worker."""
    late_start_grace_minutes: int = 15
    """A job not started this long after its start is flagged late."""
    manager_confirmation_required: bool = False
    """A manager confirms the work before a finished order closes; without it the order closes
    as the worker finishes the job."""
    photo_folder: str = "var/photos"
    """Where job photos are kept; relative to the config file's folder."""
    invite_lifetime_hours: int = 72
    check_seconds: float = 30.0
    """How often the periodic checks (offer time-outs, late starts) run."""


@dataclass(frozen=True)
class ReferralSettings:
    """Bonus points for an invitation, given once the invited client's first order is done."""

    referrer_points: int = 100
    """For the client who shared the link; 0 turns this side off."""
    friend_points: int = 100
    """For the invited friend; 0 turns this side off."""


@dataclass(frozen=True)
class Secrets:
    session_secret: str | None = None
    customer_bot_token: str | None = None
    worker_bot_token: str | None = None
    telegram_webhook_secret: str | None = None
    binotel_secret: str | None = None
    zadarma_key: str | None = None
    zadarma_secret: str | None = None
    twilio_auth_token: str | None = None
    ami_password: str | None = None
    demo_password: str | None = None


@dataclass(frozen=True)
class Config:
    path: Path
    company: CompanySettings = field(default_factory=CompanySettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    scheduling: SchedulingSettings = field(default_factory=SchedulingSettings)
    when: WhenRules = field(default_factory=WhenRules)
    redis: RedisSettings = field(default_factory=RedisSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    panel: PanelSettings = field(default_factory=PanelSettings)
    telephony: TelephonySettings = field(default_factory=TelephonySettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    workers: WorkerSettings = field(default_factory=WorkerSettings)
    referrals: ReferralSettings = field(default_factory=ReferralSettings)
    secrets: Secrets = field(default_factory=Secrets)


_SECTIONS: dict[str, type[Any]] = {
    "company": CompanySettings,
    "http": HttpSettings,
    "database": DatabaseSettings,
    "scheduling": SchedulingSettings,
    "when": WhenRules,
    "redis": RedisSettings,
    "telegram": TelegramSettings,
    "outbox": OutboxSettings,
    "panel": PanelSettings,
    "telephony": TelephonySettings,
    "routing": RoutingSettings,
    "workers": WorkerSettings,
    "referrals": ReferralSettings,
}


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read, override and validate the settings; errors name the file and the key."""
    environ = os.environ if environ is None else environ
    path = Path(path) if path is not None else DEFAULT_CONFIG
    raw = _read_toml(path)
    if "secrets" in raw:
        raise ConfigError(
            "config_invalid",
            file=str(path),
            key="secrets",
            reason="secrets are read from the environment or the secrets file, never config.toml",
        )
    _apply_env(raw, environ, path)
    sections = {}
    for name, values in raw.items():
        if name not in _SECTIONS:
            raise ConfigError("config_invalid", file=str(path), key=name, reason="unknown section")
        if not isinstance(values, dict):
            raise ConfigError("config_invalid", file=str(path), key=name, reason="must be a table")
        sections[name] = _build(_SECTIONS[name], values, name, path)
    config = Config(path=path, secrets=_load_secrets(path, environ), **sections)
    _validate(config)
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError as err:
        raise ConfigError(
            "config_invalid", file=str(path), key="-", reason="file not found"
        ) from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError("config_invalid", file=str(path), key="-", reason=str(err)) from err


def _parse_env_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str], path: Path) -> None:
    for name, text in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(
                "config_invalid", file=name, key=name, reason="use BRIGADIER__SECTION__KEY"
            )
        section, key = parts
        if section == "secrets":
            continue
        raw.setdefault(section, {})[key] = _parse_env_value(text)


def _load_secrets(path: Path, environ: Mapping[str, str]) -> Secrets:
    secrets_path = Path(environ.get("BRIGADIER_SECRETS_FILE", path.parent / "secrets.toml"))
    values: dict[str, Any] = {}
    if secrets_path.is_file():
        values.update(_read_toml(secrets_path))
    for name, text in environ.items():
        prefix = f"{ENV_PREFIX}SECRETS__"
        if name.startswith(prefix):
            values[name[len(prefix) :].lower()] = text
    return _build(Secrets, values, "secrets", secrets_path)  # type: ignore[no-any-return]


def _build(cls: type[Any], values: Mapping[str, Any], section: str, path: Path) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(
                "config_invalid", file=str(path), key=f"{section}.{key}", reason="unknown key"
            )
        kwargs[key] = _coerce(value, hints[key], f"{section}.{key}", path)
    try:
        return cls(**kwargs)
    except ValueError as err:
        raise ConfigError("config_invalid", file=str(path), key=section, reason=str(err)) from err


def _coerce(value: Any, hint: Any, key: str, path: Path) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(value, inner, key, path)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _type_error(key, path, "a list", value)
        inner = args[0]
        items = [_coerce(v, inner, key, path) for v in value]
        if args[-1] is not Ellipsis and len(items) != len(args):
            raise _type_error(key, path, f"a list of {len(args)} values", value)
        return tuple(items)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is bool and not isinstance(value, bool):
        raise _type_error(key, path, "true or false", value)
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise _type_error(key, path, "a whole number", value)
    if not isinstance(value, hint):
        raise _type_error(key, path, hint.__name__, value)
    return value


def _type_error(key: str, path: Path, expected: str, value: Any) -> ConfigError:
    return ConfigError(
        "config_invalid", file=str(path), key=key, reason=f"expected {expected}, got {value!r}"
    )


def _validate(config: Config) -> None:
    def fail(key: str, reason: str) -> ConfigError:
        return ConfigError("config_invalid", file=str(config.path), key=key, reason=reason)

    company = config.company
    try:
        ZoneInfo(company.timezone)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise fail("company.timezone", f"unknown time zone {company.timezone!r}") from err
    if company.phone_region not in phonenumbers.SUPPORTED_REGIONS:
        raise fail("company.phone_region", f"unknown region {company.phone_region!r}")
    unsupported = set(company.languages) - {"uk", "ru", "en"}
    if unsupported or not company.languages:
        raise fail("company.languages", "choose from uk, ru, en")
    if company.default_language not in company.languages:
        raise fail("company.default_language", "must be one of company.languages")
    if not 0 < config.http.port < 65536:
        raise fail("http.port", "must be between 1 and 65535")
    for address in config.http.trusted_proxies:
        try:
            ipaddress.ip_network(address, strict=False)
        except ValueError as err:
            reason = f"{address!r} is not an address or network"
            raise fail("http.trusted_proxies", reason) from err
    if not config.database.url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise fail("database.url", "use sqlite+aiosqlite:// or postgresql+asyncpg://")
    scheduling = config.scheduling
    if not 5 <= scheduling.slot_step_minutes <= 240 or 1440 % scheduling.slot_step_minutes:
        raise fail("scheduling.slot_step_minutes", "must divide a day, between 5 and 240")
    if scheduling.travel_speed_kmh <= 0 or scheduling.detour_factor < 1:
        raise fail("scheduling", "travel_speed_kmh must be positive and detour_factor at least 1")
    if config.telegram.mode not in ("sandbox", "polling", "webhook"):
        raise fail("telegram.mode", "choose sandbox, polling or webhook")
    if config.telegram.mode == "webhook" and not config.telegram.webhook_base_url:
        raise fail("telegram.webhook_base_url", "webhook mode needs the public https base URL")
    if not 1 <= config.telegram.webhook_max_connections <= 100:
        raise fail("telegram.webhook_max_connections", "Telegram takes 1 to 100")
    outbox = config.outbox
    if min(outbox.per_chat_per_second, outbox.global_per_second,
           outbox.paid_broadcast_per_second) <= 0:
        raise fail("outbox", "rates must be positive")
    if not 1 <= outbox.per_chat_burst <= 20:
        raise fail("outbox.per_chat_burst", "must be 1 to 20")
    if not 0 < outbox.poll_seconds <= 60:
        raise fail("outbox.poll_seconds", "must be above 0 and at most 60")
    panel = config.panel
    if panel.login_attempts < 1 or panel.login_window_minutes < 1:
        raise fail("panel", "login_attempts and login_window_minutes must be at least 1")
    if not 0 < panel.live_poll_seconds <= 5:
        raise fail("panel.live_poll_seconds", "must be above 0 and at most 5")
    routing = config.routing
    if not 0 < routing.min_budget_seconds <= routing.budget_seconds:
        raise fail("routing", "need 0 < min_budget_seconds <= budget_seconds")
    if routing.osrm_url and not routing.osrm_url.startswith(("http://", "https://")):
        raise fail("routing.osrm_url", "use an http:// or https:// URL, or leave it empty")
    workers = config.workers
    if min(workers.offer_timeout_minutes, workers.invite_lifetime_hours) < 1:
        raise fail("workers", "offer_timeout_minutes and invite_lifetime_hours must be at least 1")
    if workers.late_start_grace_minutes < 0 or not 0 < workers.check_seconds <= 3600:
        raise fail("workers", "late_start_grace_minutes >= 0 and 0 < check_seconds <= 3600")
    for name in ("referrer_points", "friend_points"):
        if not 0 <= getattr(config.referrals, name) <= MAX_REFERRAL_POINTS:
            raise fail(f"referrals.{name}", f"must lie in 0..{MAX_REFERRAL_POINTS}")
    telephony = config.telephony
    if telephony.sip_answer not in ("busy", "decline"):
        raise fail("telephony.sip_answer", "choose busy or decline")
    if not 0 < telephony.sip_answer_delay_seconds <= 60:
        raise fail("telephony.sip_answer_delay_seconds", "must be above 0 and at most 60")
    if telephony.public_base_url and not telephony.public_base_url.startswith(
        ("https://", "http://")
    ):
        raise fail("telephony.public_base_url", "must start with https:// (or http://)")
    for address in telephony.allowed_ips:
        try:
            ipaddress.ip_network(address, strict=False)
        except ValueError as err:
            reason = f"{address!r} is not an address or network"
            raise fail("telephony.allowed_ips", reason) from err
