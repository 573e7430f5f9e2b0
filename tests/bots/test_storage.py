"""Dialog state survives a restart and is shared by processes: the database or Redis."""

from __future__ import annotations

import pytest
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import Update

from bots.storage import (
    DatabaseStorage,
    DialogWrites,
    HeldStorage,
    RedisDialogStorage,
    create_storage,
    key_builder,
)
from core.config import load_config
from core.db import Database


class Form(StatesGroup):
    name = State()


KEY = StorageKey(bot_id=111111, chat_id=42, user_id=42)
OTHER_BOT = StorageKey(bot_id=222222, chat_id=42, user_id=42)


async def check_round_trip(first: BaseStorage, second: BaseStorage) -> None:
    assert await first.get_state(KEY) is None and await first.get_data(KEY) == {}

    await first.set_state(KEY, Form.name)
    await first.set_data(KEY, {"service_id": 3, "lang": "uk"})
    await first.update_data(KEY, {"start": 29400})

    # Another process (or this one after a restart) reads the same dialog.
    assert await second.get_state(KEY) == "Form:name"
    assert await second.get_data(KEY) == {"service_id": 3, "lang": "uk", "start": 29400}
    assert await second.get_state(OTHER_BOT) is None  # the worker bot's dialog is its own

    await second.set_state(KEY, None)
    assert await first.get_state(KEY) is None
    assert await first.get_data(KEY) == {"service_id": 3, "lang": "uk", "start": 29400}


async def test_database_storage_survives_a_restart(fresh_db: Database):
    await check_round_trip(DatabaseStorage(lambda: fresh_db), DatabaseStorage(lambda: fresh_db))


@pytest.mark.parametrize("kind", [RedisStorage, RedisDialogStorage])
async def test_redis_storage_survives_a_restart(
    redis_url: str, redis_prefix: str, kind: type[RedisStorage]
):
    first = kind.from_url(redis_url, key_builder=key_builder(redis_prefix))
    second = kind.from_url(redis_url, key_builder=key_builder(redis_prefix))
    try:
        await check_round_trip(first, second)
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("url, kind", [("", DatabaseStorage), ("redis://127.0.0.1:6379/0",
                                                                RedisDialogStorage)])
def test_redis_is_used_when_configured(url: str, kind: type, fresh_db: Database):
    config = load_config(environ={"BRIGADIER__REDIS__URL": f'"{url}"'})
    assert isinstance(create_storage(config, lambda: fresh_db), kind)


async def check_one_read_one_write(storage: HeldStorage, another: BaseStorage) -> None:
    reads, writes = [], []
    read, write = storage.read_dialog, storage.write_dialog

    async def counted_read(key: StorageKey):  # type: ignore[no-untyped-def]
        reads.append(key)
        return await read(key)

    async def counted_write(key: StorageKey, state, data):  # type: ignore[no-untyped-def]
        writes.append(key)
        await write(key, state, data)

    storage.read_dialog = counted_read  # type: ignore[method-assign]
    storage.write_dialog = counted_write  # type: ignore[method-assign]

    async def handler(event: Update, data: dict) -> str:
        assert await storage.get_state(KEY) is None
        await storage.set_state(KEY, Form.name)
        await storage.update_data(KEY, {"service_id": 3})
        await storage.update_data(KEY, {"start": 29400})
        assert await storage.get_state(KEY) == "Form:name"
        assert await another.get_state(KEY) is None  # held until the update is handled
        return "handled"

    assert await DialogWrites()(handler, Update(update_id=1), {}) == "handled"

    assert (len(reads), len(writes)) == (1, 1)
    assert await another.get_state(KEY) == "Form:name"
    assert await another.get_data(KEY) == {"service_id": 3, "start": 29400}


async def test_an_update_reads_its_dialog_once_and_writes_it_once(fresh_db: Database):
    await check_one_read_one_write(
        DatabaseStorage(lambda: fresh_db), DatabaseStorage(lambda: fresh_db)
    )


async def test_an_update_reads_and_writes_its_redis_dialog_once(
    redis_url: str, redis_prefix: str
):
    storage = RedisDialogStorage.from_url(redis_url, key_builder=key_builder(redis_prefix))
    another = RedisStorage.from_url(redis_url, key_builder=key_builder(redis_prefix))
    try:
        await check_one_read_one_write(storage, another)
    finally:
        await storage.close()
        await another.close()
