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
    # Set when booking, so that a new address and its order go in one flush; never read.
    address: Mapped[Address | None] = relationship(lazy="raise")

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
        return order_number(self.id)

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
    # Written with its event in one flush: the event's id is filled in when both are inserted.
    event: Mapped[Event] = relationship(lazy="raise")
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


def order_number(order_id: int) -> str:
    """An order's short number, from its id: what :attr:`Order.number` says."""
    return f"{order_id + 10000}"


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


class LoginAttempt(Base):
    """A failed panel login, counted per login and address to slow down password guessing."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]

    __table_args__ = (Index("ix_login_attempts_login_address_at", "login", "address", "at"),)


class PanelProfile(Base):
    """A panel user's own settings: the panel's language, and which sessions are still valid."""

    __tablename__ = "panel_profiles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str | None] = mapped_column(String(8))
    # Sessions carry the epoch they were opened in; logging out raises it, ending them all.
    session_epoch: Mapped[int] = mapped_column(default=0)


class Call(Base):
    """A phone call a PBX reported, one row per (provider, the provider's call id)."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_call_id: Mapped[str] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(16), default="inbound")
    # E.164 when the PBX sent a valid number, else its text as sent ("anonymous", "101"...).
    caller: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="SET NULL"), index=True
    )
    line: Mapped[str | None] = mapped_column(String(64))
    extension: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    ringing_at: Mapped[datetime] = mapped_column(index=True)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration_seconds: Mapped[int | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    recording_url: Mapped[str | None] = mapped_column(Text)
    # Calls and call-back tasks point at each other; this side is added after both tables exist.
    callback_task_id: Mapped[int | None] = mapped_column(
        ForeignKey("callback_tasks.id", ondelete="SET NULL", use_alter=True)
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("provider", "provider_call_id", name="uq_calls_provider_call"),
    )


class CallbackTask(Base):
    """A missed call to return: open until an operator marks it done or calls the number back."""

    __tablename__ = "callback_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"))
    phone: Mapped[str] = mapped_column(String(64))
    assigned_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    state: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    closed_by_call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL")
    )
    note: Mapped[str] = mapped_column(Text, default="")


# One open call-back task per number: repeated missed calls from it share the task.
Index(
    "uq_callback_tasks_open_phone",
    CallbackTask.phone,
    unique=True,
    postgresql_where=CallbackTask.state == "open",
    sqlite_where=CallbackTask.state == "open",
)


# --- the Telegram bots: dialog state, chats that blocked a bot, bookings asked for once ------


class DialogState(Base):
    """A chat's place in a bot dialog (aiogram's FSM) when no Redis is configured."""

    __tablename__ = "dialog_states"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class UnreachableChat(Base):
    """A chat that blocked a bot: its messages are skipped until the person writes again."""

    __tablename__ = "unreachable_chats"

    bot: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    since: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="")


# Outbox rows of one chat are delivered in order: the sender looks up each chat's queue head.
Index("ix_outbox_chat", OutboxMessage.bot, OutboxMessage.chat_id, OutboxMessage.id)


class BookingRequest(Base):
    """A booking asked for once: asking again with the same key gives the same order."""

    __tablename__ = "booking_requests"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    # Empty only inside the booking transaction: the key is taken first, then the order made.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Set when booking: the key goes in with its order, in one flush.
    order: Mapped[Order | None] = relationship(lazy="raise")


# --- after the work: ratings, quality cases, support, referrals ------------------------------


class Rating(Base):
    """A customer's 1–5 rating of a finished order, one per order."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), unique=True
    )
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    stars: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (CheckConstraint("stars BETWEEN 1 AND 5", name="stars_range"),)


class QualityCase(Base):
    """A low rating (or a complaint) for the quality team to look into."""

    __tablename__ = "quality_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    rating_id: Mapped[int | None] = mapped_column(
        ForeignKey("ratings.id", ondelete="SET NULL"), unique=True
    )
    state: Mapped[str] = mapped_column(String(16), default="open")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]


class SupportMessage(Base):
    """One message of a customer's support chat: written by them ("in") or to them ("out")."""

    __tablename__ = "support_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="SET NULL"), index=True
    )
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    direction: Mapped[str] = mapped_column(String(8), default="in")
    text: Mapped[str] = mapped_column(Text)
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Referral(Base):
    """Who invited a client; the reward is due when the invited client's first order completes."""

    __tablename__ = "referrals"

    client_id: Mapped[int] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    referrer_id: Mapped[int] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rewarded_at: Mapped[datetime | None]


# --- the worker bot: invites, offers passed on, extras, job progress, intake, photos ---------


class WorkerInvite(Base):
    """A one-time link that binds a Telegram account to a worker."""

    __tablename__ = "worker_invites"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    worker_id: Mapped[int] = mapped_column(
        ForeignKey("workers.id", ondelete="CASCADE"), index=True
    )
    # Set by the manager; otherwise the worker's Telegram language is taken when they join.
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class OfferRefusal(Base):
    """A worker who declined an order's offer or let it time out: never offered it again."""

    __tablename__ = "offer_refusals"

    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    worker_id: Mapped[int] = mapped_column(
        ForeignKey("workers.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(String(16))  # declined | timed_out
    at: Mapped[datetime]


class OrderChange(Base):
    """Extra work a worker added on site; it joins the order's lines once a manager approves."""

    __tablename__ = "order_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id", ondelete="SET NULL"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    quantity: Mapped[int] = mapped_column(default=1)
    unit_price: Mapped[int]
    state: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)


class JobProgress(Base):
    """What happened on a job beyond its status: consent, confirmation, money, bottles."""

    __tablename__ = "job_progress"

    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    customer_consent: Mapped[bool | None]
    consent_at: Mapped[datetime | None]
    manager_confirmed_at: Mapped[datetime | None]
    manager_confirmed_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    amount_received: Mapped[int | None]
    tips: Mapped[int] = mapped_column(default=0)
    mileage_km: Mapped[int] = mapped_column(default=0)
    bottles_delivered: Mapped[int] = mapped_column(default=0)
    empties_collected: Mapped[int] = mapped_column(default=0)
    late_flagged_at: Mapped[datetime | None]


class IntakeItem(Base):
    """One item a courier took in for the workshop, with its defects as seen at pickup."""

    __tablename__ = "intake_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(Text)
    defects: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderPhoto(Base):
    """A photo attached to an order (before, after, or of an intake item), kept in storage."""

    __tablename__ = "order_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("intake_items.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(16))  # before | after | intake
    path: Mapped[str] = mapped_column(Text)
    telegram_file_id: Mapped[str] = mapped_column(String(255), default="")
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# Late starts and offer time-outs scan orders by status and start.
Index("ix_orders_status_starts", Order.status, Order.starts_at)


class DayPlanProposal(Base):
    """A day plan shown to a dispatcher, kept until they apply it (or it expires)."""

    __tablename__ = "day_plan_proposals"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id", ondelete="CASCADE"))
    plan: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class OutboxSent(Base):
    """The Telegram message that carried an outbox row (rows joined in one share it), so the
    message can be edited later: an offer passed on loses its buttons."""

    __tablename__ = "outbox_sent"

    outbox_id: Mapped[int] = mapped_column(
        ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[int] = mapped_column(BigInteger)


class OutboxLane(Base):
    """The timeline one sending lane shares across senders: ``next_at`` is the moment its next
    send may go. Telegram's overall limit is the bot's, not a process's; each sender books its
    sends here before making them, so several senders together keep to the one limit."""

    __tablename__ = "outbox_lanes"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    next_at: Mapped[datetime]


class OutboxPace(Base):
    """A chat's sending budget as a token bucket: ``tokens`` messages it could take at ``at``,
    refilled at the per-chat rate up to the burst; ``ready_at`` is when it holds one again.

    Telegram lets about one message a second into a chat and lets short bursts pass; the bucket
    is kept by every sender alike, so several senders together keep to it too."""

    __tablename__ = "outbox_pace"

    bot: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime]
    ready_at: Mapped[datetime]
