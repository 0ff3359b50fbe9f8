"""Print batches (自社出荷, `warehouse.type: self`): a batch of 納品書 printed together, its
orders with what their slips printed, and the files the last printing made.

Revision ID: 0011
Revises: 0005
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from unyo.adapters.db.schema import Id, UtcDateTime

revision = "0011"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "print_batches",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("shop", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("printed", sa.Integer, nullable=False),
        sa.Column("printed_at", UtcDateTime, nullable=True),
        sa.Column("printed_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_print_batches"),
    )
    op.create_index("ix_print_batches_shop_created_at", "print_batches", ["shop", "created_at"])
    op.create_table(
        "print_batch_orders",
        sa.Column("batch_id", Id, nullable=False),
        sa.Column("order_id", Id, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("order_number", sa.String(64), nullable=False),
        sa.Column("slip", sa.Text, nullable=False),
        sa.Column("removed_at", UtcDateTime, nullable=True),
        sa.Column("removed_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "order_id", name="pk_print_batch_orders"),
        sa.ForeignKeyConstraint(["batch_id"], ["print_batches.id"],
                                name="fk_print_batch_orders_batch_id_print_batches"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"],
                                name="fk_print_batch_orders_order_id_orders"),
    )
    op.create_index("ix_print_batch_orders_order_id", "print_batch_orders", ["order_id"])
    op.create_table(
        "print_batch_outputs",
        sa.Column("batch_id", Id, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "seq", name="pk_print_batch_outputs"),
        sa.ForeignKeyConstraint(["batch_id"], ["print_batches.id"],
                                name="fk_print_batch_outputs_batch_id_print_batches"),
    )


def downgrade() -> None:
    op.drop_table("print_batch_outputs")
    op.drop_index("ix_print_batch_orders_order_id", table_name="print_batch_orders")
    op.drop_table("print_batch_orders")
    op.drop_index("ix_print_batches_shop_created_at", table_name="print_batches")
    op.drop_table("print_batches")
