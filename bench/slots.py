"""Free-slot query speed on a large company, on SQLite and on PostgreSQL.

500 workers over 6 overlapping zones of Kyiv, Mon–Sat shifts, 20,000 booked orders over the
14 days queried; each query asks for the free starts of a cleaning service at one point over
those 14 days. Prints the median and p95 milliseconds per query for each engine.

    python bench/slots.py [--queries 60] [--engines sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from core.db import Database, create_engine
from core.geo import Point
from core.migrate import upgrade
from core.models import (
    Channel,
    Client,
    Order,
    Service,
    ServiceCategory,
    ServiceSkill,
    ShiftPattern,
    Worker,
    WorkerSkill,
    WorkerZone,
    Zone,
)
from core.slots import SlotRules, find_slots
from core.travel import StraightLineTravel
from core.zones import polygon_wkt
from webhooks.serve import settle_memory

WORKERS = 500
ORDERS = 20_000
DAYS = 14
FIRST = date(2027, 3, 1)  # a Monday
TZ_NAME = "Europe/Kyiv"
PG_URL = os.environ.get(
    "BRIGADIER_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)

# Six zones over Kyiv, overlapping their neighbours: (south, west, north, east).
ZONES = [
    (50.40, 30.35, 50.50, 30.53),
    (50.40, 30.48, 50.50, 30.66),
    (50.40, 30.60, 50.50, 30.80),
    (50.46, 30.35, 50.56, 30.53),
    (50.46, 30.48, 50.56, 30.66),
    (50.46, 30.60, 50.56, 30.80),
]
SKILLS = ["cleaning", "windows", "plumbing", "electrics"]


def _ring(box: tuple[float, float, float, float]) -> list[tuple[float, float]]:
    s, w, n, e = box
    return [(s, w), (s, e), (n, e), (n, w)]


def _point_in(box: tuple[float, float, float, float], rng: random.Random) -> tuple[float, float]:
    s, w, n, e = box
    return rng.uniform(s, n), rng.uniform(w, e)


async def populate(db: Database, tz: object) -> int:
    """Fill the database; returns the cleaning service's id."""
    from zoneinfo import ZoneInfo

    zone_info = ZoneInfo(TZ_NAME)
    rng = random.Random(7)
    async with db.transaction() as tx:
        zones = [
            Zone(code=f"z{n}", city="Kyiv", name=f"Zone {n}", polygon_wkt=polygon_wkt(_ring(b)))
            for n, b in enumerate(ZONES)
        ]
        category = ServiceCategory(code="cleaning", names={"en": "Cleaning"})
        tx.add_all([*zones, category])
        await tx.flush()
        service = Service(
            code="cleaning",
            category_id=category.id,
            names={"en": "Cleaning"},
            workflow="visit",
            price=150000,
            duration_minutes=120,
            skills=[ServiceSkill(skill="cleaning")],
        )
        client = Client(name="Bench")
        tx.add_all([service, client])
        await tx.flush()
        zone_ids = [z.id for z in zones]
        workers, worker_zones, worker_skills, patterns = [], [], [], []
        for n in range(1, WORKERS + 1):
            home = rng.randrange(len(ZONES))
            lat, lon = _point_in(ZONES[home], rng)
            workers.append(
                {
                    "id": n,
                    "name": f"Worker {n}",
                    "home_lat": lat,
                    "home_lon": lon,
                    "rating": round(rng.uniform(4, 5), 1),
                    "active": True,
                    "language": "uk",
                    "payout_scheme": "",
                }
            )
            serves = {home, rng.randrange(len(ZONES))}
            worker_zones += [{"worker_id": n, "zone_id": zone_ids[z]} for z in serves]
            skills = {"cleaning"} if rng.random() < 0.6 else set()
            skills |= set(rng.sample(SKILLS, 2))
            worker_skills += [{"worker_id": n, "skill": s} for s in skills]
            patterns += [
                {
                    "worker_id": n,
                    "weekday": d,
                    "starts": clock(8),
                    "ends": clock(20),
                    "valid_from": FIRST,
                    "zone_id": None,
                }
                for d in range(6)
            ]
        await tx.execute(insert(Worker), workers)
        await tx.execute(insert(WorkerZone), worker_zones)
        await tx.execute(insert(WorkerSkill), worker_skills)
        await tx.execute(insert(ShiftPattern), patterns)
        # Orders: per worker-day a few two-hour jobs at distinct starts within the shift.
        working_days = [
            FIRST + timedelta(days=d)
            for d in range(DAYS)
            if (FIRST + timedelta(days=d)).weekday() < 6
        ]
        per_day: dict[tuple[int, date], set[int]] = {}
        orders = []
        while len(orders) < ORDERS:
            worker = rng.randrange(1, WORKERS + 1)
            day = rng.choice(working_days)
            taken = per_day.setdefault((worker, day), set())
            slot = rng.randrange(6)  # 08:00, 10:00 ... 18:00
            if slot in taken:
                continue
            taken.add(slot)
            start = datetime.combine(day, clock(8 + 2 * slot), tzinfo=zone_info)
            lat, lon = _point_in(ZONES[rng.randrange(len(ZONES))], rng)
            orders.append(
                {
                    "client_id": client.id,
                    "workflow": "visit",
                    "status": "assigned",
                    "channel": Channel.PANEL,
                    "priority": "normal",
                    "worker_id": worker,
                    "starts_at": start,
                    "ends_at": start + timedelta(minutes=110),
                    "window_start": start,
                    "window_end": start,
                    "lat": lat,
                    "lon": lon,
                    "customer_comment": "",
                    "manager_comment": "",
                    "worker_comment": "",
                    "assignment_note": "",
                }
            )
        for chunk in range(0, len(orders), 2000):
            await tx.execute(insert(Order), orders[chunk : chunk + 2000])
        return service.id


async def measure(db: Database, service_id: int, queries: int) -> list[float]:
    from zoneinfo import ZoneInfo

    rules = SlotRules(
        tz=ZoneInfo(TZ_NAME),
        step=30,
        lead=60,
        alternatives=5,
        max_days=62,
        travel=StraightLineTravel(speed_kmh=25, detour_factor=1.4),
    )
    rng = random.Random(11)
    now = datetime.combine(FIRST - timedelta(days=1), clock(12), tzinfo=ZoneInfo(TZ_NAME))
    last = FIRST + timedelta(days=DAYS - 1)
    points = [Point(*_point_in((50.42, 30.40, 50.54, 30.75), rng)) for _ in range(queries + 5)]
    timings, sizes = [], []
    for n, point in enumerate(points):
        started = time.perf_counter()
        slots = await find_slots(
            db, service_id=service_id, first=FIRST, last=last, now=now, rules=rules, point=point
        )
        elapsed = (time.perf_counter() - started) * 1000
        if n >= 5:  # the first few warm caches and the connection pool
            timings.append(elapsed)
            sizes.append(len(slots))
    print(f"    free starts per query: median {statistics.median(sizes):.0f}")
    return timings


def report(engine: str, timings: list[float]) -> None:
    ordered = sorted(timings)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(
        f"  {engine:<10} median {statistics.median(ordered):6.1f} ms   p95 {p95:6.1f} ms   "
        f"({len(ordered)} queries; goal p95 < 50 ms)"
    )


async def run_sqlite(queries: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Database(create_engine(f"sqlite+aiosqlite:///{folder}/bench.db"))
        await upgrade(db)
        started = time.perf_counter()
        service_id = await populate(db, None)
        print(f"  sqlite: populated in {time.perf_counter() - started:.1f} s")
        settle_memory()  # as `brigadier run` does once it has started
        report("sqlite", await measure(db, service_id, queries))
        await db.dispose()


async def run_postgresql(queries: int) -> None:
    dsn = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"brigadier_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as err:
        print(f"  postgresql: skipped, server unreachable ({err})")
        return
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        db = Database(create_engine(make_url(PG_URL).set(database=name).render_as_string(False)))
        await upgrade(db)
        started = time.perf_counter()
        service_id = await populate(db, None)
        print(f"  postgresql: populated in {time.perf_counter() - started:.1f} s")
        # A steady-state table: vacuumed (index-only scans) and analysed, as autovacuum keeps it.
        vacuum = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        async with vacuum.connect() as connection:
            await connection.exec_driver_sql("VACUUM ANALYZE")
        settle_memory()  # as `brigadier run` does once it has started
        report("postgresql", await measure(db, service_id, queries))
        await db.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    print(
        f"slots: {WORKERS} workers, {ORDERS} booked orders, {DAYS}-day range, one point per query"
    )
    engines = args.engines.split(",")
    if "sqlite" in engines:
        await run_sqlite(args.queries)
    if "postgresql" in engines:
        await run_postgresql(args.queries)


if __name__ == "__main__":
    asyncio.run(main())
