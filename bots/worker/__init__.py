"""The worker bot: one router per dialog, put together in one dispatcher."""

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
    """The worker bot's dispatcher; the runtime adds ``db`` before the first update."""
    from bots.worker import (
        actions,
        days,
        earnings,
        errors,
        extras,
        fallback,
        intake,
        offers,
        photos,
        route,
        schedule,
        start,
    )
    from bots.worker.context import WorkerContext

    dispatcher = Dispatcher(
        storage=storage,
        name="worker",
        config=config,
        clock=clock,
        rules=SlotRules.from_config(config),
        i18n=i18n,
        bot_username=bot_username,
    )
    dispatcher.update.outer_middleware(WorkerContext(i18n))
    dispatcher.update.outer_middleware(ErrorsMiddleware(dispatcher))
    # The route's payment step comes before the visit's: both answer the payment buttons.
    modules = (errors, start, offers, days, route, actions, extras, photos, intake, earnings,
               schedule, fallback)
    dispatcher.include_routers(*(copy_router(module.router) for module in modules))
    return dispatcher

