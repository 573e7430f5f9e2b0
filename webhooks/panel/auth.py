"""Logging in and out, the desk, and the panel's language."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from yarl import URL

from core.errors import Forbidden
from core.staff import LoginLimits, authenticate, end_sessions, set_language
from webhooks.app import CLOCK, CONFIG, DATABASE
from webhooks.panel.pages import language_of, render, see_other
from webhooks.panel.sessions import PATH, require, session_of, user_of
from webhooks.panel.texts import text

routes = web.RouteTableDef()


def _safe_next(target: str) -> str:
    """Only a path inside the panel: never another site (``//evil.example``) or scheme."""
    if target.startswith(PATH + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return PATH + "/"


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    require(request)
    return render(request, "home.html")


@routes.get("/login", name="login")
async def login_form(request: web.Request) -> web.Response:
    next_path = _safe_next(request.query.get("next", ""))
    if user_of(request) is not None:
        return see_other(next_path)
    return render(request, "login.html", login="", next=next_path, error=None)


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    login_name = str(form.get("login", "")).strip()
    next_path = _safe_next(str(form.get("next", "")))
    config = request.config_dict[CONFIG]
    limits = LoginLimits(
        attempts=config.panel.login_attempts,
        window=timedelta(minutes=config.panel.login_window_minutes),
    )
    try:
        user = await authenticate(
            request.config_dict[DATABASE],
            login=login_name,
            password=str(form.get("password", "")),
            address=request.remote or "",
            now=request.config_dict[CLOCK].now(),
            limits=limits,
        )
    except Forbidden as err:
        status = 429 if err.key == "login_throttled" else 401
        error = err.message(language_of(request))
        return render(
            request, "login.html", status=status, login=login_name, next=next_path, error=error
        )
    session_of(request).login(user)
    return see_other(next_path)


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    user = user_of(request)
    session = session_of(request)
    language = language_of(request)
    if user is not None:
        await end_sessions(request.config_dict[DATABASE], user_id=user.id)
    session.logout()
    session.flash("ok", text("logout.done", language))
    return see_other(f"{PATH}/login")


@routes.post("/language")
async def choose_language(request: web.Request) -> web.Response:
    user = require(request)
    form = await request.post()
    chosen = await set_language(
        request.config_dict[DATABASE], user_id=user.id, language=str(form.get("language", ""))
    )
    session_of(request).language = chosen.language
    session_of(request).changed = True
    referer = URL(request.headers.get("Referer", ""))
    same_site = referer.is_absolute() and referer.raw_authority == request.host
    return see_other(_safe_next(referer.path_qs if same_site else ""))
