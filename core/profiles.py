"""A customer as the bot knows them: found by their Telegram account, their language."""

from __future__ import annotations

from sqlalchemy import select

from core.clients import ClientCard, _card
from core.db import Database
from core.errors import InvalidInput, NotFound
from core.messages import LANGUAGES
from core.models import Client


async def client_for_telegram(db: Database, *, telegram_user_id: int) -> ClientCard | None:
    """The client linked to this Telegram account, if any."""
    async with db.transaction(read_only=True) as tx:
        client = await tx.scalar(select(Client).where(Client.telegram_user_id == telegram_user_id))
        return _card(client) if client is not None else None


async def set_client_language(db: Database, *, client_id: int, language: str) -> ClientCard:
    """The language the client reads messages in, the bot's notices included."""
    if language not in LANGUAGES:
        raise InvalidInput(
            "invalid_value", field="language", value=language, reason=", ".join(LANGUAGES)
        )
    async with db.transaction() as tx:
        client = await tx.get(Client, client_id)
        if client is None:
            raise NotFound("not_found", entity="client", ref=client_id)
        client.language = language
        return _card(client)
