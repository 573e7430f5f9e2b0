"""PostgreSQL: the events trigger sends each new event in its notification.

Listeners (the live hubs of every process, webhooks/live.py) then hand a committed event to
their subscribers without reading it back from the table. An event too large for a
notification (PostgreSQL takes under 8000 bytes) is announced with an empty payload, and the
listeners read it as before.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION brigadier_events_notify() RETURNS trigger AS $$
BEGIN
    -- Delivered at commit, in order; a rolled-back transaction sends nothing.
    PERFORM pg_notify(
        'brigadier_events',
        CASE WHEN octet_length(event) < 7900 THEN event ELSE '' END
    )
    FROM (
        SELECT json_build_object(
            'id', id, 'kind', kind, 'order_id', order_id, 'payload', payload,
            'created_at', created_at
        )::text AS event
        FROM added
        ORDER BY id
    ) AS events;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
NOTIFY_TRIGGER = """
CREATE TRIGGER events_notify AFTER INSERT ON events
REFERENCING NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION brigadier_events_notify()
"""
EMPTY_NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION brigadier_events_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('brigadier_events', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
EMPTY_NOTIFY_TRIGGER = """
CREATE TRIGGER events_notify AFTER INSERT ON events
FOR EACH STATEMENT EXECUTE FUNCTION brigadier_events_notify()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_notify ON events")
        op.execute(NOTIFY_FUNCTION)
        op.execute(NOTIFY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_notify ON events")
        op.execute(EMPTY_NOTIFY_FUNCTION)
        op.execute(EMPTY_NOTIFY_TRIGGER)
