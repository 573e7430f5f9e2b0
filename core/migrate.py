"""Schema migrations (Alembic) and the check that refuses an unmigrated database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from core.db import Database
from core.errors import DatabaseNotReady

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(db: Database, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(run)
    except (SQLAlchemyError, OSError) as err:
        raise DatabaseNotReady("database_unreachable", reason=_reason(err)) from err


async def current_revision(db: Database) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with db.engine.connect() as connection:
        return await connection.run_sync(read)


async def check_migrated(db: Database) -> None:
    """Raise ``DatabaseNotReady`` naming what to run unless the schema is at the head."""
    try:
        current = await current_revision(db)
    except (SQLAlchemyError, OSError) as err:
        raise DatabaseNotReady("database_unreachable", reason=_reason(err)) from err
    head = head_revision()
    if current != head:
        reason = "empty" if current is None else f"at {current}, code expects {head}"
        raise DatabaseNotReady("database_unmigrated", reason=reason)


def _reason(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err).strip().splitlines()
    return text[0] if text else type(err).__name__
