"""What-if replay (`unyo simulate`): stored orders through another flow's rules.

Each order imported in the period — its data as stored, the buyer's history as it
stood when it arrived — is evaluated against the current flow's rules and against
the proposed ones, touching nothing: no database write, no outside call. The result
is the predicted automation rate of each (an order counts as automated when no rule
opens a 確認待ち gate on it; holds end by themselves), the gates each rule would
open, and the orders whose outcome differs. Cancelled orders are left out: no rule
would have shipped them.

Limits, stated in the output: an order is replayed with its latest stored data (an
order changed after import is replayed as changed), and "other open orders" counts
the buyer's orders that had not shipped or been cancelled by then, taking an
order's last change as its end.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from unyo.adapters.db.codec import channel_from_json
from unyo.adapters.db.store import Store, _attrs
from unyo.app.processing import addresses_valid
from unyo.domain import Order, Stage
from unyo.domain.rules import ActionKind, CompiledRule, Condition, Facts, RuleInput

DIFFERENCES_SHOWN = 20
NOTES = (
    "each order is replayed with its latest stored data (an order changed after import "
    "is replayed as changed)",
    "other_open_orders counts the buyer's orders not shipped or cancelled by then, taking "
    "an order's last change as its end",
    "an order counts as automated when no rule sends it to 確認待ち; holds end by "
    "themselves; gates that are not rules' (payment, warehouse) are the same in both flows",
)


@dataclass
class FlowOutcome:
    automated: int = 0
    automation_rate: float | None = None
    checks: Counter[str] = field(default_factory=Counter)  # rule → orders it sends to 確認待ち
    holds: Counter[str] = field(default_factory=Counter)  # rule → orders it holds

    def as_dict(self) -> dict[str, Any]:
        return {"automated": self.automated, "automation_rate": self.automation_rate,
                "checks": dict(self.checks.most_common()),
                "holds": dict(self.holds.most_common())}


@dataclass
class Simulation:
    since: datetime
    until: datetime
    orders: int = 0
    current: FlowOutcome = field(default_factory=FlowOutcome)
    proposed: FlowOutcome = field(default_factory=FlowOutcome)
    differing: int = 0
    differences: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(),
                "orders": self.orders, "current": self.current.as_dict(),
                "proposed": self.proposed.as_dict(),
                "differences": {"total": self.differing, "orders": self.differences},
                "notes": list(NOTES)}


@dataclass(frozen=True)
class _Plan:
    """Both flows' rules over their distinct conditions: a condition the two flows share
    (the same `when` in the file) is tested once per order, not once per flow."""

    conditions: tuple[Condition, ...]
    current: tuple[tuple[int, str, bool, bool], ...]  # (condition, rule, checks, holds)
    proposed: tuple[tuple[int, str, bool, bool], ...]

    @classmethod
    def of(cls, current: Sequence[CompiledRule], proposed: Sequence[CompiledRule]) -> _Plan:
        whens: list[Any] = []
        conditions: list[Condition] = []

        def entry(rule: CompiledRule) -> tuple[int, str, bool, bool]:
            when = rule.source.get("when") if isinstance(rule.source, Mapping) else None
            index = next((i for i, w in enumerate(whens) if when is not None and w == when),
                         None)
            if index is None:
                index = len(conditions)
                whens.append(when)
                conditions.append(rule.when)
            kinds = {a.kind for a in rule.then}
            return index, rule.name, ActionKind.check in kinds, ActionKind.hold in kinds

        now, new = tuple(entry(r) for r in current), tuple(entry(r) for r in proposed)
        return cls(tuple(conditions), now, new)


def _outcome(rules: Sequence[tuple[int, str, bool, bool]],
             hits: Sequence[bool]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    checks = tuple(name for i, name, check, _ in rules if check and hits[i])
    holds = tuple(name for i, name, _, hold in rules if hold and hits[i])
    return checks, holds


def _count(flow: FlowOutcome, checks: tuple[str, ...], holds: tuple[str, ...]) -> None:
    flow.checks.update(checks)
    flow.holds.update(holds)
    flow.automated += not checks


def simulate(store: Store, shop: str, current: Sequence[CompiledRule],
             proposed: Sequence[CompiledRule], since: datetime, until: datetime,
             progress: Callable[[str, int, int], None] | None = None) -> Simulation:
    sim = Simulation(since, until)
    plan = _Plan.of(current, proposed)
    with store.transaction() as conn:
        timeline = store.buyer_timeline(conn, shop, until)
        starts = {k: [at for at, _ in v] for k, v in timeline.items()}
        done = 0
        for rows in store.replay_rows(conn, shop, since, until):
            for (oid, number, stage, rms, fp, attrs, data, buyer, ordered_at) in rows:
                if stage == Stage.cancelled.value:
                    continue
                channel = channel_from_json(data)
                order = Order(shop=shop, channel=channel, stage=Stage.processing, id=oid,
                              fingerprint=fp, rms_status=rms, **_attrs(attrs))
                history = timeline.get(buyer, [])
                before = bisect.bisect_left(starts.get(buyer, []), ordered_at)
                open_then = sum(1 for at, ended in history[:before]
                                if ended is None or ended > ordered_at)
                facts = Facts(other_open_orders=open_then, past_orders=before,
                              postal_code_valid=addresses_valid(channel), tags=order.tags)
                given = RuleInput(order, facts, ordered_at)
                hits = [condition(given) for condition in plan.conditions]
                now_checks, now_holds = _outcome(plan.current, hits)
                new_checks, new_holds = _outcome(plan.proposed, hits)
                _count(sim.current, now_checks, now_holds)
                _count(sim.proposed, new_checks, new_holds)
                sim.orders += 1
                if (now_checks, now_holds) != (new_checks, new_holds):
                    sim.differing += 1
                    if len(sim.differences) < DIFFERENCES_SHOWN:
                        sim.differences.append({
                            "order_number": number,
                            "current": {"checks": list(now_checks), "holds": list(now_holds)},
                            "proposed": {"checks": list(new_checks), "holds": list(new_holds)}})
            done += len(rows)
            if progress:
                progress("replay", done, done)
    for flow in (sim.current, sim.proposed):
        flow.automation_rate = round(flow.automated / sim.orders, 4) if sim.orders else None
    return sim
