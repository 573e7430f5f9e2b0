from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.models import ShiftException, ShiftExceptionKind, ShiftPattern, WorkerZone
from core.shifts import (
    ExceptionRow,
    PatternRow,
    add_shift_exception,
    add_shift_pattern,
    from_epoch_minutes,
    worker_zones,
    working_intervals,
)
from tests.company import MONDAY, small_company

KYIV = ZoneInfo("Europe/Kyiv")
TUESDAY = MONDAY + timedelta(days=1)
SATURDAY = MONDAY + timedelta(days=5)
EXTRA = ShiftExceptionKind.EXTRA
OFF = ShiftExceptionKind.OFF


async def worker_of(db) -> int:
    company = await small_company(db)
    return company.worker_ids[0]


async def test_overlapping_weekly_pattern_is_refused_naming_both_shifts(db):
    worker = await worker_of(db)
    with pytest.raises(Conflict) as refused:
        await add_shift_pattern(db, worker_id=worker, weekday=0, starts=time(17),
                                ends=time(20), valid_from=MONDAY)
    english = str(refused.value)
    assert "Mon 17:00–20:00" in english
    assert "Mon 09:00–18:00" in english
    ukrainian = refused.value.message("uk")
    assert "пн 17:00–20:00" in ukrainian
    assert "пн 09:00–18:00" in ukrainian
    assert "Mon" not in ukrainian


async def test_pattern_inside_an_existing_one_is_refused(db):
    worker = await worker_of(db)
    with pytest.raises(Conflict):
        await add_shift_pattern(db, worker_id=worker, weekday=2, starts=time(10),
                                ends=time(11), valid_from=MONDAY + timedelta(weeks=4))


async def test_pattern_touching_the_end_of_another_is_accepted(db):
    worker = await worker_of(db)
    shift = await add_shift_pattern(db, worker_id=worker, weekday=0, starts=time(18),
                                    ends=time(21), valid_from=MONDAY)
    assert (shift.weekday, shift.starts, shift.ends, shift.kind) == (0, time(18), time(21),
                                                                     "pattern")
    assert shift.id > 0


async def test_same_hours_on_another_weekday_are_accepted(db):
    worker = await worker_of(db)
    shift = await add_shift_pattern(db, worker_id=worker, weekday=5, starts=time(9),
                                    ends=time(18), valid_from=MONDAY)
    assert shift.weekday == 5


async def test_overlapping_hours_in_a_period_that_ended_before_are_accepted(db):
    worker = await worker_of(db)
    shift = await add_shift_pattern(db, worker_id=worker, weekday=0, starts=time(8),
                                    ends=time(20), valid_from=date(2026, 1, 5),
                                    valid_until=MONDAY - timedelta(days=1))
    assert shift.starts == time(8)


async def test_a_period_reaching_into_the_existing_one_is_refused(db):
    worker = await worker_of(db)
    with pytest.raises(Conflict):
        await add_shift_pattern(db, worker_id=worker, weekday=0, starts=time(8),
                                ends=time(20), valid_from=date(2026, 1, 5),
                                valid_until=MONDAY)


async def test_extra_hours_overlapping_the_weekly_pattern_are_refused_naming_both(db):
    worker = await worker_of(db)
    with pytest.raises(Conflict) as refused:
        await add_shift_exception(db, worker_id=worker, day=TUESDAY, kind=EXTRA,
                                  starts=time(17), ends=time(20))
    english = str(refused.value)
    assert "01.12.2026 17:00–20:00" in english
    assert "Tue 09:00–18:00" in english
    assert "вт 09:00–18:00" in refused.value.message("uk")


async def test_extra_hours_after_the_weekday_shift_are_accepted(db):
    worker = await worker_of(db)
    extra = await add_shift_exception(db, worker_id=worker, day=TUESDAY, kind=EXTRA,
                                      starts=time(18), ends=time(21))
    assert (extra.day, extra.starts, extra.ends, extra.kind) == (TUESDAY, time(18), time(21),
                                                                 "extra")


async def test_extra_hours_before_the_pattern_begins_are_accepted(db):
    worker = await worker_of(db)
    week_before = TUESDAY - timedelta(weeks=1)  # the Mon–Fri pattern is not valid yet
    extra = await add_shift_exception(db, worker_id=worker, day=week_before, kind=EXTRA,
                                      starts=time(9), ends=time(18))
    assert extra.day == week_before


async def test_extra_hours_on_a_saturday_are_accepted_and_cannot_be_doubled(db):
    worker = await worker_of(db)
    extra = await add_shift_exception(db, worker_id=worker, day=SATURDAY, kind=EXTRA,
                                      starts=time(10), ends=time(14))
    assert extra.kind == "extra"
    with pytest.raises(Conflict) as refused:
        await add_shift_exception(db, worker_id=worker, day=SATURDAY, kind=EXTRA,
                                  starts=time(13), ends=time(16))
    assert "05.12.2026 13:00–16:00" in str(refused.value)
    assert "05.12.2026 10:00–14:00" in str(refused.value)


async def test_a_day_off_on_a_working_day_is_accepted(db):
    worker = await worker_of(db)
    off = await add_shift_exception(db, worker_id=worker, day=TUESDAY, kind=OFF, reason="doctor")
    assert (off.kind, off.starts, off.ends) == ("off", None, None)


async def test_extra_hours_without_times_are_refused(db):
    worker = await worker_of(db)
    with pytest.raises(InvalidInput):
        await add_shift_exception(db, worker_id=worker, day=SATURDAY, kind=EXTRA)
    with pytest.raises(InvalidInput):
        await add_shift_exception(db, worker_id=worker, day=SATURDAY, kind=EXTRA,
                                  starts=time(10))


async def test_a_shift_ending_before_it_starts_is_refused(db):
    worker = await worker_of(db)
    with pytest.raises(InvalidInput) as refused:
        await add_shift_pattern(db, worker_id=worker, weekday=5, starts=time(18),
                                ends=time(9), valid_from=MONDAY)
    assert "18:00–09:00" in str(refused.value)
    with pytest.raises(InvalidInput):
        await add_shift_pattern(db, worker_id=worker, weekday=5, starts=time(9),
                                ends=time(9), valid_from=MONDAY)
    with pytest.raises(InvalidInput):
        await add_shift_exception(db, worker_id=worker, day=SATURDAY, kind=EXTRA,
                                  starts=time(14), ends=time(10))


async def test_a_weekday_outside_monday_to_sunday_is_refused(db):
    worker = await worker_of(db)
    with pytest.raises(InvalidInput):
        await add_shift_pattern(db, worker_id=worker, weekday=7, starts=time(9),
                                ends=time(18), valid_from=MONDAY)


async def test_shifts_of_an_unknown_worker_are_refused(db):
    worker = await worker_of(db)
    with pytest.raises(NotFound) as refused:
        await add_shift_pattern(db, worker_id=worker + 1000, weekday=5, starts=time(9),
                                ends=time(18), valid_from=MONDAY)
    assert str(worker + 1000) in str(refused.value)
    with pytest.raises(NotFound):
        await add_shift_exception(db, worker_id=worker + 1000, day=SATURDAY, kind=EXTRA,
                                  starts=time(10), ends=time(14))


def every_day(starts: time, ends: time, weekday: int) -> PatternRow:
    return PatternRow(worker_id=1, zone_id=None, weekday=weekday, starts=starts, ends=ends,
                      valid_from=date(2026, 1, 1), valid_until=None)


@pytest.mark.parametrize(
    "day",
    [date(2026, 3, 28), date(2026, 3, 29), date(2026, 10, 25)],
    ids=["winter-time", "clocks-forward", "clocks-back"],
)
def test_a_nine_to_six_shift_is_nine_real_hours_on_a_clock_change_day(day):
    intervals = working_intervals([every_day(time(9), time(18), day.weekday())], [], day, KYIV)
    assert len(intervals) == 1
    (shift,) = intervals
    assert shift.end - shift.start == 9 * 60
    start, end = from_epoch_minutes(shift.start, KYIV), from_epoch_minutes(shift.end, KYIV)
    assert (start.date(), start.time(), end.time()) == (day, time(9), time(18))


def test_spring_clock_change_night_shift_is_one_hour_shorter_in_real_time():
    day = date(2026, 3, 29)  # 03:00 local becomes 04:00
    (shift,) = working_intervals([every_day(time(1), time(6), day.weekday())], [], day, KYIV)
    assert shift.end - shift.start == 4 * 60
    assert from_epoch_minutes(shift.start, KYIV).time() == time(1)
    assert from_epoch_minutes(shift.end, KYIV).time() == time(6)


def test_the_pattern_applies_only_on_its_weekday_inside_its_period():
    pattern = PatternRow(worker_id=1, zone_id=None, weekday=0, starts=time(9), ends=time(18),
                         valid_from=MONDAY, valid_until=MONDAY + timedelta(weeks=1))
    assert working_intervals([pattern], [], MONDAY - timedelta(weeks=1), KYIV) == []
    assert working_intervals([pattern], [], TUESDAY, KYIV) == []
    assert len(working_intervals([pattern], [], MONDAY, KYIV)) == 1
    assert len(working_intervals([pattern], [], MONDAY + timedelta(weeks=1), KYIV)) == 1
    assert working_intervals([pattern], [], MONDAY + timedelta(weeks=2), KYIV) == []


def test_hours_off_cut_the_shift_and_a_whole_day_off_removes_it():
    pattern = every_day(time(9), time(18), MONDAY.weekday())
    lunch = ExceptionRow(1, MONDAY, OFF, None, time(12), time(13))
    pieces = working_intervals([pattern], [lunch], MONDAY, KYIV)
    assert [(from_epoch_minutes(p.start, KYIV).time(), from_epoch_minutes(p.end, KYIV).time())
            for p in pieces] == [(time(9), time(12)), (time(13), time(18))]
    whole_day = ExceptionRow(1, MONDAY, OFF, None, None, None)
    assert working_intervals([pattern], [whole_day], MONDAY, KYIV) == []
    other_day = ExceptionRow(1, TUESDAY, OFF, None, None, None)
    assert len(working_intervals([pattern], [other_day], MONDAY, KYIV)) == 1


async def test_weekly_shift_over_existing_extra_hours_is_refused_naming_both(db):
    company = await small_company(db)
    worker = company.worker_ids[0]
    saturday = MONDAY + timedelta(days=5)
    await add_shift_exception(db, worker_id=worker, day=saturday, kind=ShiftExceptionKind.EXTRA,
                              starts=time(10), ends=time(14))
    with pytest.raises(Conflict) as refused:
        await add_shift_pattern(db, worker_id=worker, weekday=5, starts=time(9), ends=time(18),
                                valid_from=MONDAY)
    assert str(refused.value) == (
        f"the shift Sat 09:00–18:00 overlaps the existing shift {saturday:%d.%m.%Y} 10:00–14:00"
    )
    accepted = await add_shift_pattern(db, worker_id=worker, weekday=5, starts=time(9),
                                       ends=time(18), valid_from=saturday + timedelta(days=1))
    assert accepted.weekday == 5


# --- zones: a working interval goes only into a zone the manager allows the worker ---


async def test_a_shift_in_a_zone_the_worker_is_not_allowed_is_refused_by_name(db):
    company = await small_company(db)
    worker = company.worker_ids[0]

    with pytest.raises(Forbidden) as refused:
        await add_shift_pattern(db, worker_id=worker, weekday=5, starts=time(9), ends=time(14),
                                valid_from=MONDAY, zone_id=company.east_zone_id)
    with pytest.raises(Forbidden):
        await add_shift_exception(db, worker_id=worker, day=SATURDAY, kind=EXTRA,
                                  starts=time(9), ends=time(14), zone_id=company.east_zone_id)

    assert str(refused.value) == "you do not work in the zone “East”; ask your manager to add it"
    assert refused.value.message("uk") == (
        "ви не працюєте в зоні «East»; попросіть менеджера її додати"
    )
    async with db.transaction() as tx:
        saturdays = await tx.scalar(select(func.count()).select_from(ShiftPattern).where(
            ShiftPattern.worker_id == worker, ShiftPattern.weekday == 5))
        extras = await tx.scalar(select(func.count()).select_from(ShiftException))
    assert (saturdays, extras) == (0, 0)


async def test_a_shift_in_an_allowed_zone_keeps_the_zone(db):
    company = await small_company(db)
    worker = company.worker_ids[0]
    async with db.transaction() as tx:
        tx.add(WorkerZone(worker_id=worker, zone_id=company.east_zone_id))

    zones = await worker_zones(db, worker_id=worker)
    weekly = await add_shift_pattern(db, worker_id=worker, weekday=5, starts=time(9),
                                     ends=time(14), valid_from=MONDAY,
                                     zone_id=company.east_zone_id)
    extra = await add_shift_exception(db, worker_id=worker, day=SATURDAY + timedelta(days=1),
                                      kind=EXTRA, starts=time(10), ends=time(12),
                                      zone_id=company.zone_id)

    assert [(zone.id, zone.name) for zone in zones] == [
        (company.zone_id, "City"), (company.east_zone_id, "East"),
    ]
    assert (weekly.zone_id, extra.zone_id) == (company.east_zone_id, company.zone_id)


async def test_a_shift_in_an_unknown_zone_is_refused(db):
    worker = await worker_of(db)
    with pytest.raises(NotFound):
        await add_shift_pattern(db, worker_id=worker, weekday=5, starts=time(9), ends=time(14),
                                valid_from=MONDAY, zone_id=10**6)
