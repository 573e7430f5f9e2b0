"""Day-route planning quality and speed.

1. Solomon's 56 VRPTW instances (100 customers each) through the planner's own routing layer
   (``core.routes.solve``, the function ``plan_day`` uses), under the benchmark's convention:
   distance and travel time are the Euclidean distance truncated to one decimal, the objective
   is distance only, vehicles are free up to the fleet. Times are scaled by ten so the
   convention's tenths become whole units. Each result is re-checked with ``check_plan``;
   prints the distance, the gap to the best-known distance (bks.csv) per instance, the mean gap
   per class and overall.
2. The demo company's day: seeded into a temporary SQLite database and planned with
   ``plan_day`` under the shipped settings (config.toml); prints how long planning took.

    python bench/routes.py [--budget 10] [--instances C101,R2,RC1...] [--skip-demo]
                           [--demo-only]

``--instances`` takes names or prefixes (``R1`` = R101…R112); the default is all 56.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import vrplib

from core.routes import Job, RoutingProblem, Vehicle, check_plan, solve

SOLOMON = Path("/work/shared/bench/solomon")
SCALE = 10
"""Solomon's distances are truncated to tenths: in tenths they are whole numbers."""
CLASSES = ("C1", "C2", "R1", "R2", "RC1", "RC2")


def solomon_problem(path: Path) -> RoutingProblem:
    instance = vrplib.read_instance(str(path), instance_format="solomon")
    coords = np.asarray(instance["node_coord"], dtype=float)
    euclid = np.sqrt(((coords[:, None, :] - coords[None, :, :]) ** 2).sum(axis=-1))
    matrix = np.floor(euclid * SCALE + 1e-9).astype(np.int64)
    windows = np.rint(np.asarray(instance["time_window"], dtype=float) * SCALE).astype(np.int64)
    service = np.rint(np.asarray(instance["service_time"], dtype=float) * SCALE).astype(np.int64)
    demand = np.asarray(instance["demand"], dtype=np.int64)
    depot = Vehicle(
        start=0, end=0, earliest=int(windows[0, 0]), latest=int(windows[0, 1]),
        capacity=int(instance["capacity"]),
    )
    jobs = tuple(
        Job(location=i, earliest=int(windows[i, 0]), latest=int(windows[i, 1]),
            service=int(service[i]), demand=int(demand[i]))
        for i in range(1, len(coords))
    )
    return RoutingProblem(
        durations=matrix, distances=matrix, vehicles=(depot,) * int(instance["vehicles"]),
        jobs=jobs,
    )


def class_of(name: str) -> str:
    return name[:3] if name.startswith("RC") else name[:2]


def selected(patterns: str | None) -> list[str]:
    names = sorted(p.stem for p in SOLOMON.glob("*.txt"))
    if not patterns:
        return names
    wanted = [p.strip().upper() for p in patterns.split(",") if p.strip()]
    return [n for n in names if any(n == w or (n.startswith(w) and class_of(n) == w)
                                    for w in wanted)]


def run_solomon(names: list[str], budget: float, seed: int) -> bool:
    with (SOLOMON / "bks.csv").open() as file:
        best = {row["instance"]: float(row["distance"]) for row in csv.DictReader(file)}
    gaps: dict[str, list[float]] = {}
    ok = True
    print(f"{'instance':<8} {'routes':>6} {'distance':>9} {'best':>9} {'gap %':>7} {'s':>5}")
    for name in names:
        problem = solomon_problem(SOLOMON / f"{name}.txt")
        started = time.perf_counter()
        solution = solve(problem, budget=budget, seed=seed)
        seconds = time.perf_counter() - started
        violations = check_plan(solution, problem)
        distance = solution.distance(problem) / SCALE
        gap = (distance / best[name] - 1) * 100
        note = "" if not violations else f"  INFEASIBLE: {violations[:3]}"
        ok = ok and not violations
        print(f"{name:<8} {len(solution.routes):>6} {distance:>9.1f} {best[name]:>9.1f} "
              f"{gap:>7.2f} {seconds:>5.1f}{note}", flush=True)
        if not violations:
            gaps.setdefault(class_of(name), []).append(gap)
    print()
    for cls in CLASSES:
        if cls in gaps:
            print(f"{cls:<4} mean gap {statistics.mean(gaps[cls]):6.2f} %  "
                  f"({len(gaps[cls])} instances)")
    every = [g for values in gaps.values() for g in values]
    if every:
        print(f"all  mean gap {statistics.mean(every):6.2f} %  ({len(every)} instances, "
              f"{budget:g} s each)")
    return ok


async def run_demo() -> None:
    from core.config import load_config
    from core.db import Database, create_engine
    from core.demo import seed_demo
    from core.migrate import upgrade
    from core.routes import PlanOptions, RouteRules, plan_day

    config = load_config()
    tz = config.company.tz
    today = date.today()
    now = datetime.now(tz)
    with tempfile.TemporaryDirectory() as folder:
        db = Database(create_engine(f"sqlite+aiosqlite:///{folder}/demo.db"))
        try:
            await upgrade(db)
            await seed_demo(db, tz=tz, region=config.company.phone_region, today=today)
            rules = RouteRules.from_config(config)
            started = time.perf_counter()
            plan = await plan_day(db, day=today, zone_id=None, options=PlanOptions(),
                                  rules=rules, now=now)
            seconds = time.perf_counter() - started
        finally:
            await db.dispose()
    stops = sum(len(route.stops) for route in plan.routes)
    print(f"demo day {today}: {stops} stops on {len(plan.routes)} shifts, "
          f"{len(plan.unplaced)} left out, {plan.travel_minutes} min / {plan.km:.1f} km travel, "
          f"planned in {seconds:.2f} s (search {plan.solve_seconds:.2f} s, goal < 2 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=10.0, help="seconds per instance")
    parser.add_argument("--instances", help="names or class prefixes, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--demo-only", action="store_true")
    args = parser.parse_args()
    ok = True
    if not args.demo_only:
        ok = run_solomon(selected(args.instances), args.budget, args.seed)
    if not args.skip_demo:
        print()
        asyncio.run(run_demo())
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
