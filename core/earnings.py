"""What a worker earned: per job by their payout scheme, plus tips; week and month totals.

A payout scheme is written on the worker's card as ``percent:<p>`` (that share of the job's
total) or ``fixed:<minor units>`` (that much per job). Without a scheme only tips count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.db import Database
from core.errors import InvalidInput, NotFound
from core.models import JobProgress, Order, Worker
from core.workflows import Status

EARNED = (Status.COMPLETED, Status.CLOSED, Status.DELIVERED)


@dataclass(frozen=True)
class PayoutScheme:
    kind: str  # percent | fixed | none
    value: int

    def pay(self, job_total: int) -> int:
        if self.kind == "percent":
            return job_total * self.value // 100
        if self.kind == "fixed":
            return self.value
        return 0


def parse_scheme(text: str) -> PayoutScheme:
    """``percent:40`` → 40 % of the job; ``fixed:30000`` → 300.00 per job; empty → none."""
    text = text.strip()
    if not text:
        return PayoutScheme("none", 0)
    kind, _, value = text.partition(":")
    if kind not in ("percent", "fixed") or not value.isdigit():
        raise InvalidInput("invalid_value", field="payout_scheme", value=text,
                           reason="percent:<0-100> or fixed:<minor units>")
    if kind == "percent" and int(value) > 100:
        raise InvalidInput("invalid_value", field="payout_scheme", value=text, reason="0–100")
    return PayoutScheme(kind, int(value))


@dataclass(frozen=True)
class JobEarning:
    order_id: int
    number: str
    finished_at: datetime
    total: int
    pay: int
    tips: int

    @property
    def earned(self) -> int:
        return self.pay + self.tips


@dataclass(frozen=True)
class Earnings:
    jobs: tuple[JobEarning, ...]
    """This month's jobs, latest first."""
    week: int
    month: int
    scheme: PayoutScheme


async def worker_earnings(
    db: Database, *, worker_id: int, today: date, tz: ZoneInfo
) -> Earnings:
    """The month's finished jobs with pay and tips; totals for this week and this month."""
    month_start = today.replace(day=1)
    week_start = today - timedelta(days=today.weekday())
    first = min(month_start, week_start)
    since = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    async with db.transaction(read_only=True) as tx:
        worker = await tx.get(Worker, worker_id)
        if worker is None:
            raise NotFound("not_found", entity="worker", ref=worker_id)
        scheme = parse_scheme(worker.payout_scheme)
        orders = list(await tx.scalars(
            select(Order).where(
                Order.worker_id == worker_id,
                Order.status.in_([s.value for s in EARNED]),
                Order.starts_at >= since,
            ).order_by(Order.starts_at.desc())
        ))
        tips = {
            order_id: value for order_id, value in await tx.execute(
                select(JobProgress.order_id, JobProgress.tips)
                .where(JobProgress.order_id.in_([order.id for order in orders]))
            )
        }
    jobs = tuple(
        JobEarning(order.id, order.number, order.starts_at, order.total,
                   scheme.pay(order.total), tips.get(order.id, 0))
        for order in orders
    )

    def day_of(job: JobEarning) -> date:
        return job.finished_at.astimezone(tz).date()

    return Earnings(
        jobs=tuple(job for job in jobs if day_of(job) >= month_start),
        week=sum(job.earned for job in jobs if week_start <= day_of(job) <= today),
        month=sum(job.earned for job in jobs if month_start <= day_of(job) <= today),
        scheme=scheme,
    )
