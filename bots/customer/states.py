"""Where a customer stands in a dialog. The dialog data holds ids and choices only."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class Booking(StatesGroup):
    category = State()
    service = State()
    quantity = State()
    address = State()
    time = State()
    phone = State()
    confirm = State()


class Reschedule(StatesGroup):
    time = State()


class Cancel(StatesGroup):
    reason = State()


class Rating(StatesGroup):
    comment = State()


class Support(StatesGroup):
    writing = State()


KEPT = ("lang", "client_id", "referrer")
"""Dialog data that outlives any one dialog: the language, who the customer is, who invited."""
