"""The dispatch board: a day's workers and jobs at a glance, and moving one job by hand.

The board reads the day the way the planner does (:mod:`core.routes`): the same orders, zones,
shifts and blocked workers. Moving a job to a worker (or to another start) is checked against
the same rules the planner never breaks (skills, zones, the client's blocked workers, capacity,
the booked window, the worker's shift, time to drive between neighbouring jobs, with the travel
times slot search uses) and refused with the first broken rule, in words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.errors import Conflict, InvalidInput, NotFound, TransitionRefused
from core.events import Notice, record_event
from core.geo import Point
from core.messages import per_language
from core.models import Address, Client, ClientPhone, Order, Service, Worker, Zone
from core.orders import load_order, move, offer_notice
from core.routes import PLANNABLE, UNLOCKABLE, DayOrder, DayShift, load_day
from core.shifts import epoch_minutes, from_epoch_minutes
from core.slots import SlotRules
from core.workflows import Status, status_label

MOVABLE = PLANNABLE | {UNLOCKABLE}
"""Statuses a dispatcher may give another worker or start: nobody is on the way yet."""
DEFAULT_HOURS = (8, 20)


@dataclass(frozen=True)
class BoardJob:
    order_id: int
    number: str
    status: str
    worker_id: int | None
    starts_at: datetime
    ends_at: datetime
    window_start: datetime
    window_end: datetime
    client_name: str
    address: str
    services: tuple[Mapping[str, str], ...]
    zone_ids: frozenset[int]


@dataclass(frozen=True)
class BoardRow:
    """One worker on the day: working intervals and jobs in time order."""

    worker_id: int
    name: str
    shifts: tuple[tuple[datetime, datetime], ...]
    jobs: tuple[BoardJob, ...]


@dataclass(frozen=True)
class ZoneChoice:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class DayBoard:
    day: date
    zone_id: int | None
    zones: tuple[ZoneChoice, ...]
    rows: tuple[BoardRow, ...]
    unplaced: tuple[BoardJob, ...]
    """Orders of the day nobody has yet."""
    first_hour: int
    last_hour: int
    """The hours the board spans: ``first_hour`` up to ``last_hour`` (exclusive), local."""


@dataclass(frozen=True)
class Reassigned:
    order_id: int
    number: str
    worker_id: int
    from_worker_id: int | None
    starts_at: datetime
    status: str


def _midnight(day: date, tz: ZoneInfo) -> int:
    return epoch_minutes(datetime.combine(day, datetime.min.time(), tzinfo=tz))


async def day_board(db: Database, *, day: date, zone_id: int | None, tz: ZoneInfo) -> DayBoard:
    """The day's workers (on shift or with jobs) and jobs; ``zone_id`` narrows both."""
    midnight = _midnight(day, tz)
    async with db.transaction(read_only=True) as tx:
        orders, _, shifts, _ = await load_day(tx, day, tz, midnight)
        details = await _details(tx, [o.id for o in orders])
        zones = tuple(
            ZoneChoice(z.id, z.code, z.name)
            for z in await tx.scalars(select(Zone).order_by(Zone.name, Zone.id))
        )
        worker_ids = {s.worker_id for s in shifts} | {o.worker_id for o in orders if o.worker_id}
        names: dict[int, str] = dict((await tx.execute(
            select(Worker.id, Worker.name).where(Worker.id.in_(worker_ids))
        )).all())

    def moment(minute: int) -> datetime:
        return from_epoch_minutes(midnight + minute, tz)

    jobs = [_job(order, details[order.id]) for order in orders]
    in_zone = [j for j in jobs if zone_id is None or zone_id in j.zone_ids]
    by_worker: dict[int, list[BoardJob]] = {}
    for job in jobs:
        if job.worker_id is not None:
            by_worker.setdefault(job.worker_id, []).append(job)
    rows = []
    for worker_id in sorted(worker_ids, key=lambda w: (names.get(w, ""), w)):
        mine = [s for s in shifts if s.worker_id == worker_id]
        zoned = zone_id is None or any(zone_id in s.zones for s in mine) or any(
            zone_id in j.zone_ids for j in by_worker.get(worker_id, [])
        )
        if not zoned:
            continue
        rows.append(BoardRow(
            worker_id=worker_id,
            name=names.get(worker_id, f"#{worker_id}"),
            shifts=tuple((moment(s.start), moment(s.end)) for s in mine),
            jobs=tuple(by_worker.get(worker_id, [])),
        ))
    unplaced = tuple(j for j in in_zone if j.worker_id is None)
    first, last = _hours(rows, unplaced, day, tz)
    return DayBoard(
        day=day, zone_id=zone_id, zones=zones, rows=tuple(rows),
        unplaced=unplaced, first_hour=first, last_hour=last,
    )


@dataclass(frozen=True)
class _Details:
    client_name: str
    address: str
    services: tuple[Mapping[str, str], ...]
    window_start: datetime
    window_end: datetime
    starts_at: datetime
    ends_at: datetime


async def _details(tx: AsyncSession, order_ids: Sequence[int]) -> dict[int, _Details]:
    rows = list(await tx.scalars(select(Order).where(Order.id.in_(order_ids))))
    clients: dict[int, str] = dict((await tx.execute(
        select(Client.id, Client.name).where(Client.id.in_({o.client_id for o in rows}))
    )).all())
    addresses: dict[int, str] = dict((await tx.execute(
        select(Address.id, Address.text).where(
            Address.id.in_({o.address_id for o in rows if o.address_id})
        )
    )).all())
    services = {
        s.id: dict(s.names) for s in await tx.scalars(select(Service).where(
            Service.id.in_({line.service_id for o in rows for line in o.lines})
        ))
    }
    return {
        o.id: _Details(
            client_name=clients.get(o.client_id, ""),
            address=addresses.get(o.address_id, "") if o.address_id else "",
            services=tuple(services[line.service_id] for line in o.lines),
            window_start=o.window_start, window_end=o.window_end,
            starts_at=o.starts_at, ends_at=o.ends_at,
        )
        for o in rows
    }


def _job(order: DayOrder, details: _Details) -> BoardJob:
    return BoardJob(
        order_id=order.id, number=order.number, status=order.status, worker_id=order.worker_id,
        starts_at=details.starts_at, ends_at=details.ends_at,
        window_start=details.window_start, window_end=details.window_end,
        client_name=details.client_name, address=details.address, services=details.services,
        zone_ids=order.zones,
    )


def _hours(
    rows: Sequence[BoardRow], unplaced: Sequence[BoardJob], day: date, tz: ZoneInfo
) -> tuple[int, int]:
    """Whole local hours covering every shift and job, and at least the usual working day."""
    jobs = [*unplaced, *(job for row in rows for job in row.jobs)]
    spans = [*(shift for row in rows for shift in row.shifts),
             *((job.starts_at, job.ends_at) for job in jobs)]
    if not spans:
        return DEFAULT_HOURS
    first = min(start.astimezone(tz).hour for start, _ in spans)
    latest = max(end for _, end in spans).astimezone(tz)
    last = 24 if latest.date() > day else latest.hour + (1 if latest.minute else 0)
    return min(first, DEFAULT_HOURS[0]), max(last, DEFAULT_HOURS[1])


# --- moving one job by hand ------------------------------------------------------------------


Refusal = tuple[str, dict[str, Any]]
Legs = Callable[[Point | None, Point | None], int]


def move_refusal(
    order: DayOrder,
    *,
    start: int,
    worker_id: int,
    shifts: Sequence[DayShift],
    others: Sequence[DayOrder],
    blocked: frozenset[tuple[int, int]],
    legs: Legs,
    clock: Callable[[int], str],
) -> Refusal | None:
    """The first rule that giving ``order`` to the worker at ``start`` breaks, or ``None``.

    Times are minutes from local midnight, as in :class:`core.routes.DayOrder`; ``others`` are
    the worker's other jobs that day; ``legs`` the driving minutes between two points.
    """
    mine = [s for s in shifts if s.worker_id == worker_id]
    end = start + order.service
    if not mine:
        return "board.no_shift", {}
    worker = mine[0]
    if not order.skills <= worker.skills:
        return "board.no_skill", {"skills": ", ".join(sorted(order.skills - worker.skills))}
    if not order.zones & worker.zones:
        return "board.no_zone", {}
    if (order.client_id, worker_id) in blocked:
        return "board.blocked", {}
    if worker.capacity is not None and order.demand > worker.capacity:
        return "board.capacity", {"demand": order.demand, "capacity": worker.capacity}
    if not order.window_start <= start <= order.window_end:
        window = clock(order.window_start)
        if order.window_end > order.window_start:
            window += "–" + clock(order.window_end)
        return "board.breaks_window", {"start": clock(start), "window": window}
    covering = [s for s in mine if s.start <= start and end <= s.end]
    if not covering:
        hours = ", ".join(f"{clock(s.start)}–{clock(s.end)}" for s in mine)
        return "board.breaks_shift", {"start": clock(start), "end": clock(end), "shift": hours}
    if not any(s.zone_id is None or s.zone_id in order.zones for s in covering):
        return "board.shift_zone", {}
    return _neighbour_refusal(order, start, end, others, legs, clock)


def _neighbour_refusal(
    order: DayOrder, start: int, end: int, others: Sequence[DayOrder], legs: Legs,
    clock: Callable[[int], str],
) -> Refusal | None:
    before = [o for o in others if o.start < end and start < o.end]
    if before:
        clash = before[0]
        return "board.overlaps", {"number": clash.number,
                                  "time": f"{clock(clash.start)}–{clock(clash.end)}"}
    previous = max((o for o in others if o.end <= start), key=lambda o: o.end, default=None)
    if previous is not None:
        drive = legs(previous.point, order.point)
        if previous.end + drive > start:
            return "board.too_close", {"number": previous.number, "minutes": drive}
    following = min((o for o in others if o.start >= end), key=lambda o: o.start, default=None)
    if following is not None:
        drive = legs(order.point, following.point)
        if end + drive > following.start:
            return "board.too_close", {"number": following.number, "minutes": drive}
    return None


def _legs(rules: SlotRules) -> Legs:
    def legs(origin: Point | None, destination: Point | None) -> int:
        if origin is None or destination is None:
            return 0
        return rules.travel.minutes(origin, destination)

    return legs


def _clock(midnight: int, tz: ZoneInfo) -> Callable[[int], str]:
    def clock(minute: int) -> str:
        return f"{from_epoch_minutes(midnight + minute, tz):%H:%M}"

    return clock


async def check_reassignment(
    db: Database, *, order_id: int, worker_id: int, start: datetime | None, rules: SlotRules
) -> Refusal | None:
    """Why giving the order to the worker (at ``start``, or its own start) would be refused."""
    async with db.transaction(read_only=True) as tx:
        order = await load_order(tx, order_id)
        return await _refusal(tx, order, worker_id, start, rules)


async def _refusal(
    tx: AsyncSession, order: Order, worker_id: int, start: datetime | None, rules: SlotRules
) -> Refusal | None:
    if order.status not in MOVABLE:
        return "board.under_way", {"number": order.number,
                                   "status": per_language(lambda lang: status_label(order.status,
                                                                                    lang))}
    worker = await tx.get(Worker, worker_id)
    if worker is None or not worker.active:
        raise NotFound("not_found", entity="worker", ref=worker_id)
    tz = rules.tz
    day = order.starts_at.astimezone(tz).date()
    start = start or order.starts_at
    if start.astimezone(tz).date() != day:
        raise InvalidInput("board.other_day", field="start", value=f"{start.astimezone(tz):%d.%m}",
                           day=f"{day:%d.%m.%Y}")
    midnight = _midnight(day, tz)
    orders, _, shifts, blocked = await load_day(tx, day, tz, midnight)
    moved = next(o for o in orders if o.id == order.id)
    others = sorted((o for o in orders if o.worker_id == worker_id and o.id != order.id),
                    key=lambda o: o.start)
    return move_refusal(
        moved, start=epoch_minutes(start) - midnight, worker_id=worker_id, shifts=shifts,
        others=others, blocked=blocked, legs=_legs(rules), clock=_clock(midnight, tz),
    )


async def reassign_order(
    db: Database,
    *,
    order_id: int,
    worker_id: int,
    start: datetime | None,
    actor: str,
    now: datetime,
    rules: SlotRules,
) -> Reassigned:
    """Give the order to the worker (at ``start``, or its own start), or refuse with the reason.

    The new worker is offered the job (``assigned``) and hears it; the worker losing it hears
    that; the customer hears a new arrival time.
    """
    try:
        async with db.transaction() as tx:
            # Two dispatchers moving one order: the second waits and checks against the first.
            order = await load_order(tx, order_id, for_update=True)
            refusal = await _refusal(tx, order, worker_id, start, rules)
            if refusal is not None:
                key, params = refusal
                error = TransitionRefused if key == "board.under_way" else Conflict
                raise error(key, **params)
            old_worker, old_start = order.worker_id, order.starts_at
            if worker_id == old_worker and (start is None or start == old_start):
                return Reassigned(order.id, order.number, worker_id, old_worker, old_start,
                                  order.status)
            _move(order, worker_id, start or order.starts_at, actor, now)
            await tx.flush()
            await _tell(tx, order, old_worker, old_start, actor, rules.tz)
    except IntegrityError as err:
        # The worker's time was taken meanwhile; the database refused the overlap.
        raise Conflict("board.taken_meanwhile") from err
    return Reassigned(order.id, order.number, worker_id, old_worker, order.starts_at, order.status)


def _move(order: Order, worker_id: int, start: datetime, actor: str, now: datetime) -> None:
    note = f"moved on the dispatch board by {actor}"
    if order.worker_id not in (None, worker_id) and order.status in (Status.ASSIGNED,
                                                                     Status.ACCEPTED):
        move(order, Status.CONFIRMED, actor=actor, now=now, reason=note)
    duration = order.ends_at - order.starts_at
    order.starts_at = start
    order.ends_at = start + duration
    order.worker_id = worker_id
    if order.status == Status.NEW:
        move(order, Status.CONFIRMED, actor=actor, now=now)
    if order.status == Status.CONFIRMED:
        move(order, Status.ASSIGNED, actor=actor, now=now, reason=note)
    order.assignment_note = note


async def _tell(
    tx: AsyncSession, order: Order, old_worker: int | None, old_start: datetime, actor: str,
    tz: ZoneInfo,
) -> None:
    notices: list[Notice] = []
    if old_worker is not None and old_worker != order.worker_id:
        previous = await tx.get(Worker, old_worker)
        if previous is not None and previous.telegram_user_id is not None:
            notices.append(Notice("worker", previous.telegram_user_id, previous.language,
                                  "notice.job_removed",
                                  {"number": order.number,
                                   "when": f"{old_start.astimezone(tz):%d.%m %H:%M}"}))
    if order.worker_id != old_worker and order.worker_id is not None:
        notices.extend(await offer_notice(tx, order, order.worker_id, tz=tz))
    client = await tx.get(Client, order.client_id)
    if old_start != order.starts_at and client is not None and client.telegram_user_id:
        local = order.starts_at.astimezone(tz)
        notices.append(Notice("customer", client.telegram_user_id, client.language,
                              "notice.arrival_time",
                              {"number": order.number, "day": f"{local:%d.%m.%Y}",
                               "start": f"{local:%H:%M}"}))
    kind = "order.assigned" if order.worker_id != old_worker else "order.rescheduled"
    record_event(tx, kind=kind, order_id=order.id, payload={
        "worker_id": order.worker_id,
        "from_worker_id": old_worker,
        "starts_at": order.starts_at.isoformat(),
        "from_starts_at": old_start.isoformat(),
        "planner": actor,
        "why": order.assignment_note,
    }, notices=notices)


# --- the route sheet -------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetStop:
    order_id: int
    number: str
    status: str
    starts_at: datetime
    ends_at: datetime
    window_start: datetime
    window_end: datetime
    address: str
    address_comment: str
    point: Point | None
    client_name: str
    phones: tuple[str, ...]
    services: tuple[tuple[Mapping[str, str], int], ...]
    """Each service's names and quantity."""
    customer_comment: str
    manager_comment: str


# Google Maps opens a link's origin, its destination and at most nine waypoints between them.
GOOGLE_POINTS_PER_LINK = 11


@dataclass(frozen=True)
class RouteLeg:
    """A Google Maps link for the stops ``first`` to ``last`` (numbered as on the sheet)."""

    first: int
    last: int
    url: str


@dataclass(frozen=True)
class RouteSheet:
    worker_id: int
    worker_name: str
    worker_phone: str | None
    day: date
    home: Point | None
    stops: tuple[SheetStop, ...]

    @property
    def google_maps_url(self) -> str | None:
        """The whole route in one Google Maps link (see :attr:`google_maps_legs`)."""
        return google_route_url(self.waypoints())

    @property
    def google_maps_legs(self) -> tuple[RouteLeg, ...]:
        """The route in Google Maps: one link while it fits the waypoints Google opens from a
        link, else one per leg, each setting off where the one before ended."""
        numbered = [(n, s.point) for n, s in enumerate(self.stops, start=1) if s.point is not None]
        if self.home is not None and numbered:
            numbered.insert(0, (0, self.home))
        legs = []
        step = GOOGLE_POINTS_PER_LINK - 1
        for first in range(0, max(1, len(numbered) - 1), step):
            leg = numbered[first:first + GOOGLE_POINTS_PER_LINK]
            url = google_route_url([point for _, point in leg])
            stops = [n for n, _ in leg if n > 0]
            if url is not None and stops:
                legs.append(RouteLeg(stops[0], stops[-1], url))
        return tuple(legs)

    @property
    def yandex_maps_url(self) -> str | None:
        return yandex_route_url(self.waypoints())

    def waypoints(self) -> list[Point]:
        """Home (when known), then every stop with a place on the map, in order."""
        points = [s.point for s in self.stops if s.point is not None]
        return [self.home, *points] if self.home is not None and points else points


async def route_sheet(db: Database, *, worker_id: int, day: date, tz: ZoneInfo) -> RouteSheet:
    """A worker's jobs of the day in order, with everything needed at each door."""
    first = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    async with db.transaction(read_only=True) as tx:
        worker = await tx.get(Worker, worker_id)
        if worker is None:
            raise NotFound("not_found", entity="worker", ref=worker_id)
        orders = list(await tx.scalars(
            select(Order).where(
                Order.worker_id == worker_id, Order.starts_at >= first,
                Order.starts_at < first + timedelta(days=1),
                Order.status != Status.CANCELLED,
            ).order_by(Order.starts_at, Order.id)
        ))
        stops = await _sheet_stops(tx, orders)
    home = (Point(worker.home_lat, worker.home_lon)
            if worker.home_lat is not None and worker.home_lon is not None else None)
    return RouteSheet(worker.id, worker.name, worker.phone, day, home, tuple(stops))


async def _sheet_stops(tx: AsyncSession, orders: Sequence[Order]) -> list[SheetStop]:
    clients = {c.id: c for c in await tx.scalars(
        select(Client).where(Client.id.in_({o.client_id for o in orders}))
    )}
    phones: dict[int, list[str]] = {}
    for client_id, e164 in await tx.execute(
        select(ClientPhone.client_id, ClientPhone.e164)
        .where(ClientPhone.client_id.in_(clients)).order_by(ClientPhone.id)
    ):
        phones.setdefault(client_id, []).append(e164)
    addresses = {a.id: a for a in await tx.scalars(
        select(Address).where(Address.id.in_({o.address_id for o in orders if o.address_id}))
    )}
    services = {s.id: dict(s.names) for s in await tx.scalars(
        select(Service).where(Service.id.in_({ln.service_id for o in orders for ln in o.lines}))
    )}
    stops = []
    for order in orders:
        address = addresses.get(order.address_id) if order.address_id else None
        client = clients.get(order.client_id)
        point = Point(order.lat, order.lon) if order.lat is not None and order.lon is not None \
            else None
        stops.append(SheetStop(
            order_id=order.id, number=order.number, status=order.status,
            starts_at=order.starts_at, ends_at=order.ends_at,
            window_start=order.window_start, window_end=order.window_end,
            address=address.text if address else "",
            address_comment=address.comment if address else "",
            point=point,
            client_name=client.name if client else "",
            phones=tuple(phones.get(order.client_id, ())),
            services=tuple((services[ln.service_id], ln.quantity) for ln in order.lines),
            customer_comment=order.customer_comment,
            manager_comment=order.manager_comment,
        ))
    return stops


def _coordinates(point: Point) -> str:
    return f"{point.lat:.6f},{point.lon:.6f}"


def google_route_url(points: Sequence[Point]) -> str | None:
    """Google Maps directions through ``points`` in order (the first is where one sets off).

    Google opens up to nine waypoints from a link: longer routes go by legs
    (:attr:`RouteSheet.google_maps_legs`).
    """
    if not points:
        return None
    origin, *middle, destination = points if len(points) > 1 else [points[0], points[0]]
    query = {"api": "1", "origin": _coordinates(origin),
             "destination": _coordinates(destination), "travelmode": "driving"}
    if middle:
        query["waypoints"] = "|".join(_coordinates(p) for p in middle)
    return "https://www.google.com/maps/dir/?" + urlencode(query, safe=",|", quote_via=quote)


def yandex_route_url(points: Sequence[Point]) -> str | None:
    """Yandex Maps car route through ``points`` in order."""
    if not points:
        return None
    rtext = "~".join(_coordinates(p) for p in points)
    return f"https://yandex.ru/maps/?rtext={rtext}&rtt=auto"
