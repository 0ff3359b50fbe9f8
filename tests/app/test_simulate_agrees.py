"""The what-if replay is pinned to the engine (issue 16 item 6).

Given a generated day of orders — buyers who come back, payments that come later or never,
cancellations at RMS — the engine (import, payment sync, holds released by the clock,
hand-off to a CSV warehouse, every move through `decide()`) runs the day once with the
shop's rules and once more with changed rules, on the same inputs. The replay of the
first run's store through the changed rules must then say, order by order, what the
second run did: the checks its rules opened, the holds they opened, and its fate
(shipped, never paid, cancelled before or after the hand-off).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.factories import BUYER, T0, channel_order
from tests.fakes import FakeChannel
from unyo.adapters.db import Store
from unyo.adapters.warehouse import CsvFolderWarehouse
from unyo.app.context import ShopContext
from unyo.app.importing import import_orders
from unyo.app.processing import release_holds
from unyo.app.simulate import replay
from unyo.app.syncing import sync_orders
from unyo.app.warehouse import hand_off_orders
from unyo.clock import SimClock
from unyo.domain import ChannelOrder, EventType, GateKind, Order, Stage
from unyo.domain.rules import compile_rules
from unyo.flow import Config
from unyo.flow.warehouse import WarehouseSettings

STEP = timedelta(minutes=30)  # the engine's turn: every outside event falls on one
ARRIVALS = 48  # a day of turns in which orders arrive ...
STEPS = 96  # ... and a second day for late payments and cancellations

RULES: dict[str, dict[str, Any]] = {r["name"]: r for r in [
    {"name": "備考欄あり", "when": {"field": "remarks", "op": "not_empty"},
     "then": [{"check": "備考欄を確認"}]},
    {"name": "高額", "when": {"field": "total", "op": "ge", "value": 10000},
     "then": [{"check": "高額注文"}]},
    {"name": "入金前", "when": {"field": "rms_status", "op": "lt", "value": 300},
     "then": [{"check": "入金前に確認"}]},
    {"name": "リピーター", "when": {"field": "past_orders", "op": "ge", "value": 1},
     "then": [{"hold": {"for": "3h", "reason": "まとめ待ち"}}]},
    {"name": "同時注文", "when": {"field": "other_open_orders", "op": "ge", "value": 1},
     "then": [{"hold": {"for": "6h"}}]},
    {"name": "様子見", "when": {"field": "total", "op": "lt", "value": 3000},
     "then": [{"hold": {"for": "2h", "reason": "キャンセル待ち"}}]},
    {"name": "配達日が近い", "when": {"field": "requested_delivery_date", "op": "within_days",
                                   "value": 2},
     "then": [{"check": "お届け日に間に合うか確認"}]},
]}


@dataclass(frozen=True)
class Arrival:
    order: ChannelOrder
    step: int
    paid_step: int | None  # when RMS moves it to 300 (None: never; == step: paid already)
    cancel_step: int | None  # when RMS cancels it (900)


def generated_day(rnd: random.Random, orders: int) -> list[Arrival]:
    buyers = [replace(BUYER, phone=f"06-{i:04d}-0000") for i in range(max(orders // 3, 1))]
    day: list[Arrival] = []
    for i in range(orders):
        step = rnd.randrange(ARRIVALS)
        paid = step if rnd.random() < 0.6 else (
            rnd.randrange(step + 1, STEPS) if rnd.random() < 0.7 else None)
        cancel = rnd.randrange(step + 1, STEPS) if rnd.random() < 0.15 else None
        if cancel is not None and paid is not None and paid >= cancel:
            paid = None if paid > step else paid
        at = T0 + step * STEP
        delivery = (at.date() + timedelta(days=rnd.randrange(1, 6))
                    if rnd.random() < 0.3 else None)
        order = channel_order(
            f"123456-20261127-{i:010d}", member=False, status=300 if paid == step else 200,
            ordered_at=at, confirmed_at=at, total=rnd.choice((1980, 3980, 5400, 12800)),
            buyer=rnd.choice(buyers), requested_delivery_date=delivery,
            remarks=rnd.choice(("[配送日時指定:]\n", "[メッセージ:]\n領収書希望")))
        day.append(Arrival(order, step, paid, cancel))
    return day


def run_engine(tmp: Path, name: str, rules: list[dict[str, Any]], day: list[Arrival]) -> Store:
    """The engine's day: at every turn the clock's holds, the hand-off, the import, the
    payment sync and the hand-off again, as the runner does them."""
    store = Store.open(f"sqlite:///{tmp / name}.db")
    clock = SimClock(T0)
    folder = tmp / f"{name}-wh"
    warehouse = CsvFolderWarehouse(WarehouseSettings(enabled=True, folder=str(folder),
                                                     settle=0.0), clock)
    warehouse.ensure_folders()
    channel = FakeChannel()
    ctx = ShopContext(Config(shop_id="shop", rules=compile_rules(rules)), store, channel,
                      clock, warehouse=warehouse)
    for step in range(STEPS):
        clock.set(T0 + step * STEP)
        for a in day:
            if a.step == step:
                channel.put(a.order)
            elif a.paid_step == step and a.order.order_number in channel.orders:
                channel.put(replace(channel.orders[a.order.order_number], status=300))
            if a.cancel_step == step:
                channel.put(replace(channel.orders[a.order.order_number], status=900))
        release_holds(ctx)
        hand_off_orders(ctx)
        import_orders(ctx)
        sync_orders(ctx)
        hand_off_orders(ctx)
    return store


Outcome = tuple[tuple[str, ...], tuple[str, ...], str]


def engine_outcomes(store: Store, names: list[str]) -> dict[str, Outcome]:
    """Per order, what the engine did: the rules' checks it still waited for (or waited
    for when it was cancelled), the rules that held it, and its fate."""
    order_of = {n: i for i, n in enumerate(names)}
    out: dict[str, Outcome] = {}
    with store.transaction() as conn:
        numbers = store.order_numbers_in_stages(conn, "shop", list(Stage))
        orders: dict[str, Order] = store.load_orders(conn, "shop", numbers)
        events = store.history(conn, [o.id for o in orders.values() if o.id is not None])[0]
    for number, o in orders.items():
        checks = {g.rule for g in o.gates if g.rule and g.kind is GateKind.check
                  and (g.is_open or g.close_note == "注文キャンセル")}
        holds = {g.rule for g in o.gates if g.rule and g.kind is GateKind.hold}
        types = {e.type for e in events[o.id or 0]}
        if EventType.cancel_after_handoff in types:
            fate = "cancelled_after_handoff"
        elif o.stage is Stage.cancelled:
            fate = "cancelled"
        else:
            fate = "ships" if EventType.payment_settled in types or o.rms_status >= 300 \
                else "unpaid"
        out[number] = (tuple(sorted(checks, key=order_of.__getitem__)),
                       tuple(sorted(holds, key=order_of.__getitem__)), fate)
    return out


def rule_sets(rnd: random.Random) -> Iterator[tuple[list[str], list[str]]]:
    names = list(RULES)
    while True:
        current = sorted(rnd.sample(names, rnd.randrange(0, 4)), key=names.index)
        proposed = sorted(rnd.sample(names, rnd.randrange(1, 5)), key=names.index)
        yield current, proposed


@pytest.mark.parametrize("seed", range(4))
def test_the_replay_of_a_day_is_what_the_engine_does_with_the_changed_rules(
        tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    day = generated_day(rnd, 300)
    current, proposed = next(rule_sets(rnd))
    lived = run_engine(tmp_path, "current", [RULES[n] for n in current], day)
    changed = run_engine(tmp_path, "proposed", [RULES[n] for n in proposed], day)
    try:
        names = list(RULES)
        want_now, want_new = engine_outcomes(lived, names), engine_outcomes(changed, names)
        got = {r.order_number: r for r in replay(
            lived, "shop", compile_rules([RULES[n] for n in current]),
            compile_rules([RULES[n] for n in proposed]), T0, T0 + STEPS * STEP)}
        assert set(got) == set(want_now) == set(want_new)
        differ_now = {n: (got[n].current, want_now[n]) for n in got
                      if got[n].current != want_now[n]}
        differ_new = {n: (got[n].proposed, want_new[n]) for n in got
                      if got[n].proposed != want_new[n]}
        assert not differ_now, (current, len(differ_now), list(differ_now.items())[:5])
        assert not differ_new, (proposed, len(differ_new), list(differ_new.items())[:5])
    finally:
        lived.close()
        changed.close()
