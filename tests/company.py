"""A small company for tests: one zone in Kyiv, a cleaning service, workers with shifts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from core.db import Database
from core.models import (
    Client,
    ClientPhone,
    Service,
    ServiceCategory,
    ServiceSkill,
    ServiceZone,
    ShiftPattern,
    Worker,
    WorkerSkill,
    WorkerZone,
    Zone,
)
from core.slots import SlotRules
from core.travel import StraightLineTravel
from core.zones import polygon_wkt

KYIV = ZoneInfo("Europe/Kyiv")
MONDAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 7, 0, tzinfo=KYIV)
CENTRE = (50.45, 30.52)
RULES = SlotRules(
    tz=KYIV, step=30, lead=60, alternatives=5, max_days=62,
    travel=StraightLineTravel(speed_kmh=25, detour_factor=1.4),
)

# Roughly central Kyiv, both banks; a second zone overlapping its east half.
CITY_RING = [(50.40, 30.40), (50.40, 30.70), (50.52, 30.70), (50.52, 30.40)]
EAST_RING = [(50.40, 30.55), (50.40, 30.80), (50.52, 30.80), (50.52, 30.55)]


@dataclass(frozen=True)
class Company:
    zone_id: int
    east_zone_id: int
    service_id: int
    worker_ids: tuple[int, ...]
    client_id: int


def kyiv(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=KYIV)


async def small_company(
    db: Database, *, workers: int = 1, hours: tuple[int, int] = (9, 18), duration: int = 120,
    skills: tuple[str, ...] = ("cleaning",),
) -> Company:
    """``workers`` cleaners at the centre working Mon–Fri ``hours`` from MONDAY on."""
    async with db.transaction() as tx:
        zone = Zone(code="city", city="Kyiv", name="City", polygon_wkt=polygon_wkt(CITY_RING))
        east = Zone(code="east", city="Kyiv", name="East", polygon_wkt=polygon_wkt(EAST_RING))
        category = ServiceCategory(code="cleaning", names={"en": "Cleaning", "uk": "Прибирання"})
        tx.add_all([zone, east, category])
        await tx.flush()
        service = Service(
            code="cleaning", category_id=category.id, names={"en": "Cleaning", "uk": "Прибирання"},
            workflow="visit", price=150000, duration_minutes=duration,
            skills=[ServiceSkill(skill=s) for s in skills], zones=[ServiceZone(zone_id=zone.id)],
        )
        tx.add(service)
        ids = []
        for n in range(workers):
            worker = Worker(
                name=f"Worker {n + 1}", home_lat=CENTRE[0], home_lon=CENTRE[1], rating=4.5,
                skills=[WorkerSkill(skill=s) for s in skills], zones=[WorkerZone(zone_id=zone.id)],
            )
            tx.add(worker)
            await tx.flush()
            ids.append(worker.id)
            for weekday in range(5):
                tx.add(ShiftPattern(
                    worker_id=worker.id, weekday=weekday, starts=time(hours[0]),
                    ends=time(hours[1]), valid_from=MONDAY,
                ))
        client = Client(name="Olena", phones=[ClientPhone(e164="+380671234567")], addresses=[])
        tx.add(client)
        await tx.flush()
        return Company(zone.id, east.id, service.id, tuple(ids), client.id)
