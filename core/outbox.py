"""Draining the outbox: claiming rows to send and recording what Telegram answered.

A row goes ``pending`` → ``sending`` (claimed, with a lease in ``next_attempt_at``) → ``sent``,
or back to ``pending`` with a later ``next_attempt_at`` to retry, or ends ``failed`` (attempts
used up, or refused for good) or ``unreachable`` (the person blocked the bot). A sender killed
mid-drain leaves its rows ``sending``; once the lease runs out another sender takes them again,
so every message is sent at least once.

Rows of one chat go out in order and within the per-chat limit, across all senders: only the
head of a chat's queue is claimable, only while nothing earlier of that chat is on its way, and
only when the chat's token bucket (``outbox_pace``: a burst of ``per_chat_burst`` messages, then
one per interval, as Telegram lets short bursts pass) holds a message; each message Telegram
accepts takes one. On PostgreSQL senders claim with ``FOR UPDATE SKIP LOCKED`` and never take
one row twice; on SQLite the claiming transaction holds the write lock.

Urgent rows (job offers) are claimed before ordinary ones. When a claimed head is of a joinable
template, the rows right behind it in its chat that are due and of the same template are claimed
with it: the sender delivers them as one message and records the one answer for every row.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Exists,
    Interval,
    Select,
    bindparam,
    case,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.db import Database
from core.messages import render
from core.models import OutboxLane, OutboxMessage, OutboxPace, OutboxSent, UnreachableChat

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
class Delivery:
    """One Telegram message to send: a single row, or rows of one chat joined together."""

    messages: tuple[OutgoingMessage, ...]

    @property
    def first(self) -> OutgoingMessage:
        return self.messages[0]

    @property
    def ids(self) -> list[int]:
        return [message.id for message in self.messages]

    @property
    def joined(self) -> bool:
        return len(self.messages) > 1


@dataclass(frozen=True)
class DeliveryRules:
    """What claiming and retrying need from the configuration."""

    per_chat_interval: timedelta
    lease: timedelta
    max_attempts: int
    first_backoff: timedelta = timedelta(seconds=1)
    max_backoff: timedelta = timedelta(minutes=10)
    urgent: frozenset[str] = frozenset()
    """Templates claimed before all others."""
    joinable: frozenset[str] = frozenset()
    """Templates of which several waiting rows of one chat are sent as one message..."""
    max_joined: int = 8
    max_joined_text: int = 3000
    """...up to this many rows and this much text (in the row's language) together."""
    joined_separator: str = "\n\n"
    per_chat_burst: int = 1
    """Messages one chat may get at once before the interval paces it (Telegram: short bursts
    pass, then about one a second)."""

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


# The sender runs these all the time, so each statement is built once, its values bound at
# execution ("bots", "now", ...).
_WAITING = (PENDING, SENDING)


def _paced(row: type[OutboxMessage]) -> Exists:
    """The row's chat has spent its bucket: nothing goes to it before ``ready_at``."""
    return exists().where(
        OutboxPace.bot == row.bot,
        OutboxPace.chat_id == row.chat_id,
        OutboxPace.ready_at > bindparam("now"),
    )


def _due(row: type[OutboxMessage]) -> list[ColumnElement[bool]]:
    return [
        row.state.in_(_WAITING),
        row.bot.in_(bindparam("bots", expanding=True)),
        row.next_attempt_at <= bindparam("now"),
        ~_paced(row),
    ]


_ANYTHING_DUE = select(OutboxMessage.id).where(*_due(OutboxMessage)).limit(1)


async def anything_due(db: Database, *, bots: Collection[str], now: datetime) -> bool:
    """Whether a row waits to be sent now (its chat's limit aside): what an idle sender asks
    before it claims, in a transaction that only reads."""
    if not bots:
        return False
    async with db.transaction(read_only=True) as tx:
        found = await tx.scalar(_ANYTHING_DUE, {"bots": list(bots), "now": now})
    return found is not None


async def claim_messages(
    db: Database, *, bots: Collection[str], now: datetime, limit: int, rules: DeliveryRules,
    extra_urgent: int = 0,
) -> list[Delivery]:
    """Take up to ``limit`` due chat queue heads, urgent ones first, and up to ``extra_urgent``
    more urgent ones, each with the rows joined to it, for one lease."""
    if limit + extra_urgent <= 0 or not bots:
        return []
    urgent = tuple(sorted(rules.urgent))
    postgresql = db.dialect == "postgresql"
    params: dict[str, Any] = {"bots": list(bots), "now": now}
    async with db.transaction(first=True) as tx:
        if not postgresql:  # PostgreSQL: the first query below does it as well
            await tx.execute(_END_BLOCKED, params)
        if extra_urgent and urgent:
            claimed = list(await tx.scalars(
                _due_heads(postgresql, urgent, "urgent"), {**params, "limit": limit + extra_urgent}
            ))
            room = limit - len(claimed)
            if room > 0:
                claimed += await tx.scalars(
                    _due_heads(postgresql, urgent, "ordinary"), {**params, "limit": room}
                )
        else:
            claimed = list(await tx.scalars(
                _due_heads(postgresql, urgent, "all"), {**params, "limit": limit}
            ))
        groups = await _join_followers(tx, postgresql, claimed, now, rules)
        for group in groups:
            for message in group:
                message.state = SENDING
                message.next_attempt_at = now + rules.lease
        await tx.flush()
        return [Delivery(tuple(_outgoing(message) for message in group)) for group in groups]


def _blocked(row: type[OutboxMessage]) -> Exists:
    return exists().where(UnreachableChat.bot == row.bot, UnreachableChat.chat_id == row.chat_id)


# Chats that blocked the bot: their waiting messages end here, unsent.
_END_BLOCKED = (
    update(OutboxMessage)
    .where(
        OutboxMessage.state == PENDING,
        OutboxMessage.bot.in_(bindparam("bots", expanding=True)),
        _blocked(OutboxMessage),
    )
    .values(state=UNREACHABLE, last_error="the chat blocked the bot")
    .execution_options(synchronize_session=False)
)


@cache
def _due_heads(postgresql: bool, urgent: tuple[str, ...], part: str) -> Select[Any]:
    """Due rows at the head of their chat's queue whose chat may get a message now: of
    ``part`` "urgent" or "ordinary" templates, or "all", urgent ones first.

    On PostgreSQL the query of "urgent" or "all", the first a claim runs, also ends the waiting
    messages to chats that blocked the bot (in a CTE: one round trip less for every claim).
    """
    row = OutboxMessage
    earlier = aliased(OutboxMessage)
    ahead = exists().where(
        earlier.bot == row.bot,
        earlier.chat_id == row.chat_id,
        earlier.id < row.id,
        earlier.state.in_(_WAITING),
    )
    query = select(row).where(*_due(row), ~ahead, ~_blocked(row))
    if postgresql and part != "ordinary":
        query = query.add_cte(_END_BLOCKED.returning(OutboxMessage.id).cte("ended"))
    if part == "urgent":
        query = query.where(row.template.in_(urgent))
    elif part == "ordinary":
        query = query.where(row.template.not_in(urgent))
    elif urgent:
        query = query.order_by(case((row.template.in_(urgent), 0), else_=1))
    query = query.order_by(row.id).limit(bindparam("limit"))
    if postgresql:
        # Several senders at once: each skips the rows another is claiming right now.
        query = query.with_for_update(skip_locked=True, of=row)
    return query


@cache
def _followers(postgresql: bool) -> Select[Any]:
    row = OutboxMessage
    query = (
        select(row)
        .where(
            row.bot.in_(bindparam("bots", expanding=True)),
            row.chat_id.in_(bindparam("chats", expanding=True)),
            row.state.in_(_WAITING),
            row.id > bindparam("after"),
        )
        .order_by(row.id)
    )
    if postgresql:
        # Rows behind a claimed head are claimable by nobody else; wait for a rare other writer.
        query = query.with_for_update(of=row)
    return query


async def _join_followers(
    tx: AsyncSession, postgresql: bool, heads: list[OutboxMessage], now: datetime,
    rules: DeliveryRules,
) -> list[list[OutboxMessage]]:
    """Each head with the due rows of its template right behind it in its chat."""
    joinable = [head for head in heads if head.template in rules.joinable]
    if not joinable or rules.max_joined < 2:
        return [[head] for head in heads]
    params = {
        "bots": list({head.bot for head in joinable}),
        "chats": list({head.chat_id for head in joinable}),
        "after": min(head.id for head in joinable),
    }
    behind: dict[tuple[str, int], list[OutboxMessage]] = {}
    for message in await tx.scalars(_followers(postgresql), params):
        behind.setdefault((message.bot, message.chat_id), []).append(message)
    return [
        _joined(head, behind.get((head.bot, head.chat_id), []), now, rules)
        if head.template in rules.joinable else [head]
        for head in heads
    ]


def _joined(
    head: OutboxMessage, behind: list[OutboxMessage], now: datetime, rules: DeliveryRules
) -> list[OutboxMessage]:
    group = [head]
    size = _text_size(head)
    for message in behind:
        if message.id <= head.id:
            continue
        # Only the unbroken run behind the head: the chat's order holds.
        if message.template != head.template or message.next_attempt_at > now:
            break
        size += len(rules.joined_separator) + _text_size(message)
        if len(group) >= rules.max_joined or size > rules.max_joined_text:
            break
        group.append(message)
    return group


def _text_size(message: OutboxMessage) -> int:
    return len(render(message.template, message.language, **message.params))


# PostgreSQL: the whole booking in one statement, the lane's row locked only while it runs
# (created by whichever sender comes first).
_BOOK_LANE = (
    postgresql_insert(OutboxLane)
    .values(name=bindparam("name"), next_at=bindparam("ends"))
    .on_conflict_do_update(
        index_elements=[OutboxLane.name],
        set_={"next_at": func.greatest(
            OutboxLane.next_at + bindparam("total", type_=Interval()),
            postgresql_insert(OutboxLane).excluded.next_at,
        )},
    )
    .returning(OutboxLane.next_at)
)


async def book_sends(
    db: Database, *, lane: str, count: int, now: datetime, spacing: timedelta
) -> datetime:
    """Book ``count`` sends on the lane every sender shares, ``spacing`` apart: when the first
    may go. A sender in another process books its own after these, so together they keep to
    the lane's limit."""
    total = spacing * count
    if db.dialect == "postgresql":
        async with db.single_statement(first=True) as tx:
            ends = await tx.scalar(_BOOK_LANE, {"name": lane, "ends": now + total,
                                                "total": total})
        assert ends is not None
        return ends - total
    async with db.transaction(first=True) as tx:  # SQLite: it holds the write lock already
        booked = await tx.get(OutboxLane, lane)
        if booked is None:
            booked = OutboxLane(name=lane, next_at=now)
            tx.add(booked)
        start = max(now, booked.next_at)
        booked.next_at = start + total
        return start


async def hold_lane(db: Database, *, lane: str, until: datetime) -> None:
    """Nothing more is booked on the lane before ``until``: Telegram asked a sender to wait,
    and the limit it spoke of is the bot's, shared by every sender."""
    await book_sends(db, lane=lane, count=0, now=until, spacing=timedelta(0))


@dataclass(frozen=True)
class Accepted:
    """A message Telegram accepted: the rows it carried, its message id, when."""

    message_ids: tuple[int, ...]
    at: datetime
    telegram_message_id: int | None = None


async def mark_sent(
    db: Database, *, message_ids: Sequence[int], now: datetime,
    rules: DeliveryRules, telegram_message_id: int | None = None,
) -> None:
    """Telegram accepted the message (joined rows: the one message that carried them all); it
    is taken from its chat's bucket."""
    await mark_all_sent(
        db, [Accepted(tuple(message_ids), now, telegram_message_id)], rules=rules
    )


async def mark_all_sent(
    db: Database, accepted: Sequence[Accepted], *, rules: DeliveryRules
) -> None:
    """Several accepted messages recorded in one transaction (one turn at SQLite's lock), with
    the same few statements however many there are."""
    if not accepted:
        return
    async with db.transaction(first=True) as tx:
        await _sent(tx, accepted, rules, db.dialect)


_SENT_ROWS = select(
    OutboxMessage.id, OutboxMessage.bot, OutboxMessage.chat_id, OutboxMessage.attempts
).where(OutboxMessage.id.in_(bindparam("ids", expanding=True)))
_PACES = select(OutboxPace).where(
    OutboxPace.bot.in_(bindparam("bots", expanding=True)),
    OutboxPace.chat_id.in_(bindparam("chats", expanding=True)),
)


async def _sent(
    tx: AsyncSession, accepted: Sequence[Accepted], rules: DeliveryRules, dialect: str
) -> None:
    row = OutboxMessage
    ids = [row_id for message in accepted for row_id in message.message_ids]
    found = {hit.id: hit for hit in await tx.execute(_SENT_ROWS, {"ids": ids})}
    chat_of = {row_id: (sent.bot, sent.chat_id) for row_id, sent in found.items()}
    attempts = {row_id: hit.attempts for row_id, hit in found.items()}
    sent = []
    for message in accepted:
        for row_id in message.message_ids:
            if row_id in attempts:  # a row sent twice (at least once) counts both attempts
                attempts[row_id] += 1
                sent.append({"id": row_id, "state": SENT, "sent_at": message.at,
                             "attempts": attempts[row_id], "last_error": ""})
    if sent:  # an UPDATE by primary key run for every row (without any: no statement at all)
        await tx.execute(update(row), sent)
    # Each message out of its chat's bucket, in the order Telegram took them.
    chats = [(message, chat_of[message.message_ids[0]]) for message in accepted
             if message.message_ids and message.message_ids[0] in chat_of]
    if chats:
        paces = {
            (pace.bot, pace.chat_id): pace
            for pace in await tx.scalars(_PACES, {
                "bots": list({bot for _, (bot, _) in chats}),
                "chats": list({chat_id for _, (_, chat_id) in chats}),
            })
        }
        for message, (bot, chat_id) in chats:
            pace = paces.get((bot, chat_id))
            if pace is None:
                pace = paces[bot, chat_id] = _new_bucket(bot, chat_id, message.at, rules)
                tx.add(pace)
            _take_from_bucket(pace, message.at, rules)
    # A row sent twice (at least once) keeps the message it went out in first.
    first_message: dict[int, int] = {}
    for message in accepted:
        if message.telegram_message_id is not None:
            for row_id in message.message_ids:
                if row_id in found:
                    first_message.setdefault(row_id, message.telegram_message_id)
    if first_message:
        insert = (
            postgresql_insert if dialect == "postgresql" else sqlite_insert
        )(OutboxSent).on_conflict_do_nothing(index_elements=[OutboxSent.outbox_id])
        await tx.execute(insert, [
            {"outbox_id": row_id, "message_id": message_id}
            for row_id, message_id in first_message.items()
        ])


def _new_bucket(bot: str, chat_id: int, now: datetime, rules: DeliveryRules) -> OutboxPace:
    burst = float(max(1, rules.per_chat_burst))
    return OutboxPace(bot=bot, chat_id=chat_id, tokens=burst, at=now, ready_at=now)


def _take_from_bucket(pace: OutboxPace, now: datetime, rules: DeliveryRules) -> None:
    """One message out of the chat's bucket, refilled since its last one; marks when the chat
    may get the next. Only one message of a chat is on its way at a time, so nobody else
    changes this row meanwhile."""
    burst = max(1, rules.per_chat_burst)
    interval = rules.per_chat_interval.total_seconds()
    refilled = pace.tokens + max(0.0, (now - pace.at).total_seconds()) / interval
    tokens = min(float(burst), refilled) - 1.0
    pace.tokens = tokens
    pace.at = now
    pace.ready_at = now + timedelta(seconds=max(0.0, 1.0 - tokens) * interval)


@dataclass(frozen=True)
class SentMessage:
    """A Telegram message the outbox sent, with the rows it carried, in order."""

    message_id: int
    messages: tuple[OutgoingMessage, ...]


async def sent_message(
    db: Database, *, bot: str, chat_id: int, order_id: int, templates: Collection[str]
) -> SentMessage | None:
    """The latest message to this chat that carried a row of ``templates`` about the order."""
    row = OutboxMessage
    async with db.transaction(read_only=True) as tx:
        message_id = await tx.scalar(
            select(OutboxSent.message_id)
            .join(row, row.id == OutboxSent.outbox_id)
            .where(row.bot == bot, row.chat_id == chat_id, row.template.in_(templates),
                   row.params["order_id"].as_integer() == order_id)
            .order_by(row.id.desc())
            .limit(1)
        )
        if message_id is None:
            return None
        rows = await tx.scalars(
            select(row)
            .join(OutboxSent, row.id == OutboxSent.outbox_id)
            .where(OutboxSent.message_id == message_id, row.bot == bot, row.chat_id == chat_id)
            .order_by(row.id)
        )
        return SentMessage(message_id, tuple(_outgoing(message) for message in rows))


async def postpone(
    db: Database, *, message_ids: Sequence[int], until: datetime, error: str
) -> None:
    """Telegram asked to wait (429): try again at ``until``; the wait is not a failed attempt."""
    async with db.transaction() as tx:
        await tx.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids))
            .values(state=PENDING, next_attempt_at=until, last_error=error[:500])
            .execution_options(synchronize_session=False)
        )


async def mark_failed_attempt(
    db: Database, *, message_ids: Sequence[int], now: datetime, error: str,
    rules: DeliveryRules, permanent: bool = False,
) -> str:
    """A send failed: back off and retry, or give up after ``max_attempts``; the first row's
    new state."""
    async with db.transaction() as tx:
        rows = list(await tx.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(message_ids))
            .order_by(OutboxMessage.id)
        ))
        for row in rows:
            row.attempts += 1
            row.last_error = error[:500]
            if permanent or row.attempts >= rules.max_attempts:
                row.state = FAILED
            else:
                row.state = PENDING
                row.next_attempt_at = now + rules.backoff(row.attempts)
        return rows[0].state if rows else FAILED


async def mark_unreachable(
    db: Database, *, message_ids: Sequence[int], bot: str, chat_id: int, now: datetime,
    error: str,
) -> None:
    """The person blocked the bot: flag the chat, end these and every waiting message to it."""
    async with db.transaction() as tx:
        if await tx.get(UnreachableChat, (bot, chat_id)) is None:
            tx.add(UnreachableChat(bot=bot, chat_id=chat_id, since=now, reason=error[:500]))
        await tx.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.bot == bot,
                OutboxMessage.chat_id == chat_id,
                or_(OutboxMessage.id.in_(message_ids), OutboxMessage.state == PENDING),
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
