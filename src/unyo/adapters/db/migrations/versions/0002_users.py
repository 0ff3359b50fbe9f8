"""Dashboard: users, web sessions, admin settings; indexes for the queue and the home page.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from unyo.adapters.db.schema import Id, UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_web_sessions_token_hash"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name="fk_web_sessions_user_id_users"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_table(
        "settings",
        sa.Column("shop", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("shop", "name", name="pk_settings"),
    )
    # The queue lists a stage newest first and counts stages: one index serves both.
    op.drop_index("ix_orders_shop_stage", "orders")
    op.create_index("ix_orders_shop_stage_ordered_at", "orders", ["shop", "stage", "ordered_at"])
    op.create_index("ix_orders_shop_buyer_name", "orders", ["shop", "buyer_name"])
    # The automation rate finds the orders that reached a stage in a period.
    op.create_index("ix_events_type_at", "events", ["type", "at"])


def downgrade() -> None:
    op.drop_index("ix_events_type_at", "events")
    op.drop_index("ix_orders_shop_buyer_name", "orders")
    op.drop_index("ix_orders_shop_stage_ordered_at", "orders")
    op.create_index("ix_orders_shop_stage", "orders", ["shop", "stage"])
    for table in ("settings", "web_sessions", "users"):
        op.drop_table(table)
