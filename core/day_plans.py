"""Day plans a dispatcher looks at before applying them.

"Plan the day" and "apply" are two requests, possibly to two processes: the plan made by
:func:`core.routes.plan_day` is kept in the database under a random token for a short while
and applied from there with :func:`core.dispatch.apply_plan`, which refuses it when the
orders changed in between. A proposal is taken once: applying it again asks to plan again.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import delete, select

from core.db import Database
from core.dispatch import AppliedPlan, apply_plan
from core.errors import NotFound
from core.geo import Point
from core.models import DayPlanProposal
from core.routes import (
    DayPlan,
    OrderState,
    PlannedStop,
    PlanOptions,
    RouteRules,
    RoutingProblem,
    Solution,
    Unplaced,
    WorkerRoute,
    load_day,
    plan_day,
)
from core.shifts import epoch_minutes

KEPT_FOR = timedelta(minutes=30)


@dataclass(frozen=True)
class RouteTotals:
    """A worker's day as it stands: jobs in start order, from home and back."""

    travel_minutes: int
    km: float
    idle_minutes: int


@dataclass(frozen=True)
class Proposal:
    token: str
    user_id: int
    plan: DayPlan
    expires_at: datetime
    current: Mapping[int, RouteTotals]
    """Each planned worker's totals before the plan, to compare with the plan's."""


async def propose_day(
    db: Database,
    *,
    day: date,
    zone_id: int | None,
    user_id: int,
    rules: RouteRules,
    now: datetime,
    options: PlanOptions | None = None,
) -> Proposal:
    """Plan the day (nothing assigned yet) and keep the plan for the dispatcher to apply."""
    plan = await plan_day(db, day=day, zone_id=zone_id, options=options or PlanOptions(),
                          rules=rules, now=now)
    current = await current_totals(db, day=day, rules=rules,
                                   workers=[r.worker_id for r in plan.routes])
    token = secrets.token_urlsafe(24)
    expires_at = now + KEPT_FOR
    async with db.transaction() as tx:
        await tx.execute(delete(DayPlanProposal).where(DayPlanProposal.expires_at < now))
        tx.add(DayPlanProposal(token=token, user_id=user_id, day=day, zone_id=zone_id,
                               plan=_dump_proposal(plan, current), created_at=now,
                               expires_at=expires_at))
    return Proposal(token, user_id, plan, expires_at, current)


async def get_proposal(db: Database, *, token: str, user_id: int, now: datetime) -> Proposal:
    """The dispatcher's own proposal while it lasts; else ``NotFound`` (plan again)."""
    async with db.transaction(read_only=True) as tx:
        row = await tx.scalar(select(DayPlanProposal).where(
            DayPlanProposal.token == token, DayPlanProposal.user_id == user_id,
            DayPlanProposal.expires_at >= now,
        ))
        if row is None:
            raise NotFound("route.proposal_gone")
        current = {int(w): RouteTotals(*totals) for w, totals in row.plan["current"].items()}
        return Proposal(row.token, row.user_id, load_plan(row.plan), row.expires_at, current)


async def apply_proposal(
    db: Database, *, token: str, user_id: int, planner: str, now: datetime
) -> AppliedPlan:
    """Carry out the dispatcher's proposal once; a stale one is refused (plan again)."""
    async with db.transaction() as tx:
        row = await tx.scalar(select(DayPlanProposal).where(
            DayPlanProposal.token == token, DayPlanProposal.user_id == user_id,
            DayPlanProposal.expires_at >= now,
        ).with_for_update())
        if row is None:
            raise NotFound("route.proposal_gone")
        # Taken before applying: a second click finds nothing rather than applying twice.
        plan = load_plan(row.plan)
        await tx.delete(row)
    return await apply_plan(db, plan=plan, planner=planner, now=now)


async def current_totals(
    db: Database, *, day: date, rules: RouteRules, workers: Sequence[int]
) -> dict[int, RouteTotals]:
    """Travel, kilometres and waiting between jobs of each worker's day as it stands."""
    tz = rules.tz
    midnight = epoch_minutes(datetime.combine(day, datetime.min.time(), tzinfo=tz))
    async with db.transaction(read_only=True) as tx:
        orders, _, shifts, _ = await load_day(tx, day, tz, midnight)
    homes = {s.worker_id: s.home for s in shifts}
    days = {w: sorted((o for o in orders if o.worker_id == w and o.point is not None),
                      key=lambda o: o.start) for w in workers}
    points: list[Point] = []
    paths: dict[int, list[int]] = {}
    for worker_id, jobs in days.items():
        home = homes.get(worker_id)
        stops = [o.point for o in jobs if o.point is not None]
        route = [home, *stops, home] if home is not None and stops else stops
        paths[worker_id] = list(range(len(points), len(points) + len(route)))
        points.extend(route)
    # Outside the transaction: the matrix may come from a travel-time service.
    matrix = await rules.travel.matrix(points) if points else None
    totals = {}
    for worker_id, path in paths.items():
        legs = list(pairwise(path))
        seconds = sum(int(matrix.seconds[a, b]) for a, b in legs) if matrix else 0
        metres = sum(int(matrix.metres[a, b]) for a, b in legs) if matrix else 0
        jobs = days[worker_id]
        offset = 1 if homes.get(worker_id) is not None and jobs else 0
        idle = 0
        for k, (before, after) in enumerate(pairwise(jobs)):
            drive = -(-int(matrix.seconds[path[k + offset], path[k + offset + 1]]) // 60) \
                if matrix else 0
            idle += max(0, after.start - before.end - drive)
        totals[worker_id] = RouteTotals(-(-seconds // 60), round(metres / 1000, 1), idle)
    return totals


def _dump_proposal(plan: DayPlan, current: Mapping[int, RouteTotals]) -> dict[str, Any]:
    return {**dump_plan(plan), "current": {
        str(w): [t.travel_minutes, t.km, t.idle_minutes] for w, t in current.items()
    }}


# --- a plan as JSON --------------------------------------------------------------------------


def dump_plan(plan: DayPlan) -> dict[str, Any]:
    """What applying and showing a plan need; the routing layer's matrices are left out."""
    return {
        "day": plan.day.isoformat(),
        "zone_id": plan.zone_id,
        "tz": plan.tz.key,
        "arrival_margin": plan.arrival_margin,
        "budget_seconds": plan.budget_seconds,
        "solve_seconds": plan.solve_seconds,
        "movable": sorted(plan.movable),
        "snapshot": {
            str(order_id): [s.worker_id, s.status, s.starts_at.isoformat(), s.ends_at.isoformat()]
            for order_id, s in plan.snapshot.items()
        },
        "routes": [_dump_route(route) for route in plan.routes],
        "unplaced": [
            {"order_id": u.order_id, "number": u.number, "reason": u.reason,
             "params": dict(u.params)}
            for u in plan.unplaced
        ],
    }


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dump_route(route: WorkerRoute) -> dict[str, Any]:
    return {
        "worker_id": route.worker_id,
        "shift_start": route.shift_start.isoformat(),
        "shift_end": route.shift_end.isoformat(),
        "leaves_home": _moment(route.leaves_home),
        "back_home": _moment(route.back_home),
        "travel_minutes": route.travel_minutes,
        "km": route.km,
        "idle_minutes": route.idle_minutes,
        "work_minutes": route.work_minutes,
        "stops": [
            {"order_id": s.order_id, "number": s.number, "arrival": s.arrival.isoformat(),
             "start": s.start.isoformat(), "end": s.end.isoformat(),
             "wait_minutes": s.wait_minutes, "travel_minutes": s.travel_minutes, "km": s.km,
             "kept": s.kept, "changed": s.changed}
            for s in route.stops
        ],
    }


def load_plan(data: dict[str, Any]) -> DayPlan:
    tz = ZoneInfo(data["tz"])

    def moment(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value).astimezone(tz) if value is not None else None

    def required(value: str) -> datetime:
        return datetime.fromisoformat(value).astimezone(tz)

    empty = np.zeros((0, 0), np.int64)
    return DayPlan(
        day=date.fromisoformat(data["day"]),
        zone_id=data["zone_id"],
        routes=tuple(
            WorkerRoute(
                worker_id=r["worker_id"], shift_start=required(r["shift_start"]),
                shift_end=required(r["shift_end"]), leaves_home=moment(r["leaves_home"]),
                back_home=moment(r["back_home"]), travel_minutes=r["travel_minutes"],
                km=r["km"], idle_minutes=r["idle_minutes"], work_minutes=r["work_minutes"],
                stops=tuple(
                    PlannedStop(
                        order_id=s["order_id"], number=s["number"], arrival=required(s["arrival"]),
                        start=required(s["start"]), end=required(s["end"]),
                        wait_minutes=s["wait_minutes"], travel_minutes=s["travel_minutes"],
                        km=s["km"], kept=s["kept"], changed=s["changed"],
                    )
                    for s in r["stops"]
                ),
            )
            for r in data["routes"]
        ),
        unplaced=tuple(
            Unplaced(u["order_id"], u["number"], u["reason"], u["params"])
            for u in data["unplaced"]
        ),
        movable=frozenset(data["movable"]),
        snapshot={
            int(order_id): OrderState(worker_id, status, required(start), required(end))
            for order_id, (worker_id, status, start, end) in data["snapshot"].items()
        },
        problem=RoutingProblem(durations=empty, distances=empty, vehicles=(), jobs=()),
        solution=Solution((), ()),
        budget_seconds=data["budget_seconds"],
        solve_seconds=data["solve_seconds"],
        tz=tz,
        arrival_margin=data["arrival_margin"],
    )
