"""Both bots check their filters in the event loop: no update waits on a worker thread."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from aiogram import F
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Chat, Message

import bots.customer
import bots.worker
from bots.routing import copy_router


@pytest.mark.parametrize("package", [bots.customer, bots.worker], ids=["customer", "worker"])
def test_no_filter_of_either_bot_goes_to_a_thread(package: object) -> None:
    routers = []
    for module in pkgutil.iter_modules(package.__path__):  # type: ignore[attr-defined]
        router = getattr(importlib.import_module(f"{package.__name__}.{module.name}"), "router",
                         None)
        if router is not None:
            routers.append(copy_router(router))
    assert routers
    checks = [check for router in routers for observer in router.observers.values()
              for handler in observer.handlers for check in handler.filters or []]
    assert checks
    assert [check.callback for check in checks if not check.awaitable] == []


class Form(StatesGroup):
    text = State()


async def test_copied_filters_decide_as_aiogram_would() -> None:
    from aiogram import Router

    router = Router()

    @router.message(Form.text, F.text.len() < 5)
    async def short(message: Message) -> None: ...

    handler = copy_router(router).message.handlers[0]
    chat = Chat(id=1, type="private")

    def message(text: str) -> Message:
        return Message(message_id=1, date=0, chat=chat, text=text)

    assert (await handler.check(message("hi"), raw_state=Form.text.state))[0] is True
    assert (await handler.check(message("hello"), raw_state=Form.text.state))[0] is False
    assert (await handler.check(message("hi"), raw_state=None))[0] is False
