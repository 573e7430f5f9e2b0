"""Workers joining the worker bot: a one-time invite binds a Telegram account to a worker."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import lazyload

from core.db import Database
from core.errors import Conflict, InvalidInput, NotFound
from core.messages import LANGUAGES
from core.models import Worker, WorkerInvite


@dataclass(frozen=True)
class Invite:
    token: str
    worker_id: int
    worker_name: str
    expires_at: datetime


@dataclass(frozen=True)
class WorkerCard:
    """A worker as the bot knows them."""

    id: int
    name: str
    language: str
    telegram_user_id: int | None
    payout_scheme: str
    zone_ids: tuple[int, ...]


def _card(worker: Worker) -> WorkerCard:
    return WorkerCard(
        worker.id, worker.name, worker.language, worker.telegram_user_id, worker.payout_scheme,
        tuple(sorted(zone.zone_id for zone in worker.zones)),
    )


async def create_invite(
    db: Database, *, worker: str | int, now: datetime, lifetime: timedelta,
    language: str | None = None,
) -> Invite:
    """A new one-time invite for the worker given by id, phone or exact name."""
    if language is not None and language not in LANGUAGES:
        raise InvalidInput(
            "invalid_value", field="language", value=language, reason=", ".join(LANGUAGES)
        )
    async with db.transaction() as tx:
        query = select(Worker)
        if isinstance(worker, int) or worker.isdigit():
            query = query.where(Worker.id == int(worker))
        else:
            query = query.where((Worker.name == worker) | (Worker.phone == worker))
        found = list(await tx.scalars(query.limit(2)))
        if len(found) != 1 or not found[0].active:
            raise NotFound("not_found", entity="worker", ref=worker)
        # 24 random bytes: 32 URL-safe characters, within Telegram's 64 for a start parameter.
        invite = WorkerInvite(
            token=secrets.token_urlsafe(24), worker_id=found[0].id, language=language,
            created_at=now, expires_at=now + lifetime,
        )
        tx.add(invite)
        await tx.flush()
        return Invite(invite.token, found[0].id, found[0].name, invite.expires_at)


async def redeem_invite(
    db: Database, *, token: str, telegram_user_id: int, telegram_language: str | None,
    default_language: str, now: datetime,
) -> WorkerCard:
    """Bind the Telegram account to the invite's worker; the invite works once."""
    async with db.transaction() as tx:
        # Two taps on one link: the second waits here and finds it used.
        invite = await tx.scalar(
            select(WorkerInvite).where(WorkerInvite.token == token[:64]).with_for_update()
        )
        if invite is None:
            raise NotFound("invite_unknown")
        worker = await tx.get(Worker, invite.worker_id)
        if worker is None or not worker.active:
            raise NotFound("invite_unknown")
        if invite.used_at is not None:
            if worker.telegram_user_id == telegram_user_id:
                return _card(worker)
            raise Conflict("invite_used")
        if invite.expires_at <= now:
            raise Conflict("invite_expired", when=f"{invite.expires_at:%d.%m.%Y %H:%M} UTC")
        other = await tx.scalar(
            select(Worker).where(
                Worker.telegram_user_id == telegram_user_id, Worker.id != worker.id
            )
        )
        if other is not None:
            raise Conflict("telegram_taken")
        spoken = (telegram_language or "")[:2]
        worker.language = invite.language or (
            spoken if spoken in LANGUAGES else default_language
        )
        worker.telegram_user_id = telegram_user_id
        invite.used_at = now
        # The worker's other invites end with this one.
        await tx.execute(
            update(WorkerInvite)
            .where(WorkerInvite.worker_id == worker.id, WorkerInvite.used_at.is_(None))
            .values(used_at=now)
        )
        await tx.flush()
        return _card(worker)


async def worker_for_telegram(db: Database, *, telegram_user_id: int) -> WorkerCard | None:
    """The active worker linked to this Telegram account, if any."""
    async with db.transaction(read_only=True) as tx:
        worker = await tx.scalar(
            select(Worker)
            .where(Worker.telegram_user_id == telegram_user_id, Worker.active.is_(True))
            # Asked on every update of the worker bot: the card needs the zones, not the
            # skills and trainings.
            .options(lazyload(Worker.skills), lazyload(Worker.trainings))
        )
        return _card(worker) if worker is not None else None
