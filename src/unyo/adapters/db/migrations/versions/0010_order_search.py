"""Search like people search: `order_search` holds every folded term that finds an order
(its number and any tail of it, names in kanji and kana with 異体字 folded, phones as
digits, mail, items, tags; `unyo.domain.search`), keyed (term, order_id) so a prefix is a
range of the key. Existing orders get their terms here, from their stored snapshot.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-06
"""

from contextlib import suppress

import orjson
import sqlalchemy as sa
from alembic import op

from unyo.adapters.db.codec import channel_from_json
from unyo.adapters.db.schema import Id, Term
from unyo.domain.search import channel_terms, number_terms, tag_terms

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

BATCH = 2000


def upgrade() -> None:
    op.create_table(
        "order_search",
        sa.Column("term", Term, nullable=False),
        sa.Column("order_id", Id, sa.ForeignKey("orders.id",
                                                name="fk_order_search_order_id_orders"),
                  nullable=False),
        sa.PrimaryKeyConstraint("term", "order_id", name="pk_order_search"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_order_search_order_id", "order_search", ["order_id"])
    conn = op.get_bind()
    orders = sa.table("orders", sa.column("id"), sa.column("order_number"),
                      sa.column("data"), sa.column("attrs"))
    search = sa.table("order_search", sa.column("term"), sa.column("order_id"))
    last = 0
    while True:
        rows = conn.execute(sa.select(orders.c.id, orders.c.order_number, orders.c.data,
                                      orders.c.attrs).where(orders.c.id > last)
                            .order_by(orders.c.id).limit(BATCH)).all()
        if not rows:
            break
        out = []
        for oid, number, data, attrs in rows:
            terms = number_terms(number)
            # an unreadable snapshot is still found by its number
            with suppress(ValueError, KeyError, TypeError, IndexError):
                terms |= channel_terms(channel_from_json(data))
            with suppress(ValueError, AttributeError, TypeError):
                terms |= tag_terms(str(t) for t in orjson.loads(attrs).get("tags", ()))
            out += [{"term": t, "order_id": oid} for t in terms]
        conn.execute(sa.insert(search), out)
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_order_search_order_id", table_name="order_search")
    op.drop_table("order_search")
