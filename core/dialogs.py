"""Where each chat stands in a bot dialog, kept in the database when Redis is not configured.

The bots' state storage (``bots/storage.py``) reads and writes through these functions, so a
dialog survives a restart and continues in whichever process gets the chat's next update.
Keys are opaque strings made by the storage; data is a small JSON object of ids and choices.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.db import Database
from core.models import DialogState


async def read_dialog(db: Database, *, key: str) -> tuple[str | None, dict[str, Any]]:
    """The state name and data of a dialog; ``(None, {})`` when it never started."""
    async with db.transaction(read_only=True) as tx:
        query = select(DialogState.state, DialogState.data).where(DialogState.key == key)
        row = (await tx.execute(query)).first()
    if row is None:
        return None, {}
    return row.state, dict(row.data or {})


async def save_dialog_state(db: Database, *, key: str, state: str | None, now: datetime) -> None:
    await _upsert(db, key, {"state": state}, now)


async def save_dialog_data(
    db: Database, *, key: str, data: Mapping[str, Any], now: datetime
) -> None:
    await _upsert(db, key, {"data": dict(data)}, now)


async def save_dialog(
    db: Database, *, key: str, state: str | None, data: Mapping[str, Any], now: datetime
) -> None:
    """The state and the data at once: what one update changed, in one statement."""
    await _upsert(db, key, {"state": state, "data": dict(data)}, now)


async def forget_dialog(db: Database, *, key: str) -> None:
    async with db.transaction() as tx:
        await tx.execute(delete(DialogState).where(DialogState.key == key))


async def _upsert(db: Database, key: str, values: dict[str, Any], now: datetime) -> None:
    insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    row = {"key": key, "state": None, "data": {}, "updated_at": now, **values}
    statement = insert(DialogState).values(**row)
    # One statement settles two updates of one chat racing in two processes: the last one wins.
    statement = statement.on_conflict_do_update(
        index_elements=[DialogState.key], set_={**values, "updated_at": now}
    )
    async with db.transaction() as tx:
        await tx.execute(statement)
