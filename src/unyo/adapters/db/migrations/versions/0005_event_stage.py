"""Stage moves as a column: `events.stage_to` holds the stage a `stage_changed` event
moved the order to (NULL for every other event), indexed with the time, so "orders
that reached 出荷済 in a period" is a column lookup, not a LIKE over the JSON data.
Existing events are filled in from their data.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("stage_to", sa.String(20), nullable=True))
    conn = op.get_bind()
    events = sa.table("events", sa.column("id"), sa.column("type"), sa.column("data"),
                      sa.column("stage_to"))
    rows = conn.execute(sa.select(events.c.id, events.c.data)
                        .where(events.c.type == "stage_changed")).all()
    updates = []
    for event_id, data in rows:
        try:
            to = json.loads(data).get("to")
        except (ValueError, AttributeError):
            continue
        if isinstance(to, str):
            updates.append({"b_id": event_id, "v_to": to[:20]})
    for i in range(0, len(updates), 1000):
        conn.execute(sa.update(events).where(events.c.id == sa.bindparam("b_id"))
                     .values(stage_to=sa.bindparam("v_to")), updates[i:i + 1000])
    op.create_index("ix_events_stage_to_at", "events", ["stage_to", "at"])


def downgrade() -> None:
    op.drop_index("ix_events_stage_to_at", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("stage_to")
