"""One way to move an order (issue 16 item 1): `move()` is the only caller of `decide()`
and of the store's order writes.

Every step that changes orders — import, sync, hand-off, warehouse results, outbox
outcomes, holds, merges (同梱), manual actions from the CLI and the dashboard — hands
`move()` the orders and the commands for them. It

1. decides each order (`decide()`, the commands in turn, as one decision);
2. runs the shop's rules on the result where asked (`rules=True`, before the hand-off);
3. writes with the compare-and-set (a new order is created; `together=True` writes all
   or none, as a merge must);
4. on a lost compare-and-set applies one policy (`OnConflict`): re-read and decide again
   (`retry`, up to `rounds`), leave the order for the step's next turn (`wait`), or raise
   `MoveConflict` after the retries (`fail`, what a person waiting on an answer needs); a
   form's version (`expect_version`) that is no longer the order's is a `StaleVersion`,
   checked inside the same transaction as the write;
5. records a command that does not fit the order (`DomainError`) on the order as a
   `command_refused` event (or raises it, `refusals="raise"`, for a person's action):
   never only a log line;
6. then forms the merges the rules asked for (`merge=True`), and tells the survivor of a
   merged-away order whose effect failed for good (its own gate would be seen by nobody).

Anything else going wrong with one order is reported in `Moved.failed` for the step to
record; the other orders go on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Literal

from sqlalchemy import Connection

from unyo.adapters.db.store import ConcurrentUpdate, Store
from unyo.app.context import ShopContext, log
from unyo.domain import (
    AbsorbOrders,
    Command,
    Decision,
    DomainError,
    EffectKind,
    MergeInto,
    Order,
    RecordEffectFailed,
    RecordRefusal,
    decide,
)
from unyo.domain.decide import ApplyRules
from unyo.domain.merge import merge_group
from unyo.domain.rules import ActionKind, CompiledRule
from unyo.domain.vocabulary import BEFORE_HANDOFF, EventType

_BEFORE_HANDOFF = frozenset(s.value for s in BEFORE_HANDOFF)


class OnConflict(StrEnum):
    """What to do when another worker moved the order between its read and the write."""

    retry = "retry"  # re-read it and decide again, up to `rounds` times; then as `wait`
    wait = "wait"  # leave it: the step's next turn reads it again (returned in `lost`)
    fail = "fail"  # re-read and decide again up to `rounds` times, then `MoveConflict`


class MoveConflict(Exception):
    """The order kept changing while a person's action was being written."""


class StaleVersion(MoveConflict):
    """The order is no longer at the version the person's form showed."""


class MoveRefused(Exception):
    """A person's action does not fit the order (the message says why)."""


Item = tuple[Order | None, Command | Sequence[Command]]
"""An order (None: a new one, the command an `ImportOrder`) and what to do to it; no
command with `rules=True` runs only the rules."""


@dataclass
class Moved:
    """What `move()` did."""

    written: list[Decision] = field(default_factory=list)  # as written, ids and versions set
    unchanged: list[Decision] = field(default_factory=list)  # decided, nothing to write
    lost: list[Order] = field(default_factory=list)  # not written: moved meanwhile (policy)
    refused: dict[str, str] = field(default_factory=dict)  # number → DomainError text
    failed: dict[str, str] = field(default_factory=dict)  # number → unexpected error

    @property
    def orders(self) -> list[Order]:
        return [d.order for d in self.written]


@dataclass(slots=True)
class _Planned:
    order: Order | None
    decision: Decision
    commands: tuple[Command, ...]
    refused: bool = False  # the decision records the commands' refusal instead


def move(store: Store, conn: Connection, items: Iterable[Item], now: datetime, *,
         ctx: ShopContext | None = None, rules: bool = False, merge: bool = False,
         expect_version: int | None = None, on_conflict: OnConflict = OnConflict.retry,
         rounds: int = 3, refusals: Literal["record", "raise"] = "record",
         together: bool = False) -> Moved:
    """Decide, apply and re-decide on conflict; see the module's docstring."""
    if (rules or merge) and ctx is None:
        raise ValueError("rules and merges need the shop's context")
    out = Moved()
    pending = [(order, _commands(command)) for order, command in items]
    for round_ in range(max(1, rounds)):
        planned = _plan(pending, now, expect_version, refusals, out)
        if together and (out.refused or out.failed):
            return out  # all or nothing: nothing is written, the refusal is reported
        if rules and planned:
            assert ctx is not None
            _with_rules(ctx, conn, planned, now)
        moves = [p for p in planned if p.decision.changed or p.decision.effects]
        out.unchanged += [p.decision for p in planned
                          if not (p.decision.changed or p.decision.effects)]
        lost = _write(store, conn, moves, now, together, out)
        if not lost:
            break
        if expect_version is not None:
            raise StaleVersion(f"order {lost[0].decision.order.number} changed since it "
                               "was read")
        if on_conflict is OnConflict.wait or round_ == rounds - 1:
            if on_conflict is OnConflict.fail:
                raise MoveConflict(f"order {lost[0].decision.order.number} keeps changing; "
                                   "try again")
            out.lost += [p.order for p in lost if p.order is not None]
            break
        fresh = store.load_orders_by_id(
            conn, [p.order.id for p in lost if p.order is not None and p.order.id is not None])
        pending = []
        for p in lost:
            if p.order is not None and p.order.id in fresh:
                out.refused.pop(p.order.number, None)
                pending.append((fresh[p.order.id], p.commands))
    if merge and out.written:
        assert ctx is not None
        merge_orders(ctx, conn, merge_wishes([*out.written, *out.unchanged]), now)
    _tell_survivors(store, conn, out.written, now)
    return out


def _commands(command: Command | Sequence[Command]) -> tuple[Command, ...]:
    return tuple(command) if isinstance(command, Sequence) else (command,)


def _plan(pending: list[tuple[Order | None, tuple[Command, ...]]], now: datetime,
          expect_version: int | None, refusals: str, out: Moved) -> list[_Planned]:
    planned: list[_Planned] = []
    for order, commands in pending:
        number = order.number if order is not None else _number(commands)
        if expect_version is not None and order is not None and order.version != expect_version:
            raise StaleVersion(f"order {order.number} changed since it was read")
        try:
            d = _decide(order, commands)
        except DomainError as e:
            if refusals == "raise":
                raise MoveRefused(str(e)) from None
            out.refused[number] = str(e)
            log.info("order %s: %s refused: %s", number, _name(commands), e)
            if order is not None:
                planned.append(_Planned(order, decide(order, RecordRefusal(
                    _name(commands), str(e), now)), commands, refused=True))
            continue
        except Exception as e:  # one order's data never stops the others
            log.exception("order %s could not be decided", number)
            out.failed[number] = f"{type(e).__name__}: {e}"[:500]
            continue
        planned.append(_Planned(order, d, commands))
    return planned


def _decide(order: Order | None, commands: tuple[Command, ...]) -> Decision:
    if order is None:
        d = decide(None, commands[0])
        commands = commands[1:]
    else:
        d = Decision(order)
    for c in commands:
        d = d.and_then(c)
    return d


def _number(commands: tuple[Command, ...]) -> str:
    channel = getattr(commands[0], "channel", None) if commands else None
    return str(getattr(channel, "order_number", "?"))


def _name(commands: tuple[Command, ...]) -> str:
    return "+".join(type(c).__name__ for c in commands) or "ApplyRules"


def _write(store: Store, conn: Connection, moves: list[_Planned], now: datetime,
           together: bool, out: Moved) -> list[_Planned]:
    """Create the new orders and apply the others; returns the ones that lost."""
    new = [p.decision for p in moves if p.order is None]
    if new:
        ids = store.create_orders(conn, new, now)
        out.written += [replace(d, order=d.order.with_(id=i, version=1))
                        for i, d in zip(ids, new, strict=True)]
    old = [p for p in moves if p.order is not None]
    if not old:
        return []
    pairs = [(p.order, p.decision) for p in old if p.order is not None]
    if together:
        try:
            written = store.apply_together(conn, pairs, now)
        except ConcurrentUpdate:
            return old
        out.written += [replace(p.decision, order=w) for p, w in zip(old, written, strict=True)]
        return []
    lost_ids = {o.id for o in store.apply_many(conn, pairs, now)}
    for before, d in pairs:
        if before.id not in lost_ids:
            out.written.append(replace(d, order=d.order.with_(id=before.id,
                                                             version=before.version + 1)))
    return [p for p in old if p.order is not None and p.order.id in lost_ids]


def _with_rules(ctx: ShopContext, conn: Connection, planned: list[_Planned],
                now: datetime) -> None:
    """The shop's rules on each decision's result, in place: those that changed
    something, and those asked for the rules alone (no command)."""
    from unyo.app.processing import with_rules

    run = [p for p in planned if not p.refused
           and (p.decision.changed or p.decision.effects or not p.commands)]
    for p, d in zip(run, with_rules(ctx, conn, [p.decision for p in run], now), strict=True):
        p.decision = d


# ---- 同梱 (merges) ---------------------------------------------------------------------


def merge_wishes(decisions: Iterable[Decision]) -> dict[str, tuple[str, ...]]:
    """Order number → the merge rules that hold on it, from a rules pass's decisions."""
    return {d.order.number: d.merge for d in decisions
            if d.merge and d.order.stage in BEFORE_HANDOFF}


@dataclass
class MergeResult:
    groups: int = 0  # parcels formed or grown
    merged: int = 0  # orders merged away
    conflicts: int = 0  # merges aborted because an order moved meanwhile


def merge_orders(ctx: ShopContext, conn: Connection, wishes: Mapping[str, tuple[str, ...]],
                 now: datetime) -> MergeResult:
    """Merge each wishing order with its group, one group at a time, all or nothing.

    同梱 (merge): a merge rule that held becomes a merge of the buyer's open orders.

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

    The group is written by `unyo.app.moves.move(together=True)`: all or nothing. An order another
    worker moved meanwhile aborts the merge (`conflicts`); nothing is half-merged, and the
    merge is tried again the next time the rules run on one of its orders.
    """
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
        moved = move(store, conn, _merge_plan(ctx, conn, group, rule, now), now,
                     together=True, on_conflict=OnConflict.wait, rounds=1)
        if moved.lost or moved.refused or moved.failed:
            result.conflicts += 1
            log.info("merge of %s not done, will try again", ", ".join(o.number for o in group))
            continue
        done.update(o.number for o in group)
        result.groups += 1
        result.merged += len(group) - 1
        log.info("merged %s into %s (rule %s)", ", ".join(o.number for o in group[1:]),
                 group[0].number, rule.name)
    return result


def _merge_plan(ctx: ShopContext, conn: Connection, group: list[Order], rule: CompiledRule,
                now: datetime) -> list[Item]:
    from unyo.app.processing import gather_facts, next_business_day

    survivor, others = group[0], group[1:]
    facts = gather_facts(ctx, conn, group)
    rules = ctx.config.rules

    def alone(order: Order) -> ApplyRules:
        # the rules as they will see it after the merge: the group is one parcel
        f = facts[order.number]
        f = replace(f, other_open_orders=max(0, f.other_open_orders - len(others)))
        return ApplyRules(rules, f, now, next_business_day)

    # The survivor takes the merged orders as the rules leave them (their gates come along).
    ruled = [decide(o, alone(o)).order for o in others]
    tag = next((a.message for a in rule.then if a.kind is ActionKind.merge), "")
    return [(survivor, (AbsorbOrders(tuple(ruled), rule.name, now, tag), alone(survivor))),
            *[(o, (alone(o), MergeInto(survivor.number, rule.name, now))) for o in others]]


def _tell_survivors(store: Store, conn: Connection, written: Sequence[Decision],
                    now: datetime) -> None:
    """A merged-away order is cancelled in unyo, so a gate opened on it would be seen by
    nobody: an effect that failed for good on it also opens a check on its survivor,
    naming the order."""
    told: list[Item] = []
    for d in written:
        order = d.order
        if not order.merged_into:
            continue
        for e in d.events:
            if e.type is EventType.effect_failed:
                error = f"同梱した注文 {order.number}: {e.data.get('error', '')}"
                survivor = store.load_order(conn, order.shop, order.merged_into)
                if survivor is not None:
                    told.append((survivor, RecordEffectFailed(
                        EffectKind(str(e.data.get("effect"))), error, now)))
    if told:
        move(store, conn, told, now)


__all__ = [
    "Item",
    "MergeResult",
    "MoveConflict",
    "MoveRefused",
    "Moved",
    "OnConflict",
    "StaleVersion",
    "merge_orders",
    "merge_wishes",
    "move",
]
