"""Putting a bot's routers together."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.handler import FilterObject
from aiogram.filters import Filter, StateFilter
from aiogram.fsm.state import State
from magic_filter import MagicFilter


class _Resolved(Filter):
    """A magic filter (``F.text``, ``F.contact``) checked in the event loop.

    A magic filter only reads the update; aiogram would run it in a worker thread."""

    def __init__(self, magic: MagicFilter) -> None:
        self.magic = magic

    async def __call__(self, event: Any) -> Any:
        return self.magic.resolve(event)

    def __str__(self) -> str:
        return f"{type(self).__name__}({self.magic!r})"


def _in_loop(check: FilterObject) -> FilterObject:
    """The same check, made in the event loop where aiogram would use a thread for it."""
    if check.awaitable:
        return check
    if check.magic is not None:
        return FilterObject(_Resolved(check.magic))
    if isinstance(check.callback, State):  # ``@router.message(Booking.time)``
        return FilterObject(StateFilter(check.callback))
    return check


def copy_router(router: Router) -> Router:
    """A router with the same handlers: aiogram lets one router join a single dispatcher, and
    a process may run several (tests, the bench, two apps side by side).

    Its state and magic filters are checked in the event loop: aiogram hands every filter that
    is a plain callable to a worker thread, since one could block, and a dialog's state filters
    are tried on each of its handlers until one matches; a few attribute reads cost far less
    than those trips."""
    copy = Router(name=router.name)
    for name, observer in router.observers.items():
        for handler in observer.handlers:
            if handler.filters:
                handler.filters[:] = [_in_loop(check) for check in handler.filters]
        copy.observers[name].handlers.extend(observer.handlers)
    return copy
