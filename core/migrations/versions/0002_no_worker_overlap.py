"""No two active orders of one worker overlap, guaranteed by the database.

PostgreSQL: an exclusion constraint over (worker, time range). SQLite: triggers that abort an
insert or update creating an overlap (SQLite serialises writers, so the check cannot race).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_OVERLAP = """
    NEW.worker_id IS NOT NULL AND NEW.status <> 'cancelled' AND EXISTS (
        SELECT 1 FROM orders AS o
        WHERE o.worker_id = NEW.worker_id AND o.id IS NOT NEW.id AND o.status <> 'cancelled'
          AND o.starts_at < NEW.ends_at AND NEW.starts_at < o.ends_at)
"""


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE orders ADD CONSTRAINT ex_orders_worker_overlap EXCLUDE USING gist "
            "(worker_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
            "WHERE (worker_id IS NOT NULL AND status <> 'cancelled')"
        )
        return
    for name, when in (
        ("insert", "BEFORE INSERT"),
        ("update", "BEFORE UPDATE OF worker_id, starts_at, ends_at, status"),
    ):
        op.execute(
            f"CREATE TRIGGER tr_orders_worker_overlap_{name} {when} ON orders "
            f"WHEN {_OVERLAP} BEGIN SELECT RAISE(ABORT, 'worker_overlap'); END"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE orders DROP CONSTRAINT ex_orders_worker_overlap")
        return
    op.execute("DROP TRIGGER tr_orders_worker_overlap_insert")
    op.execute("DROP TRIGGER tr_orders_worker_overlap_update")
