"""Day routes: who goes where, in which order and when, planned with PyVRP.

Two layers:

* The routing layer (:class:`RoutingProblem` → :func:`solve` → :class:`Solution`, checked by
  :func:`check_plan`) works in abstract integer units over a travel matrix: vehicles with a
  time span, start and end locations and an optional capacity; jobs with a location, a window
  for the start of service, a service duration, a demand, the vehicles allowed to serve them,
  and a prize when they are optional. It knows nothing of orders: the routing benchmark
  (``bench/routes.py``) feeds it Solomon's instances through the same :func:`solve`.
* The day planner (:func:`plan_day`) turns a day of the company into such a problem (time in
  minutes, the objective in seconds of travel) and the solution back into workers' routes;
  :func:`core.dispatch.apply_plan` then assigns the orders and tells everyone.

How the day is modelled for PyVRP 0.14:

* Who may take which order (skills, zones, a shift tied to one zone, the client's blocked
  workers, accepted orders kept with their worker) becomes a routing *profile* per group of
  vehicles allowed the same jobs: in it, legs into and out of a job the vehicle may not serve
  are prohibitively long. PyVRP has no per-vehicle client list; profiles are its documented way
  to model access restrictions, and :func:`check_plan` confirms them independently.
* Every order the planner may move is optional with a large prize, so an overbooked day leaves
  orders out instead of breaking a window. Orders kept with their worker are required, and
  routed in time order they are the search's feasible start (one that clashes is reported).
  Below the prizes the objective is travel time; below that an even load: route time beyond
  the fair share of the day's work costs a little, as PyVRP overtime.
* A shift bounds the work, not the drive from home: as in slot search (core/gaps.py), the first
  job starts and the last one ends inside the shift. Legs from and to home take no time in the
  solver (they still cost their travel) and are shown before and after the shift's work.
* Whatever PyVRP proposes is re-timed here (waiting moved before the first job) and checked;
  a stop that breaks anything is dropped and reported, so a plan is never infeasible.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyvrp
from pyvrp import PenaltyParams, SolveParams
from pyvrp.stop import MaxRuntime, MultipleCriteria, NoImprovement, StoppingCriterion
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Config
from core.db import Database
from core.geo import Point
from core.messages import render
from core.models import (
    ClientWorker,
    Order,
    Service,
    Unit,
    Worker,
    WorkerPreference,
    Zone,
)
from core.shifts import epoch_minutes, from_epoch_minutes, load_shift_rows, working_intervals
from core.travel import MatrixSource, OsrmMatrix, StraightLineTravel, TravelMatrix
from core.workflows import Status
from core.zones import ZoneMap

log = logging.getLogger(__name__)

IntMatrix = npt.NDArray[np.int64]
FORBIDDEN = 10**9
"""Length and duration of a leg a vehicle may not take: far beyond any prize or horizon."""


# --- the routing layer -----------------------------------------------------------------------


@dataclass(frozen=True)
class Vehicle:
    """One vehicle (a worker's shift) from location ``start`` to location ``end``.

    With ``timed_commute`` the vehicle leaves ``start`` at or after ``earliest`` and is back at
    ``end`` by ``latest``. Without it only the work is bounded: the first job starts at or after
    ``earliest`` and the last ends by ``latest``; the legs from and to home lie outside.
    """

    start: int
    end: int
    earliest: int
    latest: int
    capacity: int | None = None
    timed_commute: bool = True


@dataclass(frozen=True)
class Job:
    """A visit at ``location`` whose service starts within ``[earliest, latest]``.

    ``vehicles`` lists the vehicles allowed to serve it (``None``: any). A job with a ``prize``
    is optional and worth that much; without one it must be served.
    """

    location: int
    earliest: int
    latest: int
    service: int = 0
    demand: int = 0
    vehicles: frozenset[int] | None = None
    prize: int | None = None


@dataclass(frozen=True, eq=False)
class RoutingProblem:
    """Vehicles and jobs over a matrix of ``durations`` (time) and ``distances`` (the cost).

    ``balance_target``/``balance_weight``: each unit of a route's duration beyond the target
    costs ``balance_weight`` (0: no balancing).
    """

    durations: IntMatrix
    distances: IntMatrix
    vehicles: tuple[Vehicle, ...]
    jobs: tuple[Job, ...]
    balance_target: int | None = None
    balance_weight: int = 0

    def __post_init__(self) -> None:
        size = self.durations.shape[0]
        if self.durations.shape != (size, size) or self.distances.shape != (size, size):
            raise ValueError("durations and distances must be square matrices of one size")
        for v in self.vehicles:
            if not (0 <= v.start < size and 0 <= v.end < size and v.earliest <= v.latest):
                raise ValueError(f"bad vehicle {v}")
        for job in self.jobs:
            if not (0 <= job.location < size and job.earliest <= job.latest):
                raise ValueError(f"bad job {job}")
            if job.vehicles is not None and not all(
                0 <= v < len(self.vehicles) for v in job.vehicles
            ):
                raise ValueError(f"job {job} names unknown vehicles")
        job_locations = [job.location for job in self.jobs]
        untimed = {loc for v in self.vehicles if not v.timed_commute for loc in (v.start, v.end)}
        timed = {loc for v in self.vehicles if v.timed_commute for loc in (v.start, v.end)}
        if untimed & (set(job_locations) | timed):
            raise ValueError("vehicles with an untimed commute need home locations of their own")
        restricted = [job.location for job in self.jobs if job.vehicles is not None]
        shared = set(restricted) & ({*untimed, *timed} | _duplicates(job_locations))
        if shared:
            raise ValueError(f"restricted jobs need locations of their own: {sorted(shared)}")


def _duplicates(values: Iterable[int]) -> set[int]:
    seen: set[int] = set()
    twice: set[int] = set()
    for value in values:
        (twice if value in seen else seen).add(value)
    return twice


@dataclass(frozen=True)
class Stop:
    job: int
    arrival: int
    start: int
    end: int

    @property
    def wait(self) -> int:
        return self.start - self.arrival


@dataclass(frozen=True)
class VehicleRoute:
    """A vehicle's stops; it leaves its start at ``departure`` and is back at ``back``."""

    vehicle: int
    stops: tuple[Stop, ...]
    departure: int
    back: int


@dataclass(frozen=True)
class Solution:
    routes: tuple[VehicleRoute, ...]
    unplaced: tuple[int, ...]

    def distance(self, problem: RoutingProblem) -> int:
        return sum(route_distance(problem, route) for route in self.routes)


def route_locations(problem: RoutingProblem, route: VehicleRoute) -> list[int]:
    vehicle = problem.vehicles[route.vehicle]
    inner = [problem.jobs[stop.job].location for stop in route.stops]
    return [vehicle.start, *inner, vehicle.end]


def route_distance(problem: RoutingProblem, route: VehicleRoute) -> int:
    if not route.stops:
        return 0
    path = route_locations(problem, route)
    return int(problem.distances[path[:-1], path[1:]].sum())


def timetable(problem: RoutingProblem, vehicle: int, jobs: Sequence[int]) -> VehicleRoute | int:
    """The route serving ``jobs`` in this order, or the position of the first it cannot serve.

    Each job starts as late as still lets the route finish at its earliest, so waiting happens
    before the first job rather than between jobs.
    """
    v = problem.vehicles[vehicle]
    d = problem.durations
    if not jobs:
        return VehicleRoute(vehicle, (), v.earliest, v.earliest)
    locations = [problem.jobs[j].location for j in jobs]
    commute_in = int(d[v.start, locations[0]]) if v.timed_commute else 0
    starts: list[int] = []
    ready = v.earliest + commute_in
    for position, j in enumerate(jobs):
        job = problem.jobs[j]
        if position:
            previous = problem.jobs[jobs[position - 1]]
            ready = starts[-1] + previous.service + int(d[previous.location, job.location])
        start = max(ready, job.earliest)
        if start > job.latest:
            return position
        starts.append(start)
    last = problem.jobs[jobs[-1]]
    finish = starts[-1] + last.service
    if finish + (int(d[last.location, v.end]) if v.timed_commute else 0) > v.latest:
        return len(jobs) - 1
    for position in range(len(jobs) - 2, -1, -1):
        job = problem.jobs[jobs[position]]
        leg = int(d[job.location, locations[position + 1]])
        starts[position] = min(job.latest, starts[position + 1] - leg - job.service)
    stops = []
    arrival = starts[0]
    for position, (j, start) in enumerate(zip(jobs, starts, strict=True)):
        if position:
            previous = problem.jobs[jobs[position - 1]]
            arrival = starts[position - 1] + previous.service + int(
                d[previous.location, locations[position]]
            )
        stops.append(Stop(j, arrival, start, start + problem.jobs[j].service))
    departure = starts[0] - int(d[v.start, locations[0]])
    back = stops[-1].end + int(d[locations[-1], v.end])
    return VehicleRoute(vehicle, tuple(stops), departure, back)


def check_plan(solution: Solution, problem: RoutingProblem) -> list[str]:
    """Every broken rule of ``solution``, in words; empty when it is feasible.

    Independent of the solver and of :func:`timetable`: it reads the stated times and checks
    them against the problem (each job at most once, required jobs served, allowed vehicles,
    windows, travel between stops, the vehicle's span, capacity).
    """
    problems: list[str] = []
    served: dict[int, int] = {}
    vehicles_seen: set[int] = set()
    for route in solution.routes:
        if route.vehicle in vehicles_seen:
            problems.append(f"vehicle {route.vehicle} has two routes")
        vehicles_seen.add(route.vehicle)
        problems.extend(check_route(route, problem))
        for stop in route.stops:
            if stop.job in served:
                problems.append(f"job {stop.job}: served by vehicles {served[stop.job]} "
                                f"and {route.vehicle}")
            served[stop.job] = route.vehicle
    unplaced = set(solution.unplaced)
    for j, job in enumerate(problem.jobs):
        if j in served and j in unplaced:
            problems.append(f"job {j}: both served and reported unplaced")
        elif j not in served and j not in unplaced:
            problems.append(f"job {j}: neither served nor reported unplaced")
        elif j not in served and job.prize is None:
            problems.append(f"job {j}: required but not served")
    return problems


def check_route(route: VehicleRoute, problem: RoutingProblem) -> list[str]:
    """Every rule one route breaks (see :func:`check_plan`)."""
    v = route.vehicle
    if not 0 <= v < len(problem.vehicles):
        return [f"route of unknown vehicle {v}"]
    vehicle = problem.vehicles[v]
    d = problem.durations
    problems: list[str] = []
    load = 0
    previous_end: int | None = None
    previous_location = vehicle.start
    if route.stops and vehicle.timed_commute and route.departure < vehicle.earliest:
        problems.append(f"vehicle {v}: leaves at {route.departure}, before {vehicle.earliest}")
    for stop in route.stops:
        if not 0 <= stop.job < len(problem.jobs):
            problems.append(f"vehicle {v}: unknown job {stop.job}")
            continue
        job = problem.jobs[stop.job]
        where = f"vehicle {v}, job {stop.job}"
        if not allowed(job, v):
            problems.append(f"{where}: this vehicle may not serve it")
        if not job.earliest <= stop.start <= job.latest:
            problems.append(
                f"{where}: starts at {stop.start}, outside [{job.earliest}, {job.latest}]"
            )
        if stop.end != stop.start + job.service:
            problems.append(f"{where}: ends at {stop.end}, service is {job.service}")
        if stop.arrival > stop.start:
            problems.append(f"{where}: starts at {stop.start} before arriving at {stop.arrival}")
        leg = int(d[previous_location, job.location])
        if previous_end is not None:
            ready = previous_end + leg
        elif vehicle.timed_commute:
            ready = max(vehicle.earliest, route.departure) + leg
        else:
            ready = vehicle.earliest
        if stop.start < ready:
            problems.append(f"{where}: starts at {stop.start}, cannot be there before {ready}")
        load += job.demand
        previous_end = stop.end
        previous_location = job.location
    if previous_end is not None:
        home = int(d[previous_location, vehicle.end]) if vehicle.timed_commute else 0
        if previous_end + home > vehicle.latest:
            problems.append(
                f"vehicle {v}: done at {previous_end + home}, after its end at {vehicle.latest}"
            )
    if vehicle.capacity is not None and load > vehicle.capacity:
        problems.append(f"vehicle {v}: carries {load}, capacity {vehicle.capacity}")
    return problems


def solve(
    problem: RoutingProblem,
    *,
    budget: float,
    seed: int = 0,
    patience: int | None = None,
    initial: Mapping[int, Sequence[int]] | None = None,
) -> Solution:
    """The best routes PyVRP finds within ``budget`` seconds, re-timed and made feasible.

    ``patience``: also stop after that many iterations without improvement. ``initial``: a
    feasible start (vehicle → jobs in order), e.g. the required jobs alone.
    """
    if not problem.jobs or not problem.vehicles:
        return Solution((), tuple(range(len(problem.jobs))))
    data, owners = _pyvrp_data(problem)
    stop: StoppingCriterion = MaxRuntime(budget)
    if patience is not None:
        stop = MultipleCriteria([MaxRuntime(budget), NoImprovement(patience)])
    # Prizes must stay cheaper than breaking a rule by one unit, or the search would rather
    # break rules than leave an order out (PyVRP caps its penalties at max_penalty).
    prizes = max((job.prize or 0 for job in problem.jobs), default=0)
    params = SolveParams(penalty=PenaltyParams(
        max_penalty=max(PenaltyParams().max_penalty, 10.0 * prizes)
    ))
    start = _pyvrp_solution(data, owners, initial) if initial else None
    result = pyvrp.solve(data, stop, seed=seed, collect_stats=False, display=False,
                         params=params, initial_solution=start)
    free = {vehicle_type: list(members) for vehicle_type, members in enumerate(owners)}
    proposal: dict[int, list[int]] = {}
    for route in result.best.routes():
        vehicle = free[route.vehicle_type()].pop(0)
        proposal[vehicle] = [activity.idx for activity in route if activity.is_client()]
    return make_feasible(problem, proposal)


def _pyvrp_solution(
    data: pyvrp.ProblemData, owners: Sequence[Sequence[int]],
    routes: Mapping[int, Sequence[int]],
) -> pyvrp.Solution:
    type_of = {vehicle: t for t, members in enumerate(owners) for vehicle in members}
    return pyvrp.Solution(data, [
        pyvrp.Route(data, list(jobs), type_of[vehicle]) for vehicle, jobs in routes.items() if jobs
    ])


def _pyvrp_data(problem: RoutingProblem) -> tuple[pyvrp.ProblemData, list[list[int]]]:
    """PyVRP's data for the problem, and the vehicles behind each of its vehicle types."""
    size = problem.durations.shape[0]
    depot_locations = sorted({loc for v in problem.vehicles for loc in (v.start, v.end)})
    depot_index = {loc: i for i, loc in enumerate(depot_locations)}
    durations = problem.durations.copy()
    untimed = sorted({loc for v in problem.vehicles if not v.timed_commute for loc in (v.start,
                                                                                      v.end)})
    durations[untimed, :] = 0
    durations[:, untimed] = 0
    signatures = [
        frozenset(
            j for j, job in enumerate(problem.jobs)
            if job.vehicles is not None and v not in job.vehicles
        )
        for v in range(len(problem.vehicles))
    ]
    profiles: dict[frozenset[int], int] = {}
    distance_matrices: list[IntMatrix] = []
    duration_matrices: list[IntMatrix] = []
    for signature in dict.fromkeys(signatures):
        profiles[signature] = len(profiles)
        distance, duration = problem.distances.copy(), durations.copy()
        barred = [problem.jobs[j].location for j in signature]
        for matrix in (distance, duration):
            matrix[barred, :] = FORBIDDEN
            matrix[:, barred] = FORBIDDEN
            np.fill_diagonal(matrix, 0)
        distance_matrices.append(distance)
        duration_matrices.append(duration)
    total_demand = sum(job.demand for job in problem.jobs)
    groups: dict[tuple[Vehicle, int], list[int]] = defaultdict(list)
    for index, (vehicle, signature) in enumerate(zip(problem.vehicles, signatures, strict=True)):
        groups[vehicle, profiles[signature]].append(index)
    vehicle_types = []
    for (vehicle, profile), members in groups.items():
        span = vehicle.latest - vehicle.earliest
        target, overtime = span, 0
        if problem.balance_weight and problem.balance_target is not None:
            # The fair share is the normal shift; work beyond it is a little dearer overtime.
            target = min(problem.balance_target, span)
            overtime = span - target
        vehicle_types.append(pyvrp.VehicleType(
            num_available=len(members),
            capacity=[total_demand if vehicle.capacity is None else vehicle.capacity],
            start_depot=depot_index[vehicle.start],
            end_depot=depot_index[vehicle.end],
            tw_early=vehicle.earliest,
            tw_late=vehicle.latest,
            profile=profile,
            shift_duration=target,
            max_overtime=overtime,
            unit_overtime_cost=problem.balance_weight if overtime else 0,
        ))
    clients = [
        pyvrp.Client(
            location=job.location, delivery=[job.demand], service_duration=job.service,
            tw_early=job.earliest, tw_late=job.latest, prize=job.prize or 0,
            required=job.prize is None,
        )
        for job in problem.jobs
    ]
    data = pyvrp.ProblemData(
        [pyvrp.Location(0.0, 0.0) for _ in range(size)],
        clients,
        [pyvrp.Depot(location=loc) for loc in depot_locations],
        vehicle_types,
        list[Any](distance_matrices),
        list[Any](duration_matrices),
    )
    return data, list(groups.values())


def allowed(job: Job, vehicle: int) -> bool:
    return job.vehicles is None or vehicle in job.vehicles


def make_feasible(problem: RoutingProblem, proposal: Mapping[int, Sequence[int]]) -> Solution:
    """Time each proposed route, dropping whatever breaks a rule; the rest is unplaced."""
    served: set[int] = set()
    routes = []
    dropped = 0
    for vehicle, proposed in sorted(proposal.items()):
        jobs = [
            j for j in dict.fromkeys(proposed)
            if j not in served and allowed(problem.jobs[j], vehicle)
        ]
        capacity = problem.vehicles[vehicle].capacity
        while capacity is not None and sum(problem.jobs[j].demand for j in jobs) > capacity:
            jobs.remove(max(jobs, key=lambda j: problem.jobs[j].demand))
        while True:
            timed = timetable(problem, vehicle, jobs)
            if isinstance(timed, VehicleRoute):
                break
            del jobs[timed]
        dropped += len(proposed) - len(jobs)
        served.update(jobs)
        if jobs:
            routes.append(timed)
    if dropped:
        log.warning("routes: dropped %s stops the solver proposed against the rules", dropped)
    unplaced = tuple(j for j in range(len(problem.jobs)) if j not in served)
    return Solution(tuple(routes), unplaced)


# --- the day planner -------------------------------------------------------------------------

PLANNABLE = frozenset({Status.NEW, Status.CONFIRMED, Status.ASSIGNED})
"""Statuses whose worker and time the planner may change."""
UNLOCKABLE = Status.ACCEPTED
"""Accepted orders stay with their worker unless the dispatcher unlocks them."""
PRIZE = 36_000
"""Worth of placing an order, in seconds of travel: more than any detour in a city (10 h)."""
BALANCE_WEIGHT = 10
"""A minute of a route beyond its fair share of the day's work weighs like 10 s of travel."""


@dataclass(frozen=True)
class PlanOptions:
    """What the dispatcher asks of one plan.

    ``unlock``: accepted orders that may move to another worker or time. ``movable``: when
    given, only these orders may change; other assigned orders stay as they are and other
    unassigned ones stay out of the plan. ``budget_seconds``: the search time (``None``: by
    the day's size, see :meth:`RouteRules.budget_for`).
    """

    unlock: frozenset[int] = frozenset()
    movable: frozenset[int] | None = None
    budget_seconds: float | None = None
    seed: int = 0


@dataclass(frozen=True)
class RouteRules:
    """What day planning needs from the configuration."""

    tz: ZoneInfo
    travel: MatrixSource
    budget_seconds: float = 10.0
    min_budget_seconds: float = 0.3
    seconds_per_order: float = 0.05
    patience: int | None = 3000
    arrival_margin: int = 30

    @classmethod
    def from_config(cls, config: Config, travel: MatrixSource | None = None) -> RouteRules:
        routing = config.routing
        if travel is None and routing.osrm_url:
            travel = OsrmMatrix(routing.osrm_url, profile=routing.osrm_profile,
                                timeout=routing.osrm_timeout_seconds)
        if travel is None:
            travel = StraightLineTravel(speed_kmh=config.scheduling.travel_speed_kmh,
                                        detour_factor=config.scheduling.detour_factor)
        return cls(
            tz=config.company.tz,
            travel=travel,
            budget_seconds=routing.budget_seconds,
            min_budget_seconds=routing.min_budget_seconds,
            seconds_per_order=routing.seconds_per_order,
            patience=routing.patience or None,
            arrival_margin=routing.arrival_margin_minutes,
        )

    def budget_for(self, orders: int) -> float:
        """Search seconds for a day of ``orders``: a little per order, within the limits."""
        return min(self.budget_seconds, max(self.min_budget_seconds,
                                            orders * self.seconds_per_order))


@dataclass(frozen=True)
class PlannedStop:
    order_id: int
    number: str
    arrival: datetime
    start: datetime
    end: datetime
    wait_minutes: int
    travel_minutes: int
    """The leg that leads here."""
    km: float
    kept: bool
    """Stays with its worker at its time (accepted, under way, or not movable)."""
    changed: bool
    """The plan gives it another worker or another start."""


@dataclass(frozen=True)
class WorkerRoute:
    """One worker's shift: the stops, leaving home and back, and its totals."""

    worker_id: int
    shift_start: datetime
    shift_end: datetime
    stops: tuple[PlannedStop, ...]
    leaves_home: datetime | None
    back_home: datetime | None
    travel_minutes: int
    km: float
    idle_minutes: int
    work_minutes: int


@dataclass(frozen=True)
class Unplaced:
    """An order the plan could not place, and why (a message key with its parameters)."""

    order_id: int
    number: str
    reason: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def message(self, language: str = "en") -> str:
        return render(self.reason, language, **self.params)


@dataclass(frozen=True)
class OrderState:
    worker_id: int | None
    status: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, eq=False)
class DayPlan:
    """Routes for a day (one per worker's shift), the orders left out, and the totals.

    ``snapshot`` is each planned order as it was when planned (apply refuses a stale plan);
    ``movable`` the orders the plan may change; ``problem`` and ``solution`` the routing layer's
    view, for :func:`check_plan`.
    """

    day: date
    zone_id: int | None
    routes: tuple[WorkerRoute, ...]
    unplaced: tuple[Unplaced, ...]
    movable: frozenset[int]
    snapshot: Mapping[int, OrderState]
    problem: RoutingProblem
    solution: Solution
    budget_seconds: float
    solve_seconds: float
    tz: ZoneInfo
    arrival_margin: int

    @property
    def travel_minutes(self) -> int:
        return sum(route.travel_minutes for route in self.routes)

    @property
    def km(self) -> float:
        return round(sum(route.km for route in self.routes), 1)

    @property
    def idle_minutes(self) -> int:
        return sum(route.idle_minutes for route in self.routes)

    def stop_of(self, order_id: int) -> tuple[int, PlannedStop] | None:
        """The worker and the stop the plan gives an order, if it placed it."""
        for route in self.routes:
            for stop in route.stops:
                if stop.order_id == order_id:
                    return route.worker_id, stop
        return None


@dataclass(frozen=True)
class DayOrder:
    """One order of the day as the planner sees it; times in minutes from local midnight."""

    id: int
    number: str
    client_id: int
    worker_id: int | None
    status: str
    start: int
    end: int
    window_start: int
    window_end: int
    point: Point | None
    zones: frozenset[int]
    skills: frozenset[str]
    demand: int

    @property
    def service(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class DayShift:
    """One working interval of one worker; minutes from local midnight."""

    worker_id: int
    start: int
    end: int
    zone_id: int | None
    skills: frozenset[str]
    zones: frozenset[int]
    capacity: int | None
    home: Point | None


def can_serve(order: DayOrder, shift: DayShift, blocked: frozenset[tuple[int, int]]) -> bool:
    """Skills, zones (the shift's own zone too) and the client's blocked workers."""
    return (
        order.skills <= shift.skills
        and bool(order.zones & shift.zones)
        and (shift.zone_id is None or shift.zone_id in order.zones)
        and (order.client_id, shift.worker_id) not in blocked
    )


def fits_alone(order: DayOrder, shift: DayShift, earliest: int) -> bool:
    """Whether the order alone fits the shift's time and vehicle."""
    first = max(earliest, shift.start)
    last = min(order.window_end, shift.end - order.service)
    capacity_ok = shift.capacity is None or order.demand <= shift.capacity
    return first <= last and capacity_ok


def why_left_out(
    order: DayOrder, shifts: Sequence[DayShift], blocked: frozenset[tuple[int, int]],
    earliest: int,
) -> tuple[str, dict[str, Any]]:
    """The first rule that keeps a movable order out, as a message key and its parameters."""
    if not shifts:
        return "route.unplaced.no_worker_on_shift", {}
    skilled = [s for s in shifts if order.skills <= s.skills]
    if not skilled:
        return "route.unplaced.no_skill", {"skills": ", ".join(sorted(order.skills))}
    zoned = [s for s in skilled if order.zones & s.zones
             and (s.zone_id is None or s.zone_id in order.zones)]
    if not zoned:
        return "route.unplaced.no_zone", {}
    welcome = [s for s in zoned if (order.client_id, s.worker_id) not in blocked]
    if not welcome:
        return "route.unplaced.blocked", {}
    timely = [s for s in welcome
              if max(earliest, s.start) <= min(order.window_end, s.end - order.service)]
    if not timely:
        return "route.unplaced.window_too_tight", {}
    if not any(fits_alone(order, s, earliest) for s in timely):
        return "route.unplaced.capacity", {"demand": order.demand}
    return "route.unplaced.day_full", {}


@dataclass
class _Build:
    """The routing problem of a day under construction, and what each index stands for."""

    shifts: list[DayShift]
    orders: list[DayOrder] = field(default_factory=list)
    """The order behind each job."""
    kept: set[int] = field(default_factory=set)
    left_out: list[Unplaced] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)


def plan_problem(
    orders: Sequence[DayOrder],
    shifts: Sequence[DayShift],
    blocked: frozenset[tuple[int, int]],
    *,
    zone_id: int | None,
    options: PlanOptions,
    now: int,
) -> tuple[_Build, frozenset[int]]:
    """Which orders the plan places (movable) or keeps, as jobs, and which it leaves out.

    Workers of the zone (all, for the whole city) drive; their orders outside the zone are kept
    as they are, so the plan works around them.
    """
    build = _Build(shifts=[s for s in shifts if zone_id is None or zone_id in s.zones])
    drivers = {s.worker_id for s in build.shifts}
    movable: set[int] = set()
    for order in orders:
        in_scope = zone_id is None or zone_id in order.zones
        if not in_scope and order.worker_id not in drivers:
            continue
        may_move = in_scope and (
            order.status in PLANNABLE
            or (order.status == UNLOCKABLE and order.id in options.unlock)
        ) and (options.movable is None or order.id in options.movable)
        if may_move:
            movable.add(order.id)
            _add_movable(build, order, blocked, now)
        elif order.worker_id is not None:
            _add_kept(build, order)
    return build, frozenset(movable)


def _add_movable(
    build: _Build, order: DayOrder, blocked: frozenset[tuple[int, int]], now: int
) -> None:
    earliest = max(order.window_start, now)
    if order.point is None:
        build.left_out.append(Unplaced(order.id, order.number, "route.unplaced.no_location"))
        return
    if order.window_end < now:
        build.left_out.append(Unplaced(order.id, order.number, "route.unplaced.window_passed"))
        return
    vehicles = frozenset(
        v for v, shift in enumerate(build.shifts)
        if can_serve(order, shift, blocked) and fits_alone(order, shift, earliest)
    )
    if not vehicles:
        reason, params = why_left_out(order, build.shifts, blocked, earliest)
        build.left_out.append(Unplaced(order.id, order.number, reason, params))
        return
    build.orders.append(order)
    build.jobs.append(Job(location=-1, earliest=earliest, latest=order.window_end,
                          service=order.service, demand=order.demand, vehicles=vehicles,
                          prize=PRIZE))


def _add_kept(build: _Build, order: DayOrder) -> None:
    vehicles = frozenset(
        v for v, shift in enumerate(build.shifts)
        if shift.worker_id == order.worker_id and shift.start <= order.start
        and order.end <= shift.end
    )
    if not vehicles or order.point is None:
        build.left_out.append(Unplaced(order.id, order.number, "route.unplaced.locked_conflict"))
        return
    build.kept.add(order.id)
    build.orders.append(order)
    build.jobs.append(Job(location=-1, earliest=order.start, latest=order.start,
                          service=order.service, demand=order.demand, vehicles=vehicles))


def _points(build: _Build) -> tuple[list[Point], list[int], dict[int, int]]:
    """The matrix points (homes, then one per job), homes without a point, each worker's home."""
    workers = list(dict.fromkeys(s.worker_id for s in build.shifts))
    homes = {s.worker_id: s.home for s in build.shifts}
    stand_in = next(o.point for o in build.orders if o.point is not None)
    points = [homes[w] or stand_in for w in workers]
    homeless = [i for i, w in enumerate(workers) if homes[w] is None]
    points.extend(o.point or stand_in for o in build.orders)
    return points, homeless, {w: i for i, w in enumerate(workers)}


def routing_problem(build: _Build, matrix: TravelMatrix, home_of: Mapping[int, int],
                    homeless: Sequence[int]) -> RoutingProblem:
    """The routing problem in minutes (travel rounded up), the objective in seconds."""
    seconds = matrix.seconds.copy()
    seconds[homeless, :] = 0
    seconds[:, homeless] = 0
    homes = len(home_of)
    vehicles = tuple(
        Vehicle(start=home_of[s.worker_id], end=home_of[s.worker_id], earliest=s.start,
                latest=s.end, capacity=s.capacity, timed_commute=False)
        for s in build.shifts
    )
    jobs = tuple(
        Job(location=homes + j, earliest=job.earliest, latest=job.latest, service=job.service,
            demand=job.demand, vehicles=job.vehicles, prize=job.prize)
        for j, job in enumerate(build.jobs)
    )
    work = sum(job.service for job in jobs)
    return RoutingProblem(
        durations=-(-seconds // 60),
        distances=seconds,
        vehicles=vehicles,
        jobs=jobs,
        balance_target=-(-work // max(1, len(vehicles))),
        balance_weight=BALANCE_WEIGHT,
    )


def keep_what_fits(problem: RoutingProblem) -> tuple[RoutingProblem, dict[int, list[int]]]:
    """Required (kept) jobs that fit their vehicle together, in time order, as a first plan.

    A kept job that clashes with the others (an accepted order outside the shift or too close
    to another) becomes optional, so the plan can go on and report it.
    """
    required: dict[int, list[int]] = defaultdict(list)
    for j, job in enumerate(problem.jobs):
        if job.prize is None and job.vehicles:
            required[min(job.vehicles)].append(j)
    for in_order in required.values():
        in_order.sort(key=lambda j: problem.jobs[j].earliest)
    fitting = make_feasible(problem, required)
    clashing = set(fitting.unplaced)
    jobs = tuple(
        replace(job, prize=PRIZE) if j in clashing and job.prize is None else job
        for j, job in enumerate(problem.jobs)
    )
    kept = {route.vehicle: [stop.job for stop in route.stops] for route in fitting.routes}
    return replace(problem, jobs=jobs), kept


async def plan_day(
    db: Database,
    *,
    day: date,
    zone_id: int | None,
    options: PlanOptions,
    rules: RouteRules,
    now: datetime,
) -> DayPlan:
    """Plan ``day`` for one zone (``None``: the whole city); nothing is written.

    Every window, shift, skill, zone, capacity and blocked worker is respected; accepted
    orders stay with their worker (unless unlocked); what does not fit is left out with a
    reason. :func:`core.dispatch.apply_plan` carries it out.
    """
    midnight = epoch_minutes(datetime.combine(day, datetime.min.time(), tzinfo=rules.tz))
    async with db.transaction(read_only=True) as tx:
        orders, states, shifts, blocked = await load_day(tx, day, rules.tz, midnight)
    now_minute = -(-int(now.timestamp()) // 60) - midnight
    build, movable = plan_problem(orders, shifts, blocked, zone_id=zone_id, options=options,
                                 now=now_minute)
    budget = options.budget_seconds or rules.budget_for(len(movable))
    started = time.perf_counter()
    if build.orders:
        points, homeless, home_of = _points(build)
        # Outside the transaction: the matrix may come from a travel-time service.
        matrix = await rules.travel.matrix(points)
        problem, kept = keep_what_fits(routing_problem(build, matrix, home_of, homeless))
        solution = await asyncio.to_thread(
            solve, problem, budget=budget, seed=options.seed, patience=rules.patience,
            initial=kept,
        )
        metres = matrix.metres.copy()
        metres[homeless, :] = 0
        metres[:, homeless] = 0
    else:
        metres = np.zeros((0, 0), np.int64)
        problem = RoutingProblem(durations=metres, distances=metres, vehicles=(), jobs=())
        solution = Solution((), ())
    violations = check_plan(solution, problem)
    if violations:  # make_feasible guarantees this never happens: fail loudly if it does
        raise RuntimeError(f"infeasible day plan: {violations[:5]}")
    seconds = time.perf_counter() - started
    log.info("planned %s zone %s: %s orders, %s left out, %.2f s", day, zone_id,
             len(build.orders), len(build.left_out) + len(solution.unplaced), seconds)
    planned = [o.id for o in build.orders] + [u.order_id for u in build.left_out]
    return DayPlan(
        day=day,
        zone_id=zone_id,
        routes=_worker_routes(build, problem, solution, metres, midnight, rules.tz),
        unplaced=(*build.left_out, *_unplaced_by_solver(build, solution, blocked, now_minute)),
        movable=movable,
        snapshot={order_id: states[order_id] for order_id in planned},
        problem=problem,
        solution=solution,
        budget_seconds=budget,
        solve_seconds=seconds,
        tz=rules.tz,
        arrival_margin=rules.arrival_margin,
    )


async def load_day(
    tx: AsyncSession, day: date, tz: ZoneInfo, midnight: int
) -> tuple[list[DayOrder], dict[int, OrderState], list[DayShift], frozenset[tuple[int, int]]]:
    """The day's live orders, their state now, the workers' shifts and the blocked pairs."""
    first = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    rows = list(await tx.scalars(
        select(Order)
        .where(Order.starts_at >= first, Order.starts_at < first + timedelta(days=1),
               Order.status != Status.CANCELLED)
        .order_by(Order.starts_at, Order.id)
    ))
    zone_map = ZoneMap((await tx.execute(select(Zone.id, Zone.code, Zone.polygon_wkt))).all())
    service_ids = {line.service_id for order in rows for line in order.lines}
    services = {
        s.id: s for s in await tx.scalars(select(Service).where(Service.id.in_(service_ids)))
    }
    workers = list(await tx.scalars(
        select(Worker).where(Worker.active.is_(True)).order_by(Worker.id)
    ))
    patterns, exceptions = await load_shift_rows(tx, [w.id for w in workers], day, day)
    pairs = await tx.execute(
        select(ClientWorker.client_id, ClientWorker.worker_id).where(
            ClientWorker.kind == WorkerPreference.BLOCKED,
            ClientWorker.client_id.in_({order.client_id for order in rows}),
        )
    )
    blocked = frozenset((client_id, worker_id) for client_id, worker_id in pairs)
    states = {o.id: OrderState(o.worker_id, o.status, o.starts_at, o.ends_at) for o in rows}
    orders = [_day_order(order, services, zone_map, midnight) for order in rows]
    by_worker_patterns = defaultdict(list)
    for pattern in patterns:
        by_worker_patterns[pattern.worker_id].append(pattern)
    by_worker_exceptions = defaultdict(list)
    for exception in exceptions:
        by_worker_exceptions[exception.worker_id].append(exception)
    shifts = [
        DayShift(
            worker_id=worker.id,
            start=interval.start - midnight,
            end=interval.end - midnight,
            zone_id=interval.zone_id,
            skills=frozenset(s.skill for s in worker.skills),
            zones=frozenset(z.zone_id for z in worker.zones),
            capacity=worker.vehicle_capacity,
            home=Point(worker.home_lat, worker.home_lon)
            if worker.home_lat is not None and worker.home_lon is not None else None,
        )
        for worker in workers
        for interval in working_intervals(
            by_worker_patterns[worker.id], by_worker_exceptions[worker.id], day, tz
        )
    ]
    return orders, states, shifts, blocked


def _day_order(
    order: Order, services: Mapping[int, Service], zone_map: ZoneMap, midnight: int
) -> DayOrder:
    point = None
    zones: set[int] = set()
    if order.lat is not None and order.lon is not None:
        point = Point(order.lat, order.lon)
        zones.update(zone_map.zones_at(point))
    if order.zone_id is not None:
        zones.add(order.zone_id)
        if point is None:
            # Placed on a zone by an operator: its representative point stands in for travel.
            point = zone_map.representative_point(order.zone_id)
    lines = [(line, services[line.service_id]) for line in order.lines]
    window_start = epoch_minutes(order.window_start) - midnight
    return DayOrder(
        id=order.id,
        number=order.number,
        client_id=order.client_id,
        worker_id=order.worker_id,
        status=order.status,
        start=epoch_minutes(order.starts_at) - midnight,
        end=-(-int(order.ends_at.timestamp()) // 60) - midnight,
        window_start=window_start,
        window_end=max(window_start, epoch_minutes(order.window_end) - midnight),
        point=point,
        zones=frozenset(zones),
        skills=frozenset(s.skill for _, service in lines for s in service.skills),
        demand=sum(line.quantity for line, service in lines if service.unit is Unit.BOTTLE),
    )


def _worker_routes(
    build: _Build, problem: RoutingProblem, solution: Solution, metres: IntMatrix,
    midnight: int, tz: ZoneInfo,
) -> tuple[WorkerRoute, ...]:
    def moment(minute: int) -> datetime:
        return from_epoch_minutes(midnight + minute, tz)

    by_vehicle = {route.vehicle: route for route in solution.routes}
    routes = []
    for v, shift in enumerate(build.shifts):
        route = by_vehicle.get(v)
        stops: list[PlannedStop] = []
        minutes: list[int] = []
        kms: list[float] = []
        if route is not None:
            path = route_locations(problem, route)
            minutes = [int(problem.durations[a, b]) for a, b in pairwise(path)]
            kms = [int(metres[a, b]) / 1000 for a, b in pairwise(path)]
            for k, stop in enumerate(route.stops):
                order = build.orders[stop.job]
                stops.append(PlannedStop(
                    order_id=order.id, number=order.number, arrival=moment(stop.arrival),
                    start=moment(stop.start), end=moment(stop.end), wait_minutes=stop.wait,
                    travel_minutes=minutes[k], km=round(kms[k], 1), kept=order.id in build.kept,
                    changed=order.worker_id != shift.worker_id or order.start != stop.start,
                ))
        routes.append(WorkerRoute(
            worker_id=shift.worker_id,
            shift_start=moment(shift.start),
            shift_end=moment(shift.end),
            stops=tuple(stops),
            leaves_home=moment(route.departure) if route else None,
            back_home=moment(route.back) if route else None,
            travel_minutes=sum(minutes),
            km=round(sum(kms), 1),
            idle_minutes=sum(stop.wait_minutes for stop in stops),
            work_minutes=sum(build.orders[s.job].service for s in route.stops) if route else 0,
        ))
    return tuple(routes)


def _unplaced_by_solver(
    build: _Build, solution: Solution, blocked: frozenset[tuple[int, int]], now: int
) -> list[Unplaced]:
    left = []
    for j in solution.unplaced:
        order = build.orders[j]
        params: dict[str, Any] = {}
        if order.id in build.kept:
            reason = "route.unplaced.locked_conflict"
        else:
            earliest = max(order.window_start, now)
            reason, params = why_left_out(order, build.shifts, blocked, earliest)
        left.append(Unplaced(order.id, order.number, reason, params))
    return left
