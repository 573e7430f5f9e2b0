"""A worker's own schedule as they see it: the weekly pattern and the coming exceptions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from core.db import Database
from core.models import ShiftException, ShiftPattern, Zone
from core.shifts import ShiftInfo


@dataclass(frozen=True)
class ScheduleView:
    weekly: tuple[ShiftInfo, ...]
    """Patterns still valid from ``today``, by weekday and hour."""
    exceptions: tuple[ShiftInfo, ...]
    """Days off and extra hours from ``today`` on."""
    zone_names: dict[int, str]
    """Names of the zones the shifts above are tied to."""


async def worker_schedule(db: Database, *, worker_id: int, today: date) -> ScheduleView:
    async with db.transaction(read_only=True) as tx:
        patterns = await tx.scalars(
            select(ShiftPattern)
            .where(
                ShiftPattern.worker_id == worker_id,
                (ShiftPattern.valid_until.is_(None)) | (ShiftPattern.valid_until >= today),
            )
            .order_by(ShiftPattern.weekday, ShiftPattern.starts)
        )
        weekly = tuple(
            ShiftInfo(p.id, worker_id, p.zone_id, p.weekday, None, p.starts, p.ends, "pattern")
            for p in patterns
        )
        exceptions = await tx.scalars(
            select(ShiftException)
            .where(ShiftException.worker_id == worker_id, ShiftException.day >= today)
            .order_by(ShiftException.day, ShiftException.starts)
        )
        days = tuple(
            ShiftInfo(e.id, worker_id, e.zone_id, None, e.day, e.starts, e.ends, e.kind.value)
            for e in exceptions
        )
        zone_ids = {shift.zone_id for shift in (*weekly, *days) if shift.zone_id is not None}
        names = await tx.execute(select(Zone.id, Zone.name).where(Zone.id.in_(zone_ids)))
        zone_names = {zone_id: name for zone_id, name in names}
    return ScheduleView(weekly, days, zone_names)
