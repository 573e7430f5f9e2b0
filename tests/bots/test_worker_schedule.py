"""The worker's schedule through the sandbox: working hours go into the zones the manager
allows, asked only when there is a choice, and customers' free times follow them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import time, timedelta

import pytest
from sqlalchemy import select

from core.db import Database
from core.geo import Point
from core.models import ServiceZone, ShiftException, ShiftPattern, WorkerZone, Zone
from core.slots import find_slots
from core.zones import polygon_wkt
from tests.bots.flows import buttons, tap
from tests.bots.worker_flows import WorkerApp, worker_app
from tests.company import MONDAY, NOW, RULES

SATURDAY = MONDAY + timedelta(days=5)
EAST_ONLY = Point(50.45, 30.75)
CITY_WEST = Point(50.45, 30.45)


@pytest.fixture
async def app(fresh_db: Database) -> AsyncIterator[WorkerApp]:
    async for running in worker_app(fresh_db):
        yield running


async def allow_east(app: WorkerApp) -> int:
    """Worker 1 may also work in the east zone, where the service is sold too; a third zone
    exists that nobody is allowed."""
    async with app.db.transaction() as tx:
        tx.add(WorkerZone(worker_id=app.company.worker_ids[0], zone_id=app.company.east_zone_id))
        tx.add(ServiceZone(service_id=app.company.service_id, zone_id=app.company.east_zone_id))
        north = Zone(
            code="north",
            city="Kyiv",
            name="North",
            polygon_wkt=polygon_wkt([(50.55, 30.40), (50.55, 30.70), (50.60, 30.70)]),
        )
        tx.add(north)
        await tx.flush()
        return north.id


async def patterns(app: WorkerApp, weekday: int) -> list[tuple[time, time, int | None]]:
    async with app.db.transaction() as tx:
        rows = await tx.execute(
            select(ShiftPattern.starts, ShiftPattern.ends, ShiftPattern.zone_id).where(
                ShiftPattern.worker_id == app.company.worker_ids[0],
                ShiftPattern.weekday == weekday,
            )
        )
        return [tuple(row) for row in rows]


async def test_hours_go_into_the_zone_the_worker_chooses_among_the_allowed(app: WorkerApp):
    north_id = await allow_east(app)
    ivan = await app.worker(0)

    await tap(ivan, "⏰ Schedule")
    await ivan.wait_for("Your working hours")
    await tap(ivan, "➕ Weekly hours")
    await tap(ivan, "Sat")
    await ivan.send("9-14")
    question = await ivan.wait_for("In which zone")
    assert buttons(question) == ["City", "East"]

    # Text where a button is expected: a hint, the buttons again, nothing saved.
    await ivan.send("East")
    hint = await ivan.wait_for("choose the zone with the buttons")
    assert buttons(hint) == ["City", "East"]
    assert await patterns(app, 5) == []

    await tap(ivan, "East")
    saved = await ivan.wait_for("Saved.")
    assert "Sat 09:00–14:00 · East" in saved["text"]
    assert await patterns(app, 5) == [(time(9), time(14), app.company.east_zone_id)]

    # The same zone button again: no longer active, nothing doubled.
    await _press(ivan, question, "City")
    await ivan.wait_for("This button is no longer active")
    assert len(await patterns(app, 5)) == 1

    # Free times for customers follow the zone: the east side gets Saturday, the west does not.
    east = await find_slots(
        app.db,
        service_id=app.company.service_id,
        first=SATURDAY,
        last=SATURDAY,
        now=NOW,
        rules=RULES,
        point=EAST_ONLY,
    )
    west = await find_slots(
        app.db,
        service_id=app.company.service_id,
        first=SATURDAY,
        last=SATURDAY,
        now=NOW,
        rules=RULES,
        point=CITY_WEST,
    )
    assert east[0].start.time() == time(9) and west == []

    # A zone the manager does not allow (a forged button): core refuses by name.
    await tap(ivan, "➕ Weekly hours")
    await tap(ivan, "Sun")
    await ivan.send("10-12")
    question = await ivan.wait_for("In which zone")
    await ivan._mark()
    await ivan._request(
        "POST",
        f"{ivan._chat_path}/callback",
        {"message_id": question["message_id"], "data": f"wz:{north_id}"},
    )
    await ivan.wait_for("you do not work in the zone “North”")
    assert await patterns(app, 6) == []

    # Extra hours on a date ask the zone as well.
    await ivan.send("/menu")
    await tap(ivan, "⏰ Schedule")
    await tap(ivan, "➕ Extra hours on a date")
    await ivan.wait_for("Which date?")
    await ivan.send("06.12")
    await ivan.wait_for("Write the hours")
    await ivan.send("10-13")
    await tap(ivan, "City")
    saved = await ivan.wait_for("Saved.")
    assert "06.12.2026 10:00–13:00: extra hours · City" in saved["text"]
    async with app.db.transaction() as tx:
        extra = await tx.scalar(select(ShiftException))
    assert (extra.day, extra.zone_id) == (SATURDAY + timedelta(days=1), app.company.zone_id)


async def test_with_one_allowed_zone_the_hours_go_there_without_asking(app: WorkerApp):
    ivan = await app.worker(0)

    await tap(ivan, "⏰ Schedule")
    await tap(ivan, "➕ Weekly hours")
    await tap(ivan, "Sat")
    await ivan.send("9-14")
    saved = await ivan.wait_for("Saved.")

    assert "Sat 09:00–14:00 · City" in saved["text"]
    assert "In which zone" not in str(await ivan.messages())
    assert await patterns(app, 5) == [(time(9), time(14), app.company.zone_id)]


async def _press(user, message, text: str) -> None:
    data = next(
        b["callback_data"]
        for row in message["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == text
    )
    await user._mark()
    await user._request(
        "POST",
        f"{user._chat_path}/callback",
        {"message_id": message["message_id"], "data": data},
    )
