"""Several workers: shop leases, and claims on outbox effects.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from unyo.adapters.db.schema import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("claimed_until", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("batch", sa.String(100), nullable=True))
    op.create_table(
        "shop_leases",
        sa.Column("shop", sa.String(64), nullable=False),
        sa.Column("worker", sa.String(100), nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("acquired_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("shop", name="pk_shop_leases"),
    )


def downgrade() -> None:
    op.drop_table("shop_leases")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("batch")
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
