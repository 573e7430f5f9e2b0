"""Calls from the PBXs and call-back tasks.

Calls and call-back tasks point at each other, so the calls → tasks key is added once both
tables exist (on SQLite through a batch copy of the still empty ``calls`` table).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_CALL_TASK_FK = "fk_calls_callback_task_id_callback_tasks"


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_call_id", sa.String(length=128), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("caller", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("line", sa.String(length=64), nullable=True),
        sa.Column("extension", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("ringing_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("recording_url", sa.Text(), nullable=True),
        sa.Column("callback_task_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_calls_client_id_clients"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("provider", "provider_call_id", name="uq_calls_provider_call"),
    )
    op.create_index(op.f("ix_calls_caller"), "calls", ["caller"])
    op.create_index(op.f("ix_calls_client_id"), "calls", ["client_id"])
    op.create_index(op.f("ix_calls_ringing_at"), "calls", ["ringing_at"])
    op.create_table(
        "callback_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("assigned_user_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("closed_by_call_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_callback_tasks_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_callback_tasks_client_id_clients"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["assigned_user_id"], ["users.id"],
            name=op.f("fk_callback_tasks_assigned_user_id_users"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["closed_by"], ["users.id"], name=op.f("fk_callback_tasks_closed_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_call_id"], ["calls.id"],
            name=op.f("fk_callback_tasks_closed_by_call_id_calls"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_tasks")),
    )
    op.create_index(op.f("ix_callback_tasks_call_id"), "callback_tasks", ["call_id"])
    op.create_index(
        op.f("ix_callback_tasks_assigned_user_id"), "callback_tasks", ["assigned_user_id"]
    )
    op.create_index(
        "uq_callback_tasks_open_phone",
        "callback_tasks",
        ["phone"],
        unique=True,
        postgresql_where=sa.text("state = 'open'"),
        sqlite_where=sa.text("state = 'open'"),
    )
    with op.batch_alter_table("calls") as batch_op:
        batch_op.create_foreign_key(
            _CALL_TASK_FK, "callback_tasks", ["callback_task_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch_op:
        batch_op.drop_constraint(_CALL_TASK_FK, type_="foreignkey")
    op.drop_index("uq_callback_tasks_open_phone", table_name="callback_tasks")
    op.drop_index(op.f("ix_callback_tasks_assigned_user_id"), table_name="callback_tasks")
    op.drop_index(op.f("ix_callback_tasks_call_id"), table_name="callback_tasks")
    op.drop_table("callback_tasks")
    op.drop_index(op.f("ix_calls_ringing_at"), table_name="calls")
    op.drop_index(op.f("ix_calls_client_id"), table_name="calls")
    op.drop_index(op.f("ix_calls_caller"), table_name="calls")
    op.drop_table("calls")
