"""What-if replay (`unyo simulate`): stored orders through another flow's rules.

Each order imported in the period is replayed the way it happened — its data as
stored, the buyer's history as it stood when it arrived, and the outside events as
they happened (its RMS status at import, when its payment settled, when it was
cancelled at RMS or by a person), read from its event log — through the current
flow's rules and the proposed ones, touching nothing: no database write, no outside
call.

Per order and flow: the rules run at its arrival (its RMS status then), again when
another order of the same buyer arrives while it is not handed off yet, and when its
payment settled later, as the live engine runs them, each time with the buyer's open
orders as they were then (tests/app/test_simulate_agrees.py pins this to the engine,
order by order); the checks it waits for
are those of the last run before it could ship, the holds those whose end was still
ahead. From the payment time and the holds' ends comes when it would have been ready
(出荷OK), so an order cancelled at RMS is cancelled before the warehouse had it, or
after (a person must stop it there) — a hold that outlasted the cancellation saved
that work. Orders merged away (同梱) were not cancelled from outside: they are
replayed as the orders they were.

Results: the predicted automation rate of each flow (orders that would ship — paid,
not cancelled — that no rule sends to 確認待ち), the gates each rule would open, the
orders cancelled after hand-off, and the orders whose outcome differs.

Limits, stated in the output: an order is replayed with its latest stored data (an
order changed after import is replayed as changed), and "other open orders" counts
the buyer's orders that had not shipped or been cancelled by then, taking an order's
last change as its end.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from unyo.adapters.db.codec import attrs_from_json, channel_from_json
from unyo.adapters.db.store import Store
from unyo.app.processing import next_business_day, with_postal_facts
from unyo.domain import Order, Stage
from unyo.domain.decide import SETTLED_RMS
from unyo.domain.rules import (
    ActionKind,
    CompiledRule,
    Condition,
    Facts,
    HoldSpec,
    RuleInput,
    hold_until,
)
from unyo.domain.vocabulary import RmsStatus

DIFFERENCES_SHOWN = 20
NOTES = (
    "each order is replayed with its latest stored data (an order changed after import "
    "is replayed as changed); its payment and cancellation times come from its event log",
    "other_open_orders counts the buyer's orders not shipped or cancelled by then, taking "
    "an order's last change as its end",
    "an order counts as automated when it would ship (paid, not cancelled) and no rule "
    "sends it to 確認待ち; holds end by their time; gates that are not rules' (payment, "
    "warehouse) are the same in both flows; ready is taken as handed off",
)
SHIPS, UNPAID, CANCELLED, CANCELLED_AFTER_HANDOFF = (
    "ships", "unpaid", "cancelled", "cancelled_after_handoff")
_SETTLED = frozenset(int(s) for s in SETTLED_RMS)


@dataclass
class FlowOutcome:
    automated: int = 0
    automation_rate: float | None = None
    checks: Counter[str] = field(default_factory=Counter)  # rule → orders it sends to 確認待ち
    holds: Counter[str] = field(default_factory=Counter)  # rule → orders it holds
    cancelled_after_handoff: int = 0  # cancelled once ready: a person stops it at the WMS

    def as_dict(self) -> dict[str, Any]:
        return {"automated": self.automated, "automation_rate": self.automation_rate,
                "checks": dict(self.checks.most_common()),
                "holds": dict(self.holds.most_common()),
                "cancelled_after_handoff": self.cancelled_after_handoff}


@dataclass
class Simulation:
    since: datetime
    until: datetime
    orders: int = 0  # replayed
    cancelled: int = 0  # of them, cancelled at RMS or by a person
    unpaid: int = 0  # of them, never paid (and not cancelled)
    current: FlowOutcome = field(default_factory=FlowOutcome)
    proposed: FlowOutcome = field(default_factory=FlowOutcome)
    differing: int = 0
    differences: list[dict[str, Any]] = field(default_factory=list)

    @property
    def shipping(self) -> int:
        """Orders that would ship (paid, not cancelled): the automation rate's basis."""
        return self.orders - self.cancelled - self.unpaid

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(),
                "orders": self.orders, "cancelled": self.cancelled, "unpaid": self.unpaid,
                "shipping": self.shipping, "current": self.current.as_dict(),
                "proposed": self.proposed.as_dict(),
                "differences": {"total": self.differing, "orders": self.differences},
                "notes": list(NOTES)}


@dataclass(frozen=True, slots=True)
class Timeline:
    """The outside events of one order, as they happened."""

    status: int  # RMS status at import
    paid_at: datetime | None  # payment settled (RMS 300); None = never
    cancelled_at: datetime | None  # cancelled at RMS or by a person; None = not


def timeline(events: Sequence[tuple[str, str, datetime, Mapping[str, Any]]], rms_status: int,
             stage: str, imported_at: datetime) -> Timeline:
    """From the order's event log (`Store.replay_events`); an order without one (e.g.
    rows copied in) is taken as its stored state says, from its import on."""
    if not events:
        return Timeline(rms_status, imported_at if rms_status in _SETTLED else None,
                        imported_at if stage == Stage.cancelled.value else None)
    status = rms_status
    paid_at = cancelled_at = None
    for type_, actor, at, data in events:
        if type_ == "order_imported":
            status = int(data.get("rms_status", rms_status))
            if status in _SETTLED:
                paid_at = at
        elif "merged" in data:
            continue  # about an order merged into this one
        elif type_ == "payment_settled" and paid_at is None:
            paid_at = at
        elif type_ == "payment_reverted":
            paid_at = None
        elif cancelled_at is None and (type_ == "cancel_after_handoff" or (
                type_ == "order_cancelled" and actor != "system")):
            cancelled_at = at  # a merge (同梱) is the flow's own doing, not a cancellation
    return Timeline(status, paid_at, cancelled_at)


Entry = tuple[int, str, bool, tuple[HoldSpec, ...]]  # (condition, rule, checks, holds)


@dataclass(frozen=True)
class _Flow:
    """One flow's rules, as the replay reads them: the checking ones and the holding ones."""

    checks: tuple[tuple[int, str], ...]  # (condition, rule)
    holds: tuple[tuple[int, str, tuple[HoldSpec, ...]], ...]

    @classmethod
    def of(cls, entries: Sequence[Entry]) -> _Flow:
        return cls(tuple((i, name) for i, name, check, _ in entries if check),
                   tuple((i, name, specs) for i, name, _, specs in entries if specs))


@dataclass(frozen=True)
class _Plan:
    """Both flows' rules over their distinct conditions: a condition the two flows share
    (the same `when` in the file) is tested once per order, not once per flow."""

    conditions: tuple[Condition, ...]
    current: _Flow
    proposed: _Flow

    @classmethod
    def of(cls, current: Sequence[CompiledRule], proposed: Sequence[CompiledRule]) -> _Plan:
        whens: list[Any] = []
        conditions: list[Condition] = []

        def entry(rule: CompiledRule) -> Entry:
            when = rule.source.get("when") if isinstance(rule.source, Mapping) else None
            index = next((i for i, w in enumerate(whens) if when is not None and w == when),
                         None)
            if index is None:
                index = len(conditions)
                whens.append(when)
                conditions.append(rule.when)
            holds = tuple(a.hold for a in rule.then
                          if a.kind is ActionKind.hold and a.hold is not None)
            return (index, rule.name, any(a.kind is ActionKind.check for a in rule.then),
                    holds)

        now, new = [entry(r) for r in current], [entry(r) for r in proposed]
        return cls(tuple(conditions), _Flow.of(now), _Flow.of(new))


ARRIVAL, BUYER_RERUN, PAYMENT = 0, 1, 2  # why the rules ran (and their order in a turn)
Runs = list[tuple[int, RuleInput, list[bool]]]  # (why, input, condition hits), in time order
Outcome = tuple[tuple[str, ...], tuple[str, ...], str]  # (checks, holds, fate)


def _hold_end(specs: tuple[HoldSpec, ...], given: RuleInput,
              business_day: Callable[[date], date]) -> datetime | None:
    ends = [u for u in (hold_until(s, given, business_day) for s in specs)
            if u is not None and u > given.now]
    return max(ends) if ends else None


def _outcome(flow: _Flow, runs: Runs, line: Timeline,
             business_day: Callable[[date], date]) -> Outcome:
    """What a flow does with the order over its runs, as the engine runs its rules: at
    arrival, when another order of the buyer arrives while this one is not handed off
    yet, and when the payment settles later. The checks are those of the last run; a
    hold opens at the first run it holds, and ends by time."""
    checks: tuple[str, ...] = ()
    held: dict[str, datetime] = {}
    ready = line.paid_at
    for why, given, hits in runs:
        now = given.now
        if why == BUYER_RERUN:
            if line.cancelled_at is not None and now > line.cancelled_at:
                break
            if (not checks and line.paid_at is not None and line.paid_at < now
                    and (ready is None or ready <= now)):
                break  # handed off before that order arrived: its rules are done
        checks = tuple(name for i, name in flow.checks if hits[i])
        for i, name, specs in flow.holds:
            if hits[i] and name not in held:
                end = _hold_end(specs, given, business_day)
                if end is not None:
                    held[name] = end
                    if ready is not None and end > ready:
                        ready = end
    holds = tuple(name for _, name, _ in flow.holds if name in held)
    if line.cancelled_at is not None:
        # the hand-off re-reads the order first: a cancellation at that very time wins
        handed = not checks and ready is not None and ready < line.cancelled_at
        fate = CANCELLED_AFTER_HANDOFF if handed else CANCELLED
    else:
        fate = SHIPS if line.paid_at is not None else UNPAID
    return checks, holds, fate


def _count(flow: FlowOutcome, outcome: Outcome) -> None:
    checks, holds, fate = outcome
    if checks:
        flow.checks.update(checks)
    if holds:
        flow.holds.update(holds)
    flow.automated += fate == SHIPS and not checks
    flow.cancelled_after_handoff += fate == CANCELLED_AFTER_HANDOFF


@dataclass(frozen=True, slots=True)
class Replayed:
    """One order through both flows."""

    order_number: str
    line: Timeline
    current: Outcome
    proposed: Outcome


def replay(store: Store, shop: str, current: Sequence[CompiledRule],
           proposed: Sequence[CompiledRule], since: datetime, until: datetime,
           progress: Callable[[str, int, int], None] | None = None) -> Iterator[Replayed]:
    """Each order imported in [since, until) through both flows, in import order."""
    plan = _Plan.of(current, proposed)
    conditions = plan.conditions
    with store.transaction() as conn:
        timeline_ = store.buyer_timeline(conn, shop, until)
        starts = {k: [at for at, _ in v] for k, v in timeline_.items()}
        done = 0
        for rows in store.replay_rows(conn, shop, since, until):
            history_ = store.replay_events(conn, rows[0][0], rows[-1][0])
            for (oid, number, stage, rms, fp, attrs, data, buyer, ordered_at,
                 imported_at) in rows:
                line = timeline(history_.get(oid, ()), rms, stage, imported_at)
                channel = channel_from_json(data)
                kept = attrs_from_json(attrs)  # replayed as imported: without a merge (同梱)
                order = Order(shop=shop, channel=channel, stage=Stage.processing, id=oid,
                              fingerprint=fp, rms_status=line.status, tags=kept["tags"],
                              settings=kept["settings"])
                history = timeline_.get(buyer, [])
                before = bisect.bisect_left(starts.get(buyer, []), ordered_at)

                def open_at(at: datetime, upto: int, history: Any = history) -> int:
                    # an order that ends in the very turn is still open when it runs
                    return sum(1 for placed, ended in history[:upto]
                               if ended is None or ended >= at)

                facts = with_postal_facts(Facts(other_open_orders=open_at(ordered_at, before),
                                                past_orders=before, tags=order.tags), channel)

                runs: Runs = []

                def run(why: int, status: int, at: datetime, facts: Facts, order: Order = order,
                        runs: Runs = runs) -> None:
                    given = RuleInput(order.with_(rms_status=status), facts, at)
                    runs.append((why, given, [condition(given) for condition in conditions]))

                run(ARRIVAL, line.status, ordered_at, facts)
                later = [placed for placed, _ in history[before:]] if len(history) > 1 else []
                paid_later = line.paid_at is not None and line.paid_at > imported_at
                for at in sorted(set(later)):
                    if paid_later and line.paid_at is not None and line.paid_at < at:
                        break  # the payment's run comes first
                    upto = bisect.bisect_right(starts.get(buyer, []), at)
                    run(BUYER_RERUN, line.status, at,
                        replace(facts, other_open_orders=open_at(at, upto) - 1))
                if paid_later and line.paid_at is not None:
                    # the payment settled later: the rules ran again then, at RMS 300
                    upto = bisect.bisect_right(starts.get(buyer, []), line.paid_at)
                    run(PAYMENT, int(RmsStatus.awaiting_shipment), line.paid_at,
                        replace(facts, other_open_orders=max(open_at(line.paid_at, upto) - 1, 0)))
                    settled = int(RmsStatus.awaiting_shipment)
                    for at in sorted(set(later)):
                        if at > line.paid_at:
                            upto = bisect.bisect_right(starts.get(buyer, []), at)
                            run(BUYER_RERUN, settled, at,
                                replace(facts, other_open_orders=open_at(at, upto) - 1))
                yield Replayed(number, line,
                               _outcome(plan.current, runs, line, next_business_day),
                               _outcome(plan.proposed, runs, line, next_business_day))
            done += len(rows)
            if progress:
                progress("replay", done, done)


def simulate(store: Store, shop: str, current: Sequence[CompiledRule],
             proposed: Sequence[CompiledRule], since: datetime, until: datetime,
             progress: Callable[[str, int, int], None] | None = None) -> Simulation:
    sim = Simulation(since, until)
    for r in replay(store, shop, current, proposed, since, until, progress):
        _count(sim.current, r.current)
        _count(sim.proposed, r.proposed)
        sim.orders += 1
        sim.cancelled += r.line.cancelled_at is not None
        sim.unpaid += r.line.cancelled_at is None and r.line.paid_at is None
        if r.current != r.proposed:
            sim.differing += 1
            if len(sim.differences) < DIFFERENCES_SHOWN:
                sim.differences.append({"order_number": r.order_number,
                                        "current": _shown(r.current),
                                        "proposed": _shown(r.proposed)})
    basis = sim.shipping
    for flow in (sim.current, sim.proposed):
        flow.automation_rate = round(flow.automated / basis, 4) if basis else None
    return sim


def _shown(outcome: Outcome) -> dict[str, Any]:
    checks, holds, fate = outcome
    return {"checks": list(checks), "holds": list(holds), "fate": fate}
