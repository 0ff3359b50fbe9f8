"""Print batches of shops that pack themselves (自社出荷): the batch, its orders with
the slips they printed, and the files its last printing made. Plain rows; the rules
(who may be taken out, what a reprint is) live in `unyo.app.batches`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update

from unyo.adapters.db import schema as t
from unyo.domain.slips import BatchOutput


@dataclass(frozen=True, slots=True)
class BatchRow:
    id: int
    shop: str
    created_at: datetime
    created_by: str
    printed: int  # times its outputs were made (more than 1: 再発行)
    printed_at: datetime | None
    printed_by: str
    orders: int = 0  # orders still in it


@dataclass(frozen=True, slots=True)
class BatchOrderRow:
    order_id: int
    order_number: str
    seq: int
    slips: list[dict[str, Any]]
    removed_at: datetime | None
    removed_by: str


class BatchRecords:
    """The print-batch tables, mixed into `Store` (every method inside a transaction)."""

    def create_batch(self, conn: Connection, shop: str, now: datetime, by: str) -> int:
        r = conn.execute(insert(t.print_batches).values(
            shop=shop, created_at=now, created_by=by[:64], printed=0, printed_by=""))
        return int(r.inserted_primary_key[0])  # type: ignore[index]

    def add_batch_orders(self, conn: Connection, batch_id: int,
                         rows: Sequence[tuple[int, str, list[dict[str, Any]]]]) -> None:
        if rows:
            conn.execute(insert(t.print_batch_orders), [
                {"batch_id": batch_id, "order_id": oid, "seq": n, "order_number": number,
                 "slip": orjson.dumps(slip).decode(), "removed_by": ""}
                for n, (oid, number, slip) in enumerate(rows, start=1)])

    def batch(self, conn: Connection, shop: str, batch_id: int) -> BatchRow | None:
        rows = self.batches(conn, shop, batch_id=batch_id)
        return rows[0] if rows else None

    def batches(self, conn: Connection, shop: str, *, limit: int = 50,
                batch_id: int | None = None) -> list[BatchRow]:
        """The newest batches first, with the number of orders still in each."""
        b, o = t.print_batches, t.print_batch_orders
        count = (select(func.count()).where(o.c.batch_id == b.c.id, o.c.removed_at.is_(None))
                 .scalar_subquery())
        q = select(b, count.label("n")).where(b.c.shop == shop)
        if batch_id is not None:
            q = q.where(b.c.id == batch_id)
        rows = conn.execute(q.order_by(b.c.id.desc()).limit(limit)).all()
        return [BatchRow(r.id, r.shop, r.created_at, r.created_by, r.printed, r.printed_at,
                         r.printed_by, int(r.n)) for r in rows]

    def batch_orders(self, conn: Connection, batch_id: int) -> list[BatchOrderRow]:
        o = t.print_batch_orders
        rows = conn.execute(select(o).where(o.c.batch_id == batch_id).order_by(o.c.seq)).all()
        return [BatchOrderRow(r.order_id, r.order_number, r.seq, orjson.loads(r.slip),
                              r.removed_at, r.removed_by) for r in rows]

    def remove_from_batch(self, conn: Connection, batch_id: int, order_id: int,
                          now: datetime, by: str) -> bool:
        o = t.print_batch_orders
        r = conn.execute(update(o).where(o.c.batch_id == batch_id, o.c.order_id == order_id,
                                         o.c.removed_at.is_(None))
                         .values(removed_at=now, removed_by=by[:64]))
        return bool(r.rowcount)

    def record_printing(self, conn: Connection, batch_id: int, now: datetime, by: str,
                        outputs: Sequence[BatchOutput]) -> None:
        """The batch was printed (once more): its outputs replace the last ones."""
        b, out = t.print_batches, t.print_batch_outputs
        conn.execute(update(b).where(b.c.id == batch_id).values(
            printed=b.c.printed + 1, printed_at=now, printed_by=by[:64]))
        conn.execute(delete(out).where(out.c.batch_id == batch_id))
        if outputs:
            conn.execute(insert(out), [
                {"batch_id": batch_id, "seq": n, "name": o.name[:200],
                 "media_type": o.media_type, "content": o.content, "created_at": now}
                for n, o in enumerate(outputs, start=1)])

    def batch_outputs(self, conn: Connection, batch_id: int) -> list[BatchOutput]:
        out = t.print_batch_outputs
        rows = conn.execute(select(out).where(out.c.batch_id == batch_id)
                            .order_by(out.c.seq)).all()
        return [BatchOutput(r.name, r.media_type, bytes(r.content)) for r in rows]
