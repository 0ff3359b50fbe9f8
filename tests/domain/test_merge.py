"""同梱 (merge) in the domain: who merges with whom, and how the orders move."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from tests.factories import BUYER, T0, channel_order, minutes
from unyo.domain import (
    AbsorbOrders,
    Actor,
    Address,
    CancelOrder,
    Decision,
    DomainError,
    EffectKind,
    EventType,
    GateKind,
    HandOff,
    ImportOrder,
    Item,
    MergeInto,
    OpenGate,
    Order,
    RecordShipment,
    Shipment,
    Stage,
    SyncMerged,
    SyncOrder,
    decide,
)
from unyo.domain.merge import merge_group, merge_key
from unyo.domain.order import fold


def n(i: int) -> str:
    return f"123456-20261127-{i:010d}"


def order(i: int, status: int = 300, **kw) -> Order:  # type: ignore[no-untyped-def]
    channel = channel_order(n(i), status=status, confirmed_at=T0,
                            ordered_at=T0 + minutes(i), **kw)
    channel = replace(channel, packages=(replace(channel.packages[0], basket_id=1000 + i),))
    return decide(None, ImportOrder("shop", channel, T0, confirm=False,
                                    thanks_mail=False)).order.with_(id=i, version=1)


def merge(survivor: Order, *others: Order) -> tuple[Order, list[Order]]:
    s = decide(survivor, AbsorbOrders(others, "同梱", T0 + minutes(30), "同梱")).order
    gone = [decide(o, MergeInto(survivor.number, "同梱", T0 + minutes(30))).order
            for o in others]
    return s, gone


def test_fold_ignores_width_spaces_and_hyphens():
    assert fold("神宮前１－２－３　コーポ１０１") == fold("神宮前1-2-3 コーポ101")
    assert fold("神宮前1ー2ー3") == "神宮前1-2-3"
    assert fold("コーポ") == "コーポ"  # a long vowel mark that is not a hyphen stays


def test_the_same_buyer_to_the_same_address_written_otherwise_is_one_group():
    a = order(1)
    b = order(2, buyer=replace(BUYER, family_name="髙橋 ", phone="０３ー１２３４ー５６７８"))
    b = b.with_(channel=replace(b.channel, packages=(replace(
        b.channel.packages[0], recipient=replace(BUYER, address=Address(
            "150-0001", "東京都", "渋谷区", "神宮前１－２－３"))),)))
    assert merge_key(a) == merge_key(b)
    assert [o.number for o in merge_group(b, [a, b])] == [n(1), n(2)]  # the oldest carries


@pytest.mark.parametrize("change", [
    {"packages": "elsewhere"},
    {"payment": "cod"},
    {"requested_delivery_date": date(2026, 12, 10)},
    {"gift": True},
])
def test_what_one_parcel_cannot_mix_keeps_orders_apart(change: dict[str, object]):
    a, b = order(1), order(2)
    c = b.channel
    if "packages" in change:
        other = replace(BUYER, address=replace(BUYER.address, sub_address="神宮前9-9-9"))
        c = replace(c, packages=(replace(c.packages[0], recipient=other),))
    elif "payment" in change:
        c = replace(c, payment=replace(c.payment, method_code=2))
    else:
        c = replace(c, **change)  # type: ignore[arg-type]
    assert merge_group(a, [a, b.with_(channel=c)]) == []


def test_orders_at_the_warehouse_or_with_two_destinations_are_not_merged():
    a, b = order(1), order(2)
    at_warehouse = decide(b, HandOff(T0)).order
    assert merge_group(a, [a, at_warehouse]) == []
    two = b.with_(channel=replace(b.channel, packages=(
        *b.channel.packages, replace(b.channel.packages[0], basket_id=9)))
    )
    assert merge_group(a, [a, two]) == []


def test_merge_cancels_the_merged_order_in_unyo_only_and_the_survivor_carries_it():
    a = order(1)
    b = order(2, status=200, total=5000)  # not paid yet
    s, (gone,) = merge(a, b)
    assert gone.stage is Stage.cancelled and gone.merged_into == n(1)
    assert gone.open_gates == ()
    leaving = decide(b, MergeInto(n(1), "同梱", T0))
    cancelled = next(e for e in leaving.events if e.type is EventType.order_cancelled)
    assert cancelled.data["reason"] == f"同梱: {n(1)} に統合"
    assert cancelled.data["cancel_type"] == "統合の為キャンセル"
    assert leaving.effects == ()  # nothing goes to RMS: the merge is not propagated
    assert [m.order_number for m in s.merged] == [n(2)]
    assert s.parcel_amounts.total == 3980 + 5000
    assert [i.item_number for i in s.parcel_items] == ["item-001", "item-001"]
    assert s.tags == ("同梱",)
    assert [g.reason for g in s.open_gates] == [f"入金待ち（同梱 {n(2)}）"]
    assert s.stage is Stage.processing


def test_gates_of_the_merged_order_come_along_and_a_survivor_cannot_be_cancelled():
    a = order(1)
    b = decide(order(2), OpenGate(GateKind.check, "備考欄を確認", T0)).order
    s, _ = merge(a, b)
    assert [g.reason for g in s.open_gates] == [f"同梱 {n(2)}: 備考欄を確認"]
    with pytest.raises(DomainError, match="carries merged orders"):
        decide(s, CancelOrder("やめる", T0, Actor.person))
    with pytest.raises(DomainError, match="cannot merge"):
        decide(s, MergeInto(n(3), "同梱", T0))


def test_the_merged_orders_payment_cancellation_and_change_reach_the_survivor():
    a, b = order(1), order(2, status=200)
    s, _ = merge(a, b)
    paid = decide(s, SyncMerged(replace(b.channel, status=300), T0 + minutes(40)))
    assert paid.order.stage is Stage.ready
    assert EventType.payment_settled in [e.type for e in paid.events]
    same = decide(paid.order, SyncMerged(replace(b.channel, status=300), T0 + minutes(41)))
    assert same.events == ()  # read again: nothing new
    changed = decide(paid.order, SyncMerged(replace(b.channel, status=300, amounts=replace(
        b.channel.amounts, total=9999)), T0 + minutes(42)))
    assert [g.reason for g in changed.order.open_gates] == [
        f"同梱した注文 {n(2)} の内容がRMSで変更されました"]
    gone = decide(paid.order, SyncMerged(replace(b.channel, status=900), T0 + minutes(43)))
    assert gone.order.merged == ()  # its goods leave the parcel
    (gate,) = gone.order.open_gates
    assert "キャンセルされました（900）" in gate.reason and "外しました" in gate.reason


def test_the_survivor_cancelled_at_rms_keeps_the_parcel_for_the_merged_orders():
    a, b = order(1), order(2)
    s, _ = merge(a, b)
    d = decide(s, SyncOrder(replace(a.channel, status=900), T0 + minutes(40)))
    assert d.order.stage is Stage.processing  # not cancelled: it carries order 2
    (gate,) = d.order.open_gates
    assert n(2) in gate.reason


def test_the_shipped_parcel_is_reported_for_every_order_with_one_tracking_number():
    a, b = order(1), order(2)
    s, _ = merge(a, b)
    s = decide(s, HandOff(T0 + minutes(50))).order
    parcel = (Shipment(None, "1001", "123456789012", date(2026, 11, 28)),)
    d = decide(s, RecordShipment(1001, parcel, T0 + minutes(60)))
    assert d.order.stage is Stage.shipped
    reports = [e for e in d.effects if e.kind is EffectKind.report_shipping]
    assert sorted(e.payload["order_number"] for e in reports) == [n(1), n(2)]
    mine = next(e for e in reports if e.payload["order_number"] == n(2))
    assert mine.payload["packages"] == [{"basket_id": 1002, "shipments": [
        ["1001", "123456789012", "2026-11-28"]]}]
    assert mine.payload["merged_into"] == n(1)
    mails = [e for e in d.effects if e.kind is EffectKind.send_mail]
    assert len(mails) == 1  # one shipping mail for the parcel, naming both orders
    again = decide(d.order, RecordShipment(1001, parcel, T0 + minutes(61)))
    assert again.effects == ()


def test_rules_see_the_parcel_of_a_survivor():
    from unyo.domain.rules import FIELDS, Facts, RuleInput
    a = order(1)
    b = order(2, total=5000)
    b = b.with_(channel=replace(b.channel, packages=(replace(
        b.channel.packages[0], items=(Item(2, "tea-002", "tea-002", "抹茶", 2500, 2),)),)))
    s, _ = merge(a, b)
    given = RuleInput(s, Facts(), T0)
    assert FIELDS["total"].get(given) == 3980 + 5000
    assert FIELDS["quantity"].get(given) == 3
    assert FIELDS["item_numbers"].get(given) == ["item-001", "tea-002"]
    assert Decision(s).merge == ()


# ---- what stops a merge, in words (issue 15 item 5) -------------------------------------

_APART = {"packages": "送付先の住所", "payment": "支払方法",
          "requested_delivery_date": "お届け希望日", "gift": "ギフト指定",
          "phone": "送付先の電話番号", "name": "送付先の氏名"}


def _apart(b: Order, what: str) -> Order:
    c = b.channel
    p = c.packages[0]
    if what == "packages":
        c = replace(c, packages=(replace(p, recipient=replace(BUYER, address=replace(
            BUYER.address, sub_address="神宮前9-9-9"))),))
    elif what == "phone":
        c = replace(c, packages=(replace(p, recipient=replace(BUYER, phone="0311112222")),))
    elif what == "name":
        c = replace(c, packages=(replace(p, recipient=replace(BUYER, first_name="次郎")),))
    elif what == "payment":
        c = replace(c, payment=replace(c.payment, method_code=2))
    elif what == "requested_delivery_date":
        c = replace(c, requested_delivery_date=date(2026, 12, 10))
    else:
        c = replace(c, gift=True)
    return b.with_(channel=c)


@pytest.mark.parametrize("what", list(_APART))
def test_a_blocker_names_what_differs_and_agrees_with_the_merge(what: str) -> None:
    from unyo.domain.merge import merge_blocker

    a, b = order(1), _apart(order(2), what)
    assert merge_group(a, [a, b]) == []
    assert merge_blocker(a, b) == f"注文 {n(2)} と{_APART[what]}が違う"
    assert merge_blocker(a, order(2)) is None  # the same parcel: nothing stops it
    assert merge_group(a, [a, order(2)])


def test_a_blocker_for_an_order_at_the_warehouse_but_none_for_a_passing_state() -> None:
    from unyo.domain.merge import merge_blocker

    a, b = order(1), order(2)
    assert merge_blocker(a, decide(b, HandOff(T0)).order) == f"注文 {n(2)} は倉庫に連携済み"
    waiting = b.with_(confirm_due=True)  # 注文確認 still to send: merged once it is sent
    assert merge_group(a, [a, waiting]) == [] and merge_blocker(a, waiting) is None


def test_the_merge_rule_asks_a_person_only_about_what_it_cannot_merge() -> None:
    from datetime import timedelta

    from unyo.domain.decide import REASON_MERGE_POSSIBLE, ApplyRules
    from unyo.domain.rules import Facts
    from unyo.flow.config import parse_config, render_init

    rules = parse_config(render_init("shop")).rules
    a = order(1)

    def run(o: Order, facts: Facts) -> Order:
        return decide(o, ApplyRules(rules, facts, T0, lambda d: d + timedelta(days=1))).order

    merged = run(a, Facts(other_open_orders=1, past_orders=1, postal_code_valid=True))
    assert not merged.open_gates  # mergeable: the app merges it, nobody is asked
    blocked = run(a, Facts(other_open_orders=1, past_orders=1, postal_code_valid=True,
                           merge_blockers=(f"注文 {n(2)} と送付先の住所が違う",)))
    assert [(g.rule, g.reason) for g in blocked.open_gates] == [
        ("同梱候補", f"同梱できません: 注文 {n(2)} と送付先の住所が違う")]
    again = run(blocked, Facts(other_open_orders=1, past_orders=1, postal_code_valid=True))
    assert not again.open_gates  # the other order changed: the question is taken back
    assert REASON_MERGE_POSSIBLE in [g.close_note for g in again.gates]


def test_taking_the_merge_question_back_leaves_the_rules_other_checks() -> None:
    from datetime import timedelta

    from unyo.domain.decide import ApplyRules
    from unyo.domain.rules import Facts, compile_rules

    rules = compile_rules([{"name": "同梱候補", "when": {"field": "other_open_orders", "op": "ge",
                                                     "value": 1},
                            "then": [{"check": "リピーター"},
                                     {"merge": {"unmergeable": "同梱不可: {merge_blockers}"}}]}])

    def run(o: Order, facts: Facts) -> Order:
        return decide(o, ApplyRules(rules, facts, T0, lambda d: d + timedelta(days=1))).order

    blocked = run(order(1), Facts(other_open_orders=1, merge_blockers=("注文 X は倉庫に連携済み",)))
    assert sorted(g.reason for g in blocked.open_gates) == ["リピーター",
                                                           "同梱不可: 注文 X は倉庫に連携済み"]
    again = run(blocked, Facts(other_open_orders=1))
    assert [g.reason for g in again.open_gates] == ["リピーター"]
