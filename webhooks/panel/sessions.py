"""Panel sessions: an encrypted, signed cookie; CSRF tokens; who is logged in.

The cookie holds the user id, the session epoch (logging out raises the user's epoch in the
database, ending every session opened before), the CSRF token and one-shot flash messages. It
is a Fernet token (AES-128-CBC plus HMAC-SHA256, with its issue time) keyed from
``secrets.session_secret``; it expires ``panel.session_max_age_minutes`` after login.
Without a configured secret a random one is made at start and sessions end on restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import web
from cryptography.fernet import Fernet, InvalidToken

from core.config import Config
from core.errors import BrigadierError, Forbidden
from core.staff import Permission, StaffUser, get_user

log = logging.getLogger(__name__)

COOKIE = "brigadier_panel"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
PATH = "/panel"


@dataclass
class Session:
    user_id: int | None = None
    epoch: int = 0
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    flashes: list[tuple[str, str]] = field(default_factory=list)
    language: str | None = None
    changed: bool = False

    def login(self, user: StaffUser) -> None:
        """A fresh session for the user: new CSRF token, nothing carried over."""
        self.user_id = user.id
        self.epoch = user.session_epoch
        self.language = user.language
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True

    def logout(self) -> None:
        self.user_id = None
        self.epoch = 0
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True

    def flash(self, level: str, text: str) -> None:
        self.flashes.append((level, text))
        self.changed = True

    def pop_flashes(self) -> list[tuple[str, str]]:
        taken, self.flashes = self.flashes, []
        if taken:
            self.changed = True
        return taken


class SessionCodec:
    def __init__(self, secret: str, max_age_seconds: int) -> None:
        digest = hashlib.sha256(b"brigadier panel session\0" + secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        self.max_age = max_age_seconds

    @classmethod
    def from_config(cls, config: Config) -> SessionCodec:
        secret = config.secrets.session_secret
        if not secret:
            log.warning(
                "no session secret configured (BRIGADIER__SECRETS__SESSION_SECRET): using a "
                "random one, so panel sessions end when this process restarts and are not "
                "shared with other processes"
            )
            secret = secrets.token_urlsafe(32)
        return cls(secret, config.panel.session_max_age_minutes * 60)

    def dump(self, session: Session) -> str:
        data = {
            "u": session.user_id,
            "e": session.epoch,
            "c": session.csrf,
            "f": session.flashes,
            "l": session.language,
        }
        return self._fernet.encrypt(json.dumps(data).encode()).decode()

    def load(self, cookie: str | None) -> Session:
        if not cookie:
            return Session(changed=True)
        try:
            data = json.loads(self._fernet.decrypt(cookie.encode(), ttl=self.max_age))
            return Session(
                user_id=data["u"],
                epoch=data["e"],
                csrf=data["c"],
                flashes=[(level, text) for level, text in data["f"]],
                language=data["l"],
            )
        except (InvalidToken, ValueError, KeyError, TypeError):
            return Session(changed=True)


SESSION_CODEC = web.AppKey("session_codec", SessionCodec)
SESSION = web.RequestKey("panel_session", Session)
USER = web.RequestKey("panel_user", StaffUser)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def session_of(request: web.Request) -> Session:
    return request[SESSION]


def user_of(request: web.Request) -> StaffUser | None:
    return request.get(USER)


def session_middleware(database: Callable[[web.Request], Any]) -> Any:
    """Load the session and its user, refuse POSTs without the CSRF token, save changes."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        codec = request.app[SESSION_CODEC]
        session = codec.load(request.cookies.get(COOKIE))
        request[SESSION] = session
        user = await _current_user(database(request), session)
        if user is not None:
            request[USER] = user
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            await _check_csrf(request, session)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            _save(request, exc, codec, session)
            raise
        _save(request, response, codec, session)
        return response

    return middleware


async def _current_user(db: Any, session: Session) -> StaffUser | None:
    if session.user_id is None:
        return None
    try:
        user = await get_user(db, user_id=session.user_id)
    except BrigadierError:
        user = None
    if user is None or not user.active or user.session_epoch != session.epoch:
        session.logout()
        return None
    return user


async def _check_csrf(request: web.Request, session: Session) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        sent = str((await request.post()).get(CSRF_FIELD, ""))
    if not sent or not hmac.compare_digest(sent, session.csrf):
        log.info("refused a %s to %s without a valid CSRF token", request.method, request.path)
        raise Forbidden("csrf_failed")


def _save(
    request: web.Request, response: web.StreamResponse, codec: SessionCodec, session: Session
) -> None:
    if not session.changed or response.prepared:
        return
    response.set_cookie(
        COOKIE,
        codec.dump(session),
        path=PATH,
        httponly=True,
        samesite="Lax",
        secure=request.secure,
        max_age=codec.max_age,
    )


def require(request: web.Request, permission: Permission | None = None) -> StaffUser:
    """The logged-in user allowed ``permission``; else to the login page, or refused."""
    user = user_of(request)
    if user is None:
        target = request.path_qs if request.method == "GET" else PATH + "/"
        raise web.HTTPSeeOther(f"{PATH}/login?next={quote(target, safe='')}")
    if permission is not None and not user.can(permission):
        log.info("user %s (%s) refused %s", user.id, user.role, permission)
        raise Forbidden("permission_denied")
    return user


def require_socket(request: web.Request, permission: Permission) -> StaffUser:
    """As :func:`require`, for a websocket: the browser sends the session cookie with any
    page's socket, so one opened by another site's page is refused too."""
    user = require(request, permission)
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden()
    return user
