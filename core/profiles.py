"""People as the bots know them: a customer found by their Telegram account, their language;
everyone a bot may write to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from core.clients import ClientCard, _card
from core.db import Database
from core.errors import InvalidInput, NotFound
from core.messages import LANGUAGES
from core.models import Client, ClientPhone, PanelProfile, User, Worker


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


@dataclass(frozen=True)
class TelegramAccount:
    """Someone who started one of our bots: a client (``customer``), or a worker or a panel
    user (``worker``: the staff bot)."""

    bot: str
    user_id: int
    name: str
    language: str
    phone: str | None


async def telegram_accounts(db: Database) -> list[TelegramAccount]:
    """Every account the bots may write to: clients, active workers and active panel users
    who gave their Telegram account."""
    first_phone = (
        select(ClientPhone.e164).where(ClientPhone.client_id == Client.id)
        .order_by(ClientPhone.id).limit(1).scalar_subquery()
    )
    async with db.transaction(read_only=True) as tx:
        clients = await tx.execute(
            select(Client.telegram_user_id, Client.name, Client.language, first_phone)
            .where(Client.telegram_user_id.is_not(None)).order_by(Client.id)
        )
        accounts = [TelegramAccount("customer", user_id, name, language, phone)
                    for user_id, name, language, phone in clients if user_id is not None]
        workers = await tx.execute(
            select(Worker.telegram_user_id, Worker.name, Worker.language, Worker.phone)
            .where(Worker.telegram_user_id.is_not(None), Worker.active.is_(True))
            .order_by(Worker.id)
        )
        accounts += [TelegramAccount("worker", user_id, name, language, phone)
                     for user_id, name, language, phone in workers if user_id is not None]
        staff = await tx.execute(
            select(User.telegram_user_id, User.name, PanelProfile.language)
            .outerjoin(PanelProfile, PanelProfile.user_id == User.id)
            .where(User.telegram_user_id.is_not(None), User.active.is_(True))
            .order_by(User.id)
        )
        accounts += [TelegramAccount("worker", user_id, name, language or "uk", None)
                     for user_id, name, language in staff if user_id is not None]
    return accounts
