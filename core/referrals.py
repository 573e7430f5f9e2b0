"""Friends inviting friends: who invited a client, recorded once, and the bonus points both
get once the invited client's first order is done, given once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import ReferralSettings
from core.db import Database
from core.events import Notice, record_event
from core.models import Client, Order, Referral
from core.workflows import Status

DEFAULT_REFERRALS = ReferralSettings()
DONE = frozenset({Status.COMPLETED, Status.DELIVERED})
"""Statuses that mean the work was done; returned items or a cancellation reward nobody."""


@dataclass(frozen=True)
class ReferralStats:
    invited: int
    rewarded: int


@dataclass(frozen=True)
class ReferralReward:
    referrer_id: int
    client_id: int
    referrer_points: int
    friend_points: int


async def record_referral(
    db: Database, *, client_id: int, referrer_id: int, now: datetime
) -> bool:
    """Remember that ``referrer_id`` invited ``client_id``; False when it cannot count
    (oneself, an unknown referrer, someone already invited, or a client who already ordered)."""
    if client_id == referrer_id:
        return False
    try:
        async with db.transaction() as tx:
            if await tx.get(Client, referrer_id) is None or await tx.get(Client, client_id) is None:
                return False
            if await tx.get(Referral, client_id) is not None:
                return False
            if await tx.scalar(select(exists().where(Order.client_id == client_id))):
                return False
            tx.add(Referral(client_id=client_id, referrer_id=referrer_id, created_at=now))
            await tx.flush()
            record_event(
                tx, kind="client.referred",
                payload={"client_id": client_id, "referrer_id": referrer_id},
            )
            return True
    except IntegrityError:
        return False  # the same invitation recorded a moment earlier


async def reward_referral(
    tx: AsyncSession, order: Order, *, now: datetime, referrals: ReferralSettings
) -> ReferralReward | None:
    """Helper for the transaction that finishes ``order``: when it is the invited client's
    first finished order, both sides get their points and hear of it, once."""
    if order.status not in DONE:
        return None
    # The conditional update claims the reward: a second finished order, a retry or a
    # concurrent completion finds rewarded_at already set (PostgreSQL re-checks the row after
    # the first claim commits; SQLite writes one transaction at a time).
    referrer_id = await tx.scalar(
        update(Referral)
        .where(Referral.client_id == order.client_id, Referral.rewarded_at.is_(None))
        .values(rewarded_at=now)
        .returning(Referral.referrer_id)
    )
    if referrer_id is None:
        return None
    reward = ReferralReward(
        referrer_id, order.client_id, referrals.referrer_points, referrals.friend_points
    )
    sides = sorted(  # both rows locked in id order, so two rewards never wait on each other
        [(referrer_id, reward.referrer_points, "notice.referral_rewarded"),
         (order.client_id, reward.friend_points, "notice.referral_welcome")]
    )
    notices = []
    for client_id, points, template in sides:
        notice = await _add_points(tx, client_id, points, template) if points > 0 else None
        if notice is not None:
            notices.append(notice)
    record_event(
        tx, kind="referral.rewarded", order_id=order.id,
        payload={"client_id": reward.client_id, "referrer_id": reward.referrer_id,
                 "referrer_points": reward.referrer_points,
                 "friend_points": reward.friend_points},
        notices=notices,
    )
    return reward


async def _add_points(
    tx: AsyncSession, client_id: int, points: int, template: str
) -> Notice | None:
    """Add to the balance in the database itself (no lost update); the chat notice if any."""
    row = (
        await tx.execute(
            update(Client)
            .where(Client.id == client_id)
            .values(bonus_points=Client.bonus_points + points)
            .returning(Client.bonus_points, Client.telegram_user_id, Client.language)
        )
    ).one()
    total, chat_id, language = row
    if chat_id is None:
        return None
    return Notice("customer", chat_id, language, template, {"points": points, "total": total})


async def referral_stats(db: Database, *, client_id: int) -> ReferralStats:
    async with db.transaction(read_only=True) as tx:
        invited = await tx.scalar(
            select(func.count()).select_from(Referral).where(Referral.referrer_id == client_id)
        )
        rewarded = await tx.scalar(
            select(func.count())
            .select_from(Referral)
            .where(Referral.referrer_id == client_id, Referral.rewarded_at.is_not(None))
        )
    return ReferralStats(invited or 0, rewarded or 0)
