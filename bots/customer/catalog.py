"""The catalog as the bot shows it: read from core at most every few seconds per process.

Nearly every booking shows the categories, the services and the chosen service again; they
change a few times a year. Buttons and summaries may lag an operator's edit by
:data:`SHOWN_SECONDS`; core books from its own copy, which every change drops at once
(``core/reference.py``), so what is booked and charged is always current.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from core.catalog import CategoryInfo, ServiceInfo, find_service, list_categories, list_services
from core.db import Database

SHOWN_SECONDS = 10.0


@dataclass(frozen=True)
class _Shown:
    read_at: float
    categories: list[CategoryInfo]
    services: list[ServiceInfo]


_SHOWN: WeakKeyDictionary[Database, _Shown] = WeakKeyDictionary()
_READING: WeakKeyDictionary[Database, asyncio.Task[_Shown]] = WeakKeyDictionary()


async def _read(db: Database) -> _Shown:
    read_at = time.monotonic()
    shown = _Shown(read_at, await list_categories(db), await list_services(db))
    _SHOWN[db] = shown
    return shown


async def _shown(db: Database) -> _Shown:
    shown = _SHOWN.get(db)
    if shown is not None and time.monotonic() - shown.read_at < SHOWN_SECONDS:
        return shown
    reading = _READING.get(db)
    if reading is None or reading.done():
        # One read for every update that finds the catalog stale at the same moment.
        reading = _READING[db] = asyncio.ensure_future(_read(db))
    return await asyncio.shield(reading)


async def shown_categories(db: Database) -> list[CategoryInfo]:
    """Categories that have an active service, in catalog order."""
    return (await _shown(db)).categories


async def shown_services(db: Database) -> list[ServiceInfo]:
    """Active services in catalog order."""
    return (await _shown(db)).services


async def shown_service(db: Database, service_id: int) -> ServiceInfo:
    """An active service as shown, any other (or an unknown id) asked from core."""
    for service in (await _shown(db)).services:
        if service.id == service_id:
            return service
    return await find_service(db, ref=service_id)
