"""受注処理: the shop's rules in the running engine (import, changes, holds, buyers)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from tests.factories import BUYER, T0, channel_order, minutes
from tests.fakes import FakeChannel
from unyo.adapters.db import Store
from unyo.app.context import ShopContext
from unyo.app.importing import import_orders
from unyo.app.processing import next_business_day, postal_code_valid, release_holds
from unyo.app.syncing import sync_orders
from unyo.clock import SimClock
from unyo.domain import Actor, Address, CloseGate, GateKind, Stage, decide
from unyo.domain.rules import compile_rules
from unyo.flow import Config

RULES: list[dict[str, Any]] = [
    {"name": "備考欄あり", "when": {"field": "remarks", "op": "not_empty"},
     "then": [{"check": "備考欄を確認"}]},
    {"name": "配達日指定", "when": {"field": "requested_delivery_date", "op": "beyond_days",
                                "value": 5},
     "then": [{"hold": {"from": "requested_delivery_date", "days_before": 3}}]},
    {"name": "ギフト", "when": {"field": "gift", "op": "is_true"},
     "then": [{"tag": "ギフト"}, {"set": {"warehouse_note": "ギフト包装"}}]},
    {"name": "同梱確認", "when": {"field": "other_open_orders", "op": "ge", "value": 1},
     "then": [{"check": "同じお客様の注文あり"}]},
    {"name": "送料未確定", "when": {"field": "amount_not_fixed", "op": "is_true"},
     "then": [{"check": "送料を確定してください"}]},
    {"name": "郵便番号", "when": {"field": "postal_code_valid", "op": "is_false"},
     "then": [{"check": "郵便番号と住所を確認"}]},
]


def n(i: int) -> str:
    return f"123456-20261127-{i:010d}"


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


def load(ctx: ShopContext, number: str):  # type: ignore[no-untyped-def]
    with ctx.store.transaction() as conn:
        order = ctx.store.load_order(conn, "shop", number)
    assert order is not None
    return order


def reasons(order) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(f"{g.rule}:{g.reason}" for g in order.open_gates if g.rule)


def paid(channel: FakeChannel, number: str, **changes: Any) -> None:
    channel.put(replace(channel.orders[number], status=300, **changes))


def test_rules_run_at_import_and_gates_carry_the_rule(ctx, channel):
    channel.put(channel_order(n(1), member=False, remarks="[メッセージ:]\n不在時は宅配ボックスへ"))
    channel.put(channel_order(n(2), member=False, remarks="[配送日時指定:]\n2026-11-30(月)\n",
                              buyer=replace(BUYER, phone="06-0000-0000")))
    import_orders(ctx)
    assert reasons(load(ctx, n(1))) == ["備考欄あり:備考欄を確認"]
    assert reasons(load(ctx, n(2))) == []


def test_a_gate_a_person_closed_stays_closed_until_the_order_changes(ctx, channel, clock):
    channel.put(channel_order(n(1), member=False, remarks="[メッセージ:]\n領収書希望"))
    import_orders(ctx)
    order = load(ctx, n(1))
    (gate,) = [g for g in order.open_gates if g.rule]
    with ctx.store.transaction() as conn:
        ctx.store.apply(conn, order, decide(order, CloseGate(None, T0 + minutes(2),
                                                             Actor.person, "対応済",
                                                             seq=gate.seq)), T0)
    # payment comes: the order changed status but not content — the gate stays closed
    paid(channel, n(1))
    clock.set(T0 + minutes(10))
    sync_orders(ctx)
    assert load(ctx, n(1)).stage is Stage.ready
    # the amounts change: the rule asks again
    paid(channel, n(1), amounts=replace(channel.orders[n(1)].amounts, total=5000))
    clock.set(T0 + minutes(20))
    sync_orders(ctx)
    assert "備考欄あり:備考欄を確認" in reasons(load(ctx, n(1)))


def test_hold_until_days_before_the_delivery_date_released_by_the_clock(ctx, channel, clock):
    channel.put(channel_order(n(1), member=False, status=300, confirmed_at=T0,
                              requested_delivery_date=date(2026, 12, 10)))
    import_orders(ctx)
    order = load(ctx, n(1))
    (hold,) = [g for g in order.open_gates if g.kind is GateKind.hold]
    assert hold.until is not None and hold.until.isoformat() == "2026-12-07T00:00:00+09:00"
    assert order.stage is Stage.processing
    clock.set(hold.until - timedelta(seconds=1))
    assert release_holds(ctx) == 0
    clock.set(hold.until)
    assert release_holds(ctx) == 1
    released = load(ctx, n(1))
    assert released.stage is Stage.ready
    assert [g.closed_by for g in released.gates if g.kind is GateKind.hold] == [Actor.system]


def test_tags_and_fields_are_kept_on_the_order(ctx, channel):
    channel.put(channel_order(n(1), member=False, status=300, confirmed_at=T0, gift=True))
    import_orders(ctx)
    order = load(ctx, n(1))
    assert order.tags == ("ギフト",)
    assert order.setting("warehouse_note") == "ギフト包装"
    assert order.stage is Stage.ready  # tags and fields do not stop an order


def test_a_second_order_of_the_same_buyer_flags_both(ctx, channel, clock):
    channel.put(channel_order(n(1), member=False, status=300, confirmed_at=T0))
    import_orders(ctx)
    assert load(ctx, n(1)).stage is Stage.ready
    other = replace(BUYER, phone="0312345678", family_name="髙橋 ")  # same person, other form
    channel.put(channel_order(n(2), member=False, status=300, confirmed_at=T0, buyer=other,
                              ordered_at=T0 + minutes(2)))
    clock.set(T0 + minutes(3))
    import_orders(ctx)
    assert reasons(load(ctx, n(2))) == ["同梱確認:同じお客様の注文あり"]
    assert reasons(load(ctx, n(1))) == ["同梱確認:同じお客様の注文あり"]


def test_a_rule_that_no_longer_holds_closes_its_own_gate(ctx, channel, clock):
    channel.put(channel_order(n(1), member=False, status=300, confirmed_at=T0, postage=-9999,
                              total=-9999))
    import_orders(ctx)
    assert reasons(load(ctx, n(1))) == ["送料未確定:送料を確定してください"]
    paid(channel, n(1), amounts=replace(channel.orders[n(1)].amounts, postage=600, total=4580,
                                                         request=4580))
    clock.set(T0 + minutes(10))
    sync_orders(ctx)
    order = load(ctx, n(1))
    assert reasons(order) == []
    assert [g.reason for g in order.open_gates] == ["注文内容が変更されました"]


def test_postal_code_checked_against_japan_post_data(ctx, channel):
    wrong = replace(BUYER, address=Address("1500001", "大阪府", "大阪市", "北区1-1"))
    channel.put(channel_order(n(1), member=False, status=300, confirmed_at=T0, buyer=wrong))
    import_orders(ctx)
    assert reasons(load(ctx, n(1))) == ["郵便番号:郵便番号と住所を確認"]
    assert postal_code_valid("150-0001", "東京都")
    assert not postal_code_valid("0000000", "")
    assert not postal_code_valid("12345", "")


def test_next_business_day_skips_weekends_and_holidays():
    assert next_business_day(date(2026, 11, 20)) == date(2026, 11, 24)  # Fri → Tue (23rd holiday)
    assert next_business_day(date(2026, 11, 24)) == date(2026, 11, 25)


def test_a_hold_that_ran_its_time_does_not_come_back(store, channel, clock):
    # given a rule that holds every order for 6 hours
    rules = compile_rules([{"name": "様子見", "when": {"field": "gift", "op": "is_false"},
                            "then": [{"hold": {"for": "6h"}}]}])
    ctx = ShopContext(Config(shop_id="shop", rules=rules), store, channel, clock)
    channel.put(channel_order(n(1), member=False, status=300, confirmed_at=T0))
    import_orders(ctx)
    clock.set(T0 + timedelta(hours=7))
    assert release_holds(ctx) == 1
    # when the rules run again (a new order of the same buyer arrives)
    channel.put(channel_order(n(2), member=False, status=300, confirmed_at=T0,
                              ordered_at=T0 + timedelta(hours=7)))
    clock.set(T0 + timedelta(hours=7, minutes=1))
    import_orders(ctx)
    # then the first order is not held again
    assert load(ctx, n(1)).stage is Stage.ready


def test_a_date_hold_is_not_taken_back_when_its_condition_stops_holding(ctx, channel, clock):
    # given an order held until 3 days before its delivery date (rule: more than 5 days away)
    channel.put(channel_order(n(1), member=False, status=300, confirmed_at=T0,
                              requested_delivery_date=date(2026, 12, 6)))
    import_orders(ctx)
    (hold,) = [g for g in load(ctx, n(1)).open_gates if g.kind is GateKind.hold]
    # when, 2 days later, the rules run again and the date is no longer 5 days away
    clock.set(T0 + timedelta(days=2))
    channel.put(replace(channel.orders[n(1)], amounts=replace(
        channel.orders[n(1)].amounts, total=3000)))
    sync_orders(ctx)
    # then the hold is still there, until its own time
    assert any(g.kind is GateKind.hold and g.seq == hold.seq
               for g in load(ctx, n(1)).open_gates)


def test_wrapping_comes_from_the_rms_wrapping_models():
    from datetime import datetime

    from unyo.adapters.rakuten.mapping import channel_order_from_rms
    from unyo.clock import JST
    from unyo.domain import ImportOrder
    from unyo.domain.rules import FIELDS, Facts, RuleInput
    from unyo.sandbox.generator import generate_orders

    generated = generate_orders(200, seed=5, start=datetime(2026, 11, 26, tzinfo=JST),
                                end=datetime(2026, 11, 27, tzinfo=JST))
    wrapped = [o for o in generated if o.model.get("WrappingModel1")]
    assert wrapped
    for g in generated:
        order = decide(None, ImportOrder("s", channel_order_from_rms(g.model), T0)).order
        value = FIELDS["wrapping"].get(RuleInput(order, Facts(), T0))
        assert value is bool(g.model.get("WrappingModel1") or g.model.get("WrappingModel2"))


def test_remarks_changed_at_rms_re_run_the_rules_without_a_change_gate(ctx, channel, clock):
    # given an imported, paid order without remarks: ready
    channel.put(channel_order(n(1), member=False, status=300, confirmed_at=T0))
    import_orders(ctx)
    assert load(ctx, n(1)).stage is Stage.ready
    # when the buyer's request is added to 備考欄 in RMS
    channel.put(replace(channel.orders[n(1)], remarks="[メッセージ:]\n午前中に届けてください"))
    clock.set(T0 + minutes(10))
    assert sync_orders(ctx).changed == 1
    # then the remarks rule asks a person, and no 注文内容変更 gate is opened
    order = load(ctx, n(1))
    assert [g.reason for g in order.open_gates] == ["備考欄を確認"]
    assert order.channel.remarks.endswith("午前中に届けてください")
