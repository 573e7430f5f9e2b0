"""Workers' shifts: a weekly pattern per zone plus dated exceptions (a day off, extra hours).

Times in patterns and exceptions are wall-clock times in the company's zone; the working
intervals computed from them are UTC epoch minutes, ready for slot arithmetic. A working
interval is tied to one of the zones the manager allows the worker (``worker_zones``), or
(no zone) to any of them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.messages import WEEKDAYS, per_language
from core.models import ShiftException, ShiftExceptionKind, ShiftPattern, Worker, WorkerZone, Zone
from core.one_of import one_of


@dataclass(frozen=True, slots=True)
class PatternRow:
    worker_id: int
    zone_id: int | None
    weekday: int
    starts: time
    ends: time
    valid_from: date
    valid_until: date | None

    def touches(self, first: date, last: date) -> bool:
        """Whether the pattern is valid on any day from ``first`` to ``last``."""
        return self.valid_from <= last and (self.valid_until is None or first <= self.valid_until)

    def applies(self, day: date) -> bool:
        return (
            day.weekday() == self.weekday
            and self.valid_from <= day
            and (self.valid_until is None or day <= self.valid_until)
        )


@dataclass(frozen=True, slots=True)
class ExceptionRow:
    worker_id: int
    day: date
    kind: ShiftExceptionKind
    zone_id: int | None
    starts: time | None
    ends: time | None


@dataclass(frozen=True, slots=True)
class WorkInterval:
    """A working interval in UTC epoch minutes, in one zone or (``None``) any of the worker's."""

    start: int
    end: int
    zone_id: int | None


@dataclass(frozen=True)
class WorkZone:
    """A zone the worker may work in, as the worker sees it."""

    id: int
    name: str


@dataclass(frozen=True)
class ShiftInfo:
    id: int
    worker_id: int
    zone_id: int | None
    weekday: int | None
    day: date | None
    starts: time | None
    ends: time | None
    kind: str


def epoch_minutes(moment: datetime) -> int:
    return int(moment.timestamp()) // 60


def from_epoch_minutes(minutes: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(minutes * 60, UTC).astimezone(tz)


@lru_cache(maxsize=4096)
def _local_minutes(day: date, moment: time, tz: ZoneInfo) -> int:
    return epoch_minutes(datetime.combine(day, moment, tzinfo=tz))


def working_intervals(
    patterns: Iterable[PatternRow], exceptions: Iterable[ExceptionRow], day: date, tz: ZoneInfo
) -> list[WorkInterval]:
    """The worker's working intervals on ``day``: pattern + extra hours − time off."""
    intervals = [
        WorkInterval(_local_minutes(day, p.starts, tz), _local_minutes(day, p.ends, tz), p.zone_id)
        for p in patterns
        if p.applies(day)
    ]
    off: list[tuple[int, int]] = []
    for e in exceptions:
        if e.day != day:
            continue
        if e.kind is ShiftExceptionKind.EXTRA and e.starts and e.ends:
            intervals.append(
                WorkInterval(
                    _local_minutes(day, e.starts, tz), _local_minutes(day, e.ends, tz), e.zone_id
                )
            )
        elif e.kind is ShiftExceptionKind.OFF:
            if e.starts is None or e.ends is None:
                return []
            off.append((_local_minutes(day, e.starts, tz), _local_minutes(day, e.ends, tz)))
    for off_start, off_end in off:
        intervals = [
            piece for interval in intervals for piece in _subtract(interval, off_start, off_end)
        ]
    return sorted(intervals, key=lambda i: i.start)


def _subtract(interval: WorkInterval, start: int, end: int) -> list[WorkInterval]:
    if end <= interval.start or interval.end <= start:
        return [interval]
    pieces = []
    if interval.start < start:
        pieces.append(WorkInterval(interval.start, start, interval.zone_id))
    if end < interval.end:
        pieces.append(WorkInterval(end, interval.end, interval.zone_id))
    return pieces


def _hours(starts: time, ends: time) -> str:
    return f"{starts:%H:%M}–{ends:%H:%M}"


def _pattern_label(weekday: int, starts: time, ends: time) -> dict[str, str]:
    return per_language(lambda lang: f"{WEEKDAYS[lang][weekday]} {_hours(starts, ends)}")


def _day_label(day: date, starts: time, ends: time) -> str:
    return f"{day:%d.%m.%Y} {_hours(starts, ends)}"


def _check_times(starts: time | None, ends: time | None) -> None:
    if starts is not None and ends is not None and not starts < ends:
        raise InvalidInput("shift_invalid", field="shift", value=_hours(starts, ends))
    if (starts is None) != (ends is None):
        raise InvalidInput(
            "invalid_value",
            field="shift",
            value=f"{starts}–{ends}",
            reason="give both the start and the end",
        )


def _periods_overlap(
    a_from: date, a_until: date | None, b_from: date, b_until: date | None
) -> bool:
    return (a_until is None or b_from <= a_until) and (b_until is None or a_from <= b_until)


async def _require_worker(tx: AsyncSession, worker_id: int) -> None:
    if await tx.get(Worker, worker_id) is None:
        raise NotFound("not_found", entity="worker", ref=worker_id)


async def _allowed_zones(tx: AsyncSession, worker_id: int) -> list[WorkZone]:
    rows = await tx.execute(
        select(Zone.id, Zone.name)
        .join(WorkerZone, WorkerZone.zone_id == Zone.id)
        .where(WorkerZone.worker_id == worker_id)
        .order_by(Zone.name, Zone.id)
    )
    return [WorkZone(zone_id, name) for zone_id, name in rows]


async def _require_allowed_zone(tx: AsyncSession, worker_id: int, zone_id: int | None) -> None:
    """A working interval goes only into a zone the manager allows the worker (helper)."""
    if zone_id is None:
        return
    zone = await tx.get(Zone, zone_id)
    if zone is None:
        raise NotFound("not_found", entity="zone", ref=zone_id)
    if zone_id not in {allowed.id for allowed in await _allowed_zones(tx, worker_id)}:
        raise Forbidden("zone_not_allowed", zone=zone.name)


async def worker_zones(db: Database, *, worker_id: int) -> tuple[WorkZone, ...]:
    """The zones the manager allows the worker, by name."""
    async with db.transaction(read_only=True) as tx:
        await _require_worker(tx, worker_id)
        return tuple(await _allowed_zones(tx, worker_id))


async def add_shift_pattern(
    db: Database,
    *,
    worker_id: int,
    weekday: int,
    starts: time,
    ends: time,
    valid_from: date,
    valid_until: date | None = None,
    zone_id: int | None = None,
) -> ShiftInfo:
    """Add a weekly working interval in one of the worker's zones (``None``: any of them);
    an overlap with the worker's other shifts and a zone not allowed are refused."""
    if not 0 <= weekday <= 6:
        raise InvalidInput(
            "invalid_value", field="weekday", value=weekday, reason="0 (Mon)–6 (Sun)"
        )
    _check_times(starts, ends)
    async with db.transaction() as tx:
        await _require_worker(tx, worker_id)
        await _require_allowed_zone(tx, worker_id, zone_id)
        existing = await tx.scalars(
            select(ShiftPattern)
            .where(
                ShiftPattern.worker_id == worker_id,
                ShiftPattern.weekday == weekday,
                ShiftPattern.starts < ends,
                starts < ShiftPattern.ends,
            )
            .with_for_update()
        )
        for other in existing:
            if _periods_overlap(valid_from, valid_until, other.valid_from, other.valid_until):
                raise Conflict(
                    "shift_overlap",
                    new=_pattern_label(weekday, starts, ends),
                    existing=_pattern_label(other.weekday, other.starts, other.ends),
                )
        extras = await tx.scalars(
            select(ShiftException).where(
                ShiftException.worker_id == worker_id,
                ShiftException.kind == ShiftExceptionKind.EXTRA,
                ShiftException.day >= valid_from,
                ShiftException.starts < ends,
                starts < ShiftException.ends,
            )
        )
        for extra in extras:
            within = valid_until is None or extra.day <= valid_until
            if within and extra.day.weekday() == weekday and extra.starts and extra.ends:
                raise Conflict(
                    "shift_overlap",
                    new=_pattern_label(weekday, starts, ends),
                    existing=_day_label(extra.day, extra.starts, extra.ends),
                )
        pattern = ShiftPattern(
            worker_id=worker_id,
            zone_id=zone_id,
            weekday=weekday,
            starts=starts,
            ends=ends,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        tx.add(pattern)
        await tx.flush()
        return ShiftInfo(pattern.id, worker_id, zone_id, weekday, None, starts, ends, "pattern")


async def add_shift_exception(
    db: Database,
    *,
    worker_id: int,
    day: date,
    kind: ShiftExceptionKind,
    starts: time | None = None,
    ends: time | None = None,
    zone_id: int | None = None,
    reason: str = "",
) -> ShiftInfo:
    """Record a day off (whole day when no hours) or extra hours on one date.

    Extra hours that overlap the worker's pattern or other extra hours that day are refused,
    and so is a zone the manager does not allow the worker.
    """
    _check_times(starts, ends)
    if kind is ShiftExceptionKind.EXTRA and starts is None:
        raise InvalidInput(
            "invalid_value", field="shift", value=str(day), reason="extra hours need times"
        )
    async with db.transaction() as tx:
        await _require_worker(tx, worker_id)
        await _require_allowed_zone(tx, worker_id, zone_id)
        if kind is ShiftExceptionKind.EXTRA:
            assert starts is not None and ends is not None
            await _refuse_extra_overlap(tx, worker_id, day, starts, ends)
        exception = ShiftException(
            worker_id=worker_id,
            day=day,
            kind=kind,
            zone_id=zone_id,
            starts=starts,
            ends=ends,
            reason=reason,
        )
        tx.add(exception)
        await tx.flush()
        return ShiftInfo(exception.id, worker_id, zone_id, None, day, starts, ends, kind.value)


async def _refuse_extra_overlap(
    tx: AsyncSession, worker_id: int, day: date, starts: time, ends: time
) -> None:
    new = _day_label(day, starts, ends)
    patterns = await tx.scalars(
        select(ShiftPattern).where(
            ShiftPattern.worker_id == worker_id,
            ShiftPattern.weekday == day.weekday(),
            ShiftPattern.starts < ends,
            starts < ShiftPattern.ends,
        )
    )
    for pattern in patterns:
        if PatternRow(
            worker_id,
            None,
            pattern.weekday,
            pattern.starts,
            pattern.ends,
            pattern.valid_from,
            pattern.valid_until,
        ).applies(day):
            raise Conflict(
                "shift_overlap",
                new=new,
                existing=_pattern_label(pattern.weekday, pattern.starts, pattern.ends),
            )
    extras = await tx.scalars(
        select(ShiftException)
        .where(
            ShiftException.worker_id == worker_id,
            ShiftException.day == day,
            ShiftException.kind == ShiftExceptionKind.EXTRA,
        )
        .with_for_update()
    )
    for other in extras:
        if other.starts and other.ends and other.starts < ends and starts < other.ends:
            raise Conflict(
                "shift_overlap", new=new, existing=_day_label(day, other.starts, other.ends)
            )


# The columns of a PatternRow and of an ExceptionRow, in their order.
PATTERN_COLUMNS = (
    ShiftPattern.worker_id,
    ShiftPattern.zone_id,
    ShiftPattern.weekday,
    ShiftPattern.starts,
    ShiftPattern.ends,
    ShiftPattern.valid_from,
    ShiftPattern.valid_until,
)
EXCEPTION_COLUMNS = (
    ShiftException.worker_id,
    ShiftException.day,
    ShiftException.kind,
    ShiftException.zone_id,
    ShiftException.starts,
    ShiftException.ends,
)


@cache
def _pattern_query(some_weekdays: bool) -> Select[*tuple[Any, ...]]:
    query = select(*PATTERN_COLUMNS).where(
        one_of(ShiftPattern.worker_id, "workers", Integer()),
        ShiftPattern.valid_from <= bindparam("last"),
        (ShiftPattern.valid_until.is_(None)) | (ShiftPattern.valid_until >= bindparam("first")),
    )
    if some_weekdays:
        query = query.where(one_of(ShiftPattern.weekday, "weekdays", Integer()))
    return query


_EXCEPTION_QUERY = select(*EXCEPTION_COLUMNS).where(
    one_of(ShiftException.worker_id, "workers", Integer()),
    ShiftException.day >= bindparam("first"),
    ShiftException.day <= bindparam("last"),
)


async def load_shift_rows(
    tx: AsyncSession, worker_ids: Collection[int], first: date, last: date
) -> tuple[list[PatternRow], list[ExceptionRow]]:
    """Patterns and exceptions touching [first, last] for the given workers.

    The statements are built once: slot searches and bookings run them all the time.
    """
    params: dict[str, Any] = {"workers": list(worker_ids), "first": first, "last": last}
    weekdays = sorted({day.weekday() for day in days(first, last)})
    # A day or a few: only their weekdays' patterns touch the range.
    some_weekdays = len(weekdays) < 7
    if some_weekdays:
        params["weekdays"] = weekdays
    pattern_rows = await tx.execute(_pattern_query(some_weekdays), params)
    exception_rows = await tx.execute(_EXCEPTION_QUERY, params)
    return (
        [PatternRow(*row) for row in pattern_rows],
        [ExceptionRow(*row) for row in exception_rows],
    )


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
