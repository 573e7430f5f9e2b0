"""Panel users: accounts with argon2 password hashes, roles and what each role may do.

Failed logins are counted per login and address in the database, so every process behind a
load balancer sees the same count; past the limit a login is refused, right password or not,
until the window has passed. The refusal says nothing about whether the login exists.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.messages import LANGUAGES
from core.models import LoginAttempt, PanelProfile, Role, User

MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()
# Verified when the login is unknown, so a wrong login costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("brigadier: no such user")


class Permission(enum.StrEnum):
    CALL_POPUPS = "call_popups"
    CALLS_VIEW = "calls_view"
    CALLBACKS_CLOSE = "callbacks_close"
    CLIENTS_VIEW = "clients_view"
    CLIENTS_CREATE = "clients_create"
    ORDERS_VIEW = "orders_view"
    ORDERS_BOOK = "orders_book"
    ORDERS_CONFIRM = "orders_confirm"  # approve extras, confirm finished work
    DISPATCH_VIEW = "dispatch_view"
    DISPATCH_PLAN = "dispatch_plan"
    DISPATCH_ASSIGN = "dispatch_assign"


P = Permission
DISPATCH = frozenset({P.DISPATCH_VIEW, P.DISPATCH_PLAN, P.DISPATCH_ASSIGN})
"""The dispatch board: the day's routes, planning them, moving jobs between workers."""
PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.SUPERADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset(Permission) - DISPATCH - {P.ORDERS_CONFIRM},
    Role.DISPATCHER: frozenset(
        {P.CALLS_VIEW, P.CLIENTS_VIEW, P.CLIENTS_CREATE, P.ORDERS_VIEW, P.ORDERS_BOOK, *DISPATCH}
    ),
    Role.MANAGER: frozenset(
        {P.CALLS_VIEW, P.CLIENTS_VIEW, P.ORDERS_VIEW, P.ORDERS_CONFIRM, *DISPATCH}
    ),
    Role.STOREKEEPER: frozenset({P.ORDERS_VIEW}),
    Role.ACCOUNTANT: frozenset({P.CLIENTS_VIEW, P.ORDERS_VIEW}),
    Role.QUALITY: frozenset({P.CALLS_VIEW, P.CLIENTS_VIEW, P.ORDERS_VIEW}),
}


def allowed(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]


@dataclass(frozen=True)
class StaffUser:
    id: int
    login: str
    name: str
    role: Role
    extension: str | None
    language: str | None
    session_epoch: int
    active: bool

    def can(self, permission: Permission) -> bool:
        return self.active and allowed(self.role, permission)


@dataclass(frozen=True)
class LoginLimits:
    attempts: int
    window: timedelta


def _view(user: User, profile: PanelProfile | None) -> StaffUser:
    return StaffUser(
        id=user.id,
        login=user.login,
        name=user.name,
        role=user.role,
        extension=user.extension,
        language=profile.language if profile else None,
        session_epoch=profile.session_epoch if profile else 0,
        active=user.active,
    )


def _clean_login(login: str) -> str:
    return login.strip().lower()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            "password_too_short", field="password", value="***", length=MIN_PASSWORD_LENGTH
        )


async def _profile(tx: AsyncSession, user_id: int) -> PanelProfile:
    profile = await tx.get(PanelProfile, user_id)
    if profile is None:
        profile = PanelProfile(user_id=user_id, language=None, session_epoch=0)
        tx.add(profile)
    return profile


async def _user_by_login(tx: AsyncSession, login: str) -> User | None:
    return await tx.scalar(select(User).where(User.login == login))


async def create_user(
    db: Database,
    *,
    login: str,
    name: str,
    role: Role,
    password: str,
    extension: str | None = None,
    language: str | None = None,
) -> StaffUser:
    """A new panel user; the password is stored only as its argon2 hash."""
    login = _clean_login(login)
    if not login or len(login) > 64:
        raise InvalidInput("invalid_value", field="login", value=login, reason="1–64 characters")
    if language is not None and language not in LANGUAGES:
        raise InvalidInput(
            "invalid_value", field="language", value=language, reason=", ".join(LANGUAGES)
        )
    _check_password(password)
    password_hash = await asyncio.to_thread(_hasher.hash, password)
    try:
        async with db.transaction() as tx:
            if await _user_by_login(tx, login) is not None:
                raise Conflict("user_exists", field="login", value=login)
            user = User(
                login=login,
                name=name.strip() or login,
                role=role,
                password_hash=password_hash,
                extension=(extension or "").strip() or None,
            )
            tx.add(user)
            await tx.flush()
            profile = PanelProfile(user_id=user.id, language=language, session_epoch=0)
            tx.add(profile)
            await tx.flush()
            return _view(user, profile)
    except IntegrityError as err:
        raise Conflict("user_exists", field="login", value=login) from err


async def set_password(db: Database, *, login: str, password: str) -> StaffUser:
    """Give an existing user a new password; their open sessions end."""
    _check_password(password)
    password_hash = await asyncio.to_thread(_hasher.hash, password)
    async with db.transaction() as tx:
        user = await _user_by_login(tx, _clean_login(login))
        if user is None:
            raise NotFound("not_found", entity="user", ref=login)
        user.password_hash = password_hash
        profile = await _profile(tx, user.id)
        profile.session_epoch += 1
        await tx.flush()
        return _view(user, profile)


async def authenticate(
    db: Database, *, login: str, password: str, address: str, now: datetime, limits: LoginLimits
) -> StaffUser:
    """The user whose password this is, or ``Forbidden`` (wrong, or too many failures)."""
    login = _clean_login(login)[:64]
    address = address[:64]
    since = now - limits.window
    async with db.transaction() as tx:
        await _lock_attempts(tx, login, address)
        failures = await tx.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(
                LoginAttempt.login == login,
                LoginAttempt.address == address,
                LoginAttempt.at > since,
            )
        )
        if (failures or 0) >= limits.attempts:
            raise Forbidden("login_throttled", minutes=int(limits.window.total_seconds() // 60))
        # Counted as a failure from now on, so attempts in flight at once count each other;
        # a right password takes it back.
        tx.add(LoginAttempt(login=login, address=address, at=now))
        user = await _user_by_login(tx, login)
        user_id = user.id if user is not None and user.active else None
        stored = user.password_hash if user is not None and user.active else None
    if user_id is not None and stored and await _verify(stored, password):
        async with db.transaction() as tx:
            await tx.execute(
                delete(LoginAttempt).where(
                    LoginAttempt.login == login, LoginAttempt.address == address
                )
            )
            user = await tx.get(User, user_id)
            assert user is not None
            return _view(user, await tx.get(PanelProfile, user_id))
    if stored is None:
        await _verify(_DUMMY_HASH, password)
    async with db.transaction() as tx:
        await tx.execute(delete(LoginAttempt).where(LoginAttempt.at <= since))
    raise Forbidden("login_failed")


async def _lock_attempts(tx: AsyncSession, login: str, address: str) -> None:
    """Let one attempt at a time count a login's failures from an address and add its own.

    SQLite's writers already take turns (each transaction begins IMMEDIATE). PostgreSQL has no
    row to lock before the first failure, so a transaction-scoped advisory lock on the pair
    stands in for one.
    """
    if tx.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(f"{login}\0{address}".encode(), digest_size=8).digest()
    await tx.execute(
        select(func.pg_advisory_xact_lock(int.from_bytes(digest, "big", signed=True)))
    )


async def _verify(password_hash: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(_hasher.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def get_user(db: Database, *, user_id: int) -> StaffUser:
    async with db.transaction(read_only=True) as tx:
        user = await tx.get(User, user_id)
        if user is None:
            raise NotFound("not_found", entity="user", ref=user_id)
        return _view(user, await tx.get(PanelProfile, user_id))


async def end_sessions(db: Database, *, user_id: int) -> None:
    """Log the user out everywhere: sessions opened before now stop being accepted."""
    async with db.transaction() as tx:
        profile = await _profile(tx, user_id)
        profile.session_epoch += 1


async def set_language(db: Database, *, user_id: int, language: str) -> StaffUser:
    if language not in LANGUAGES:
        raise InvalidInput(
            "invalid_value", field="language", value=language, reason=", ".join(LANGUAGES)
        )
    async with db.transaction() as tx:
        user = await tx.get(User, user_id)
        if user is None:
            raise NotFound("not_found", entity="user", ref=user_id)
        profile = await _profile(tx, user_id)
        profile.language = language
        await tx.flush()
        return _view(user, profile)


async def users_with_extension(db: Database, *, extension: str) -> tuple[int, ...]:
    """Ids of the active users whose phone is this extension."""
    async with db.transaction(read_only=True) as tx:
        ids = await tx.scalars(
            select(User.id).where(User.extension == extension, User.active.is_(True))
        )
        return tuple(ids)


async def users_without_password(db: Database) -> tuple[str, ...]:
    """Logins that cannot log in yet (the demo's users before they get a password)."""
    async with db.transaction(read_only=True) as tx:
        logins = await tx.scalars(
            select(User.login).where(User.password_hash.is_(None)).order_by(User.id)
        )
        return tuple(logins)
