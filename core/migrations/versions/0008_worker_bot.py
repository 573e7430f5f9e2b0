"""The worker bot: invites, refused offers, extras, job progress, intake items and photos.

Revision ID: 0008
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, ondelete: str | None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "worker_invites",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        _when("created_at"),
        _when("expires_at"),
        _when("used_at", nullable=True),
        _fk("worker_invites", "worker_id", "workers", "CASCADE"),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_worker_invites")),
    )
    op.create_index(
        op.f("ix_worker_invites_worker_id"), "worker_invites", ["worker_id"], unique=False
    )
    op.create_table(
        "offer_refusals",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        _when("at"),
        _fk("offer_refusals", "order_id", "orders", "CASCADE"),
        _fk("offer_refusals", "worker_id", "workers", "CASCADE"),
        sa.PrimaryKeyConstraint("order_id", "worker_id", name=op.f("pk_offer_refusals")),
    )
    op.create_table(
        "order_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _when("created_at"),
        _when("decided_at", nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_changes_quantity_positive")),
        _fk("order_changes", "order_id", "orders", "CASCADE"),
        _fk("order_changes", "worker_id", "workers", "SET NULL"),
        _fk("order_changes", "service_id", "services", None),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_order_changes_decided_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_changes")),
    )
    op.create_index(op.f("ix_order_changes_order_id"), "order_changes", ["order_id"])
    op.create_table(
        "job_progress",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("customer_consent", sa.Boolean(), nullable=True),
        _when("consent_at", nullable=True),
        _when("manager_confirmed_at", nullable=True),
        sa.Column("manager_confirmed_by", sa.Integer(), nullable=True),
        sa.Column("amount_received", sa.Integer(), nullable=True),
        sa.Column("tips", sa.Integer(), nullable=False),
        sa.Column("mileage_km", sa.Integer(), nullable=False),
        sa.Column("bottles_delivered", sa.Integer(), nullable=False),
        sa.Column("empties_collected", sa.Integer(), nullable=False),
        _when("late_flagged_at", nullable=True),
        _fk("job_progress", "order_id", "orders", "CASCADE"),
        sa.ForeignKeyConstraint(
            ["manager_confirmed_by"], ["users.id"],
            name=op.f("fk_job_progress_manager_confirmed_by_users"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_job_progress")),
    )
    op.create_table(
        "intake_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("defects", sa.Text(), nullable=False),
        _when("created_at"),
        _fk("intake_items", "order_id", "orders", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_items")),
    )
    op.create_index(op.f("ix_intake_items_order_id"), "intake_items", ["order_id"])
    op.create_table(
        "order_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("telegram_file_id", sa.String(length=255), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        _when("created_at"),
        _fk("order_photos", "order_id", "orders", "CASCADE"),
        sa.ForeignKeyConstraint(
            ["item_id"], ["intake_items.id"], name=op.f("fk_order_photos_item_id_intake_items"),
            ondelete="SET NULL",
        ),
        _fk("order_photos", "worker_id", "workers", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_photos")),
    )
    op.create_index(op.f("ix_order_photos_order_id"), "order_photos", ["order_id"])
    with op.batch_alter_table("orders") as batch:
        batch.create_index("ix_orders_status_starts", ["status", "starts_at"])


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_status_starts")
    op.drop_index(op.f("ix_order_photos_order_id"), table_name="order_photos")
    op.drop_table("order_photos")
    op.drop_index(op.f("ix_intake_items_order_id"), table_name="intake_items")
    op.drop_table("intake_items")
    op.drop_table("job_progress")
    op.drop_index(op.f("ix_order_changes_order_id"), table_name="order_changes")
    op.drop_table("order_changes")
    op.drop_table("offer_refusals")
    op.drop_index(op.f("ix_worker_invites_worker_id"), table_name="worker_invites")
    op.drop_table("worker_invites")
