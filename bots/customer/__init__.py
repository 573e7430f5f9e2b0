"""The customer bot: one router per dialog, put together in one dispatcher."""

from __future__ import annotations

from aiogram import Dispatcher
from aiogram.dispatcher.middlewares.error import ErrorsMiddleware
from aiogram.fsm.storage.base import BaseStorage
from aiogram.utils.i18n import I18n

from bots.routing import copy_router
from core.clock import Clock
from core.config import Config
from core.slots import SlotRules


def build_dispatcher(
    *, config: Config, clock: Clock, storage: BaseStorage, i18n: I18n, bot_username: str
) -> Dispatcher:
    """The customer bot's dispatcher; the runtime adds ``db`` before the first update."""
    from bots.customer import (
        bonuses,
        booking,
        consent,
        errors,
        fallback,
        orders,
        rating,
        settings,
        start,
        support,
    )
    from bots.customer.context import CustomerContext

    dispatcher = Dispatcher(
        storage=storage,
        name="customer",
        config=config,
        clock=clock,
        rules=SlotRules.from_config(config),
        i18n=i18n,
        bot_username=bot_username,
    )
    dispatcher.update.outer_middleware(CustomerContext(i18n))
    # Inside the customer's context, so error answers are in their language.
    dispatcher.update.outer_middleware(ErrorsMiddleware(dispatcher))
    modules = (errors, start, settings, booking, orders, rating, bonuses, support, consent,
               fallback)
    dispatcher.include_routers(*(copy_router(module.router) for module in modules))
    return dispatcher

