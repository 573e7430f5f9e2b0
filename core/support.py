"""Customers reaching the office from the bot: support messages and call-back requests.

Both are recorded as events operators hear live; replies are written from the panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.db import Database
from core.errors import InvalidInput
from core.events import record_event
from core.models import SupportMessage

MAX_TEXT = 4000


@dataclass(frozen=True)
class SupportMessageInfo:
    id: int
    client_id: int | None
    created_at: datetime


async def post_support_message(
    db: Database, *, telegram_user_id: int, client_id: int | None, text: str, now: datetime
) -> SupportMessageInfo:
    """Store what the customer wrote to support and tell the operators."""
    text = text.strip()
    if not text:
        raise InvalidInput("invalid_value", field="text", value="", reason="empty")
    if len(text) > MAX_TEXT:
        raise InvalidInput("text_too_long", field="text", value=len(text), limit=MAX_TEXT)
    async with db.transaction() as tx:
        message = SupportMessage(
            client_id=client_id, telegram_user_id=telegram_user_id, direction="in", text=text,
            created_at=now,
        )
        tx.add(message)
        await tx.flush()
        record_event(
            tx,
            kind="support.message",
            payload={"message_id": message.id, "client_id": client_id,
                     "telegram_user_id": telegram_user_id},
        )
        return SupportMessageInfo(message.id, client_id, now)


async def request_callback(
    db: Database,
    *,
    telegram_user_id: int,
    client_id: int | None,
    reason: str,
    lat: float | None = None,
    lon: float | None = None,
    phone: str | None = None,
) -> None:
    """The customer asks the office to call them back (e.g. their address is outside our zones)."""
    async with db.transaction() as tx:
        record_event(
            tx,
            kind="client.callback_requested",
            payload={
                "telegram_user_id": telegram_user_id,
                "client_id": client_id,
                "reason": reason,
                "lat": lat,
                "lon": lon,
                "phone": phone,
            },
        )
