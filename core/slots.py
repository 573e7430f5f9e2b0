"""Free slots: starts at which an eligible worker can do the job, travel included.

A start is free when an eligible worker (works in a zone containing the place, has the
service's skills, is not on the client's blocked list) has a shift covering the whole job and
can get there from their previous job and on to their next one in time. Slots are computed,
never stored. Arithmetic runs on UTC epoch minutes; results come back in the company's zone.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Integer, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import ServiceInfo
from core.config import Config
from core.db import Database
from core.errors import InvalidInput, NotFound
from core.gaps import FloatArray, IntArray, Workload, best_per_start, find_gaps, grid
from core.geo import Point
from core.models import (
    Address,
    ClientWorker,
    OfferRefusal,
    Order,
    Worker,
    WorkerPreference,
    WorkerSkill,
    WorkerZone,
    minutes_since_epoch,
)
from core.one_of import one_of
from core.reference import reference, staff
from core.shifts import (
    ExceptionRow,
    PatternRow,
    WorkInterval,
    days,
    epoch_minutes,
    from_epoch_minutes,
    working_intervals,
)
from core.travel import StraightLineTravel, TravelTimes

CANCELLED = "cancelled"


@dataclass(frozen=True)
class SlotRules:
    """What slot arithmetic needs from the configuration."""

    tz: ZoneInfo
    step: int
    lead: int
    alternatives: int
    max_days: int
    travel: TravelTimes

    @classmethod
    def from_config(cls, config: Config, travel: TravelTimes | None = None) -> SlotRules:
        s = config.scheduling
        return cls(
            tz=config.company.tz,
            step=s.slot_step_minutes,
            lead=s.min_lead_minutes,
            alternatives=s.alternatives,
            max_days=s.max_days,
            travel=travel
            or StraightLineTravel(speed_kmh=s.travel_speed_kmh, detour_factor=s.detour_factor),
        )


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    worker_id: int

    def as_json(self) -> dict[str, object]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "worker_id": self.worker_id,
        }


@dataclass(frozen=True)
class Place:
    point: Point
    zone_ids: tuple[int, ...]
    # Each zone's price modifier, in percent (read with the zones: a booking prices by it).
    price_modifiers: Mapping[int, int] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class JobSpec:
    service_id: int
    duration: int
    skills: tuple[str, ...]
    workflow: str
    unit_price: int


# --- loading ---------------------------------------------------------------------------------


async def resolve_place(
    tx: AsyncSession, *, point: Point | None, address_id: int | None
) -> tuple[Place, Address | None]:
    """The point and the zones of a place given as coordinates or as a saved address."""
    known = await reference(tx)
    address = None
    if address_id is not None:
        address = await tx.get(Address, address_id)
        if address is None:
            raise NotFound("not_found", entity="address", ref=address_id)
        if address.lat is not None and address.lon is not None:
            point = Point(address.lat, address.lon)
        elif address.zone_id is not None:
            # Placed on a zone by an operator: its representative point stands in for travel.
            point = known.zones.representative_point(address.zone_id)
            return Place(point, (address.zone_id,), known.modifiers), address
        else:
            raise InvalidInput(
                "address_not_geocoded", field="address", value=address.text, address=address.text
            )
    if point is None:
        raise InvalidInput(
            "invalid_value", field="place", value="", reason="give a point or an address"
        )
    zone_ids = tuple(known.zones.zones_at(point))
    if not zone_ids:
        raise InvalidInput(
            "outside_zones",
            field="place",
            value=f"{point.lat},{point.lon}",
            lat=point.lat,
            lon=point.lon,
        )
    return Place(point, zone_ids, known.modifiers), address


async def load_job_spec(
    tx: AsyncSession, service_id: int, quantity: int
) -> tuple[JobSpec, ServiceInfo]:
    service = (await reference(tx)).services.get(service_id)
    if service is None:
        raise NotFound("not_found", entity="service", ref=service_id)
    if not 1 <= quantity <= 10_000:
        raise InvalidInput("invalid_value", field="quantity", value=quantity, reason="1–10000")
    duration = service.duration_minutes + service.minutes_per_unit * (quantity - 1)
    spec = JobSpec(service.id, duration, service.skills, service.workflow, service.price)
    return spec, service


def sold_zones(service: ServiceInfo, place: Place) -> tuple[int, ...]:
    sold = set(service.zone_ids)
    zone_ids = tuple(z for z in place.zone_ids if z in sold) if sold else place.zone_ids
    if not zone_ids:
        raise InvalidInput(
            "service_not_sold_here", field="service", value=service.code, service=service.names
        )
    return zone_ids


@dataclass(frozen=True)
class Eligible:
    """The workers who may take a job: active, allowed in one of its zones, with each of its
    skills, not on the client's blocked list; for an offer passed on, not among those who
    refused ``order_id``; with ``only``, that one worker alone (when eligible)."""

    zone_ids: tuple[int, ...]
    skills: tuple[str, ...]
    client_id: int | None
    order_id: int | None = None
    only: int | None = None

    def statement(
        self, *, lock: bool = False, skip_locked: bool = False, preferred_by: int | None = None
    ) -> tuple[Select[*tuple[Any, ...]], dict[str, Any]]:
        """Their ids, homes, ratings and whether client ``preferred_by`` prefers them
        (``lock``: locked ``FOR UPDATE``, leaving out those locked elsewhere with
        ``skip_locked``), and the statement's values."""
        query = _eligible_query(
            len(self.skills), self.client_id is not None, self.order_id is not None,
            self.only is not None, "skip" if lock and skip_locked else "wait" if lock else "",
        )
        params: dict[str, Any] = {"zones": list(self.zone_ids), "client": self.client_id,
                                  "order": self.order_id, "worker": self.only,
                                  "preferred_by": preferred_by}
        params.update({f"skill_{n}": skill for n, skill in enumerate(self.skills)})
        return query, params


def eligible_workers(
    spec: JobSpec, zone_ids: Sequence[int], client_id: int | None
) -> Eligible:
    return Eligible(tuple(zone_ids), spec.skills, client_id)


@lru_cache(maxsize=64)
def _eligible_query(
    skills: int, blocked: bool, refused: bool, only: bool, lock: str
) -> Select[*tuple[Any, ...]]:
    """Built once for each shape: slot searches and bookings run it all the time."""
    preferred = Worker.id.in_(
        select(ClientWorker.worker_id).where(
            ClientWorker.client_id == bindparam("preferred_by"),
            ClientWorker.kind == WorkerPreference.PREFERRED,
        )
    )
    query = select(
        Worker.id, Worker.home_lat, Worker.home_lon, Worker.rating, preferred
    ).where(
        Worker.active.is_(True),
        Worker.id.in_(
            select(WorkerZone.worker_id).where(
                one_of(WorkerZone.zone_id, "zones", Integer())
            )
        ),
    )
    for n in range(skills):
        query = query.where(Worker.id.in_(
            select(WorkerSkill.worker_id).where(WorkerSkill.skill == bindparam(f"skill_{n}"))
        ))
    if blocked:
        query = query.where(Worker.id.not_in(
            select(ClientWorker.worker_id).where(
                ClientWorker.client_id == bindparam("client"),
                ClientWorker.kind == WorkerPreference.BLOCKED,
            )
        ))
    if refused:
        query = query.where(Worker.id.not_in(
            select(OfferRefusal.worker_id).where(OfferRefusal.order_id == bindparam("order"))
        ))
    if only:
        query = query.where(Worker.id == bindparam("worker"))
    if lock:
        query = query.with_for_update(of=Worker, skip_locked=lock == "skip")
    return query


@dataclass(frozen=True)
class WorkloadRows:
    """What :func:`read_workload` read: the workers, their shifts and their jobs."""

    info: dict[int, tuple[float | None, float | None, float]]
    preferred: set[int]
    patterns: list[PatternRow]
    exceptions: list[ExceptionRow]
    jobs: Sequence[Any]
    first: date
    last: date
    tz: ZoneInfo

    def workload(self) -> Workload:
        return _workload(self.info, self.preferred, self.patterns, self.exceptions, self.jobs,
                         days(self.first, self.last), self.tz)

    def jobs_of(self, worker_id: int) -> list[Any]:
        """The worker's jobs as read, in the order :func:`load_jobs` gives them."""
        return [job for job in self.jobs if job.worker_id == worker_id]

    def one_worker(self, worker_id: int, jobs: Sequence[Any]) -> Workload:
        """The worker's workload with ``jobs`` read again (see :func:`load_jobs`)."""
        info = {worker_id: self.info[worker_id]} if worker_id in self.info else {}
        return _workload(
            info,
            self.preferred,
            [p for p in self.patterns if p.worker_id == worker_id],
            [e for e in self.exceptions if e.worker_id == worker_id],
            jobs,
            days(self.first, self.last),
            self.tz,
        )


async def load_workload(
    tx: AsyncSession,
    workers: Eligible,
    client_id: int | None,
    first: date,
    last: date,
    tz: ZoneInfo,
) -> Workload:
    """Each eligible worker's working intervals and jobs from ``first`` to ``last``."""
    rows = await read_workload(tx, workers, client_id, first, last, tz)
    return rows.workload()


async def read_workload(
    tx: AsyncSession,
    workers: Eligible,
    client_id: int | None,
    first: date,
    last: date,
    tz: ZoneInfo,
) -> WorkloadRows:
    """The eligible workers (see :class:`Eligible`; who they are comes from the process's copy
    of the staff, :mod:`core.reference`), their shifts and their jobs."""
    crew = await staff(tx, first)
    blocked, preferred_ids = await _client_lists(tx, workers.client_id, client_id)
    refused: set[int] = set()
    if workers.order_id is not None:
        refused = set(await tx.scalars(_REFUSED, {"order": workers.order_id}))
    info: dict[int, tuple[float | None, float | None, float]] = {}
    zones = set(workers.zone_ids)
    for member in crew.members.values():
        if (
            (workers.only is None or member.id == workers.only)
            and not member.zone_ids.isdisjoint(zones)
            and member.skills.issuperset(workers.skills)
            and member.id not in blocked
            and member.id not in refused
        ):
            info[member.id] = (member.home_lat, member.home_lon, member.rating)
    patterns = [
        pattern
        for worker_id in info
        for pattern in crew.patterns.get(worker_id, ())
        if pattern.touches(first, last)
    ]
    exceptions = [
        exception
        for worker_id in info
        for exception in crew.exceptions.get(worker_id, ())
        if first <= exception.day <= last
    ]
    jobs = await load_jobs(tx, info, first, last, tz)
    return WorkloadRows(
        info, preferred_ids & info.keys(), patterns, exceptions, jobs, first, last, tz
    )


_CLIENT_LISTS = select(ClientWorker.client_id, ClientWorker.worker_id, ClientWorker.kind).where(
    one_of(ClientWorker.client_id, "clients", Integer())
)
_REFUSED = select(OfferRefusal.worker_id).where(OfferRefusal.order_id == bindparam("order"))


async def _client_lists(
    tx: AsyncSession, blocked_by: int | None, preferred_by: int | None
) -> tuple[set[int], set[int]]:
    """The workers ``blocked_by`` has blocked, and those ``preferred_by`` prefers."""
    clients = {client for client in (blocked_by, preferred_by) if client is not None}
    blocked: set[int] = set()
    preferred: set[int] = set()
    if not clients:
        return blocked, preferred
    for client, worker_id, kind in await tx.execute(_CLIENT_LISTS, {"clients": list(clients)}):
        if kind == WorkerPreference.BLOCKED and client == blocked_by:
            blocked.add(worker_id)
        elif kind == WorkerPreference.PREFERRED and client == preferred_by:
            preferred.add(worker_id)
    return blocked, preferred


# Jobs near a range of days (half a day either side: travel to and from them counts), by
# worker and start. Built once: every slot search and booking runs it.
_JOBS_QUERY = (
    select(
        Order.worker_id,
        minutes_since_epoch(Order.starts_at),
        minutes_since_epoch(Order.ends_at),
        Order.lat,
        Order.lon,
    )
    .where(
        one_of(Order.worker_id, "workers", Integer()),
        Order.status != CANCELLED,
        Order.starts_at < bindparam("before"),
        Order.ends_at > bindparam("after"),
    )
    .order_by(Order.worker_id, Order.starts_at)
)


async def load_jobs(
    tx: AsyncSession, worker_ids: Collection[int], first: date, last: date, tz: ZoneInfo
) -> Sequence[Any]:
    """Jobs near ``first``..``last`` of the workers, by worker and start."""
    range_start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    range_end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    params = {
        "workers": list(worker_ids),
        "before": range_end + timedelta(hours=12),
        "after": range_start - timedelta(hours=12),
    }
    # Plain Core rows: thousands of them, no ORM entities needed.
    connection = await tx.connection()
    return (await connection.execute(_JOBS_QUERY, params)).all()


def _workload(
    info: dict[int, tuple[float | None, float | None, float]],
    preferred: set[int],
    patterns: list[PatternRow],
    exceptions: list[ExceptionRow],
    jobs: Sequence[Any],
    day_list: list[date],
    tz: ZoneInfo,
) -> Workload:
    nan = float("nan")
    by_weekday: dict[tuple[int, int], list[PatternRow]] = defaultdict(list)
    for p in patterns:
        by_weekday[p.worker_id, p.weekday].append(p)
    by_day: dict[tuple[int, date], list[ExceptionRow]] = defaultdict(list)
    for e in exceptions:
        by_day[e.worker_id, e.day].append(e)
    job_starts: dict[int, list[int]] = defaultdict(list)
    job_base: dict[int, int] = {}
    for index, row in enumerate(jobs):
        job_base.setdefault(row[0], index)
        job_starts[row[0]].append(row[1])
    workers = sorted(
        info.keys() & ({p.worker_id for p in patterns} | {e.worker_id for e in exceptions})
    )
    # Most workers share a few standard shifts: compute each distinct day's intervals once.
    shared: dict[tuple[object, ...], list[WorkInterval]] = {}
    rows: list[tuple[Any, ...]] = []
    for day_index, day in enumerate(day_list):
        weekday = day.weekday()
        for worker_id in workers:
            applying = [p for p in by_weekday.get((worker_id, weekday), ()) if p.applies(day)]
            changes = by_day.get((worker_id, day))
            if changes:
                intervals = working_intervals(applying, changes, day, tz)
            else:
                key = (day, *((p.starts, p.ends, p.zone_id) for p in applying))
                if key not in shared:
                    shared[key] = working_intervals(applying, (), day, tz)
                intervals = shared[key]
            if not intervals:
                continue
            # Jobs that can matter: those within half a day of the shifts (travel neighbours).
            starts = job_starts.get(worker_id, [])
            base = job_base.get(worker_id, 0)
            job_from = base + bisect.bisect_left(starts, intervals[0].start - 720)
            job_to = base + bisect.bisect_left(starts, intervals[-1].end + 720)
            lat, lon, rating = info[worker_id]
            for interval in intervals:
                rows.append(
                    (
                        worker_id,
                        day_index,
                        interval.start,
                        interval.end,
                        -1 if interval.zone_id is None else interval.zone_id,
                        job_from,
                        job_to,
                        rating,
                        worker_id in preferred,
                        nan if lat is None else lat,
                        nan if lon is None else lon,
                    )
                )
    columns = list(zip(*rows, strict=True)) if rows else [()] * 11
    homes = {
        w: (nan if v[0] is None else v[0], nan if v[1] is None else v[1]) for w, v in info.items()
    }

    def ints(values: Sequence[Any]) -> IntArray:
        return np.asarray(values, dtype=np.int64)

    def floats(values: Sequence[Any]) -> FloatArray:
        return np.asarray(values, dtype=np.float64)

    return Workload(
        days=day_list,
        row_worker=ints(columns[0]),
        row_day=ints(columns[1]),
        row_start=ints(columns[2]),
        row_end=ints(columns[3]),
        row_zone=ints(columns[4]),
        row_job_from=ints(columns[5]),
        row_job_to=ints(columns[6]),
        row_rating=floats(columns[7]),
        row_preferred=np.asarray(columns[8], dtype=np.bool_),
        row_home_lat=floats(columns[9]),
        row_home_lon=floats(columns[10]),
        job_start=ints([j[1] for j in jobs]),
        job_end=ints([j[2] for j in jobs]),
        job_lat=floats([nan if j[3] is None else j[3] for j in jobs]),
        job_lon=floats([nan if j[4] is None else j[4] for j in jobs]),
        job_home_lat=floats([homes.get(j[0], (nan, nan))[0] for j in jobs]),
        job_home_lon=floats([homes.get(j[0], (nan, nan))[1] for j in jobs]),
    )


# --- the service -----------------------------------------------------------------------------


def _check_range(first: date, last: date, rules: SlotRules) -> None:
    if last < first:
        raise InvalidInput("invalid_date_range", field="dates", value=f"{first}..{last}")
    if (last - first).days >= rules.max_days:
        raise InvalidInput(
            "invalid_value",
            field="dates",
            value=f"{first}..{last}",
            reason=f"at most {rules.max_days} days at once",
        )


def compute_slots(
    workload: Workload,
    *,
    spec: JobSpec,
    place: Place,
    zone_ids: tuple[int, ...],
    rules: SlotRules,
    not_before: int,
) -> list[Slot]:
    """The free starts, each with the best worker for it by the assignment score."""
    if workload.empty:
        return []
    gaps = find_gaps(
        workload, duration=spec.duration, point=place.point, zone_ids=zone_ids, travel=rules.travel
    )
    slots = []
    for day_index, day in enumerate(workload.days):
        starts = grid(day, rules.tz, rules.step, not_before)
        for start, gap in best_per_start(gaps, day_index, starts):
            slots.append(
                Slot(
                    from_epoch_minutes(start, rules.tz),
                    from_epoch_minutes(start + spec.duration, rules.tz),
                    int(gaps.worker[gap]),
                )
            )
    return slots


async def find_slots(
    db: Database,
    *,
    service_id: int,
    first: date,
    last: date,
    now: datetime,
    rules: SlotRules,
    point: Point | None = None,
    address_id: int | None = None,
    client_id: int | None = None,
    quantity: int = 1,
) -> list[Slot]:
    """Free starts for a service at a place from ``first`` to ``last`` (local dates, inclusive)."""
    _check_range(first, last, rules)
    async with db.transaction(read_only=True) as tx:
        spec, service = await load_job_spec(tx, service_id, quantity)
        place, _ = await resolve_place(tx, point=point, address_id=address_id)
        zone_ids = sold_zones(service, place)
        workers = eligible_workers(spec, zone_ids, client_id)
        workload = await load_workload(tx, workers, client_id, first, last, rules.tz)
    return compute_slots(
        workload,
        spec=spec,
        place=place,
        zone_ids=zone_ids,
        rules=rules,
        not_before=epoch_minutes(now) + rules.lead,
    )


def nearest(slots: Sequence[Slot], moment: datetime, count: int) -> list[Slot]:
    """The ``count`` free starts closest to ``moment``, in time order."""
    return sorted(
        sorted(slots, key=lambda s: abs((s.start - moment).total_seconds()))[:count],
        key=lambda s: s.start,
    )
