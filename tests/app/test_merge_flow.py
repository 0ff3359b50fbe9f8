"""同梱 in the running engine: rules on the merged parcel, all-or-nothing merges, the
report, and `unyo check`."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from tests.factories import BUYER, T0, channel_order, minutes
from tests.fakes import FakeChannel
from unyo.adapters.db import Store
from unyo.adapters.db import schema as t
from unyo.app import moves
from unyo.app.context import ShopContext
from unyo.app.dashboard import Dashboard
from unyo.app.importing import import_orders
from unyo.app.manual import hold, release
from unyo.app.report import build_report
from unyo.app.syncing import sync_orders
from unyo.app.warehouse import apply_commands
from unyo.cli import app
from unyo.clock import SimClock
from unyo.domain import GateKind, HandOff, Order, RecordShipment, Shipment, Stage
from unyo.domain.rules import compile_rules
from unyo.flow import Config

MERGE = {"name": "同梱", "when": {"field": "other_open_orders", "op": "ge", "value": 1},
         "then": [{"merge": True}]}
RULES: list[dict[str, Any]] = [
    MERGE,
    {"name": "同梱確認", "when": {"field": "other_open_orders", "op": "ge", "value": 1},
     "then": [{"check": "同梱を確認"}]},
    {"name": "高額", "when": {"field": "total", "op": "ge", "value": 8000},
     "then": [{"check": "高額注文"}]},
]


def n(i: int) -> str:
    return f"123456-20261127-{i:010d}"


def paid(i: int, **kw: Any) -> Any:
    c = channel_order(n(i), member=False, status=300, confirmed_at=T0, **kw)
    return replace(c, packages=(replace(c.packages[0], basket_id=1000 + i,
                                        total_price=c.amounts.total),))


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0 + minutes(1))


@pytest.fixture
def channel() -> FakeChannel:
    return FakeChannel()


@pytest.fixture
def ctx(store: Store, channel: FakeChannel, clock: SimClock) -> ShopContext:
    return ShopContext(Config(shop_id="shop", rules=compile_rules(RULES)), store, channel,
                       clock)


def load(ctx: ShopContext, i: int) -> Order:
    with ctx.store.transaction() as conn:
        order = ctx.store.load_order(conn, "shop", n(i))
    assert order is not None
    return order


def test_the_rules_run_on_the_merged_parcel(ctx: ShopContext, channel: FakeChannel,
                                           clock: SimClock):
    channel.put(paid(1, total=4000))
    import_orders(ctx)
    assert load(ctx, 1).stage is Stage.ready
    channel.put(paid(2, total=5000, ordered_at=T0 + minutes(5)))
    clock.set(T0 + minutes(6))
    import_orders(ctx)
    survivor, gone = load(ctx, 1), load(ctx, 2)
    assert gone.merged_into == n(1) and gone.stage is Stage.cancelled
    # neither order alone is 高額; the parcel is. 同梱確認 took its checks back.
    assert [(g.rule, g.reason) for g in survivor.open_gates] == [("高額", "高額注文")]
    assert {(g.rule, g.close_note) for g in survivor.gates if not g.is_open} == {
        ("同梱確認", "ルールの条件に該当しなくなりました")}
    assert survivor.stage is Stage.processing


def test_a_concurrent_change_aborts_the_whole_merge_and_the_next_rules_pass_retries(
        ctx: ShopContext, channel: FakeChannel, clock: SimClock,
        monkeypatch: pytest.MonkeyPatch):
    real_plan = moves._merge_plan

    def raced(ctx_: ShopContext, conn: Any, group: list[Order], *args: Any) -> Any:
        plan = real_plan(ctx_, conn, group, *args)
        # another worker moves the order to be merged away meanwhile
        conn.execute(update(t.orders).where(t.orders.c.id == group[1].id)
                     .values(version=t.orders.c.version + 1))
        return plan

    monkeypatch.setattr(moves, "_merge_plan", raced)
    channel.put(paid(1, total=1000))
    channel.put(paid(2, total=1000, ordered_at=T0 + minutes(1)))
    clock.set(T0 + minutes(2))
    import_orders(ctx)
    a, b = load(ctx, 1), load(ctx, 2)
    assert not a.merged and not b.merged_into  # nothing half-merged
    assert a.stage is not Stage.cancelled and b.stage is not Stage.cancelled
    monkeypatch.setattr(moves, "_merge_plan", real_plan)
    # the next rules pass (here: order 2's remarks change at RMS) merges them
    channel.put(replace(channel.orders[n(2)], remarks="[メッセージ:]\n一緒に送ってください"))
    clock.set(T0 + minutes(10))
    sync_orders(ctx)
    assert load(ctx, 2).merged_into == n(1)
    assert [m.order_number for m in load(ctx, 1).merged] == [n(2)]


def test_the_report_counts_the_parcel_once_with_the_touches_of_its_orders(
        store: Store, channel: FakeChannel, clock: SimClock):
    ctx = ShopContext(Config(shop_id="shop", rules=compile_rules([MERGE])), store, channel,
                      clock)
    # order 2 arrives first (a non-member's order is imported at once) and a person holds
    # and releases it; order 1, placed earlier by the same buyer, arrives later
    channel.put(paid(2, ordered_at=T0 + minutes(5)))
    clock.set(T0 + minutes(6))
    import_orders(ctx)
    hold(store, "shop", n(2), until=None, note="確認中", by="sato", now=T0 + minutes(7))
    release(store, "shop", n(2), GateKind.hold, note="OK", by="sato", now=T0 + minutes(8))
    channel.put(paid(1, ordered_at=T0))
    clock.set(T0 + minutes(10))
    import_orders(ctx)
    assert load(ctx, 2).merged_into == n(1)
    with store.transaction() as conn:
        apply_commands(ctx, conn, [(load(ctx, 1), HandOff(T0 + minutes(20)))], T0)
    with store.transaction() as conn:
        apply_commands(ctx, conn, [(load(ctx, 1), RecordShipment(
            1001, (Shipment(None, "1001", "123456789012", date(2026, 11, 27)),),
            T0 + minutes(30)))], T0)
    rep = build_report(store, "shop", T0, T0 + minutes(60))
    assert (rep.basis, rep.orders, rep.automated) == ("shipped", 1, 0)  # one parcel, touched
    assert [x.reason for x in rep.manual_touches] == ["手動保留: 確認中", "確認中"]
    # The dashboard's rate is the same definition (domain/automation.py): the touch on the
    # merged order counts against the parcel there too.
    (today,) = Dashboard(store, Config(shop_id="shop"), clock).automation(days=1).days
    assert (today.orders, today.automated) == (rep.orders, rep.automated)


def test_a_merged_order_is_shown_merged_by_orders_show(store: Store, channel: FakeChannel,
                                                      clock: SimClock, tmp_path: Path):
    ctx = ShopContext(Config(shop_id="shop", rules=compile_rules([MERGE])), store, channel,
                      clock)
    channel.put(paid(1))
    channel.put(paid(2, ordered_at=T0 + minutes(1), buyer=replace(BUYER, phone="0312345678")))
    clock.set(T0 + minutes(2))
    import_orders(ctx)
    path = tmp_path / "unyo.yaml"
    path.write_text(f"shop: {{id: shop}}\ndatabase: {{url: '{store.engine.url}'}}\n",
                    encoding="utf-8")
    runner = CliRunner()
    shown = runner.invoke(app, ["orders", "show", n(2), "-c", str(path)])
    assert shown.exit_code == 0, shown.stderr
    assert f"同梱: 注文 {n(1)} の荷物にまとめました" in shown.stdout
    carrying = runner.invoke(app, ["orders", "show", n(1), "-c", str(path), "--json"])
    doc = json.loads(carrying.stdout)
    assert [m["order_number"] for m in doc["merge"]["merged"]] == [n(2)]


@pytest.mark.parametrize(("action", "ok", "message"), [
    ("merge: true", True, ""),
    ("merge: {}", True, ""),
    ("merge: {tag: 同梱}", True, ""),
    ("merge: false", False, ":6: rules[0].then[0].merge: expected true, or a mapping"),
    ("merge: {with: all}", False, ":6: rules[0].then[0].merge.with: unknown key"),
    ("merge: {tag: ''}", False, ":6: rules[0].then[0].merge.tag: expected a tag"),
])
def test_unyo_check_takes_merge_and_names_a_bad_one_by_line(tmp_path: Path, action: str,
                                                           ok: bool, message: str):
    path = tmp_path / "unyo.yaml"
    path.write_text("shop: {id: x}\nrules:\n  - name: 同梱\n"
                    "    when: {field: other_open_orders, op: ge, value: 1}\n    then:\n"
                    f"      - {action}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["check", str(path)])
    if ok:
        assert result.exit_code == 0, result.stderr
        schema = json.loads(CliRunner().invoke(app, ["schema"]).stdout)
        import jsonschema
        from ruamel.yaml import YAML
        jsonschema.validate(YAML(typ="safe").load(path.read_text(encoding="utf-8")), schema)
    else:
        assert result.exit_code == 2
        assert f"{path}{message}" in result.stderr


def test_the_dashboard_order_page_shows_the_merge(store: Store, channel: FakeChannel,
                                                  clock: SimClock):
    from fastapi.testclient import TestClient

    from tests.web.conftest import PASSWORD, login
    from unyo.adapters.db.accounts import Accounts
    from unyo.app.users import Users
    from unyo.web import create_app

    config = Config(shop_id="shop", rules=compile_rules([MERGE]))
    ctx = ShopContext(config, store, channel, clock)
    channel.put(paid(1))
    channel.put(paid(2, ordered_at=T0 + minutes(1)))
    clock.set(T0 + minutes(2))
    import_orders(ctx)
    Users(Accounts(store.engine)).add("suzuki", "operator", PASSWORD, clock.now())
    with TestClient(create_app(store, config, clock, secure_cookies=False),
                    base_url="http://127.0.0.1") as client:
        assert login(client).status_code == 303
        survivor = client.get(f"/orders/{n(1)}").text
        merged = client.get(f"/orders/{n(2)}").text
    assert "この注文に同梱した注文" in survivor and f'href="/orders/{n(2)}"' in survivor
    assert "この注文は同梱されました" in merged and f'href="/orders/{n(1)}"' in merged


def test_a_failure_on_a_merged_order_is_seen_on_its_survivor(store: Store,
                                                            channel: FakeChannel,
                                                            clock: SimClock):
    from unyo.app.outbox import deliver_effects
    from unyo.app.ports import ConfirmOutcome

    ctx = ShopContext(Config(shop_id="shop", rules=compile_rules([MERGE])), store, channel,
                      clock)
    for i in (1, 2):
        c = channel_order(n(i), member=False, status=100, ordered_at=T0 + minutes(i))
        channel.put(replace(c, packages=(replace(c.packages[0], basket_id=1000 + i),)))
    channel.fail_confirm[n(2)] = ConfirmOutcome(False, True, "ERROR_999 confirm refused")
    clock.set(T0 + minutes(3))
    import_orders(ctx)
    assert load(ctx, 2).merged_into == n(1)
    deliver_effects(ctx)
    survivor = load(ctx, 1)
    reasons = [g.reason for g in survivor.gates if g.is_open and g.kind is GateKind.check]
    assert any(f"同梱した注文 {n(2)}" in r and "ERROR_999" in r for r in reasons), reasons
