from datetime import time, timedelta

import pytest

from core.booking import book_visit
from core.clients import set_worker_preference
from core.errors import InvalidInput
from core.geo import Point
from core.models import (
    Channel,
    ServiceZone,
    ShiftExceptionKind,
    WorkerPreference,
    WorkerZone,
)
from core.shifts import add_shift_exception, add_shift_pattern
from core.slots import find_slots
from tests.company import CENTRE, KYIV, MONDAY, NOW, RULES, kyiv, small_company

HERE = Point(*CENTRE)
TUESDAY = MONDAY + timedelta(days=1)


async def test_free_starts_lie_inside_the_shift_on_the_grid(db):
    company = await small_company(db, hours=(9, 18), duration=120)
    slots = await find_slots(db, service_id=company.service_id, first=TUESDAY, last=TUESDAY,
                             now=NOW, rules=RULES, point=HERE)
    starts = [s.start for s in slots]
    assert starts[0] == kyiv(TUESDAY, 9)
    assert starts[-1] == kyiv(TUESDAY, 16)  # 16:00 + 2 h ends exactly at the shift's end
    assert len(starts) == 15
    assert all(s.start.tzinfo == KYIV and s.end - s.start == timedelta(hours=2) for s in slots)
    assert {s.worker_id for s in slots} == {company.worker_ids[0]}


async def test_weekend_without_shift_has_no_slots(db):
    company = await small_company(db)
    saturday = MONDAY + timedelta(days=5)
    slots = await find_slots(db, service_id=company.service_id, first=saturday,
                             last=saturday + timedelta(days=1), now=NOW, rules=RULES, point=HERE)
    assert slots == []


async def test_booked_job_blocks_its_time_and_the_travel_around_it(db):
    company = await small_company(db, duration=60)
    far = Point(50.50, 30.65)  # about 10 km away: roughly 34 minutes at 25 km/h × 1.4
    await book_visit(db, client_id=company.client_id, service_id=company.service_id,
                     start=kyiv(TUESDAY, 12), now=NOW, rules=RULES, channel=Channel.PHONE,
                     point=far)
    slots = await find_slots(db, service_id=company.service_id, first=TUESDAY, last=TUESDAY,
                             now=NOW, rules=RULES, point=HERE)
    starts = {s.start.time() for s in slots}
    assert time(10, 0) in starts  # ends 11:00, 34 min drive, 12:00 start: fits
    assert time(10, 30) not in starts  # would end 11:30 and arrive late
    assert time(11, 0) not in starts and time(12, 0) not in starts and time(13, 0) not in starts
    assert time(13, 30) not in starts  # 13:00 end + the drive back
    assert time(14, 0) in starts


async def test_day_off_removes_the_day_and_extra_hours_add_time(db):
    company = await small_company(db)
    worker = company.worker_ids[0]
    await add_shift_exception(db, worker_id=worker, day=TUESDAY, kind=ShiftExceptionKind.OFF,
                              reason="doctor")
    saturday = MONDAY + timedelta(days=5)
    await add_shift_exception(db, worker_id=worker, day=saturday, kind=ShiftExceptionKind.EXTRA,
                              starts=time(10), ends=time(14))
    tuesday = await find_slots(db, service_id=company.service_id, first=TUESDAY, last=TUESDAY,
                               now=NOW, rules=RULES, point=HERE)
    sat = await find_slots(db, service_id=company.service_id, first=saturday, last=saturday,
                           now=NOW, rules=RULES, point=HERE)
    assert tuesday == []
    assert [s.start.time() for s in sat] == [time(10), time(10, 30), time(11), time(11, 30),
                                             time(12)]


async def test_blocked_worker_is_never_offered_and_preferred_wins(db):
    company = await small_company(db, workers=2)
    first, second = company.worker_ids
    await set_worker_preference(db, client_id=company.client_id, worker_id=second,
                                kind=WorkerPreference.PREFERRED)
    slots = await find_slots(db, service_id=company.service_id, first=TUESDAY, last=TUESDAY,
                             now=NOW, rules=RULES, point=HERE, client_id=company.client_id)
    assert {s.worker_id for s in slots} == {second}
    await set_worker_preference(db, client_id=company.client_id, worker_id=second,
                                kind=WorkerPreference.BLOCKED)
    slots = await find_slots(db, service_id=company.service_id, first=TUESDAY, last=TUESDAY,
                             now=NOW, rules=RULES, point=HERE, client_id=company.client_id)
    assert slots and {s.worker_id for s in slots} == {first}


async def test_worker_without_the_skill_is_not_eligible(db):
    company = await small_company(db, skills=("cleaning", "windows"))
    # The service needs both skills; make a second worker with only one.
    from core.models import ShiftPattern, Worker, WorkerSkill, WorkerZone

    async with db.transaction() as tx:
        novice = Worker(name="Novice", rating=5.0, skills=[WorkerSkill(skill="cleaning")],
                        zones=[WorkerZone(zone_id=company.zone_id)])
        tx.add(novice)
        await tx.flush()
        tx.add(ShiftPattern(worker_id=novice.id, weekday=1, starts=time(7), ends=time(22),
                            valid_from=MONDAY))
    slots = await find_slots(db, service_id=company.service_id, first=TUESDAY, last=TUESDAY,
                             now=NOW, rules=RULES, point=HERE)
    assert {s.worker_id for s in slots} == {company.worker_ids[0]}
    assert min(s.start for s in slots) == kyiv(TUESDAY, 9)


async def test_place_outside_every_zone_is_refused_with_a_reason(db):
    company = await small_company(db)
    with pytest.raises(InvalidInput) as refused:
        await find_slots(db, service_id=company.service_id, first=TUESDAY, last=TUESDAY,
                         now=NOW, rules=RULES, point=Point(49.84, 24.03))  # Lviv
    assert "we do not serve this place" in str(refused.value)


async def test_service_not_sold_in_the_zone_is_refused(db):
    company = await small_company(db)
    east_only = Point(50.45, 30.75)  # inside the east zone, outside the city zone
    with pytest.raises(InvalidInput) as refused:
        await find_slots(db, service_id=company.service_id, first=TUESDAY, last=TUESDAY,
                         now=NOW, rules=RULES, point=east_only)
    assert "is not offered at this address" in str(refused.value)


async def test_starts_closer_than_the_lead_time_are_not_offered(db):
    company = await small_company(db)
    slots = await find_slots(db, service_id=company.service_id, first=MONDAY, last=MONDAY,
                             now=kyiv(MONDAY, 10, 10), rules=RULES, point=HERE)
    assert slots[0].start == kyiv(MONDAY, 11, 30)


async def test_backwards_date_range_is_refused(db):
    company = await small_company(db)
    with pytest.raises(InvalidInput):
        await find_slots(db, service_id=company.service_id, first=TUESDAY, last=MONDAY,
                         now=NOW, rules=RULES, point=HERE)


async def test_free_starts_follow_the_zone_of_the_shift(db):
    company = await small_company(db)
    worker = company.worker_ids[0]
    async with db.transaction() as tx:
        tx.add(WorkerZone(worker_id=worker, zone_id=company.east_zone_id))
        tx.add(ServiceZone(service_id=company.service_id, zone_id=company.east_zone_id))
    saturday = MONDAY + timedelta(days=5)
    await add_shift_pattern(db, worker_id=worker, weekday=5, starts=time(9), ends=time(14),
                            valid_from=MONDAY, zone_id=company.east_zone_id)

    async def saturday_starts(point: Point) -> list[time]:
        slots = await find_slots(db, service_id=company.service_id, first=saturday,
                                 last=saturday, now=NOW, rules=RULES, point=point)
        return [slot.start.time() for slot in slots]

    assert await saturday_starts(Point(50.45, 30.75)) == [time(9), time(9, 30), time(10),
                                                         time(10, 30), time(11), time(11, 30),
                                                         time(12)]  # east only
    assert await saturday_starts(Point(50.45, 30.45)) == []  # the city's west: not this shift
