"""Each chat's sending budget (a token bucket), so short bursts pass within Telegram's limits.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_pace",
        sa.Column("bot", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("bot", "chat_id", name=op.f("pk_outbox_pace")),
    )


def downgrade() -> None:
    op.drop_table("outbox_pace")
