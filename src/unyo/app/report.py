"""The automation-rate report (自動化率) and the bottleneck ranking.

Automation rate = orders that reached `shipped` in the period with no manual action
(no gate closed by a person, no manual hold or cancel) ÷ all orders that reached
`shipped` in the period (DESIGN.md §3). Every manual action carries its reason — the
rule that opened the gate, or the event — so the touches rank into the bottleneck list.
Where no order has ever shipped (no warehouse connected yet), the basis is "reached
ready" (出荷OK) instead, and the report says so.

Shadow mode (the cut-over's trial, docs/going-live.md): its orders ship nowhere and nobody
works them, so they are left out of the rate above and get one of their own, labelled as
shadow — the automation rate the shop would have had: of the orders imported in shadow
mode and ordered in the period (not cancelled, not merged into another), those no rule
and no person sent to 確認待ち or 注文確認保留 (a hold that ends by the clock is no
touch). The reasons of those gates rank the work the shop would have had.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from unyo.adapters.db.store import Store
from unyo.domain import Event, EventType, GateKind, Stage
from unyo.domain.automation import carried_ids, manual_touches

STAGE_FLOW = ("processing", "ready", "at_warehouse", "shipped")
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)


@dataclass
class Touch:
    reason: str
    count: int
    share: float


@dataclass
class Dwell:
    name: str
    count: int
    p50_minutes: float | None
    p90_minutes: float | None


@dataclass
class ShadowRate:
    """What the orders imported in shadow mode would have given (see the module doc)."""

    orders: int  # imported in shadow mode, ordered in the period, not cancelled or merged
    automated: int  # ... that nothing sent to a person
    automation_rate: float | None
    cancelled: int  # imported in shadow mode and cancelled since (not counted above)
    checks: list[Touch] = field(default_factory=list)  # the gates a person would have had


PERSON_GATES = frozenset({GateKind.check, GateKind.confirm})
"""Gates only a person (or RMS, after a person's work there) closes."""


@dataclass
class Report:
    shop: str
    since: datetime
    until: datetime
    basis: str  # "shipped", or "ready" while no order has shipped
    orders: int  # orders that reached the basis stage in the period
    automated: int
    automation_rate: float | None
    manual_touches: list[Touch] = field(default_factory=list)
    stage_dwell: list[Dwell] = field(default_factory=list)
    gate_dwell: list[Dwell] = field(default_factory=list)
    waiting_now: dict[str, dict[str, int]] = field(default_factory=dict)
    rule_orders: dict[str, int] = field(default_factory=dict)
    """Per shop rule: orders of the period it acted on (a rule_matched event)."""
    rule_dwell: list[Dwell] = field(default_factory=list)
    """Per shop rule: its gates, opened → closed (the flow diagram's rule nodes)."""
    shadow: ShadowRate | None = None
    """The shadow run's rate, where orders of the period were imported in shadow mode."""

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["since"], d["until"] = self.since.isoformat(), self.until.isoformat()
        return d


def touch_reason(e: Event) -> str:
    """What a person's action was about: the rule, else the gate's reason, else the event."""
    data = e.data
    if e.type is EventType.gate_closed:
        return str(data.get("rule") or data.get("reason") or "gate")
    if e.type is EventType.gate_opened:
        return f"手動保留: {data.get('reason', '')}".strip()
    if e.type is EventType.order_cancelled:
        return "手動キャンセル"
    return e.type.value


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo), 1)


def _dwell(name: str, minutes: list[float]) -> Dwell:
    return Dwell(name, len(minutes), _percentile(minutes, 0.5), _percentile(minutes, 0.9))


def build_shadow(store: Store, shop: str, since: datetime, until: datetime
                 ) -> ShadowRate | None:
    """The automation rate the shadow run would have had, or None without shadow orders."""
    with store.transaction() as conn:
        ids = sorted(store.shadow_order_ids(conn, shop, since, until))
        if not ids:
            return None
        events, gates, _ = store.history(conn, ids)
    checks: Counter[str] = Counter()
    orders = automated = cancelled = 0
    for oid in ids:
        types = {e.type for e in events[oid]}
        if EventType.merged_into in types:
            continue  # ships in another order's parcel: counted there
        if EventType.order_cancelled in types:
            cancelled += 1
            continue
        orders += 1
        stopped = [g for g in gates[oid] if g.kind in PERSON_GATES]
        checks.update(g.rule or g.reason for g in stopped)
        automated += not stopped and not manual_touches(events[oid], FAR_FUTURE)
    total = sum(checks.values())
    return ShadowRate(orders, automated, round(automated / orders, 4) if orders else None,
                      cancelled, [Touch(r, n, round(n / total, 4))
                                  for r, n in checks.most_common()])


def build_report(store: Store, shop: str, since: datetime, until: datetime) -> Report:
    shadow = build_shadow(store, shop, since, until)
    with store.transaction() as conn:
        # shadow orders are the old system's: they have their own rate (`build_shadow`)
        never = store.shadow_order_ids(conn, shop)

        def reaching(stage: Stage, start: datetime, end: datetime) -> dict[int, datetime]:
            return {oid: at for oid, at in
                    store.orders_reaching(conn, shop, stage, start, end).items()
                    if oid not in never}

        reached = reaching(Stage.shipped, since, until)
        basis = "shipped"
        if not reached and not reaching(Stage.shipped, EPOCH, FAR_FUTURE):
            basis = "ready"
            reached = reaching(Stage.ready, since, until)
        events, gates, imported = store.history(conn, list(reached))
        # 同梱: an order merged into another leaves the flow (cancelled in unyo) and ships in
        # that order's parcel, so it is not counted on its own; a person's touch on it
        # before the merge counts against the order that carried it.
        carried = {oid: carried_ids(evs) for oid, evs in events.items()}
        merged_ids = [i for ids in carried.values() for i in ids]
        merged_events = store.history(conn, merged_ids)[0] if merged_ids else {}
        waiting = store.open_gate_reasons(conn, shop)
    touches: Counter[str] = Counter()
    automated = 0
    stage_minutes: dict[str, list[float]] = {s: [] for s in STAGE_FLOW[:-1]}
    gate_minutes: dict[str, list[float]] = {}
    rule_minutes: dict[str, list[float]] = {}
    rule_orders: Counter[str] = Counter()
    for oid, done_at in reached.items():
        manual = manual_touches(events[oid], done_at,
                                [merged_events.get(i, ()) for i in carried[oid]])
        touches.update(touch_reason(e) for e in manual)
        automated += not manual
        # time spent in each stage: from entering it to entering the next
        entered = {"processing": imported[oid]}
        for e in events[oid]:
            if e.type is EventType.stage_changed and e.data.get("to") not in entered:
                entered[e.data["to"]] = e.at
        for a, b in pairwise(STAGE_FLOW):
            if a in entered and b in entered and entered[b] >= entered[a]:
                stage_minutes[a].append((entered[b] - entered[a]).total_seconds() / 60)
        rule_orders.update({str(e.data["rule"]) for e in events[oid] if e.at <= done_at
                            and e.type is EventType.rule_matched and e.data.get("rule")})
        for g in gates[oid]:
            if g.closed_at is not None:
                gate_minutes.setdefault(g.kind.value, []).append(
                    (g.closed_at - g.opened_at).total_seconds() / 60)
                if g.rule:
                    rule_minutes.setdefault(g.rule, []).append(
                        (g.closed_at - g.opened_at).total_seconds() / 60)
    total = sum(touches.values())
    return Report(
        shop=shop, since=since, until=until, basis=basis, orders=len(reached),
        automated=automated,
        automation_rate=round(automated / len(reached), 4) if reached else None,
        manual_touches=[Touch(r, n, round(n / total, 4)) for r, n in touches.most_common()],
        stage_dwell=[_dwell(s, m) for s, m in stage_minutes.items()
                     if basis == "shipped" or s == "processing"],
        gate_dwell=[_dwell(k, m) for k, m in sorted(gate_minutes.items())],
        waiting_now=waiting,
        rule_orders=dict(sorted(rule_orders.items())),
        rule_dwell=[_dwell(r, m) for r, m in sorted(rule_minutes.items())],
        shadow=shadow,
    )
