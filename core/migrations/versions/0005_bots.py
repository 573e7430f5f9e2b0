"""Telegram bots: dialog state, reachability of chats, ratings and quality cases.

Also bookings asked for once (a double tap books one order), support messages, referrals, and
an index for the outbox sender to find the head of each chat's queue.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "dialog_states",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=255), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_dialog_states")),
    )
    op.create_table(
        "unreachable_chats",
        sa.Column("bot", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("bot", "chat_id", name=op.f("pk_unreachable_chats")),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.create_index("ix_outbox_chat", ["bot", "chat_id", "id"])
    op.create_table(
        "booking_requests",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("booking_requests", "order_id", "orders", "CASCADE"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_booking_requests")),
    )
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("stars BETWEEN 1 AND 5", name=op.f("ck_ratings_stars_range")),
        _fk("ratings", "order_id", "orders", "CASCADE"),
        _fk("ratings", "client_id", "clients", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint("order_id", name=op.f("uq_ratings_order_id")),
    )
    op.create_table(
        "quality_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("rating_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        _fk("quality_cases", "order_id", "orders", "CASCADE"),
        _fk("quality_cases", "rating_id", "ratings", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_cases")),
        sa.UniqueConstraint("rating_id", name=op.f("uq_quality_cases_rating_id")),
    )
    op.create_index("ix_quality_cases_order_id", "quality_cases", ["order_id"])
    op.create_table(
        "support_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("support_messages", "client_id", "clients", "SET NULL"),
        _fk("support_messages", "author_user_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_messages")),
    )
    op.create_index("ix_support_messages_client_id", "support_messages", ["client_id"])
    op.create_index(
        "ix_support_messages_telegram_user_id", "support_messages", ["telegram_user_id"]
    )
    op.create_table(
        "referrals",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("referrer_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rewarded_at", sa.DateTime(timezone=True), nullable=True),
        _fk("referrals", "client_id", "clients", "CASCADE"),
        _fk("referrals", "referrer_id", "clients", "CASCADE"),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_referrals")),
    )
    op.create_index("ix_referrals_referrer_id", "referrals", ["referrer_id"])


def downgrade() -> None:
    op.drop_index("ix_referrals_referrer_id", table_name="referrals")
    op.drop_table("referrals")
    op.drop_index("ix_support_messages_telegram_user_id", table_name="support_messages")
    op.drop_index("ix_support_messages_client_id", table_name="support_messages")
    op.drop_table("support_messages")
    op.drop_index("ix_quality_cases_order_id", table_name="quality_cases")
    op.drop_table("quality_cases")
    op.drop_table("ratings")
    op.drop_table("booking_requests")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_chat")
    op.drop_table("unreachable_chats")
    op.drop_table("dialog_states")
