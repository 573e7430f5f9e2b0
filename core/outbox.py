"""Draining the outbox: claiming rows to send and recording what Telegram answered.

A row goes ``pending`` → ``sending`` (claimed, with a lease in ``next_attempt_at``) → ``sent``,
or back to ``pending`` with a later ``next_attempt_at`` to retry, or ends ``failed`` (attempts
used up, or refused for good) or ``unreachable`` (the person blocked the bot). A sender killed
mid-drain leaves its rows ``sending``; once the lease runs out another sender takes them again,
so every message is sent at least once.

Rows of one chat go out in order and not faster than the per-chat limit, across all senders:
only the head of a chat's queue is claimable, and only once the chat's last message is older
than the per-chat interval. On PostgreSQL senders claim with ``FOR UPDATE SKIP LOCKED`` and never
take one row twice; on SQLite the claiming transaction holds the write lock.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from core.db import Database
from core.models import OutboxMessage, UnreachableChat

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class OutgoingMessage:
    """A claimed row: what to send, to whom, in which language."""

    id: int
    bot: str
    chat_id: int
    language: str
    template: str
    params: Mapping[str, Any]
    attempts: int


@dataclass(frozen=True)
class DeliveryRules:
    """What claiming and retrying need from the configuration."""

    per_chat_interval: timedelta
    lease: timedelta
    max_attempts: int
    first_backoff: timedelta = timedelta(seconds=1)
    max_backoff: timedelta = timedelta(minutes=10)

    def backoff(self, attempts: int) -> timedelta:
        """Exponential: 1 s, 2 s, 4 s ... up to ``max_backoff``."""
        grown: timedelta = self.first_backoff * 2 ** max(attempts - 1, 0)
        return min(grown, self.max_backoff)


def _outgoing(row: OutboxMessage) -> OutgoingMessage:
    return OutgoingMessage(
        id=row.id,
        bot=row.bot,
        chat_id=row.chat_id,
        language=row.language,
        template=row.template,
        params=dict(row.params),
        attempts=row.attempts,
    )


async def claim_messages(
    db: Database, *, bots: Collection[str], now: datetime, limit: int, rules: DeliveryRules
) -> list[OutgoingMessage]:
    """Take up to ``limit`` due messages, each the head of its chat's queue, for one lease."""
    if limit <= 0 or not bots:
        return []
    row = OutboxMessage
    earlier = aliased(OutboxMessage)
    async with db.transaction() as tx:
        # Chats that blocked the bot: their waiting messages end here, unsent.
        blocked = exists().where(
            UnreachableChat.bot == row.bot, UnreachableChat.chat_id == row.chat_id
        )
        await tx.execute(
            update(row)
            .where(row.state == PENDING, row.bot.in_(bots), blocked)
            .values(state=UNREACHABLE, last_error="the chat blocked the bot")
            .execution_options(synchronize_session=False)
        )
        ahead = exists().where(
            earlier.bot == row.bot,
            earlier.chat_id == row.chat_id,
            earlier.id < row.id,
            or_(
                earlier.state.in_((PENDING, SENDING)),
                and_(earlier.state == SENT, earlier.sent_at > now - rules.per_chat_interval),
            ),
        )
        query = (
            select(row)
            .where(
                row.state.in_((PENDING, SENDING)),
                row.bot.in_(bots),
                row.next_attempt_at <= now,
                ~ahead,
            )
            .order_by(row.id)
            .limit(limit)
        )
        if db.dialect == "postgresql":
            # Several senders at once: each skips the rows another is claiming right now.
            query = query.with_for_update(skip_locked=True, of=row)
        claimed = list(await tx.scalars(query))
        for message in claimed:
            message.state = SENDING
            message.next_attempt_at = now + rules.lease
        await tx.flush()
        return [_outgoing(message) for message in claimed]


async def mark_sent(db: Database, *, message_id: int, now: datetime) -> None:
    """Telegram accepted the message."""
    async with db.transaction() as tx:
        await tx.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(state=SENT, sent_at=now, attempts=OutboxMessage.attempts + 1, last_error="")
        )


async def postpone(db: Database, *, message_id: int, until: datetime, error: str) -> None:
    """Telegram asked to wait (429): try again at ``until``; the wait is not a failed attempt."""
    async with db.transaction() as tx:
        await tx.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(state=PENDING, next_attempt_at=until, last_error=error[:500])
        )


async def mark_failed_attempt(
    db: Database, *, message_id: int, now: datetime, error: str, rules: DeliveryRules,
    permanent: bool = False,
) -> str:
    """A send failed: back off and retry, or give up after ``max_attempts``; the new state."""
    async with db.transaction() as tx:
        row = await tx.get(OutboxMessage, message_id)
        if row is None:
            return FAILED
        row.attempts += 1
        row.last_error = error[:500]
        if permanent or row.attempts >= rules.max_attempts:
            row.state = FAILED
        else:
            row.state = PENDING
            row.next_attempt_at = now + rules.backoff(row.attempts)
        return row.state


async def mark_unreachable(
    db: Database, *, message_id: int, bot: str, chat_id: int, now: datetime, error: str
) -> None:
    """The person blocked the bot: flag the chat, end this and every waiting message to it."""
    async with db.transaction() as tx:
        if await tx.get(UnreachableChat, (bot, chat_id)) is None:
            tx.add(UnreachableChat(bot=bot, chat_id=chat_id, since=now, reason=error[:500]))
        await tx.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.bot == bot,
                OutboxMessage.chat_id == chat_id,
                or_(OutboxMessage.id == message_id, OutboxMessage.state == PENDING),
            )
            .values(state=UNREACHABLE, last_error=error[:500])
            .execution_options(synchronize_session=False)
        )


async def mark_reachable(db: Database, *, bot: str, chat_id: int) -> bool:
    """The person wrote to the bot again: later messages are delivered. True if it was flagged."""
    async with db.transaction() as tx:
        result = await tx.execute(
            delete(UnreachableChat).where(
                UnreachableChat.bot == bot, UnreachableChat.chat_id == chat_id
            )
        )
        return bool(getattr(result, "rowcount", 0))


async def is_reachable(db: Database, *, bot: str, chat_id: int) -> bool:
    async with db.transaction() as tx:
        return await tx.get(UnreachableChat, (bot, chat_id)) is None


async def outbox_counts(db: Database) -> dict[str, int]:
    """How many rows are in each state (for the command line and the bench)."""
    async with db.transaction() as tx:
        rows = await tx.execute(
            select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
        )
        return {state: count for state, count in rows.all()}
