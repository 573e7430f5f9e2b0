"""Where a worker stands in a dialog. The dialog data holds ids and choices only."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class Complete(StatesGroup):
    amount = State()
    tips = State()
    mileage = State()


class Pause(StatesGroup):
    reason = State()


class Comment(StatesGroup):
    text = State()


class Extra(StatesGroup):
    quantity = State()


class Photos(StatesGroup):
    waiting = State()


class Intake(StatesGroup):
    description = State()
    defects = State()
    photos = State()


class Deliver(StatesGroup):
    bottles = State()
    empties = State()
    payment = State()


class Breakdown(StatesGroup):
    reason = State()


class Schedule(StatesGroup):
    hours = State()
    extra_day = State()
    zone = State()
    day_off = State()
