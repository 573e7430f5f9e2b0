"""Operator panel: login attempts and panel users' details.

On PostgreSQL a statement trigger on ``events`` sends ``NOTIFY brigadier_events`` at commit,
so every process's live hub hears about new events whoever wrote them (webhooks/live.py).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION brigadier_events_notify() RETURNS trigger AS $$
BEGIN
    -- One empty payload per transaction: PostgreSQL folds identical notifications,
    -- and listeners read the events table by id anyway.
    PERFORM pg_notify('brigadier_events', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
NOTIFY_TRIGGER = """
CREATE TRIGGER events_notify AFTER INSERT ON events
FOR EACH STATEMENT EXECUTE FUNCTION brigadier_events_notify()
"""


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index(
        "ix_login_attempts_login_address_at", "login_attempts", ["login", "address", "at"]
    )
    op.create_table(
        "panel_profiles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_panel_profiles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_panel_profiles")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NOTIFY_FUNCTION)
        op.execute(NOTIFY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_notify ON events")
        op.execute("DROP FUNCTION IF EXISTS brigadier_events_notify()")
    op.drop_table("panel_profiles")
    op.drop_index("ix_login_attempts_login_address_at", table_name="login_attempts")
    op.drop_table("login_attempts")
