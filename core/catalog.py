"""The catalog: categories and services as customers and operators see them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from core.db import Database
from core.errors import NotFound
from core.models import Service, ServiceCategory


@dataclass(frozen=True)
class ServiceInfo:
    id: int
    code: str
    category_id: int
    names: dict[str, str]
    workflow: str
    unit: str
    price: int
    price_is_from: bool
    duration_minutes: int
    minutes_per_unit: int
    skills: tuple[str, ...]
    zone_ids: tuple[int, ...]

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("en") or self.code


def service_info(service: Service) -> ServiceInfo:
    return ServiceInfo(
        id=service.id,
        code=service.code,
        category_id=service.category_id,
        names=dict(service.names),
        workflow=service.workflow,
        unit=service.unit.value,
        price=service.price,
        price_is_from=service.price_is_from,
        duration_minutes=service.duration_minutes,
        minutes_per_unit=service.minutes_per_unit,
        skills=tuple(sorted(s.skill for s in service.skills)),
        zone_ids=tuple(sorted(z.zone_id for z in service.zones)),
    )


# A service with its skills and zones in one statement (a few rows each).
_WHOLE = (joinedload(Service.skills), joinedload(Service.zones))


async def _service_by_ref(tx: AsyncSession, ref: str | int) -> Service | None:
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        return await tx.get(Service, int(ref), options=_WHOLE)
    query = select(Service).options(*_WHOLE).where(Service.code == ref)
    return (await tx.scalars(query)).unique().one_or_none()


async def find_service(db: Database, *, ref: str | int) -> ServiceInfo:
    """A service by its id or its code."""
    async with db.transaction(read_only=True) as tx:
        service = await _service_by_ref(tx, ref)
        if service is None:
            raise NotFound("not_found", entity="service", ref=ref)
        return service_info(service)


async def list_services(db: Database, *, active_only: bool = True) -> list[ServiceInfo]:
    async with db.transaction(read_only=True) as tx:
        query = select(Service).options(*_WHOLE).order_by(Service.category_id, Service.id)
        if active_only:
            query = query.where(Service.active.is_(True))
        return [service_info(s) for s in (await tx.scalars(query)).unique()]


@dataclass(frozen=True)
class CategoryInfo:
    id: int
    code: str
    names: dict[str, str]

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("en") or self.code


async def list_categories(db: Database) -> list[CategoryInfo]:
    """Categories that have an active service, in their catalog order."""
    async with db.transaction(read_only=True) as tx:
        active = select(Service.category_id).where(Service.active.is_(True))
        query = (
            select(ServiceCategory)
            .where(ServiceCategory.id.in_(active))
            .order_by(ServiceCategory.position, ServiceCategory.id)
        )
        return [CategoryInfo(c.id, c.code, dict(c.names)) for c in await tx.scalars(query)]
