"""Shadow mode (cut-over): `shadow_orders` lists the orders imported while the shop ran
in shadow mode (`mode: shadow`, `unyo run --shadow`), with their order time, so that
once the shop is live the outbox never delivers an effect of one ordered before
`import.start_at` (the old system handled it), and the report can show the automation
rate the shadow run would have had.

Revision ID: 0009
Revises: 0011
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from unyo.adapters.db.schema import Id, UtcDateTime

revision = "0009"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shadow_orders",
        sa.Column("order_id", Id, sa.ForeignKey(
            "orders.id", name="fk_shadow_orders_order_id_orders"), nullable=False),
        sa.Column("shop", sa.String(64), nullable=False),
        sa.Column("ordered_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("order_id", name="pk_shadow_orders"),
    )
    op.create_index("ix_shadow_orders_shop_ordered_at", "shadow_orders",
                    ["shop", "ordered_at"])


def downgrade() -> None:
    op.drop_index("ix_shadow_orders_shop_ordered_at", table_name="shadow_orders")
    op.drop_table("shadow_orders")
