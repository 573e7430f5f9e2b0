"""Events and the outbox: what core decided, and the chat messages it causes.

Both are rows written through the deciding transaction, so a rolled-back change leaves neither
behind; a sender delivers the outbox after commit and retries until Telegram accepts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Event, OutboxMessage


@dataclass(frozen=True)
class Notice:
    """One chat message to send: which bot, which chat, which text in which language."""

    bot: str
    chat_id: int
    language: str
    template: str
    params: Mapping[str, Any] = field(default_factory=dict)


def record_event(
    tx: AsyncSession,
    *,
    kind: str,
    order_id: int | None = None,
    payload: Mapping[str, Any] | None = None,
    notices: Iterable[Notice] = (),
) -> Event:
    """Add the event and its chat messages to the transaction.

    They are written at its next flush, together with whatever else it recorded by then: a
    booking's two events take one INSERT, and their messages another.
    """
    event = Event(kind=kind, order_id=order_id, payload=dict(payload or {}))
    tx.add(event)
    tx.add_all(
        OutboxMessage(
            event=event,
            bot=notice.bot,
            chat_id=notice.chat_id,
            language=notice.language,
            template=notice.template,
            params=dict(notice.params),
        )
        for notice in notices
    )
    return event
