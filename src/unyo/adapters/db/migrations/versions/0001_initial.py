"""Initial tables: orders, gates, events, outbox, effect attempts, import state.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from unyo.adapters.db.schema import Id, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("shop", sa.String(64), nullable=False),
        sa.Column("order_number", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("rms_status", sa.Integer, nullable=False),
        sa.Column("confirmed_at", UtcDateTime, nullable=True),
        sa.Column("ordered_at", UtcDateTime, nullable=False),
        sa.Column("imported_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("payment_method", sa.Integer, nullable=False),
        sa.Column("buyer_name", sa.String(200), nullable=False),
        sa.Column("buyer_key", sa.String(20), nullable=False),
        sa.Column("fingerprint", sa.String(32), nullable=False),
        sa.Column("details", sa.String(32), nullable=False),
        sa.Column("attrs", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.UniqueConstraint("shop", "order_number", name="uq_orders_shop_order_number"),
    )
    op.create_index("ix_orders_shop_stage", "orders", ["shop", "stage"])
    op.create_index("ix_orders_shop_ordered_at", "orders", ["shop", "ordered_at"])
    op.create_index("ix_orders_shop_buyer_key", "orders", ["shop", "buyer_key"])

    op.create_table(
        "gates",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("order_id", Id, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("opened_at", UtcDateTime, nullable=False),
        sa.Column("opened_by", sa.String(20), nullable=False),
        sa.Column("closed_at", UtcDateTime, nullable=True),
        sa.Column("closed_by", sa.String(20), nullable=True),
        sa.Column("close_note", sa.Text, nullable=False),
        sa.Column("until", UtcDateTime, nullable=True),
        sa.Column("rule", sa.String(80), nullable=False),
        sa.Column("fingerprint", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gates"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_gates_order_id_orders"),
        sa.UniqueConstraint("order_id", "seq", name="uq_gates_order_id_seq"),
    )
    op.create_index("ix_gates_kind_closed_at", "gates", ["kind", "closed_at"])

    op.create_table(
        "events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("order_id", Id, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(20), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_events_order_id_orders"),
    )
    op.create_index("ix_events_order_id", "events", ["order_id"])

    op.create_table(
        "outbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("shop", sa.String(64), nullable=False),
        sa.Column("order_id", Id, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("done_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_outbox_order_id_orders"),
    )
    op.create_index("ix_outbox_status_kind_next", "outbox", ["status", "kind", "next_attempt_at"])
    op.create_index("ix_outbox_order_id", "outbox", ["order_id"])

    op.create_table(
        "effect_attempts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("effect_id", Id, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_effect_attempts"),
        sa.ForeignKeyConstraint(["effect_id"], ["outbox.id"],
                                name="fk_effect_attempts_effect_id_outbox"),
    )
    op.create_index("ix_effect_attempts_effect_id", "effect_attempts", ["effect_id"])

    op.create_table(
        "import_pending",
        sa.Column("shop", sa.String(64), nullable=False),
        sa.Column("order_number", sa.String(64), nullable=False),
        sa.Column("ordered_at", UtcDateTime, nullable=False),
        sa.Column("first_seen_at", UtcDateTime, nullable=False),
        sa.Column("recheck_at", UtcDateTime, nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("shop", "order_number", name="pk_import_pending"),
    )

    op.create_table(
        "cursors",
        sa.Column("shop", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("shop", "name", name="pk_cursors"),
    )


def downgrade() -> None:
    for table in ("cursors", "import_pending", "effect_attempts", "outbox", "events", "gates",
                  "orders"):
        op.drop_table(table)
