"""Typed ORM models. Money is integer minor units; times are aware UTC datetimes."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.functions import FunctionElement

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every engine."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        dict[str, str]: JSON(),
    }


def utcnow() -> datetime:
    return datetime.now(UTC)


class Channel(enum.StrEnum):
    TELEGRAM = "telegram"
    PHONE = "phone"
    PANEL = "panel"
    API = "api"
    CLI = "cli"
    WALK_IN = "walk_in"


class Priority(enum.StrEnum):
    NORMAL = "normal"
    EXPRESS = "express"


class Unit(enum.StrEnum):
    VISIT = "visit"
    SQUARE_METRE = "m2"
    ITEM = "item"
    BOTTLE = "bottle"


class Role(enum.StrEnum):
    SUPERADMIN = "superadmin"
    OPERATOR = "operator"
    DISPATCHER = "dispatcher"
    MANAGER = "manager"
    STOREKEEPER = "storekeeper"
    ACCOUNTANT = "accountant"
    QUALITY = "quality"


class WorkerPreference(enum.StrEnum):
    PREFERRED = "preferred"
    BLOCKED = "blocked"


class ShiftExceptionKind(enum.StrEnum):
    OFF = "off"
    EXTRA = "extra"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


class User(Base):
    """A person who logs in to the panel: operator, dispatcher, manager..."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    extension: Mapped[str | None] = mapped_column(String(32))
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Zone(Base):
    __tablename__ = "zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    city: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    polygon_wkt: Mapped[str] = mapped_column(Text)
    responsible_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    price_modifier_percent: Mapped[int] = mapped_column(default=0)


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(8), default="uk")
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    source_channel: Mapped[Channel] = mapped_column(
        _enum(Channel, "channel"), default=Channel.PHONE
    )
    balance: Mapped[int] = mapped_column(default=0)
    bonus_points: Mapped[int] = mapped_column(default=0)
    bottles: Mapped[int] = mapped_column(default=0)
    debt: Mapped[int] = mapped_column(default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    phones: Mapped[list[ClientPhone]] = relationship(
        back_populates="client", lazy="selectin", order_by="ClientPhone.id"
    )
    addresses: Mapped[list[Address]] = relationship(
        back_populates="client", lazy="selectin", order_by="Address.id"
    )


class ClientPhone(Base):
    __tablename__ = "client_phones"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    e164: Mapped[str] = mapped_column(String(20), unique=True)
    label: Mapped[str] = mapped_column(String(50), default="")

    client: Mapped[Client] = relationship(back_populates="phones")


class Address(Base):
    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"))
    comment: Mapped[str] = mapped_column(Text, default="")

    client: Mapped[Client] = relationship(back_populates="addresses")


class ClientWorker(Base):
    """A client's preferred or blocked worker."""

    __tablename__ = "client_workers"

    client_id: Mapped[int] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    worker_id: Mapped[int] = mapped_column(
        ForeignKey("workers.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[WorkerPreference] = mapped_column(_enum(WorkerPreference, "worker_preference"))


class ServiceCategory(Base):
    __tablename__ = "service_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    names: Mapped[dict[str, str]]
    position: Mapped[int] = mapped_column(default=0)


class Service(Base):
    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("service_categories.id"))
    names: Mapped[dict[str, str]]
    workflow: Mapped[str] = mapped_column(String(32))
    unit: Mapped[Unit] = mapped_column(_enum(Unit, "unit"), default=Unit.VISIT)
    price: Mapped[int]
    price_is_from: Mapped[bool] = mapped_column(default=False)
    duration_minutes: Mapped[int]
    minutes_per_unit: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    skills: Mapped[list[ServiceSkill]] = relationship(lazy="selectin", cascade="all, delete-orphan")
    zones: Mapped[list[ServiceZone]] = relationship(lazy="selectin", cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
    )


class ServiceSkill(Base):
    __tablename__ = "service_skills"

    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    skill: Mapped[str] = mapped_column(String(64), primary_key=True)


class ServiceZone(Base):
    __tablename__ = "service_zones"

    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    zone_id: Mapped[int] = mapped_column(
        ForeignKey("zones.id", ondelete="CASCADE"), primary_key=True
    )


class Worker(Base):
    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    language: Mapped[str] = mapped_column(String(8), default="uk")
    home_lat: Mapped[float | None] = mapped_column(Float)
    home_lon: Mapped[float | None] = mapped_column(Float)
    rating: Mapped[float] = mapped_column(Float, default=5.0)
    vehicle_capacity: Mapped[int | None]
    payout_scheme: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(default=True)

    skills: Mapped[list[WorkerSkill]] = relationship(lazy="selectin", cascade="all, delete-orphan")
    zones: Mapped[list[WorkerZone]] = relationship(lazy="selectin", cascade="all, delete-orphan")
    trainings: Mapped[list[WorkerTraining]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )


class WorkerSkill(Base):
    __tablename__ = "worker_skills"

    worker_id: Mapped[int] = mapped_column(
        ForeignKey("workers.id", ondelete="CASCADE"), primary_key=True
    )
    skill: Mapped[str] = mapped_column(String(64), primary_key=True)


class WorkerZone(Base):
    __tablename__ = "worker_zones"

    worker_id: Mapped[int] = mapped_column(
        ForeignKey("workers.id", ondelete="CASCADE"), primary_key=True
    )
    zone_id: Mapped[int] = mapped_column(
        ForeignKey("zones.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class WorkerTraining(Base):
    __tablename__ = "worker_trainings"

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    completed_on: Mapped[date | None] = mapped_column(Date)


class ShiftPattern(Base):
    """A weekly working interval in the company's local time, optionally tied to one zone."""

    __tablename__ = "shift_patterns"

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"), index=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id", ondelete="CASCADE"))
    weekday: Mapped[int]
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("starts < ends", name="starts_before_ends"),
    )


class ShiftException(Base):
    """A dated change to the weekly pattern: time off (whole day when no hours) or extra hours."""

    __tablename__ = "shift_exceptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[ShiftExceptionKind] = mapped_column(_enum(ShiftExceptionKind, "shift_exception"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id", ondelete="CASCADE"))
    starts: Mapped[time | None] = mapped_column(Time)
    ends: Mapped[time | None] = mapped_column(Time)
    reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_shift_exceptions_worker_day", "worker_id", "day"),)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    workflow: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"))
    priority: Mapped[Priority] = mapped_column(_enum(Priority, "priority"), default=Priority.NORMAL)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    customer_comment: Mapped[str] = mapped_column(Text, default="")
    manager_comment: Mapped[str] = mapped_column(Text, default="")
    worker_comment: Mapped[str] = mapped_column(Text, default="")
    payment_method: Mapped[str | None] = mapped_column(String(32))
    assignment_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    lines: Mapped[list[OrderLine]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="OrderLine.id"
    )
    history: Mapped[list[OrderStatusChange]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="OrderStatusChange.id"
    )

    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="starts_before_ends"),
        # Covers slot search: a worker's jobs in a range, read from the index alone.
        Index(
            "ix_orders_worker_schedule", "worker_id", "starts_at", "ends_at", "status", "lat", "lon"
        ),
        Index("ix_orders_starts", "starts_at"),
    )

    @property
    def number(self) -> str:
        """The short number customers and operators say aloud."""
        return f"{self.id + 10000}"

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    quantity: Mapped[int] = mapped_column(default=1)
    unit_price: Mapped[int]

    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price


class OrderStatusChange(Base):
    __tablename__ = "order_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """Something core decided that others must hear, written in the deciding transaction."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """A chat message to deliver; a sender drains these after commit and retries."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    bot: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    language: Mapped[str] = mapped_column(String(8))
    template: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_outbox_pending", "state", "next_attempt_at"),
        UniqueConstraint("event_id", "bot", "chat_id", name="uq_outbox_event_chat"),
    )


class minutes_since_epoch(FunctionElement[int]):
    """Whole minutes since 1970-01-01 UTC of a ``UTCDateTime`` column, computed by the database.

    Slot search reads thousands of job times; integers skip parsing each into a datetime.
    """

    type = Integer()
    inherit_cache = True


@compiles(minutes_since_epoch, "sqlite")
def _minutes_sqlite(element: minutes_since_epoch, compiler: Any, **kw: Any) -> str:
    # Stored as naive UTC text, which strftime reads as UTC.
    return f"(CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER) / 60)"


@compiles(minutes_since_epoch, "postgresql")
def _minutes_postgresql(element: minutes_since_epoch, compiler: Any, **kw: Any) -> str:
    return f"(CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS BIGINT) / 60)"
