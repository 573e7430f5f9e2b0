"""Free slots: starts at which an eligible worker can do the job, travel included.

A start is free when an eligible worker (works in a zone containing the place, has the
service's skills, is not on the client's blocked list) has a shift covering the whole job and
can get there from their previous job and on to their next one in time. Slots are computed,
never stored. Arithmetic runs on UTC epoch minutes; results come back in the company's zone.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.assignment import Candidate, score
from core.config import Config
from core.db import Database
from core.errors import InvalidInput, NotFound
from core.geo import Point
from core.models import (
    Address,
    ClientWorker,
    Order,
    Service,
    Worker,
    WorkerPreference,
    WorkerSkill,
    WorkerZone,
    Zone,
    minutes_since_epoch,
)
from core.shifts import (
    ExceptionRow,
    PatternRow,
    WorkInterval,
    days,
    epoch_minutes,
    from_epoch_minutes,
    load_shift_rows,
    working_intervals,
)
from core.travel import StraightLineTravel, TravelTimes
from core.zones import ZoneMap

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


@dataclass(frozen=True, slots=True)
class Job:
    """A booked job; ``index`` is its place in ``Workload`` arrays."""

    index: int
    start: int
    end: int


@dataclass(frozen=True)
class WorkerDay:
    worker_id: int
    day: date
    intervals: Sequence[WorkInterval]
    jobs: Sequence[Job]  # in time order; consecutive in the worker's jobs
    home: Point | None
    rating: float
    preferred: bool


@dataclass(frozen=True)
class Workload:
    """Eligible workers' days, and where each of their jobs is (NaN when unknown)."""

    days: list[WorkerDay]
    job_lat: list[float]
    job_lon: list[float]


@dataclass(frozen=True)
class Legs:
    """Travel minutes one query needs, computed in a few batches rather than leg by leg."""

    to_place: list[int]  # from job i to the place asked about
    from_place: list[int]  # from the place to job i
    to_next: list[int]  # from job i to the worker's next job i + 1
    home_place: dict[int, tuple[int, int]]  # worker → (home → place, place → home)
    home_job: dict[int, tuple[int, int]]  # job → (job → its worker's home, home → job)

    @classmethod
    def compute(cls, workload: Workload, point: Point, travel: TravelTimes) -> Legs:
        lat, lon = workload.job_lat, workload.job_lon
        to_place = travel.pairwise(lat, lon, [point.lat], [point.lon])
        from_place = travel.pairwise([point.lat], [point.lon], lat, lon)
        to_next = [*travel.pairwise(lat[:-1], lon[:-1], lat[1:], lon[1:]), 0] if lat else []
        home_place: dict[int, tuple[int, int]] = {}
        home_job: dict[int, tuple[int, int]] = {}
        for wd in workload.days:
            if wd.home is None or wd.worker_id in home_place:
                continue
            home_place[wd.worker_id] = (
                travel.minutes(wd.home, point),
                travel.minutes(point, wd.home),
            )
        ends = [
            (wd, job) for wd in workload.days if wd.home for job in (wd.jobs[:1] + wd.jobs[-1:])
        ]
        if ends:
            home_lat = [wd.home.lat for wd, _ in ends if wd.home]
            home_lon = [wd.home.lon for wd, _ in ends if wd.home]
            job_lat = [lat[job.index] for _, job in ends]
            job_lon = [lon[job.index] for _, job in ends]
            back = travel.pairwise(job_lat, job_lon, home_lat, home_lon)
            out = travel.pairwise(home_lat, home_lon, job_lat, job_lon)
            for (_, job), b, o in zip(ends, back, out, strict=True):
                home_job[job.index] = (b, o)
        return cls(to_place, from_place, to_next, home_place, home_job)


@dataclass(frozen=True, slots=True)
class Gap:
    """Starts in [first, last] (epoch minutes) fit this worker; ``score`` ranks the worker."""

    first: int
    last: int
    candidate: Candidate
    score: float


@dataclass(frozen=True)
class Place:
    point: Point
    zone_ids: tuple[int, ...]


@dataclass(frozen=True)
class JobSpec:
    service_id: int
    duration: int
    skills: tuple[str, ...]
    workflow: str
    unit_price: int


# --- pure arithmetic -------------------------------------------------------------------------


def day_gaps(wd: WorkerDay, *, duration: int, zone_ids: Iterable[int], legs: Legs) -> list[Gap]:
    """Every stretch of starts at which this worker can take the job on this day."""
    zones = set(zone_ids)
    intervals = [i for i in wd.intervals if i.zone_id is None or i.zone_id in zones]
    if not intervals:
        return []
    jobs = wd.jobs
    home_in, home_out = legs.home_place.get(wd.worker_id, (0, 0))
    gaps = []
    # Neighbour pairs (previous job, next job); None stands for the start or end of the day.
    for position in range(len(jobs) + 1):
        prev = jobs[position - 1] if position > 0 else None
        nxt = jobs[position] if position < len(jobs) else None
        lo = prev.end + legs.to_place[prev.index] if prev else -(10**12)
        hi = nxt.start - legs.from_place[nxt.index] - duration if nxt else 10**12
        if lo > hi:
            continue
        before = legs.to_place[prev.index] if prev else home_in
        after = legs.from_place[nxt.index] if nxt else home_out
        if prev and nxt:
            direct = legs.to_next[prev.index]
        elif prev:
            direct = legs.home_job.get(prev.index, (0, 0))[0]
        elif nxt:
            direct = legs.home_job.get(nxt.index, (0, 0))[1]
        else:
            direct = 0
        candidate = Candidate(
            wd.worker_id, max(0, before + after - direct), len(jobs), wd.rating, wd.preferred
        )
        ranked = score(candidate)
        for interval in intervals:
            first, last = max(lo, interval.start), min(hi, interval.end - duration)
            if first <= last:
                gaps.append(Gap(first, last, candidate, ranked))
    return gaps


def grid(day: date, tz: ZoneInfo, step: int, not_before: int) -> list[int]:
    """Starts on the company's local grid (every ``step`` minutes from midnight) on ``day``."""
    midnight = epoch_minutes(datetime.combine(day, datetime.min.time(), tzinfo=tz))
    next_midnight = epoch_minutes(
        datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    )
    return [t for t in range(midnight, next_midnight, step) if t >= not_before]


def best_per_start(gaps: Sequence[Gap], starts: Sequence[int]) -> dict[int, Candidate]:
    """For each start, the best-scoring worker who can take it."""
    open_starts = list(starts)
    chosen: dict[int, Candidate] = {}
    for gap in sorted(gaps, key=lambda g: (g.score, g.candidate.worker_id)):
        if not open_starts:
            break
        lo = bisect.bisect_left(open_starts, gap.first)
        hi = bisect.bisect_right(open_starts, gap.last)
        if lo == hi:
            continue
        for start in open_starts[lo:hi]:
            chosen[start] = gap.candidate
        del open_starts[lo:hi]
    return chosen


# --- loading ---------------------------------------------------------------------------------


async def resolve_place(
    tx: AsyncSession, *, point: Point | None, address_id: int | None
) -> tuple[Place, Address | None]:
    """The point and the zones of a place given as coordinates or as a saved address."""
    zone_rows = (await tx.execute(select(Zone.id, Zone.code, Zone.polygon_wkt))).all()
    zone_map = ZoneMap(zone_rows)
    address = None
    if address_id is not None:
        address = await tx.get(Address, address_id)
        if address is None:
            raise NotFound("not_found", entity="address", ref=address_id)
        if address.lat is not None and address.lon is not None:
            point = Point(address.lat, address.lon)
        elif address.zone_id is not None:
            # Placed on a zone by an operator: its representative point stands in for travel.
            point = zone_map.representative_point(address.zone_id)
            return Place(point, (address.zone_id,)), address
        else:
            raise InvalidInput(
                "address_not_geocoded", field="address", value=address.text, address=address.text
            )
    if point is None:
        raise InvalidInput(
            "invalid_value", field="place", value="", reason="give a point or an address"
        )
    zone_ids = tuple(zone_map.zones_at(point))
    if not zone_ids:
        raise InvalidInput(
            "outside_zones",
            field="place",
            value=f"{point.lat},{point.lon}",
            lat=point.lat,
            lon=point.lon,
        )
    return Place(point, zone_ids), address


async def load_job_spec(
    tx: AsyncSession, service_id: int, quantity: int
) -> tuple[JobSpec, Service]:
    service = await tx.get(Service, service_id)
    if service is None or not service.active:
        raise NotFound("not_found", entity="service", ref=service_id)
    if not 1 <= quantity <= 10_000:
        raise InvalidInput("invalid_value", field="quantity", value=quantity, reason="1–10000")
    duration = service.duration_minutes + service.minutes_per_unit * (quantity - 1)
    spec = JobSpec(
        service.id,
        duration,
        tuple(sorted(s.skill for s in service.skills)),
        service.workflow,
        service.price,
    )
    return spec, service


def sold_zones(service: Service, place: Place) -> tuple[int, ...]:
    sold = {z.zone_id for z in service.zones}
    zone_ids = tuple(z for z in place.zone_ids if z in sold) if sold else place.zone_ids
    if not zone_ids:
        raise InvalidInput(
            "service_not_sold_here", field="service", value=service.code, service=service.names
        )
    return zone_ids


def eligible_workers(
    spec: JobSpec, zone_ids: Sequence[int], client_id: int | None
) -> Select[tuple[int]]:
    query = select(Worker.id).where(
        Worker.active.is_(True),
        Worker.id.in_(select(WorkerZone.worker_id).where(WorkerZone.zone_id.in_(zone_ids))),
    )
    for skill in spec.skills:
        query = query.where(
            Worker.id.in_(select(WorkerSkill.worker_id).where(WorkerSkill.skill == skill))
        )
    if client_id is not None:
        query = query.where(
            Worker.id.not_in(
                select(ClientWorker.worker_id).where(
                    ClientWorker.client_id == client_id,
                    ClientWorker.kind == WorkerPreference.BLOCKED,
                )
            )
        )
    return query


async def load_worker_days(
    tx: AsyncSession,
    workers: Select[tuple[int]],
    client_id: int | None,
    first: date,
    last: date,
    tz: ZoneInfo,
    *,
    exclude_order_id: int | None = None,
) -> Workload:
    """Each eligible worker's shifts and jobs, day by day, from ``first`` to ``last``."""
    eligible = workers
    info = {
        row[0]: row[1:]
        for row in await tx.execute(
            select(Worker.id, Worker.home_lat, Worker.home_lon, Worker.rating).where(
                Worker.id.in_(eligible)
            )
        )
    }
    if not info:
        return Workload([], [], [])
    preferred = set()
    if client_id is not None:
        preferred = set(
            await tx.scalars(
                select(ClientWorker.worker_id).where(
                    ClientWorker.client_id == client_id,
                    ClientWorker.kind == WorkerPreference.PREFERRED,
                )
            )
        )
    patterns, exceptions = await load_shift_rows(tx, None, first, last, eligible=eligible)
    range_start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    range_end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    order_query = select(
        Order.worker_id,
        minutes_since_epoch(Order.starts_at),
        minutes_since_epoch(Order.ends_at),
        Order.lat,
        Order.lon,
    ).where(
        Order.worker_id.in_(eligible),
        Order.status != CANCELLED,
        Order.starts_at < range_end + timedelta(hours=12),
        Order.ends_at > range_start - timedelta(hours=12),
    )
    if exclude_order_id is not None:
        order_query = order_query.where(Order.id != exclude_order_id)
    # Plain Core rows: thousands of them, no ORM entities needed.
    connection = await tx.connection()
    rows = (await connection.execute(order_query.order_by(Order.worker_id, Order.starts_at))).all()
    nan = float("nan")
    job_lat = [nan if row[3] is None else row[3] for row in rows]
    job_lon = [nan if row[4] is None else row[4] for row in rows]
    jobs_by_worker: dict[int, list[Job]] = defaultdict(list)
    for index, (worker_id, start, end, _, _) in enumerate(rows):
        jobs_by_worker[worker_id].append(Job(index, start, end))
    worker_days = _worker_days(
        info, preferred, patterns, exceptions, jobs_by_worker, first, last, tz
    )
    return Workload(worker_days, job_lat, job_lon)


def _worker_days(
    info: dict[int, tuple[float | None, float | None, float]],
    preferred: set[int],
    patterns: list[PatternRow],
    exceptions: list[ExceptionRow],
    jobs_by_worker: dict[int, list[Job]],
    first: date,
    last: date,
    tz: ZoneInfo,
) -> list[WorkerDay]:
    by_weekday: dict[tuple[int, int], list[PatternRow]] = defaultdict(list)
    for p in patterns:
        by_weekday[p.worker_id, p.weekday].append(p)
    by_day: dict[tuple[int, date], list[ExceptionRow]] = defaultdict(list)
    for e in exceptions:
        by_day[e.worker_id, e.day].append(e)
    workers = sorted({p.worker_id for p in patterns} | {e.worker_id for e in exceptions})
    # Most workers share a few standard shifts: compute each distinct day's intervals once.
    shared: dict[tuple[object, ...], list[WorkInterval]] = {}
    homes = {
        worker_id: Point(lat, lon) if lat is not None and lon is not None else None
        for worker_id, (lat, lon, _) in info.items()
    }
    starts_by = {w: [j.start for j in jobs] for w, jobs in jobs_by_worker.items()}
    result = []
    for day in days(first, last):
        weekday = day.weekday()
        for worker_id in workers:
            if worker_id not in info:
                continue
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
            starts = starts_by.get(worker_id, [])
            lo = bisect.bisect_left(starts, intervals[0].start - 720)
            hi = bisect.bisect_left(starts, intervals[-1].end + 720)
            jobs = jobs_by_worker[worker_id][lo:hi] if starts else []
            result.append(
                WorkerDay(
                    worker_id,
                    day,
                    intervals,
                    jobs,
                    homes[worker_id],
                    info[worker_id][2],
                    worker_id in preferred,
                )
            )
    return result


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
    zone_ids: Sequence[int],
    rules: SlotRules,
    not_before: int,
) -> list[Slot]:
    legs = Legs.compute(workload, place.point, rules.travel)
    by_day: dict[date, list[Gap]] = defaultdict(list)
    for wd in workload.days:
        by_day[wd.day].extend(day_gaps(wd, duration=spec.duration, zone_ids=zone_ids, legs=legs))
    slots = []
    for day in sorted(by_day):
        chosen = best_per_start(by_day[day], grid(day, rules.tz, rules.step, not_before))
        for start in sorted(chosen):
            slots.append(
                Slot(
                    from_epoch_minutes(start, rules.tz),
                    from_epoch_minutes(start + spec.duration, rules.tz),
                    chosen[start].worker_id,
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
    async with db.transaction() as tx:
        spec, service = await load_job_spec(tx, service_id, quantity)
        place, _ = await resolve_place(tx, point=point, address_id=address_id)
        zone_ids = sold_zones(service, place)
        workers = eligible_workers(spec, zone_ids, client_id)
        workload = await load_worker_days(tx, workers, client_id, first, last, rules.tz)
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
