"""A covering index for slot search: a worker's jobs in a time range.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_index("ix_orders_worker_starts")
        batch_op.create_index(
            "ix_orders_worker_schedule",
            ["worker_id", "starts_at", "ends_at", "status", "lat", "lon"],
        )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_index("ix_orders_worker_schedule")
        batch_op.create_index("ix_orders_worker_starts", ["worker_id", "starts_at"])
