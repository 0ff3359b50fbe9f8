"""The money watch's storage: open alerts, the RMS status read for reported orders, and
the alert digests put in the outbox (effects about no order, `order_id` NULL).

Reached as `Store.watch`, so the app never imports SQL (tests/test_layers.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update

from unyo.adapters.db import schema as t
from unyo.adapters.db.codec import channel_from_json
from unyo.domain import EffectKind, Stage
from unyo.domain.money import AlertKind, MoneyAlert, Unsettled

if TYPE_CHECKING:
    from unyo.adapters.db.store import Store

OPEN = (Stage.processing.value, Stage.ready.value, Stage.at_warehouse.value)


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as stored: the alert, when it opened, and whether its digest went out."""

    alert: MoneyAlert
    opened_at: datetime
    effect_id: int | None


def _alert_doc(a: MoneyAlert) -> str:
    return orjson.dumps({"on": a.on.isoformat() if a.on else None, "days_left": a.days_left,
                         "detail": a.detail}).decode()


def _alert(r: Any) -> MoneyAlert:
    d = orjson.loads(r.data)
    return MoneyAlert(r.key, AlertKind(r.kind), r.level, r.order_number,
                      date.fromisoformat(d["on"]) if d.get("on") else None,
                      d.get("days_left"), d.get("detail") or "")


class WatchBook:
    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- facts -----------------------------------------------------------------------

    def reported(self, conn: Connection, shop: str, since: datetime
                 ) -> list[tuple[str, datetime, int | None]]:
        """Orders whose shipping report RMS accepted since `since` — an order merged into
        another (同梱) too, by its own report — as (number, the last report's time, the RMS
        status last read or None), those known paid (500 and later) left out.

        The number is read from the effect's key (`ship:<shop>:<number>:<digest>`,
        `domain.decide`), so no payload is parsed; the checks older than the window are
        dropped here."""
        e, p = t.outbox.c, t.payout_checks.c
        last: dict[str, datetime] = {}
        for key, done_at in conn.execute(
                select(e.dedupe_key, e.done_at).where(
                    e.shop == shop, e.kind == EffectKind.report_shipping.value,
                    e.status == "done", e.done_at >= since)):
            parts = key.split(":")
            if len(parts) >= 4 and (parts[2] not in last or last[parts[2]] < done_at):
                last[parts[2]] = done_at
        conn.execute(delete(t.payout_checks).where(p.shop == shop, p.checked_at < since))
        seen: dict[str, int] = {n: st for n, st in conn.execute(
            select(p.order_number, p.rms_status).where(p.shop == shop))}
        return [(n, at, seen.get(n)) for n, at in sorted(last.items())
                if seen.get(n, 0) < 500]

    def set_payout_statuses(self, conn: Connection, shop: str, statuses: dict[str, int],
                            now: datetime) -> None:
        p = t.payout_checks.c
        for number, status in statuses.items():
            done = conn.execute(update(t.payout_checks).where(
                p.shop == shop, p.order_number == number).values(
                rms_status=status, checked_at=now)).rowcount
            if not done:
                conn.execute(insert(t.payout_checks).values(
                    shop=shop, order_number=number, rms_status=status, checked_at=now))

    def unsettled(self, conn: Connection, shop: str) -> list[Unsettled]:
        """Open orders whose payment is not settled at RMS (below 300)."""
        o = t.orders.c
        out = []
        for number, ordered_at, status, data in conn.execute(
                select(o.order_number, o.ordered_at, o.rms_status, o.data)
                .where(o.shop == shop, o.stage.in_(OPEN), o.rms_status < 300)):
            try:
                channel = channel_from_json(data)
                due, cancel_due = channel.due_dates, channel.cancel_due
            except Exception:  # unreadable data: the dates are unknown, the 14 days are not
                due, cancel_due = (), None
            out.append(Unsettled(number, ordered_at, status, due, cancel_due))
        return out

    # ---- alerts ----------------------------------------------------------------------

    def open_alerts(self, conn: Connection, shop: str) -> list[StoredAlert]:
        a = t.money_alerts.c
        return [StoredAlert(_alert(r), r.opened_at, r.effect_id) for r in conn.execute(
            select(t.money_alerts).where(a.shop == shop, a.closed_at.is_(None))
            .order_by(a.id))]

    def open(self, conn: Connection, shop: str, alerts: Sequence[MoneyAlert],
             now: datetime, effect_id: int | None) -> None:
        if alerts:
            conn.execute(insert(t.money_alerts), [
                {"shop": shop, "key": x.key, "kind": x.kind.value, "level": x.level,
                 "order_number": x.order_number, "text": x.text, "data": _alert_doc(x),
                 "opened_at": now, "closed_at": None, "effect_id": effect_id}
                for x in alerts])

    def refresh(self, conn: Connection, shop: str, alerts: Sequence[MoneyAlert]) -> None:
        """Keep the open alerts' text current (days left go down)."""
        a = t.money_alerts.c
        for x in alerts:
            conn.execute(update(t.money_alerts).where(
                a.shop == shop, a.key == x.key, a.closed_at.is_(None)).values(
                level=x.level, text=x.text, data=_alert_doc(x)))

    def close(self, conn: Connection, shop: str, keys: Sequence[str], now: datetime) -> None:
        a = t.money_alerts.c
        if keys:
            conn.execute(update(t.money_alerts).where(
                a.shop == shop, a.key.in_(list(keys)), a.closed_at.is_(None))
                .values(closed_at=now))

    def add_digest(self, conn: Connection, shop: str, channel: str, dedupe_key: str,
                   payload: dict[str, Any], now: datetime) -> int:
        """Put one digest (to `channel`: mail or webhook) in the outbox; its id."""
        row = conn.execute(insert(t.outbox).values(
            shop=shop, order_id=None, kind=EffectKind.notify_staff.value,
            dedupe_key=dedupe_key, payload=orjson.dumps({"channel": channel, **payload})
            .decode(), status="pending", attempts=0, next_attempt_at=now, last_error=None,
            created_at=now, done_at=None).returning(t.outbox.c.id)).one()
        return int(row[0])

    def open_counts(self, conn: Connection) -> list[tuple[str, str, str, int]]:
        """(shop, kind, level, count) of open alerts, every shop (the metrics)."""
        a = t.money_alerts.c
        return [(s, k, lv, n) for s, k, lv, n in conn.execute(
            select(a.shop, a.kind, a.level, func.count()).where(a.closed_at.is_(None))
            .group_by(a.shop, a.kind, a.level))]
