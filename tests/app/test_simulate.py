"""What-if replay: stored orders through another flow's rules, touching nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.factories import BUYER, T0, channel_order, minutes
from tests.fakes import FakeChannel
from unyo.adapters.db import Store
from unyo.adapters.db import schema as t
from unyo.app.context import ShopContext
from unyo.app.importing import import_orders
from unyo.app.simulate import simulate
from unyo.app.syncing import sync_orders
from unyo.cli import app
from unyo.clock import SimClock
from unyo.domain.rules import compile_rules
from unyo.flow import Config

CURRENT = [{"name": "備考欄あり", "when": {"field": "remarks", "op": "not_empty"},
            "then": [{"check": "備考欄を確認"}]}]
PROPOSED = [{"name": "高額", "when": {"field": "total", "op": "ge", "value": 10000},
             "then": [{"check": "高額注文"}]},
            {"name": "リピーター同梱", "when": {"field": "other_open_orders", "op": "ge",
                                                 "value": 1},
             "then": [{"hold": {"for": "6h"}}]}]


def n(i: int) -> str:
    return f"123456-20261127-{i:010d}"


def stored(store: Store) -> tuple[int, ...]:
    with store.engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(tab)).scalar_one()
                     for tab in (t.orders, t.gates, t.events, t.outbox))


def history(store: Store) -> None:
    channel = FakeChannel()
    clock = SimClock(T0 + minutes(1))
    ctx = ShopContext(Config(shop_id="shop", rules=compile_rules(CURRENT)), store, channel,
                      clock)
    other = replace(BUYER, phone="06-1111-2222")
    channel.put(channel_order(n(1), member=False, status=300, confirmed_at=T0))
    channel.put(channel_order(n(2), member=False, status=300, confirmed_at=T0,
                              remarks="[メッセージ:]\n領収書希望", buyer=other))
    channel.put(channel_order(n(3), member=False, status=300, confirmed_at=T0, total=12000,
                              buyer=replace(BUYER, phone="011-000-0000")))
    import_orders(ctx)
    # a second order of buyer #1, an hour later
    channel.put(channel_order(n(4), member=False, status=300, confirmed_at=T0,
                              ordered_at=T0 + minutes(60)))
    clock.set(T0 + minutes(61))
    import_orders(ctx)


def test_replay_predicts_both_flows_and_lists_the_differences(store: Store):
    history(store)
    before = stored(store)
    sim = simulate(store, "shop", compile_rules(CURRENT), compile_rules(PROPOSED), T0,
                   T0 + timedelta(days=1))
    assert sim.orders == 4
    assert (sim.current.automated, sim.current.automation_rate) == (3, 0.75)
    assert dict(sim.current.checks) == {"備考欄あり": 1}
    assert (sim.proposed.automated, sim.proposed.automation_rate) == (3, 0.75)
    assert dict(sim.proposed.checks) == {"高額": 1}
    assert dict(sim.proposed.holds) == {"リピーター同梱": 1}  # #4: #1 was still open
    assert sim.differing == 3
    assert {d["order_number"] for d in sim.differences} == {n(2), n(3), n(4)}
    assert stored(store) == before  # nothing written


def test_simulate_command(store: Store, tmp_path: Path):
    history(store)
    url = str(store.engine.url)
    (tmp_path / "unyo.yaml").write_text(f"shop:\n  id: shop\ndatabase:\n  url: {url}\n"
                                        "rules:\n  - name: 備考欄あり\n"
                                        "    when: {field: remarks, op: not_empty}\n"
                                        "    then: [{check: 備考欄を確認}]\n", encoding="utf-8")
    (tmp_path / "other.yaml").write_text(
        "rules:\n  - name: 高額\n    when: {field: total, op: ge, value: 10000}\n"
        "    then: [{check: 高額注文}]\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["simulate", "-c", str(tmp_path / "unyo.yaml"),
                                      "--flow", str(tmp_path / "other.yaml"), "--since",
                                      "2026-11-27", "--until", "2026-11-28", "--json"])
    assert result.exit_code == 0, result.stderr
    import json
    doc = json.loads(result.stdout)
    assert doc["orders"] == 4 and doc["differences"]["total"] == 2
    bad = CliRunner().invoke(app, ["simulate", "-c", str(tmp_path / "unyo.yaml"),
                                   "--flow", str(tmp_path / "missing.yaml")])
    assert bad.exit_code == 2 and "missing.yaml: file not found" in bad.stderr


LATE = [{"name": "配達日が近い", "when": {"field": "requested_delivery_date", "op": "within_days",
                                        "value": 2},
         "then": [{"check": "お届け日に間に合うか確認"}]},
        {"name": "入金前", "when": {"field": "rms_status", "op": "lt", "value": 300},
         "then": [{"tag": "入金前"}]}]
WAIT = [{"name": "様子見", "when": {"field": "member", "op": "is_false"},
         "then": [{"hold": {"for": "6h", "reason": "キャンセル待ち"}}]},
        {"name": "ずっと前", "when": {"field": "member", "op": "is_false"},
         "then": [{"hold": {"until": "2026-01-01T00:00+09:00"}}]}]


def outside_events(store: Store) -> None:
    """Three orders of other buyers, the outside events as they happen: #1's payment comes
    three days late, #2 (paid) is cancelled at RMS three hours after import, #3 is never
    paid."""
    channel = FakeChannel()
    clock = SimClock(T0 + minutes(1))
    ctx = ShopContext(Config(shop_id="shop"), store, channel, clock)
    phones = ("06-1111-1111", "06-2222-2222", "06-3333-3333")
    channel.put(channel_order(n(1), member=False, status=200, confirmed_at=T0,
                              requested_delivery_date=T0.date() + timedelta(days=4),
                              buyer=replace(BUYER, phone=phones[0])))
    channel.put(channel_order(n(2), member=False, status=300, confirmed_at=T0,
                              buyer=replace(BUYER, phone=phones[1])))
    channel.put(channel_order(n(3), member=False, status=200, confirmed_at=T0,
                              buyer=replace(BUYER, phone=phones[2])))
    import_orders(ctx)
    channel.put(replace(channel.orders[n(2)], status=900))
    clock.set(T0 + timedelta(hours=3))
    sync_orders(ctx)
    channel.put(replace(channel.orders[n(1)], status=300))
    clock.set(T0 + timedelta(days=3))
    sync_orders(ctx)


def test_replay_runs_the_rules_again_when_the_payment_came(store: Store):
    outside_events(store)
    sim = simulate(store, "shop", (), compile_rules(LATE), T0, T0 + timedelta(days=5))
    assert (sim.orders, sim.cancelled, sim.unpaid, sim.shipping) == (3, 1, 1, 1)
    # at arrival the delivery date was 4 days off; when the payment came, 1 day: the check
    # the live engine opened then is predicted
    assert dict(sim.proposed.checks) == {"配達日が近い": 1}
    assert (sim.current.automated, sim.proposed.automated) == (1, 0)
    assert sim.proposed.automation_rate == 0.0  # of the one order that ships
    assert {d["order_number"] for d in sim.differences} == {n(1)}


def test_replay_sees_that_a_hold_outlasted_a_cancellation(store: Store):
    outside_events(store)
    sim = simulate(store, "shop", (), compile_rules(WAIT), T0, T0 + timedelta(days=5))
    # #2 was ready at once and cancelled three hours later: after hand-off with the
    # current flow, before it with a 6-hour hold; a hold already over holds nothing
    assert sim.current.cancelled_after_handoff == 1
    assert sim.proposed.cancelled_after_handoff == 0
    assert dict(sim.proposed.holds) == {"様子見": 3}
    diff = {d["order_number"]: d for d in sim.differences}
    assert diff[n(2)]["current"]["fate"] == "cancelled_after_handoff"
    assert diff[n(2)]["proposed"] == {"checks": [], "holds": ["様子見"], "fate": "cancelled"}
    # #1's hold ended long before its payment: the same fate, but the rule held it
    assert diff[n(1)]["proposed"]["fate"] == diff[n(1)]["current"]["fate"] == "ships"
