"""Services, zones and staff, held by each process between changes.

Every slot search, place check and booking needs the service (its duration, skills and the
zones it is sold in), the zone map (polygons and price modifiers) and the workers who may do
the job with their shifts (zones, skills, home, rating, weekly patterns and exceptions). They
change now and then (a catalog edit, a new shift) and are read many times a second, so each
process keeps a copy and reads it again only after a change:

- a change this process commits (a service, its skills or zones, a zone, a worker, their
  zones or skills, a shift pattern or exception; added, edited or removed through the ORM)
  drops the copy at commit, and writes a ``catalog.changed`` event in the same transaction;
- that event reaches every other process through its live hub (``webhooks/live.py``), which
  drops that process's copy (:func:`forget`);
- a change made around the application (by hand, in ``psql``) is picked up within
  :data:`MAX_AGE_SECONDS`.

A transaction that has itself changed them reads them afresh and keeps nothing, so it sees its
own uncommitted change and no other transaction does. What belongs to one client or one order
(a client's blocked and preferred workers, an order's refusals) and the jobs are always read.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import chain
from typing import Any, Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import bindparam, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, joinedload

from core.catalog import ServiceInfo, service_info
from core.db import DATABASE, Database
from core.models import (
    Event,
    Service,
    ServiceSkill,
    ServiceZone,
    ShiftException,
    ShiftPattern,
    Worker,
    WorkerSkill,
    WorkerZone,
    Zone,
)
from core.shifts import EXCEPTION_COLUMNS, PATTERN_COLUMNS, ExceptionRow, PatternRow
from core.zones import ZoneMap

CHANGED = "catalog.changed"  # the event kind
MAX_AGE_SECONDS = 60.0

_CLASSES = (
    Service, ServiceSkill, ServiceZone, Zone,
    Worker, WorkerZone, WorkerSkill, ShiftPattern, ShiftException,
)
_TABLES = frozenset(str(kind.__tablename__) for kind in _CLASSES)
# Exceptions are kept from a week before the first day asked about: past days are rarely asked
# about again, and a search further back reads them from the table.
_EXCEPTIONS_BACK = timedelta(days=7)
_CHANGED_HERE = "brigadier_catalog_changed"  # session.info: this transaction changed it


@dataclass(frozen=True)
class Reference:
    """Active services by id, and the zones with each zone's price modifier (percent)."""

    services: Mapping[int, ServiceInfo]
    zones: ZoneMap
    modifiers: Mapping[int, int]


@dataclass(frozen=True)
class StaffMember:
    """An active worker as slot searches see them."""

    id: int
    home_lat: float | None
    home_lon: float | None
    rating: float
    zone_ids: frozenset[int]
    skills: frozenset[str]


@dataclass(frozen=True)
class Staff:
    """Active workers by id, their shift patterns, and their shift exceptions from ``since``."""

    members: Mapping[int, StaffMember]
    patterns: Mapping[int, tuple[PatternRow, ...]]
    exceptions: Mapping[int, tuple[ExceptionRow, ...]]
    since: date


T = TypeVar("T")


class _Copy(Generic[T]):
    """One kind of held data: the copy, when it was read, and the read under way, if any.

    Updates that find the copy missing at the same moment (a burst of customers after a
    restart or a change) wait for one read instead of each reading it.
    """

    def __init__(self) -> None:
        self.value: T | None = None
        self.read_at = 0.0
        self.generation = 0  # moves on with every forget(): a read begun before it is not kept
        self._reading: asyncio.Future[T | None] | None = None

    def forget(self) -> None:
        self.value = None
        self.generation += 1

    async def get(
        self, tx: AsyncSession, read: Callable[[], Awaitable[T]], fits: Callable[[T], bool]
    ) -> T:
        if tx.info.get(_CHANGED_HERE):
            return await read()  # this transaction's own, uncommitted view: keep nothing
        value = self.value
        if value is not None and fits(value) and time.monotonic() - self.read_at < MAX_AGE_SECONDS:
            return value
        generation = self.generation
        reading = self._reading
        if reading is not None and not reading.done():
            shared = await asyncio.shield(reading)
            if shared is not None and fits(shared) and self.generation == generation:
                return shared
            return await read()  # that read failed, was too short, or was overtaken
        mine: asyncio.Future[T | None] = asyncio.get_running_loop().create_future()
        self._reading = mine
        read_at = time.monotonic()
        try:
            fresh = await read()
        except BaseException:
            mine.set_result(None)  # those waiting read for themselves
            raise
        if self.generation == generation and not tx.info.get(_CHANGED_HERE):
            self.value, self.read_at = fresh, read_at
            mine.set_result(fresh)
        else:
            mine.set_result(None)
        return fresh


@dataclass
class _Held:
    reference: _Copy[Reference] = field(default_factory=_Copy)
    staff: _Copy[Staff] = field(default_factory=_Copy)


_HELD: WeakKeyDictionary[Database, _Held] = WeakKeyDictionary()

_SERVICES = (
    select(Service)
    .options(joinedload(Service.skills), joinedload(Service.zones))
    .where(Service.active.is_(True))
)
_ZONES = select(Zone.id, Zone.code, Zone.polygon_wkt, Zone.price_modifier_percent)


def _held(tx: AsyncSession) -> _Held:
    db: Database | None = tx.info.get(DATABASE)
    if db is None:  # a session not opened by a Database: nothing to hold it in
        return _Held()
    held = _HELD.get(db)
    if held is None:
        held = _HELD[db] = _Held()
    return held


async def reference(tx: AsyncSession) -> Reference:
    """The services and zones as of the last change this process has heard of."""
    return await _held(tx).reference.get(tx, lambda: _read(tx), lambda _: True)


async def staff(tx: AsyncSession, since: date) -> Staff:
    """The active workers and their shifts, with shift exceptions from ``since`` at least."""
    return await _held(tx).staff.get(
        tx, lambda: _read_staff(tx, since - _EXCEPTIONS_BACK), lambda kept: kept.since <= since
    )


def forget(db: Database) -> None:
    """Drop the process's copy: the next reader reads services, zones and staff again."""
    held = _HELD.get(db)
    if held is not None:
        held.reference.forget()
        held.staff.forget()


async def _read(tx: AsyncSession) -> Reference:
    services = {s.id: service_info(s) for s in (await tx.scalars(_SERVICES)).unique()}
    rows = (await tx.execute(_ZONES)).all()
    zones = ZoneMap((id, code, wkt) for id, code, wkt, _ in rows)
    return Reference(services, zones, {id: modifier for id, _, _, modifier in rows})


_WORKERS = select(Worker.id, Worker.home_lat, Worker.home_lon, Worker.rating).where(
    Worker.active.is_(True)
)
_WORKER_ZONES = select(WorkerZone.worker_id, WorkerZone.zone_id)
_WORKER_SKILLS = select(WorkerSkill.worker_id, WorkerSkill.skill)
_PATTERNS = select(*PATTERN_COLUMNS).order_by(ShiftPattern.id)
_EXCEPTIONS = (
    select(*EXCEPTION_COLUMNS)
    .where(ShiftException.day >= bindparam("since"))
    .order_by(ShiftException.id)
)


async def _read_staff(tx: AsyncSession, since: date) -> Staff:
    zones: defaultdict[int, set[int]] = defaultdict(set)
    for worker_id, zone_id in await tx.execute(_WORKER_ZONES):
        zones[worker_id].add(zone_id)
    skills: defaultdict[int, set[str]] = defaultdict(set)
    for worker_id, skill in await tx.execute(_WORKER_SKILLS):
        skills[worker_id].add(skill)
    members = {
        id: StaffMember(id, lat, lon, rating, frozenset(zones[id]), frozenset(skills[id]))
        for id, lat, lon, rating in await tx.execute(_WORKERS)
    }
    patterns: defaultdict[int, list[PatternRow]] = defaultdict(list)
    for row in await tx.execute(_PATTERNS):
        if row.worker_id in members:
            patterns[row.worker_id].append(PatternRow(*row))
    exceptions: defaultdict[int, list[ExceptionRow]] = defaultdict(list)
    for found in await tx.execute(_EXCEPTIONS, {"since": since}):
        if found.worker_id in members:
            exceptions[found.worker_id].append(ExceptionRow(*found))
    return Staff(
        members,
        {id: tuple(rows) for id, rows in patterns.items()},
        {id: tuple(rows) for id, rows in exceptions.items()},
        since,
    )


# --- noticing changes ------------------------------------------------------------------------


def _changed(session: Session) -> None:
    """Note a catalog change in this transaction, with the event that tells other processes."""
    if not session.info.get(_CHANGED_HERE):
        session.info[_CHANGED_HERE] = True
        session.add(Event(kind=CHANGED, payload={}))


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    touched = chain(session.new, session.dirty, session.deleted)
    if any(isinstance(item, _CLASSES) for item in touched):
        _changed(session)


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in _TABLES:
            _changed(state.session)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED_HERE, False):
        db = session.info.get(DATABASE)
        if db is not None:
            forget(db)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED_HERE, None)
