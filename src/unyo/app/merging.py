"""同梱 (merge): a merge rule that held becomes a merge of the buyer's open orders.

The rules are pure and see one order; finding the orders to merge with needs the
store. So `ApplyRules` only says which merge rules hold (`Decision.merge`), and right
after a rules pass (import, sync) `merge_orders` looks, for each such order, for the
group `unyo.domain.merge.merge_group` allows, and moves the whole group through
`decide()` at once:

- each merged-away order first runs the rules as if alone in the parcel (the group's
  other orders are not counted in `other_open_orders`, so e.g. 同梱候補 takes its
  check back), then `MergeInto`: cancelled in unyo (not at RMS) with the reason;
- the survivor `AbsorbOrders` them — their items and amounts join its hand-off, the
  gates they still had come along — then runs the rules on the merged parcel (a
  combined total or quantity can open a check the orders alone did not).

The group is written with `Store.apply_together`: all or nothing. An order another
worker moved meanwhile aborts the merge (`conflicts`); nothing is half-merged, and the
merge is tried again the next time the rules run on one of its orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection

from unyo.adapters.db.store import ConcurrentUpdate
from unyo.app.context import ShopContext, log
from unyo.app.processing import gather_facts, next_business_day
from unyo.domain import AbsorbOrders, Decision, MergeInto, Order, RecordEffectFailed, decide
from unyo.domain.decide import ApplyRules
from unyo.domain.merge import merge_group
from unyo.domain.rules import ActionKind, CompiledRule
from unyo.domain.vocabulary import BEFORE_HANDOFF

_BEFORE_HANDOFF = frozenset(s.value for s in BEFORE_HANDOFF)


@dataclass
class MergeResult:
    groups: int = 0  # parcels formed or grown
    merged: int = 0  # orders merged away
    conflicts: int = 0  # merges aborted because an order moved meanwhile


def merge_wishes(decisions: Iterable[Decision]) -> dict[str, tuple[str, ...]]:
    """Order number → the merge rules that hold on it, from a rules pass's decisions."""
    return {d.order.number: d.merge for d in decisions
            if d.merge and d.order.stage in BEFORE_HANDOFF}


def merge_orders(ctx: ShopContext, conn: Connection, wishes: Mapping[str, tuple[str, ...]],
                 now: datetime) -> MergeResult:
    """Merge each wishing order with its group, one group at a time, all or nothing."""
    result = MergeResult()
    if not wishes:
        return result
    rules = {r.name: r for r in ctx.config.rules}
    store, shop = ctx.store, ctx.shop
    done: set[str] = set()
    for number, names in wishes.items():
        rule = next((rules[n] for n in names if n in rules), None)
        if number in done or rule is None:
            continue
        trigger = store.load_order(conn, shop, number)
        if trigger is None:
            continue
        key = trigger.channel.buyer_key()
        ids = [oid for oid, stage, _ in store.buyer_orders(conn, shop, [key]).get(key, [])
               if stage in _BEFORE_HANDOFF]
        group = merge_group(trigger, store.load_orders_by_id(conn, ids).values())
        if not group:
            continue
        try:
            store.apply_together(conn, _plan(ctx, conn, group, rule, now), now)
        except ConcurrentUpdate as e:
            result.conflicts += 1
            log.info("merge of %s not done, will try again: %s",
                     ", ".join(o.number for o in group), e)
            continue
        done.update(o.number for o in group)
        result.groups += 1
        result.merged += len(group) - 1
        log.info("merged %s into %s (rule %s)", ", ".join(o.number for o in group[1:]),
                 group[0].number, rule.name)
    return result


def _plan(ctx: ShopContext, conn: Connection, group: list[Order], rule: CompiledRule,
          now: datetime) -> list[tuple[Order, Decision]]:
    survivor, others = group[0], group[1:]
    facts = gather_facts(ctx, conn, group)
    rules = ctx.config.rules

    def alone(order: Order) -> ApplyRules:
        # the rules as they will see it after the merge: the group is one parcel
        f = facts[order.number]
        f = replace(f, other_open_orders=max(0, f.other_open_orders - len(others)))
        return ApplyRules(rules, f, now, next_business_day)

    ruled = [Decision(o).and_then(alone(o)) for o in others]
    tag = next((a.message for a in rule.then if a.kind is ActionKind.merge), "")
    carrying = (Decision(survivor)
                .and_then(AbsorbOrders(tuple(d.order for d in ruled), rule.name, now, tag))
                .and_then(alone(survivor)))
    leaving = [d.and_then(MergeInto(survivor.number, rule.name, now)) for d in ruled]
    return [(survivor, carrying), *zip(others, leaving, strict=True)]


__all__ = ["MergeResult", "merge_orders", "merge_wishes"]


def fail_on_survivors(ctx: ShopContext, conn: Connection,
                      failures: Iterable[tuple[Order, RecordEffectFailed]],
                      now: datetime) -> int:
    """A merged-away order is cancelled in unyo, so a gate opened on it would be seen by
    nobody: an effect that failed for good on it also opens a check on its survivor,
    naming the order. Returns how many survivors were told."""
    told = 0
    for order, command in failures:
        if not order.merged_into:
            continue
        command = replace(command, error=f"同梱した注文 {order.number}: {command.error}")
        for _ in range(3):  # re-read on a lost race (two orders of one parcel failing)
            survivor = ctx.store.load_order(conn, order.shop, order.merged_into)
            if survivor is None:
                break
            try:
                ctx.store.apply(conn, survivor, decide(survivor, command), now)
                told += 1
                break
            except ConcurrentUpdate:
                continue
    return told
