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


def explain_view(store: Store, conn: Connection, config: Any, number: str,
                 now: datetime) -> dict[str, Any] | None:
    """`orders show N --explain` and the order page's panel: each of the shop's rules with
    its verdict on the order now and the values it read (`unyo.domain.explain`: the rules'
    own conditions, traced), in words; None for no such order."""
    from unyo.app.processing import facts_of
    from unyo.diagram.words import CHOICE_WORDS, action_words, condition_words
    from unyo.domain.explain import VERDICT_WORDS, explain
    from unyo.domain.remarks import RemarksTemplate

    order = store.load_order(conn, config.shop_id, number)
    if order is None:
        return None
    facts = facts_of(store, conn, config.shop_id, [order])[order.number]
    imp = config.import_
    e = explain(config.rules, order, facts, now,
                remarks=RemarksTemplate(imp.remarks_headers, imp.remarks_answers),
                printing=config.warehouse.printing)
    open_by_rule: dict[str, list[str]] = {}
    for g in order.open_gates:
        if g.rule:
            open_by_rule.setdefault(g.rule, []).append(g.reason)
    return {
        "order_number": order.number,
        "evaluated": e.evaluated,
        "rules": [{"name": r.name, "description": r.description, "verdict": r.verdict,
                   "verdict_text": VERDICT_WORDS[r.verdict],
                   "actions": [action_words(a) for a in rule.then],
                   "open_gates": open_by_rule.get(r.name, []),
                   "rows": [{"path": w.path, "condition": condition_words(w.source),
                             "field": w.source.get("field"), "label": w.label,
                             "verdict": w.verdict, "verdict_text": VERDICT_WORDS[w.verdict],
                             "value": CHOICE_WORDS.get(str(w.source.get("field")), {}).get(
                                 w.raw, w.value) if isinstance(w.raw, str) else w.value}
                            for w in r.rows]}
                  for r, rule in zip(e.rules, config.rules, strict=True)],
        "derived": [{"key": d.key, "label": d.label, "value": d.value} for d in e.derived],
    }


def gate_causes(store: Store, conn: Connection, config: Any, rows: list[dict[str, Any]],
                now: datetime) -> None:
    """Give each open gate of `orders list` rows its `cause`: for a rule's gate the rule and
    the fields whose rows hold on the order now, with their values (the rule's own traced
    condition, as `--explain` shows it); for the flow's own gates (入金待ち, 注文確認…)
    the gate's kind. Orders past the hand-off get the rule without fields."""
    from unyo.app.processing import facts_of
    from unyo.domain.explain import MATCHED, explain
    from unyo.domain.remarks import RemarksTemplate

    numbers = [r["order_number"] for r in rows
               if any(g.get("rule") for g in r["open_gates"])]
    orders = store.load_orders(conn, config.shop_id, numbers) if numbers else {}
    facts = facts_of(store, conn, config.shop_id, list(orders.values())) if orders else {}
    rules = {r.name: r for r in config.rules}
    imp = config.import_
    remarks = RemarksTemplate(imp.remarks_headers, imp.remarks_answers)
    for r in rows:
        order = orders.get(r["order_number"])
        for g in r["open_gates"]:
            opened_at = datetime.fromisoformat(g["opened_at"]) if g.get("opened_at") else None
            if not g.get("rule"):
                g["cause"] = {"source": "flow", "kind": g["kind"], "rule": None, "fields": []}
                continue
            held: list[Any] = []
            rule = rules.get(g["rule"])
            if order is not None and rule is not None:
                # as the rule saw the order when it opened the gate (a date-relative row,
                # e.g. お届け希望日が5日より先, may no longer hold now)
                e = explain([rule], order, facts[order.number], opened_at or now,
                            remarks=remarks, printing=config.warehouse.printing)
                held = [w for w in e.rules[0].rows if w.verdict == MATCHED]
            g["cause"] = {"source": "rule", "kind": g["kind"], "rule": g["rule"],
                          "fields": [{"field": w.source.get("field"), "label": w.label,
                                      "value": w.value} for w in held]}
