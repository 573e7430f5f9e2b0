"""Dialog state survives a restart and is shared by processes: the database or Redis."""

from __future__ import annotations

import pytest
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.fsm.storage.redis import RedisStorage

from bots.storage import DatabaseStorage, create_storage, key_builder
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


async def test_redis_storage_survives_a_restart(redis_url: str, redis_prefix: str):
    first = RedisStorage.from_url(redis_url, key_builder=key_builder(redis_prefix))
    second = RedisStorage.from_url(redis_url, key_builder=key_builder(redis_prefix))
    try:
        await check_round_trip(first, second)
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("url, kind", [("", DatabaseStorage), ("redis://127.0.0.1:6379/0",
                                                                RedisStorage)])
def test_redis_is_used_when_configured(url: str, kind: type, fresh_db: Database):
    config = load_config(environ={"BRIGADIER__REDIS__URL": f'"{url}"'})
    assert isinstance(create_storage(config, lambda: fresh_db), kind)
