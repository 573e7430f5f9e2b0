"""Where dialog state lives: Redis when ``config.redis.url`` is set, else the database.

Either way a dialog survives a restart and continues in whichever process gets the chat's next
update. Keys name the bot as well as the chat, so the customer and the worker bot may share one
store.

While an update is handled (:func:`hold_dialog_writes` puts a middleware first in the bot's
dispatcher), a dialog is read once, state and data together, and what the handlers change is
written once, when the update is done: one read and at most one write per update, however
often the handlers ask. Outside an update every call goes to the store at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aiogram import BaseMiddleware, Dispatcher
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import (
    BaseStorage,
    DefaultKeyBuilder,
    KeyBuilder,
    StateType,
    StorageKey,
)
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import TelegramObject

from core.clock import Clock, SystemClock
from core.config import Config
from core.db import Database
from core.dialogs import read_dialog, save_dialog, save_dialog_data, save_dialog_state


def key_builder(prefix: str = "fsm") -> KeyBuilder:
    return DefaultKeyBuilder(prefix=prefix, with_bot_id=True, with_destiny=True)


@dataclass
class _Dialog:
    """One dialog as the update being handled sees it."""

    storage: HeldStorage
    key: StorageKey
    state: str | None
    data: dict[str, Any]
    changed: bool = False


@dataclass
class _Update:
    dialogs: dict[tuple[int, str], _Dialog] = field(default_factory=dict)

    async def flush(self) -> None:
        for dialog in self.dialogs.values():
            if dialog.changed:
                dialog.changed = False
                await dialog.storage.write_dialog(dialog.key, dialog.state, dialog.data)


_UPDATE: ContextVar[_Update | None] = ContextVar("dialog_update", default=None)


def _state_name(state: StateType) -> str | None:
    return state.state if isinstance(state, State) else state


class HeldStorage(BaseStorage):
    """A store read and written whole (state and data) by :meth:`read_dialog` and
    :meth:`write_dialog`; reads are shared and writes held while an update is handled."""

    async def read_dialog(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        raise NotImplementedError

    async def write_dialog(self, key: StorageKey, state: str | None, data: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _dialog(self, key: StorageKey) -> _Dialog | None:
        update = _UPDATE.get()
        if update is None:
            return None
        ref = (id(self), self._ref(key))
        dialog = update.dialogs.get(ref)
        if dialog is None:
            state, data = await self.read_dialog(key)
            dialog = update.dialogs[ref] = _Dialog(self, key, state, data)
        return dialog

    def _ref(self, key: StorageKey) -> str:
        raise NotImplementedError

    async def get_state(self, key: StorageKey) -> str | None:
        dialog = await self._dialog(key)
        if dialog is None:
            state, _ = await self.read_dialog(key)
            return state
        return dialog.state

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        dialog = await self._dialog(key)
        if dialog is None:
            _, data = await self.read_dialog(key)
            return data
        return dict(dialog.data)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        dialog = await self._dialog(key)
        if dialog is None:
            await self.write_state(key, _state_name(state))
            return
        dialog.state = _state_name(state)
        dialog.changed = True

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        dialog = await self._dialog(key)
        if dialog is None:
            await self.write_data(key, dict(data))
            return
        dialog.data = dict(data)
        dialog.changed = True

    async def write_state(self, key: StorageKey, state: str | None) -> None:
        _, data = await self.read_dialog(key)
        await self.write_dialog(key, state, data)

    async def write_data(self, key: StorageKey, data: dict[str, Any]) -> None:
        state, _ = await self.read_dialog(key)
        await self.write_dialog(key, state, data)


class DatabaseStorage(HeldStorage):
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

    def _ref(self, key: StorageKey) -> str:
        return self._keys.build(key)

    async def read_dialog(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        return await read_dialog(self._database(), key=self._ref(key))

    async def write_dialog(self, key: StorageKey, state: str | None, data: dict[str, Any]) -> None:
        await save_dialog(self._database(), key=self._ref(key), state=state, data=data,
                          now=self._clock.now())

    async def write_state(self, key: StorageKey, state: str | None) -> None:
        await save_dialog_state(self._database(), key=self._ref(key), state=state,
                                now=self._clock.now())

    async def write_data(self, key: StorageKey, data: dict[str, Any]) -> None:
        await save_dialog_data(self._database(), key=self._ref(key), data=data,
                               now=self._clock.now())

    async def close(self) -> None:
        """The database belongs to the application, which closes it."""


class RedisDialogStorage(HeldStorage, RedisStorage):
    """aiogram's Redis storage, same keys and values; a dialog is read with one ``MGET`` and
    written with one pipeline."""

    def _ref(self, key: StorageKey) -> str:
        return self.key_builder.build(key)

    async def read_dialog(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        state_key, data_key = self.key_builder.build(key, "state"), self.key_builder.build(
            key, "data"
        )
        state, data = await self.redis.mget(state_key, data_key)
        if isinstance(state, bytes):
            state = state.decode("utf-8")
        return state, ({} if data is None else dict(self.json_loads(data)))

    async def write_dialog(self, key: StorageKey, state: str | None, data: dict[str, Any]) -> None:
        pipe = self.redis.pipeline(transaction=True)
        self._queue_state(pipe, key, state)
        self._queue_data(pipe, key, data)
        await pipe.execute()

    async def write_state(self, key: StorageKey, state: str | None) -> None:
        await RedisStorage.set_state(self, key, state)

    async def write_data(self, key: StorageKey, data: dict[str, Any]) -> None:
        await RedisStorage.set_data(self, key, data)

    def _queue_state(self, pipe: Any, key: StorageKey, state: str | None) -> None:
        name = self.key_builder.build(key, "state")
        if state is None:
            pipe.delete(name)
        else:
            pipe.set(name, state, ex=self.state_ttl)

    def _queue_data(self, pipe: Any, key: StorageKey, data: dict[str, Any]) -> None:
        name = self.key_builder.build(key, "data")
        if not data:
            pipe.delete(name)
        else:
            pipe.set(name, self.json_dumps(data), ex=self.data_ttl)


Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DialogWrites(BaseMiddleware):
    """Opens the update's view of its dialogs and writes what changed when it is handled."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        update = _Update()
        token = _UPDATE.set(update)
        try:
            return await handler(event, data)
        finally:
            _UPDATE.reset(token)
            await update.flush()


def hold_dialog_writes(dispatcher: Dispatcher) -> None:
    """Put :class:`DialogWrites` first, before aiogram's own middlewares read the state."""
    outer = dispatcher.update.outer_middleware
    others = list(outer)
    for middleware in others:
        outer.unregister(middleware)
    outer.register(DialogWrites())
    for middleware in others:
        outer.register(middleware)


def create_storage(config: Config, database: Callable[[], Database]) -> BaseStorage:
    if config.redis.url:
        return RedisDialogStorage.from_url(
            config.redis.url, key_builder=key_builder(f"{config.redis.key_prefix}:fsm")
        )
    return DatabaseStorage(database)
