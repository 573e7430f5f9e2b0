"""The demo company: a believable home-service business in Kyiv to try everything on.

:func:`seed_demo` creates three panel users, three overlapping zones, ten services over the
three workflows, eight workers with two weeks of shifts, fifty clients and a week of orders
around ``today`` in all kinds of status. Orders are booked through :func:`core.booking.book_visit`
on starts that :func:`core.slots.find_slots` offered and then moved along their workflow with
:func:`core.orders.change_status`, so the demo obeys the same rules as live data.

Everything is drawn from one fixed random seed: the same ``today`` gives the same company. The
seed runs as a single transaction; when the demo zones are already there it returns ``False``
and changes nothing.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.booking import book_visit
from core.db import Database
from core.errors import InvalidInput
from core.geo import Point
from core.jobs import SYSTEM
from core.models import (
    Address,
    Channel,
    Client,
    ClientPhone,
    ClientWorker,
    Event,
    Order,
    OutboxMessage,
    Role,
    Service,
    ServiceCategory,
    ServiceSkill,
    ServiceZone,
    ShiftException,
    ShiftExceptionKind,
    ShiftPattern,
    Unit,
    User,
    Worker,
    WorkerPreference,
    WorkerSkill,
    WorkerTraining,
    WorkerZone,
    Zone,
)
from core.orders import OrderView, change_status
from core.phones import normalise_phone
from core.slots import SlotRules, find_slots
from core.travel import StraightLineTravel
from core.workflows import Status, WorkflowKind
from core.zones import ZoneMap, polygon_wkt

SEED = 2026
CITY = "Kyiv"

# --- what the company is made of -------------------------------------------------------------


@dataclass(frozen=True)
class ZoneSpec:
    code: str
    name: str
    responsible: str | None
    """Login of the panel user answering for the zone."""
    ring: tuple[tuple[float, float], ...]
    """Corners as (lat, lon)."""


# The right bank's centre and Pechersk-Holosiiv share Pechersk; both river zones reach over the
# Dnipro to Hydropark and Rusanivka, so the bridges belong to two zones.
ZONES = (
    ZoneSpec("kyiv-right-centre", "Правий берег — центр", "operator", (
        (50.495, 30.430), (50.495, 30.540), (50.460, 30.575), (50.425, 30.580),
        (50.410, 30.540), (50.410, 30.430),
    )),
    ZoneSpec("kyiv-left-bank", "Лівий берег", "manager", (
        (50.530, 30.575), (50.530, 30.690), (50.380, 30.690), (50.380, 30.595),
        (50.425, 30.565), (50.465, 30.560), (50.500, 30.555),
    )),
    ZoneSpec("kyiv-pechersk-holosiiv", "Печерськ-Голосіїв", "operator", (
        (50.450, 30.515), (50.450, 30.560), (50.420, 30.600), (50.360, 30.600),
        (50.360, 30.470), (50.420, 30.470),
    )),
)
DEMO_ZONE_CODES = tuple(zone.code for zone in ZONES)
RIGHT, LEFT, PECHERSK = DEMO_ZONE_CODES
ALL_ZONES = DEMO_ZONE_CODES

USERS = (
    ("admin", "Олександр Коваленко", Role.SUPERADMIN, None),
    ("operator", "Ірина Шевчук", Role.OPERATOR, "101"),
    ("manager", "Андрій Мельник", Role.MANAGER, "102"),
)

CATEGORIES = (
    ("cleaning", {"uk": "Прибирання", "ru": "Уборка", "en": "Cleaning"}),
    ("dry_cleaning", {"uk": "Хімчистка", "ru": "Химчистка", "en": "Dry cleaning"}),
    ("water", {"uk": "Доставка води", "ru": "Доставка воды", "en": "Water delivery"}),
    ("repairs", {"uk": "Майстри та ремонт", "ru": "Мастера и ремонт",
                 "en": "Handyman and repairs"}),
    ("meters", {"uk": "Повірка лічильників", "ru": "Поверка счётчиков",
                "en": "Meter verification"}),
)


@dataclass(frozen=True)
class ServiceSpec:
    code: str
    category: str
    names: dict[str, str]
    workflow: WorkflowKind
    unit: Unit
    price: int
    """Kopiyky per unit."""
    price_is_from: bool
    duration: int
    per_unit: int
    skills: tuple[str, ...]
    zones: tuple[str, ...]
    quantity: tuple[int, int]
    """The range demo orders draw their quantity from."""
    weight: int
    """How often demo orders pick the service, relative to the others."""


SERVICES = (
    ServiceSpec("cleaning_standard", "cleaning",
                {"uk": "Підтримувальне прибирання квартири", "ru": "Поддерживающая уборка квартиры",
                 "en": "Standard apartment cleaning"},
                WorkflowKind.VISIT, Unit.SQUARE_METRE, 45_00, True, 90, 2, ("cleaning",),
                ALL_ZONES, (35, 95), 10),
    ServiceSpec("cleaning_deep", "cleaning",
                {"uk": "Генеральне прибирання", "ru": "Генеральная уборка", "en": "Deep cleaning"},
                WorkflowKind.VISIT, Unit.SQUARE_METRE, 90_00, True, 120, 3, ("cleaning",),
                ALL_ZONES, (30, 70), 4),
    ServiceSpec("window_washing", "cleaning",
                {"uk": "Миття вікон", "ru": "Мытьё окон", "en": "Window washing"},
                WorkflowKind.VISIT, Unit.ITEM, 350_00, False, 45, 30, ("windows",),
                (RIGHT, PECHERSK), (2, 6), 3),
    ServiceSpec("dry_cleaning_suit", "dry_cleaning",
                {"uk": "Хімчистка костюма (забір і доставка)",
                 "ru": "Химчистка костюма (забор и доставка)",
                 "en": "Suit dry cleaning (pickup and delivery)"},
                WorkflowKind.PICKUP_DELIVERY, Unit.ITEM, 450_00, False, 20, 5, ("courier",),
                ALL_ZONES, (1, 2), 2),
    ServiceSpec("dry_cleaning_coat", "dry_cleaning",
                {"uk": "Хімчистка пальта (забір і доставка)",
                 "ru": "Химчистка пальто (забор и доставка)",
                 "en": "Coat dry cleaning (pickup and delivery)"},
                WorkflowKind.PICKUP_DELIVERY, Unit.ITEM, 600_00, False, 20, 5, ("courier",),
                ALL_ZONES, (1, 2), 2),
    ServiceSpec("water_19l", "water",
                {"uk": "Вода питна, бутель 19 л", "ru": "Вода питьевая, бутыль 19 л",
                 "en": "Drinking water, 19 L bottle"},
                WorkflowKind.DELIVERY, Unit.BOTTLE, 160_00, False, 10, 2, ("water",),
                ALL_ZONES, (2, 5), 9),
    ServiceSpec("plumber", "repairs",
                {"uk": "Виклик сантехніка", "ru": "Вызов сантехника", "en": "Plumber call-out"},
                WorkflowKind.VISIT, Unit.VISIT, 500_00, True, 60, 0, ("plumbing",),
                ALL_ZONES, (1, 1), 4),
    ServiceSpec("electrician", "repairs",
                {"uk": "Виклик електрика", "ru": "Вызов электрика", "en": "Electrician call-out"},
                WorkflowKind.VISIT, Unit.VISIT, 500_00, True, 60, 0, ("electrics",),
                ALL_ZONES, (1, 1), 3),
    ServiceSpec("furniture_assembly", "repairs",
                {"uk": "Складання меблів", "ru": "Сборка мебели", "en": "Furniture assembly"},
                WorkflowKind.VISIT, Unit.ITEM, 600_00, True, 90, 60, ("assembly",),
                (RIGHT, LEFT), (1, 3), 3),
    ServiceSpec("water_meter_verification", "meters",
                {"uk": "Повірка лічильника води", "ru": "Поверка счётчика воды",
                 "en": "Water meter verification"},
                WorkflowKind.VISIT, Unit.ITEM, 450_00, False, 40, 15, ("meter_verification",),
                (RIGHT, PECHERSK), (1, 2), 4),
)

WEEKDAYS = (0, 1, 2, 3, 4)
WEEKDAYS_AND_SATURDAY = (0, 1, 2, 3, 4, 5)


@dataclass(frozen=True)
class ShiftSpec:
    weekdays: tuple[int, ...]
    starts: time
    ends: time
    zone: str | None = None


@dataclass(frozen=True)
class WorkerSpec:
    name: str
    skills: tuple[str, ...]
    zones: tuple[str, ...]
    home: tuple[float, float]
    rating: float
    shifts: tuple[ShiftSpec, ...]
    trainings: tuple[tuple[str, int], ...] = ()
    """(name, completed so many days before ``today``)."""
    vehicle_capacity: int | None = None
    language: str = "uk"


SAFETY = ("Охорона праці та техніка безпеки", 120)
SERVICE_MANNERS = ("Стандарти обслуговування клієнтів", 60)

WORKERS = (
    WorkerSpec("Оксана Бондаренко", ("cleaning", "windows"), (RIGHT, PECHERSK), (50.4300, 30.4720),
               4.9, (ShiftSpec(WEEKDAYS, time(8), time(18)),),
               (SAFETY, ("Професійна хімія для прибирання", 200),
                ("Висотні роботи: миття вікон", 90))),
    WorkerSpec("Наталія Ткаченко", ("cleaning", "windows"), (LEFT, RIGHT), (50.4440, 30.6290),
               4.7, (ShiftSpec((1, 2, 3, 4, 5), time(9), time(20)),),
               (SAFETY, ("Професійна хімія для прибирання", 45))),
    WorkerSpec("Світлана Кравченко", ("cleaning",), ALL_ZONES, (50.3990, 30.6300), 4.5,
               (ShiftSpec((0, 2, 4), time(8), time(18), LEFT),
                ShiftSpec((1, 3), time(8), time(18), RIGHT),
                ShiftSpec((5,), time(9), time(15))),
               (SERVICE_MANNERS,), None, "ru"),
    WorkerSpec("Богдан Олійник", ("plumbing", "meter_verification", "assembly"), (RIGHT, PECHERSK),
               (50.3960, 30.5060), 4.8,
               (ShiftSpec(WEEKDAYS, time(8), time(18)), ShiftSpec((5,), time(9), time(14))),
               (SAFETY, ("Повірка лічильників води: робота з еталонною установкою", 300))),
    WorkerSpec("Василь Поліщук", ("electrics", "plumbing", "assembly"), (LEFT, RIGHT),
               (50.4510, 30.6030), 4.6, (ShiftSpec(WEEKDAYS, time(9), time(20)),),
               (SAFETY, ("Допуск до електроустановок до 1000 В, IV група", 400))),
    WorkerSpec("Тарас Лисенко", ("electrics", "meter_verification"), ALL_ZONES, (50.4620, 30.4800),
               4.3,
               (ShiftSpec((0, 2, 4), time(8), time(18)),
                ShiftSpec((1, 3), time(8), time(18), PECHERSK)),
               (("Допуск до електроустановок до 1000 В, III група", 250),
                ("Повірка лічильників води: робота з еталонною установкою", 30))),
    WorkerSpec("Микола Савченко", ("water", "courier"), (RIGHT, PECHERSK), (50.4050, 30.5150), 4.4,
               (ShiftSpec(WEEKDAYS_AND_SATURDAY, time(8), time(18)),),
               (SAFETY, ("Водіння вантажного авто, категорія C", 700)), 40),
    WorkerSpec("Дмитро Гончаренко", ("water", "courier"), (LEFT, RIGHT), (50.5100, 30.6100), 4.2,
               (ShiftSpec(WEEKDAYS_AND_SATURDAY, time(9), time(20)),),
               (SERVICE_MANNERS, ("Приймання речей у хімчистку: огляд і фотофіксація", 20)), 60),
)


@dataclass(frozen=True)
class ExceptionSpec:
    worker: int
    """Index into WORKERS."""
    day: int
    """Days after the Monday of ``today``'s week."""
    kind: ShiftExceptionKind
    reason: str
    starts: time | None = None
    ends: time | None = None
    zone: str | None = None


SHIFT_EXCEPTIONS = (
    ExceptionSpec(0, 9, ShiftExceptionKind.OFF, "Сімейні обставини"),
    ExceptionSpec(3, 3, ShiftExceptionKind.OFF, "Візит до лікаря", time(13), time(18)),
    ExceptionSpec(6, 6, ShiftExceptionKind.EXTRA, "Додаткова зміна: багато замовлень води",
                  time(10), time(16)),
    ExceptionSpec(4, 13, ShiftExceptionKind.EXTRA, "Чергування у вихідний", time(10), time(15),
                  LEFT),
)

MOBILE_CODES = ("50", "63", "66", "67", "68", "73", "93", "95", "96", "97", "98", "99")

CLIENT_NAMES = (
    "Олена Петренко", "Сергій Іваненко", "Марія Коваль", "Андрій Бойко", "Юлія Мороз",
    "Олег Кравець", "Тетяна Левченко", "Віталій Шевченко", "Ганна Кузьменко", "Ігор Панченко",
    "Ольга Павленко", "Роман Стасюк", "Катерина Руденко", "Максим Вакуленко",
    "Людмила Марченко", "Юрій Демченко", "Вікторія Сидоренко", "Павло Остапенко",
    "Анастасія Гриценко", "Євген Приходько", "Ірина Литвиненко", "Владислав Гаврилюк",
    "Софія Білик", "Артем Зінченко", "Дарина Захарченко", "Михайло Ковальчук",
    "Галина Романенко", "Петро Савчук", "Лариса Костенко", "Володимир Онищенко",
    "Надія Головко", "Степан Тарасенко", "Алла Пономаренко", "Денис Кучер", "Віра Кириленко",
    "Олександр Мельничук", "Христина Яковенко", "Ярослав Климченко", "Антоніна Дорошенко",
    "Григорій Антоненко", "Зоряна Федоренко", "Станіслав Бондар", "Інна Мазур",
    "Костянтин Нестеренко", "Яна Тимошенко", "Руслан Гнатюк", "Лілія Гуменюк",
    "Анатолій Фесенко", "Валентина Назаренко", "Дмитро Соловйов",
)

# Streets with a point on each; a client's house is placed within ~150 m of it.
STREETS = (
    ("вул. Хрещатик", 50.4480, 30.5225), ("вул. Богдана Хмельницького", 50.4468, 30.5095),
    ("вул. Ярославів Вал", 50.4517, 30.5105), ("вул. Січових Стрільців", 50.4560, 30.4985),
    ("вул. Саксаганського", 50.4375, 30.4990), ("вул. Сагайдачного", 50.4625, 30.5205),
    ("вул. Костянтинівська", 50.4685, 30.5110), ("вул. Дмитрівська", 50.4545, 30.4890),
    ("бульв. Тараса Шевченка", 50.4430, 30.5010), ("вул. Жилянська", 50.4365, 30.5060),
    ("вул. Лук'янівська", 50.4625, 30.4840), ("вул. Олеся Гончара", 50.4515, 30.5035),
    ("вул. Нижній Вал", 50.4665, 30.5120), ("просп. Берестейський", 50.4545, 30.4600),
    ("бульв. Лесі Українки", 50.4255, 30.5395), ("вул. Мечникова", 50.4375, 30.5350),
    ("вул. Лаврська", 50.4380, 30.5570), ("вул. Михайла Бойчука", 50.4175, 30.5505),
    ("просп. Голосіївський", 50.3955, 30.5085), ("вул. Васильківська", 50.3880, 30.4990),
    ("просп. Науки", 50.3830, 30.5285), ("вул. Деміївська", 50.4085, 30.5175),
    ("вул. Іоанна Павла II", 50.4190, 30.5480), ("вул. Звіринецька", 50.4150, 30.5590),
    ("вул. Ломоносова", 50.3925, 30.4960), ("просп. Броварський", 50.4555, 30.5990),
    ("бульв. Верховної Ради", 50.4530, 30.6260), ("вул. Ентузіастів", 50.4390, 30.5960),
    ("просп. Соборності", 50.4395, 30.6180), ("вул. Драгоманова", 50.4065, 30.6400),
    ("вул. Анни Ахматової", 50.4045, 30.6250), ("просп. Петра Григоренка", 50.3975, 30.6345),
    ("Харківське шосе", 50.4200, 30.6520), ("просп. Червоної Калини", 50.5135, 30.6055),
    ("вул. Миколи Закревського", 50.5160, 30.6190), ("просп. Лісовий", 50.4725, 30.6440),
    ("Русанівська набережна", 50.4345, 30.5885), ("вул. Кибальчича", 50.4965, 30.6050),
)

ADDRESS_COMMENTS = (
    "", "", "", "Під'їзд 2, код домофона 45К", "Домофон не працює — дзвонити на мобільний",
    "Шлагбаум у дворі, назвати номер квартири охороні", "Паркування лише на вулиці",
    "Ліфт вантажний, 9 поверх", "Вхід з двору, третій під'їзд",
)
CLIENT_NOTES = (
    "", "", "", "", "Просить дзвонити після 10:00", "Є собака, спокійна",
    "Оплата переважно карткою", "Постійний клієнт з 2023 року",
)
COMMENTS = {
    "uk": ("", "", "", "Є кіт, будь ласка, зачиняйте двері", "Засоби для прибирання є на місці",
           "Зателефонуйте за 30 хвилин до приїзду", "Ключі у консьєржа"),
    "ru": ("", "", "", "Позвоните за полчаса до приезда", "Есть кот, закрывайте двери",
           "Ключи у консьержа"),
    "en": ("", "", "Please call 30 minutes before arriving", "Keys are with the concierge"),
}
CANCELLED_EARLY = (
    "Клієнт переніс на інший тиждень", "Клієнт знайшов інше рішення",
    "Клієнт поїхав з міста", "Дубль замовлення",
)
CANCELLED_AT_DOOR = (
    "Клієнта не було вдома, телефон не відповідає", "Клієнт відмовився на місці",
)
PAYMENTS = ("cash", "cash", "card_to_worker", "terminal", "online")
ORDERS_PER_DAY = {5: 5, 6: 2}
"""Orders aimed at on Saturday and Sunday; other days get DEFAULT_ORDERS_PER_DAY."""
DEFAULT_ORDERS_PER_DAY = 9
ORDER_DAYS = range(-3, 4)
"""Orders fall on these days around ``today``."""


def default_rules(tz: ZoneInfo) -> SlotRules:
    """The shipped scheduling settings (config.toml's defaults)."""
    return SlotRules(tz=tz, step=30, lead=60, alternatives=5, max_days=62,
                     travel=StraightLineTravel(speed_kmh=25, detour_factor=1.4))


# --- seeding ---------------------------------------------------------------------------------


@dataclass
class _ClientDraft:
    client: Client
    places: list[tuple[Address, tuple[str, ...]]] = field(default_factory=list)
    """Each address with the codes of every zone containing it."""
    drinks_water: bool = False


@dataclass
class _Company:
    zone_ids: dict[str, int]
    users: dict[str, int]
    services: dict[str, tuple[int, ServiceSpec]]
    clients: list[_ClientDraft]


async def seed_demo(
    db: Database, *, tz: ZoneInfo, region: str, today: date, rules: SlotRules | None = None,
    now: datetime | None = None, confirmation_required: bool = False,
) -> bool:
    """Create the demo company; ``False`` (and nothing changed) when it is already there.

    ``now`` is the moment the demo's story has reached: orders before it are done, cancelled or
    under way, orders after it wait. It defaults to noon of ``today`` so that the demo depends
    on ``today`` alone. ``confirmation_required`` is the company's setting: finished orders
    then wait for a manager (most have been confirmed); otherwise they closed by themselves.
    """
    rules = rules or default_rules(tz)
    now = now or datetime.combine(today, time(12), tzinfo=tz)
    if now.tzinfo is None:
        raise InvalidInput("invalid_value", field="now", value=now.isoformat(),
                           reason="give the time zone")
    rng = random.Random(SEED)
    try:
        async with _single_transaction(db) as inner:
            if await _demo_exists(inner):
                return False
            company = await _seed_company(inner, rng, region=region, today=today, now=now)
            await _seed_orders(inner, rng, company, rules=rules, today=today, now=now,
                               confirmation_required=confirmation_required)
    except IntegrityError:
        # Another seed running at the same time got its zones in first.
        if await _demo_exists(db):
            return False
        raise
    return True


async def _demo_exists(db: Database) -> bool:
    async with db.transaction(read_only=True) as tx:
        found = await tx.scalar(select(Zone.id).where(Zone.code.in_(DEMO_ZONE_CODES)).limit(1))
        return found is not None


@asynccontextmanager
async def _single_transaction(db: Database) -> AsyncIterator[Database]:
    """A handle whose every transaction is a savepoint of one outer transaction.

    A failure anywhere leaves nothing of the demo behind.
    """
    if isinstance(db.bind, AsyncConnection):
        async with db.bind.begin_nested():
            yield Database(db.bind)
    else:
        async with db.engine.connect() as connection, connection.begin():
            yield Database(connection)


@dataclass
class _PhoneFactory:
    rng: random.Random
    region: str
    taken: set[str] = field(default_factory=set)

    def __call__(self) -> str:
        """A new valid Ukrainian mobile number in E.164, never one handed out before."""
        while True:
            text = f"0{self.rng.choice(MOBILE_CODES)}{self.rng.randrange(10**7):07d}"
            try:
                e164 = normalise_phone(text, self.region)
            except InvalidInput:
                continue
            if e164 not in self.taken:
                self.taken.add(e164)
                return e164


async def _seed_company(
    db: Database, rng: random.Random, *, region: str, today: date, now: datetime,
) -> _Company:
    monday = today - timedelta(days=today.weekday())
    # Shifts run for this week and the next; they start earlier when the week is young, so the
    # past days of the demo's orders are covered too.
    valid_from = min(monday, today + timedelta(days=ORDER_DAYS[0]))
    valid_until = monday + timedelta(days=13)
    new_phone = _PhoneFactory(rng, region)
    async with db.transaction() as tx:
        users = {login: User(login=login, name=name, role=role, password_hash=None,
                             extension=extension) for login, name, role, extension in USERS}
        tx.add_all(users.values())
        await tx.flush()
        zones = {spec.code: Zone(code=spec.code, city=CITY, name=spec.name,
                                 polygon_wkt=polygon_wkt(spec.ring),
                                 responsible_user_id=users[spec.responsible].id
                                 if spec.responsible else None)
                 for spec in ZONES}
        tx.add_all(zones.values())
        await tx.flush()
        zone_ids = {code: zone.id for code, zone in zones.items()}
        zone_map = ZoneMap((zone.id, code, zone.polygon_wkt) for code, zone in zones.items())
        zone_codes = {zone_id: code for code, zone_id in zone_ids.items()}

        categories = {code: ServiceCategory(code=code, names=names, position=position)
                      for position, (code, names) in enumerate(CATEGORIES)}
        tx.add_all(categories.values())
        await tx.flush()
        services = {spec.code: Service(
            code=spec.code, category_id=categories[spec.category].id, names=spec.names,
            workflow=spec.workflow.value, unit=spec.unit, price=spec.price,
            price_is_from=spec.price_is_from, duration_minutes=spec.duration,
            minutes_per_unit=spec.per_unit,
            skills=[ServiceSkill(skill=skill) for skill in spec.skills],
            zones=[ServiceZone(zone_id=zone_ids[code]) for code in spec.zones],
        ) for spec in SERVICES}
        tx.add_all(services.values())

        workers = []
        for number, spec in enumerate(WORKERS, start=1):
            worker = Worker(
                name=spec.name, phone=new_phone(), telegram_user_id=800_000_000 + number,
                language=spec.language, home_lat=spec.home[0], home_lon=spec.home[1],
                rating=spec.rating, vehicle_capacity=spec.vehicle_capacity,
                skills=[WorkerSkill(skill=skill) for skill in spec.skills],
                zones=[WorkerZone(zone_id=zone_ids[code]) for code in spec.zones],
                trainings=[WorkerTraining(name=name, completed_on=today - timedelta(days=ago))
                           for name, ago in spec.trainings],
            )
            workers.append(worker)
        tx.add_all(workers)
        await tx.flush()

        for worker, spec in zip(workers, WORKERS, strict=True):
            for shift in spec.shifts:
                tx.add_all(ShiftPattern(
                    worker_id=worker.id, zone_id=zone_ids[shift.zone] if shift.zone else None,
                    weekday=weekday, starts=shift.starts, ends=shift.ends,
                    valid_from=valid_from, valid_until=valid_until,
                ) for weekday in shift.weekdays)
        for exception in SHIFT_EXCEPTIONS:
            tx.add(ShiftException(
                worker_id=workers[exception.worker].id, day=monday + timedelta(days=exception.day),
                kind=exception.kind, starts=exception.starts, ends=exception.ends,
                zone_id=zone_ids[exception.zone] if exception.zone else None,
                reason=exception.reason,
            ))

        clients = _client_drafts(rng, new_phone, zone_map, zone_codes, now=now)
        tx.add_all(draft.client for draft in clients)
        await tx.flush()
        tx.add_all(_preferences(clients, workers))
        return _Company(
            zone_ids=zone_ids, users={login: user.id for login, user in users.items()},
            services={spec.code: (services[spec.code].id, spec) for spec in SERVICES},
            clients=clients,
        )


def _client_drafts(
    rng: random.Random, new_phone: _PhoneFactory, zone_map: ZoneMap,
    zone_codes: dict[int, str], *, now: datetime,
) -> list[_ClientDraft]:
    count = len(CLIENT_NAMES)
    russian = set(rng.sample(range(count), 9))
    english = set(rng.sample(sorted(set(range(count)) - russian), 3))
    two_phones = set(rng.sample(range(count), 5))
    two_addresses = set(rng.sample(range(count), 4))
    water = set(rng.sample(range(count), 16))
    debtors = set(rng.sample(sorted(water), 2))
    drafts = []
    telegram_id = 700_000_000
    for index, name in enumerate(CLIENT_NAMES):
        language = "ru" if index in russian else "en" if index in english else "uk"
        on_telegram = rng.random() < 0.6
        if on_telegram:
            telegram_id += 1
        phones = [ClientPhone(e164=new_phone(), label="мобільний")]
        if index in two_phones:
            phones.append(ClientPhone(e164=new_phone(),
                                      label=rng.choice(("робочий", "чоловік", "дружина"))))
        client = Client(
            name=name, language=language,
            telegram_user_id=telegram_id if on_telegram else None,
            source_channel=Channel.TELEGRAM if on_telegram else rng.choice(
                (Channel.PHONE, Channel.PHONE, Channel.PANEL)),
            balance=rng.choice((0, 0, 0, 0, 200_00, 500_00, 1000_00)),
            bonus_points=rng.choice((0, 0, 50, 120, 300, 450)),
            bottles=rng.randint(1, 4) if index in water else 0,
            debt=rng.choice((320_00, 480_00)) if index in debtors else 0,
            notes=rng.choice(CLIENT_NOTES),
            created_at=now - timedelta(days=rng.randint(14, 700), minutes=rng.randint(0, 1439)),
            phones=phones, addresses=[],
        )
        draft = _ClientDraft(client, drinks_water=index in water)
        for _ in range(2 if index in two_addresses else 1):
            draft.places.append(_place(rng, zone_map, zone_codes, client))
        drafts.append(draft)
    return drafts


def _place(
    rng: random.Random, zone_map: ZoneMap, zone_codes: dict[int, str], client: Client,
) -> tuple[Address, tuple[str, ...]]:
    while True:
        street, lat, lon = rng.choice(STREETS)
        point = Point(round(lat + rng.uniform(-0.0012, 0.0012), 6),
                      round(lon + rng.uniform(-0.0018, 0.0018), 6))
        inside = zone_map.zones_at(point)
        if inside:
            break
    house = rng.randint(1, 120)
    flat = rng.randint(1, 180)
    address = Address(text=f"{street}, {house}, кв. {flat}, Київ", lat=point.lat, lon=point.lon,
                      zone_id=inside[0], comment=rng.choice(ADDRESS_COMMENTS))
    client.addresses.append(address)
    return address, tuple(zone_codes[zone_id] for zone_id in inside)


def _preferences(clients: Sequence[_ClientDraft], workers: Sequence[Worker]) -> list[ClientWorker]:
    """Two clients with a favourite, two who asked never to see someone again.

    Each blocked worker has colleagues with the same skills in the client's zones.
    """
    by_name = {worker.name: worker for worker in workers}
    wishes = (
        ("Оксана Бондаренко", WorkerPreference.PREFERRED, RIGHT),
        ("Богдан Олійник", WorkerPreference.PREFERRED, PECHERSK),
        ("Світлана Кравченко", WorkerPreference.BLOCKED, RIGHT),
        ("Тарас Лисенко", WorkerPreference.BLOCKED, RIGHT),
    )
    links = []
    used: set[int] = set()
    for name, kind, zone in wishes:
        index, draft = next((i, d) for i, d in enumerate(clients)
                            if i not in used and zone in d.places[0][1])
        used.add(index)
        links.append(ClientWorker(client_id=draft.client.id, worker_id=by_name[name].id,
                                  kind=kind))
        if kind is WorkerPreference.BLOCKED:
            draft.client.notes = f"Не призначати: {name} (скарга на якість)"
    return links


async def _seed_orders(
    db: Database, rng: random.Random, company: _Company, *, rules: SlotRules, today: date,
    now: datetime, confirmation_required: bool,
) -> None:
    operator = f"user:{company.users['operator']}"
    # Without a manager's confirmation finished orders close by themselves.
    manager = f"user:{company.users['manager']}" if confirmation_required else None
    specs = [spec for _, spec in company.services.values()]
    weights = [spec.weight for spec in specs]
    stamps: dict[int, tuple[datetime, datetime]] = {}
    for offset in ORDER_DAYS:
        day = today + timedelta(days=offset)
        wanted = ORDERS_PER_DAY.get(day.weekday(), DEFAULT_ORDERS_PER_DAY)
        booked = 0
        for _ in range(wanted * 4):
            if booked == wanted:
                break
            spec = rng.choices(specs, weights)[0]
            service_id = company.services[spec.code][0]
            choice = _pick_client(rng, company.clients, spec)
            if choice is None:
                continue
            draft, address = choice
            client = draft.client
            low, high = spec.quantity
            quantity = rng.randint(low, high)
            if spec.unit is Unit.SQUARE_METRE:
                quantity = quantity // 5 * 5
            slots = await find_slots(
                db, service_id=service_id, first=day, last=day,
                now=datetime.combine(day, time(0), tzinfo=rules.tz) - timedelta(days=3),
                rules=rules, address_id=address.id, client_id=client.id, quantity=quantity,
            )
            if not slots:
                continue
            if offset == 0 and booked == 0:
                # Someone should be on the way when the demo is opened.
                soon = [s for s in slots if now < s.start <= now + timedelta(minutes=30)]
                slots = soon or slots
            start = rng.choice(slots).start
            booked_at = min(start - timedelta(days=rng.randint(1, 4), minutes=rng.randint(0, 600)),
                            now - timedelta(minutes=rng.randint(10, 300))).replace(second=0,
                                                                                  microsecond=0)
            by_bot = client.telegram_user_id is not None and rng.random() < 0.7
            booking = await book_visit(
                db, client_id=client.id, service_id=service_id, start=start, now=booked_at,
                rules=rules, channel=Channel.TELEGRAM if by_bot else Channel.PHONE,
                address_id=address.id, quantity=quantity,
                comment=rng.choice(COMMENTS.get(client.language, COMMENTS["uk"])),
                actor=None if by_bot else operator,
            )
            last = await _play(db, rng, booking.order, booked_at=booked_at, now=now,
                               client=f"client:{client.id}", operator=operator, manager=manager)
            stamps[booking.order.id] = (booked_at, last)
            booked += 1
    async with db.transaction() as tx:
        for order_id, (created, changed) in stamps.items():
            await tx.execute(update(Order).where(Order.id == order_id)
                             .values(created_at=created, updated_at=changed))
        # The demo's past is not news: nobody is messaged about it.
        await tx.execute(delete(OutboxMessage).where(OutboxMessage.event_id.in_(
            select(Event.id).where(Event.order_id.in_(stamps))
        )))


def _pick_client(
    rng: random.Random, clients: Sequence[_ClientDraft], spec: ServiceSpec,
) -> tuple[_ClientDraft, Address] | None:
    water = spec.workflow is WorkflowKind.DELIVERY
    options = [(draft, address) for draft in clients if draft.drinks_water or not water
               for address, zones in draft.places if set(zones) & set(spec.zones)]
    return rng.choice(options) if options else None


async def _play(
    db: Database, rng: random.Random, order: OrderView, *, booked_at: datetime, now: datetime,
    client: str, operator: str, manager: str | None,
) -> datetime:
    """Move a freshly booked order as far as its story has got by ``now``; the last move's time.
    Without a ``manager`` to confirm the work, a finished order closes at once by itself."""
    worker = f"worker:{order.worker_id}"
    start, end = order.starts_at, order.ends_at
    kind = WorkflowKind(order.workflow)
    moments = [booked_at]

    async def move(target: Status, actor: str, at: datetime, *, reason: str | None = None,
                   payment: str | None = None) -> None:
        at = max(at, moments[-1])
        await change_status(db, order_id=order.id, target=target.value, actor=actor, now=at,
                            reason=reason, payment_method=payment)
        moments.append(at)

    accepted_at = min(booked_at + timedelta(minutes=rng.randint(3, 90)), now)
    departed_at = start - timedelta(minutes=rng.randint(30, 50))
    roll = rng.random()
    if roll < 0.1:
        # Called off in advance.
        cancelled_at = min(booked_at + timedelta(hours=rng.randint(1, 20)), now, departed_at)
        if rng.random() < 0.5:
            await move(Status.ACCEPTED, worker, accepted_at)
        await move(Status.CANCELLED, rng.choice((client, operator)), cancelled_at,
                   reason=rng.choice(CANCELLED_EARLY))
        return moments[-1]
    if departed_at > now:
        if start - now < timedelta(days=1) or roll < 0.6:
            await move(Status.ACCEPTED, worker, accepted_at)
        return moments[-1]
    await move(Status.ACCEPTED, worker, accepted_at)
    await move(Status.ON_THE_WAY, worker, departed_at)
    if start > now:
        return moments[-1]
    if roll < 0.16:
        await move(Status.CANCELLED, operator, start + timedelta(minutes=15),
                   reason=rng.choice(CANCELLED_AT_DOOR))
        return moments[-1]
    if kind is WorkflowKind.VISIT:
        await move(Status.IN_PROGRESS, worker, start)
        if end > now:
            return moments[-1]
        await move(Status.COMPLETED, worker, end, payment=rng.choice(PAYMENTS))
    elif kind is WorkflowKind.DELIVERY:
        if end > now:
            return moments[-1]
        await move(Status.DELIVERED, worker, end, payment=rng.choice(PAYMENTS))
    else:
        # The items are in the workshop; inspection is recorded there, not by the courier.
        if end <= now:
            await move(Status.PICKED_UP, worker, end)
        return moments[-1]
    closed_at = end + timedelta(minutes=rng.randint(20, 240))
    confirmed = closed_at <= now and rng.random() < 0.85  # drawn either way: the same demo
    if manager is None:
        await move(Status.CLOSED, SYSTEM, moments[-1])
    elif confirmed:
        await move(Status.CLOSED, manager, closed_at)
    return moments[-1]
