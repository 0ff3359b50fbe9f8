"""Money watch (issue 17, item 6): `money_alerts` (each alert's opening and clearing, and
the digest it was sent in), `payout_checks` (the RMS status last read for a reported
order), and outbox effects about no order (`order_id` NULL: the staff's alert digests).

Revision ID: 0008
Revises: 0009
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from unyo.adapters.db.schema import Id, UtcDateTime

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None

def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("order_id", existing_type=Id, nullable=True)
    op.create_table(
        "money_alerts",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("shop", sa.String(64), nullable=False),
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("order_number", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("opened_at", UtcDateTime, nullable=False),
        sa.Column("closed_at", UtcDateTime, nullable=True),
        sa.Column("effect_id", Id, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_money_alerts"),
    )
    op.create_index("ix_money_alerts_shop_closed_at", "money_alerts", ["shop", "closed_at"])
    op.create_table(
        "payout_checks",
        sa.Column("shop", sa.String(64), nullable=False),
        sa.Column("order_number", sa.String(64), nullable=False),
        sa.Column("rms_status", sa.Integer, nullable=False),
        sa.Column("checked_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("shop", "order_number", name="pk_payout_checks"),
    )


def downgrade() -> None:
    op.drop_table("payout_checks")
    op.drop_index("ix_money_alerts_shop_closed_at", table_name="money_alerts")
    op.drop_table("money_alerts")
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("order_id", existing_type=Id, nullable=False)
