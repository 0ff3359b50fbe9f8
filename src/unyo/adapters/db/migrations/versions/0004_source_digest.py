"""The digest of an order's channel data as last read (the sync's unchanged re-reads),
and the hold gates' time in the open-gates index (the holds step, every minute).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("source_digest", sa.String(32), nullable=True))
    op.drop_index("ix_gates_kind_closed_at", table_name="gates")
    op.create_index("ix_gates_kind_closed_at_until", "gates", ["kind", "closed_at", "until"])


def downgrade() -> None:
    op.drop_index("ix_gates_kind_closed_at_until", table_name="gates")
    op.create_index("ix_gates_kind_closed_at", "gates", ["kind", "closed_at"])
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("source_digest")
