"""Read models for the CLI and the dashboard: plain dicts, JSON-ready."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from unyo.adapters.db.store import Store
from unyo.domain import Order
from unyo.domain.confirmation import AutoCancel, auto_cancel


def auto_cancel_view(left: AutoCancel | None) -> dict[str, Any] | None:
    """Rakuten's 14-day cancel of an order at RMS 100: the day (JST), the days left and
    the text shop staff read."""
    if left is None:
        return None
    return {"on": left.on.isoformat(), "days_left": left.days_left, "text": left.text}


def order_view(store: Store, conn: Connection, shop: str, number: str,
               now: datetime | None = None) -> dict[str, Any] | None:
    """One order for the CLI and the dashboard; with `now`, an order at RMS 100 shows its
    days left before Rakuten's automatic cancel (`auto_cancel`)."""
    order = store.load_order(conn, shop, number)
    if order is None or order.id is None:
        return None
    c = order.channel
    channel = asdict(c)
    channel.pop("extra", None)
    channel.pop("_digests", None)
    return {
        "order": {"order_number": c.order_number, "shop": order.shop, "stage": order.stage.value,
                  "version": order.version, "rms_status": order.rms_status,
                  "imported_at": order.imported_at, **{k: v for k, v in channel.items()
                                                        if k not in ("order_number", "status",
                                                                     "confirmed_at")},
                  "confirmed_at": order.confirmed_at},
        "gates": [{"seq": g.seq, "kind": g.kind.value, "reason": g.reason, "rule": g.rule,
                   "opened_at": g.opened_at, "opened_by": g.opened_by.value,
                   "closed_at": g.closed_at,
                   "closed_by": g.closed_by.value if g.closed_by else None,
                   "close_note": g.close_note, "until": g.until} for g in order.gates],
        "events": [{"at": e.at, "type": e.type.value, "actor": e.actor.value, "data": e.data}
                   for e in store.events_of(conn, order.id)],
        "effects": [{"kind": f.kind.value, "status": f.status, "attempts": f.attempts,
                     "next_attempt_at": f.next_attempt_at, "last_error": f.last_error,
                     "dedupe_key": f.dedupe_key} for f in store.effects_of(conn, order.id)],
        "merge": merge_view(store, conn, order),
        "auto_cancel": auto_cancel_view(auto_cancel(order, now)) if now else None,
        "confirm_due": order.confirm_due,
    }


def merge_view(store: Store, conn: Connection, order: Order) -> dict[str, Any] | None:
    """同梱: the orders this one carries, or the one it was merged into (and the shipping
    reports that order sends to RMS for it)."""
    if order.merged:
        return {"merged": [{"order_number": m.order_number, "basket_id": m.basket_id,
                            "rms_status": m.rms_status, "total": m.amounts.total,
                            "items": [{"item_number": i.item_number, "name": i.name,
                                       "units": i.units} for i in m.items],
                            "merged_at": m.merged_at} for m in order.merged],
                "parcel_total": order.parcel_amounts.total}
    if order.merged_into:
        survivor = store.load_order(conn, order.shop, order.merged_into)
        reports = [] if survivor is None or survivor.id is None else [
            {"kind": f.kind.value, "status": f.status, "attempts": f.attempts,
             "last_error": f.last_error, "dedupe_key": f.dedupe_key}
            for f in store.effects_of(conn, survivor.id)
            if f.payload.get("order_number") == order.number]
        return {"merged_into": order.merged_into,
                "survivor_stage": survivor.stage.value if survivor else None,
                "reports": reports}
    return None
