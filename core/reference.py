"""Services and zones, held by each process between changes.

Every slot search, place check and booking needs the service (its duration, skills and the
zones it is sold in) and the zone map (polygons and price modifiers). They change a few times a
year and are read many times a second, so each process keeps a copy and reads it again only
after a change:

- a change this process commits (a service, its skills or zones, a zone; added, edited or
  removed through the ORM) drops the copy at commit, and writes a ``catalog.changed`` event in
  the same transaction;
- that event reaches every other process through its live hub (``webhooks/live.py``), which
  drops that process's copy (:func:`forget`);
- a change made around the application (by hand, in ``psql``) is picked up within
  :data:`MAX_AGE_SECONDS`.

A transaction that has itself changed the catalog reads it afresh and keeps nothing, so it sees
its own uncommitted change and no other transaction does.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, joinedload

from core.catalog import ServiceInfo, service_info
from core.db import DATABASE, Database
from core.models import Event, Service, ServiceSkill, ServiceZone, Zone
from core.zones import ZoneMap

CHANGED = "catalog.changed"  # the event kind
MAX_AGE_SECONDS = 60.0

_TABLES = frozenset(("services", "service_skills", "service_zones", "zones"))
_CLASSES = (Service, ServiceSkill, ServiceZone, Zone)
_CHANGED_HERE = "brigadier_catalog_changed"  # session.info: this transaction changed it


@dataclass(frozen=True)
class Reference:
    """Active services by id, and the zones with each zone's price modifier (percent)."""

    services: Mapping[int, ServiceInfo]
    zones: ZoneMap
    modifiers: Mapping[int, int]


@dataclass
class _Held:
    reference: Reference | None = None
    read_at: float = 0.0
    generation: int = 0  # moves on with every forget(): a read begun before it is not kept


_HELD: WeakKeyDictionary[Database, _Held] = WeakKeyDictionary()

_SERVICES = (
    select(Service)
    .options(joinedload(Service.skills), joinedload(Service.zones))
    .where(Service.active.is_(True))
)
_ZONES = select(Zone.id, Zone.code, Zone.polygon_wkt, Zone.price_modifier_percent)


async def reference(tx: AsyncSession) -> Reference:
    """The services and zones as of the last change this process has heard of."""
    db: Database | None = tx.info.get(DATABASE)
    if db is None or tx.info.get(_CHANGED_HERE):
        return await _read(tx)
    held = _HELD.get(db)
    if held is None:
        held = _HELD[db] = _Held()
    if held.reference is not None and time.monotonic() - held.read_at < MAX_AGE_SECONDS:
        return held.reference
    generation, read_at = held.generation, time.monotonic()
    fresh = await _read(tx)
    if held.generation == generation and not tx.info.get(_CHANGED_HERE):
        held.reference, held.read_at = fresh, read_at
    return fresh


def forget(db: Database) -> None:
    """Drop the process's copy: the next reader reads the catalog again."""
    held = _HELD.get(db)
    if held is not None:
        held.reference = None
        held.generation += 1


async def _read(tx: AsyncSession) -> Reference:
    services = {s.id: service_info(s) for s in (await tx.scalars(_SERVICES)).unique()}
    rows = (await tx.execute(_ZONES)).all()
    zones = ZoneMap((id, code, wkt) for id, code, wkt, _ in rows)
    return Reference(services, zones, {id: modifier for id, _, _, modifier in rows})


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
