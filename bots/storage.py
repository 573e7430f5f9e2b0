"""Where dialog state lives: Redis when ``config.redis.url`` is set, else the database.

Either way a dialog survives a restart and continues in whichever process gets the chat's next
update. Keys name the bot as well as the chat, so the customer and the worker bot may share one
store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import (
    BaseStorage,
    DefaultKeyBuilder,
    KeyBuilder,
    StateType,
    StorageKey,
)
from aiogram.fsm.storage.redis import RedisStorage

from core.clock import Clock, SystemClock
from core.config import Config
from core.db import Database
from core.dialogs import read_dialog, save_dialog_data, save_dialog_state


def key_builder(prefix: str = "fsm") -> KeyBuilder:
    return DefaultKeyBuilder(prefix=prefix, with_bot_id=True, with_destiny=True)


# What this update already read or wrote, per dialog key. Each update is handled in a task of
# its own, so this is never shared between updates: aiogram reads the state and the data
# separately, and one database read serves both.
_READ: ContextVar[dict[str, tuple[str | None, dict[str, Any]]] | None] = ContextVar(
    "dialogs_read", default=None
)


class DatabaseStorage(BaseStorage):
    """aiogram's FSM storage over our database (table ``dialog_states``)."""

    def __init__(
        self,
        database: Callable[[], Database],
        *,
        keys: KeyBuilder | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._database = database
        self._keys = keys or key_builder()
        self._clock = clock or SystemClock()

    def _key(self, key: StorageKey) -> str:
        return self._keys.build(key)

    async def _read(self, key: str) -> tuple[str | None, dict[str, Any]]:
        read = _READ.get()
        if read is None:
            read = {}
            _READ.set(read)
        if key not in read:
            read[key] = await read_dialog(self._database(), key=key)
        state, data = read[key]
        return state, dict(data)

    def _remember(self, key: str, *, state: str | None = None, data: dict[str, Any] | None = None,
                  keep_state: bool = False) -> None:
        read = _READ.get()
        if read is None or key not in read:
            return
        old_state, old_data = read[key]
        read[key] = (old_state if keep_state else state, old_data if data is None else data)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        name = state.state if isinstance(state, State) else state
        storage_key = self._key(key)
        await save_dialog_state(self._database(), key=storage_key, state=name,
                                now=self._clock.now())
        self._remember(storage_key, state=name)

    async def get_state(self, key: StorageKey) -> str | None:
        state, _ = await self._read(self._key(key))
        return state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        storage_key = self._key(key)
        await save_dialog_data(self._database(), key=storage_key, data=dict(data),
                               now=self._clock.now())
        self._remember(storage_key, data=dict(data), keep_state=True)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        _, data = await self._read(self._key(key))
        return data

    async def close(self) -> None:
        """The database belongs to the application, which closes it."""


def create_storage(config: Config, database: Callable[[], Database]) -> BaseStorage:
    if config.redis.url:
        return RedisStorage.from_url(
            config.redis.url, key_builder=key_builder(f"{config.redis.key_prefix}:fsm")
        )
    return DatabaseStorage(database)
