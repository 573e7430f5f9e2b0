"""Watching the day: jobs not started in time are flagged once, and their worker and the
zone's responsible operator told.

The check runs in every process but acts once: PostgreSQL claims the due orders
``FOR UPDATE SKIP LOCKED``; SQLite's writer holds the database lock; and the flag itself
(``job_progress.late_flagged_at``) is written in the same transaction, so nobody tells twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.events import Notice, record_event
from core.models import JobProgress, Order, PanelProfile, User, Worker, Zone
from core.orders import job_progress
from core.workflows import Status

NOT_STARTED = (Status.ASSIGNED, Status.ACCEPTED, Status.ON_THE_WAY)


async def flag_late_starts(
    db: Database, *, now: datetime, grace: timedelta, tz: ZoneInfo, limit: int = 100
) -> list[int]:
    """Flag orders whose start passed by ``grace`` without work starting; their ids."""
    flagged = exists().where(
        JobProgress.order_id == Order.id, JobProgress.late_flagged_at.is_not(None)
    )
    query = (
        select(Order)
        .where(
            Order.status.in_([s.value for s in NOT_STARTED]),
            Order.starts_at <= now - grace,
            # Only today's lateness: an order forgotten for days is the operator's, not news.
            Order.starts_at > now - timedelta(hours=12),
            ~flagged,
        )
        .order_by(Order.starts_at)
        .limit(limit)
    )
    if db.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Order)
    async with db.transaction() as tx:
        orders = list(await tx.scalars(query))
        for order in orders:
            progress = await job_progress(tx, order.id)
            progress.late_flagged_at = now
            await tx.flush()
            record_event(tx, kind="order.late_start", order_id=order.id,
                               payload={"worker_id": order.worker_id,
                                        "starts_at": order.starts_at.isoformat()},
                               notices=await _late_notices(tx, order, tz))
        return [order.id for order in orders]


async def _late_notices(tx: AsyncSession, order: Order, tz: ZoneInfo) -> list[Notice]:
    when = f"{order.starts_at.astimezone(tz):%H:%M}"
    about = {"number": order.number, "order_id": order.id, "when": when}
    notices = []
    worker = await tx.get(Worker, order.worker_id) if order.worker_id else None
    if worker is not None and worker.telegram_user_id is not None:
        notices.append(Notice("worker", worker.telegram_user_id, worker.language,
                              "notice.late_start_worker", about))
    zone = await tx.get(Zone, order.zone_id) if order.zone_id else None
    responsible = zone.responsible_user_id if zone else None
    user = await tx.get(User, responsible) if responsible else None
    if user is not None and user.telegram_user_id is not None:
        profile = await tx.get(PanelProfile, user.id)
        language = profile.language if profile and profile.language else "uk"
        notices.append(Notice("worker", user.telegram_user_id, language,
                              "notice.late_start_operator",
                              {**about, "worker": worker.name if worker else "—"}))
    return notices
