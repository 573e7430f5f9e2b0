"""Friends inviting friends: who invited a client, recorded once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.db import Database
from core.events import record_event
from core.models import Client, Referral


@dataclass(frozen=True)
class ReferralStats:
    invited: int
    rewarded: int


async def record_referral(
    db: Database, *, client_id: int, referrer_id: int, now: datetime
) -> bool:
    """Remember that ``referrer_id`` invited ``client_id``; False when it cannot count
    (oneself, an unknown referrer, or someone already invited)."""
    if client_id == referrer_id:
        return False
    try:
        async with db.transaction() as tx:
            if await tx.get(Client, referrer_id) is None or await tx.get(Client, client_id) is None:
                return False
            if await tx.get(Referral, client_id) is not None:
                return False
            tx.add(Referral(client_id=client_id, referrer_id=referrer_id, created_at=now))
            await tx.flush()
            await record_event(
                tx, kind="client.referred",
                payload={"client_id": client_id, "referrer_id": referrer_id},
            )
            return True
    except IntegrityError:
        return False  # the same invitation recorded a moment earlier


async def referral_stats(db: Database, *, client_id: int) -> ReferralStats:
    async with db.transaction() as tx:
        invited = await tx.scalar(
            select(func.count()).select_from(Referral).where(Referral.referrer_id == client_id)
        )
        rewarded = await tx.scalar(
            select(func.count())
            .select_from(Referral)
            .where(Referral.referrer_id == client_id, Referral.rewarded_at.is_not(None))
        )
    return ReferralStats(invited or 0, rewarded or 0)
