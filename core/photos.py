"""Job photos: before and after a visit, and of each item taken in for the workshop.

The transport fetches the file (from Telegram) into the configured folder first, outside any
transaction, then records it here with the path it was kept at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from core.db import Database
from core.errors import InvalidInput, NotFound
from core.events import record_event
from core.models import IntakeItem, OrderPhoto
from core.orders import load_order

KINDS = ("before", "after", "intake")


@dataclass(frozen=True)
class PhotoInfo:
    id: int
    order_id: int
    kind: str
    item_id: int | None
    path: str
    photos_of_kind: int


def photo_path(folder: Path, order_id: int, file_unique_id: str) -> Path:
    """Where a job's photo is kept: one folder per order."""
    safe = "".join(ch for ch in file_unique_id if ch.isalnum() or ch in "-_")[:64] or "photo"
    return folder / f"order-{order_id}" / f"{safe}.jpg"


async def attach_photo(
    db: Database, *, worker_id: int, order_id: int, kind: str, path: str, now: datetime,
    telegram_file_id: str = "", item_id: int | None = None,
) -> PhotoInfo:
    """Record a kept photo on the worker's own order (an intake item's, with ``item_id``)."""
    if kind not in KINDS:
        raise InvalidInput("invalid_value", field="kind", value=kind, reason=", ".join(KINDS))
    async with db.transaction() as tx:
        order = await load_order(tx, order_id)
        if order.worker_id != worker_id:
            raise NotFound("not_your_job", number=order.number)
        if item_id is not None:
            item = await tx.get(IntakeItem, item_id)
            if item is None or item.order_id != order_id:
                raise NotFound("not_found", entity="item", ref=item_id)
        photo = OrderPhoto(order_id=order_id, item_id=item_id, kind=kind, path=path,
                           telegram_file_id=telegram_file_id[:255], worker_id=worker_id,
                           created_at=now)
        tx.add(photo)
        await tx.flush()
        count = await tx.scalar(
            select(func.count()).select_from(OrderPhoto)
            .where(OrderPhoto.order_id == order_id, OrderPhoto.kind == kind)
        )
        record_event(tx, kind="order.photo_added", order_id=order_id,
                           payload={"photo_id": photo.id, "kind": kind, "worker_id": worker_id})
        return PhotoInfo(photo.id, order_id, kind, item_id, path, int(count or 0))
