"""注文確認 decided after the rules: `confirm: wait`, postage -9999, and Rakuten's 14 days."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import T0, channel_order, minutes
from unyo.clock import JST
from unyo.domain import (
    NOT_FIXED,
    Actor,
    CloseGate,
    Decision,
    EffectKind,
    EventType,
    GateKind,
    ImportOrder,
    Order,
    SyncOrder,
    decide,
)
from unyo.domain.confirmation import REASON_POSTAGE, auto_cancel
from unyo.domain.decide import REASON_CHANGED, ApplyRules, mergeable
from unyo.domain.rules import Facts, RuleError, compile_rules

ALWAYS = {"field": "destination_count", "op": "ge", "value": 1}
WAIT = compile_rules([{"name": "離島送料", "when": ALWAYS,
                       "then": [{"confirm": {"wait": True, "reason": "離島の送料を確定"}}]}])


def rules(then: list[dict[str, Any]], when: dict[str, Any] = ALWAYS) -> Any:
    return compile_rules([{"name": "注文確認保留", "when": when, "then": then}])


def ruled(d: Decision, rules_: Any = (), at: datetime = T0) -> Decision:
    return d.and_then(ApplyRules(rules_, Facts(), at, lambda day: day))


def imported(rules_: Any = (), **kw: Any) -> Decision:
    kw.setdefault("member", False)
    return ruled(decide(None, ImportOrder("shop", channel_order(**kw), T0)), rules_)


def confirms(d: Decision) -> list[str]:
    return [e.dedupe_key for e in d.effects if e.kind is EffectKind.confirm_order]


def confirm_gates(order: Order) -> list[str]:
    return [g.reason for g in order.open_gates if g.kind is GateKind.confirm]


def test_the_import_alone_never_confirms_the_rules_pass_does():
    d = decide(None, ImportOrder("shop", channel_order(), T0))
    assert confirms(d) == [] and d.order.confirm_due
    after = ruled(d)
    assert len(confirms(after)) == 1
    assert not after.order.confirm_due
    requested = [e for e in after.events if e.type is EventType.confirm_requested]
    assert [(e.actor, e.data) for e in requested] == [(Actor.system, {"after": "rules"})]


def test_confirm_wait_keeps_confirm_order_back_until_a_person_releases_it():
    d = imported(WAIT)
    assert confirms(d) == []
    assert confirm_gates(d.order) == ["離島の送料を確定"]
    (gate,) = [g for g in d.order.open_gates if g.kind is GateKind.confirm]
    assert gate.rule == "離島送料"
    # the rules again (a sync) change nothing: still waiting
    assert confirms(ruled(Decision(d.order), WAIT)) == []
    released = decide(d.order, CloseGate(None, T0 + minutes(5), Actor.person, "送料OK",
                                         seq=gate.seq, by="sato"))
    assert len(confirms(released)) == 1
    (event,) = [e for e in released.events if e.type is EventType.confirm_requested]
    assert (event.actor, event.data) == (Actor.person, {"after": "released", "by": "sato"})
    # the rule still holds, but a person released it: not kept back again, not sent again
    again = ruled(Decision(released.order), WAIT, T0 + minutes(6))
    assert confirms(again) == [] and confirm_gates(again.order) == []


def test_confirm_wait_shorthand_shows_the_rule_name():
    d = imported(rules([{"confirm": "wait"}]))
    assert confirm_gates(d.order) == ["注文確認保留"]


def test_confirm_wait_on_an_order_rms_has_confirmed_opens_nothing():
    d = imported(WAIT, status=300, confirmed_at=T0)
    assert confirm_gates(d.order) == [] and confirms(d) == []


def test_a_rule_that_no_longer_holds_lets_the_confirmation_go():
    wait_for_remarks = rules([{"confirm": {"wait": True, "reason": "備考を確認"}}],
                             {"field": "remarks", "op": "not_empty"})
    d = imported(wait_for_remarks, remarks="離島です")
    assert confirm_gates(d.order) == ["備考を確認"]
    channel = replace(d.order.channel, remarks="")
    synced = ruled(decide(d.order, SyncOrder(channel, T0 + minutes(5))), wait_for_remarks)
    assert confirm_gates(synced.order) == [] and len(confirms(synced)) == 1


def test_postage_not_fixed_waits_and_is_confirmed_once_the_sync_sees_it_set():
    d = imported(postage=NOT_FIXED, total=NOT_FIXED)
    assert confirms(d) == []
    assert confirm_gates(d.order) == [REASON_POSTAGE]
    assert d.order.confirm_due
    fixed = channel_order(member=False, postage=600, total=4580)
    synced = ruled(decide(d.order, SyncOrder(fixed, T0 + minutes(20))))
    assert len(confirms(synced)) == 1
    (gate,) = [g for g in synced.order.gates if g.kind is GateKind.confirm]
    assert (gate.closed_by, gate.close_note) == (Actor.system, "送料が確定しました")
    # the postage it waited for is no change to look at; nothing failed
    assert REASON_CHANGED not in [g.reason for g in synced.order.open_gates]
    assert EventType.effect_failed not in [e.type for e in synced.events]


def test_postage_on_a_destination_counts_too():
    d = imported()
    pkg = replace(d.order.channel.packages[0], postage_price=NOT_FIXED)
    base = decide(None, ImportOrder("shop", replace(d.order.channel, packages=(pkg,)), T0))
    assert confirms(ruled(base)) == [] and confirm_gates(ruled(base).order) == [REASON_POSTAGE]


def test_a_person_who_lets_a_postage_wait_go_on_sends_nothing_until_it_is_set():
    d = imported(postage=NOT_FIXED, total=NOT_FIXED)
    (gate,) = [g for g in d.order.open_gates if g.kind is GateKind.confirm]
    released = decide(d.order, CloseGate(None, T0, Actor.person, "後で", seq=gate.seq))
    assert confirms(released) == []
    again = ruled(Decision(released.order), at=T0 + minutes(5))
    assert confirm_gates(again.order) == [] and confirms(again) == []  # not asked again
    fixed = channel_order(member=False, postage=600, total=4580)
    assert len(confirms(ruled(decide(again.order, SyncOrder(fixed, T0 + minutes(9)))))) == 1


def test_confirmed_in_rms_meanwhile_closes_the_wait_and_sends_nothing():
    d = imported(WAIT)
    by_hand = replace(d.order.channel, status=200, confirmed_at=T0 + minutes(3))
    synced = ruled(decide(d.order, SyncOrder(by_hand, T0 + minutes(5))), WAIT)
    assert confirms(synced) == [] and confirm_gates(synced.order) == []
    assert not synced.order.confirm_due


def test_an_order_still_to_confirm_is_not_merged_away():
    d = imported(WAIT)
    assert "not confirmed at RMS" in (mergeable(d.order) or "")
    assert mergeable(imported().order) is None


def test_the_same_decision_twice_is_the_same_effect():
    a, b = imported(), imported()
    assert confirms(a) == confirms(b) != []


@pytest.mark.parametrize(("path", "action"), [
    ("rules[0].then[0].confirm", {"confirm": "later"}),
    ("rules[0].then[0].confirm", {"confirm": {"reason": "x"}}),
    ("rules[0].then[0].confirm.until", {"confirm": {"wait": True, "until": "x"}}),
    ("rules[0].then[0].confirm.reason", {"confirm": {"wait": True, "reason": 3}}),
])
def test_confirm_action_mistakes_name_the_key(path: str, action: dict[str, Any]):
    with pytest.raises(RuleError, match=path.replace("[", r"\[").replace("]", r"\]")):
        compile_rules([{"name": "r", "when": ALWAYS, "then": [action]}])


@pytest.mark.parametrize(("now", "days", "text"), [
    (datetime(2026, 11, 27, 23, 0, tzinfo=JST), 14, "自動キャンセルまで残り14日"),
    (datetime(2026, 12, 1, 0, 30, tzinfo=JST), 10, "自動キャンセルまで残り10日"),
    (datetime(2026, 12, 10, 15, 1, tzinfo=JST), 1, "自動キャンセルまで残り1日"),
    (datetime(2026, 12, 11, 9, 0, tzinfo=JST), 0, "本日自動キャンセル予定（注文確認してください）"),
])
def test_days_left_before_rakutens_14_day_cancel_count_jst_calendar_days(now, days, text):
    order = imported(postage=NOT_FIXED, total=NOT_FIXED).order  # ordered 2026-11-27 10:00 JST
    left = auto_cancel(order, now)
    assert left is not None and (left.days_left, left.text) == (days, text)
    assert left.on.isoformat() == "2026-12-11"


def test_days_left_only_for_orders_at_100():
    assert auto_cancel(imported(status=300, confirmed_at=T0).order, T0) is None
    order = imported().order
    assert auto_cancel(replace(order, rms_status=200), T0) is None


# ---- the property ----------------------------------------------------------------------

PAYMENTS = [(1, True), (2, False), (9, False), (21, False)]  # card / 代引き / 振込 / 後払い
STATUSES = ["100", "300 confirmed", "300 unconfirmed"]


@settings(max_examples=300, deadline=None)
@given(payment=st.sampled_from(PAYMENTS), fixed=st.booleans(), wait=st.booleans(),
       status=st.sampled_from(STATUSES), release_first=st.booleans(),
       resync=st.integers(0, 2))
def test_confirmation_is_sent_once_iff_postage_fixed_no_wait_and_needed(
        payment: tuple[int, bool], fixed: bool, wait: bool, status: str,
        release_first: bool, resync: int) -> None:
    method, rakuten_pay = payment
    if status == "300 unconfirmed" and rakuten_pay:
        status = "100"  # only 選択制決済 reaches 300 without 注文確認
    rms = 100 if status == "100" else 300
    confirmed = T0 if status == "300 confirmed" else None
    postage, total = (600, 4580) if fixed else (NOT_FIXED, NOT_FIXED)
    channel = channel_order(member=False, method=method, rakuten_pay=rakuten_pay, status=rms,
                            confirmed_at=confirmed, postage=postage, total=total)
    rules_ = WAIT if wait else ()
    needed = confirmed is None
    sent: list[str] = []

    def step(d: Decision) -> Order:
        keys = confirms(d)
        if keys:
            assert postage_is_set(d.order), "confirmOrder sent with postage -9999"
        sent.extend(keys)
        return d.order

    # when: imported; the import alone decides nothing about the confirmation
    d = decide(None, ImportOrder("shop", channel, T0))
    assert confirms(d) == []
    # then, once the rules ran: sent iff needed, postage fixed and no wait
    order = step(ruled(d, rules_))
    assert len(sent) == (1 if needed and fixed and not wait else 0)
    assert sorted(confirm_gates(order)) == sorted(
        ([REASON_POSTAGE] if needed and not fixed else [])
        + (["離島の送料を確定"] if needed and wait else []))

    def sync_postage(order: Order, at: datetime) -> Order:
        new = replace(channel, amounts=replace(channel.amounts, postage=600, total=4580,
                                               request=4580),
                      packages=(replace(channel.packages[0], postage_price=600,
                                        goods_price=3980, total_price=4580),))
        return step(ruled(decide(order, SyncOrder(new, at)), rules_, at))

    def release(order: Order, at: datetime) -> Order:
        gates = [g for g in order.open_gates if g.kind is GateKind.confirm and g.rule]
        for g in gates:
            order = step(decide(order, CloseGate(None, at, Actor.person, "OK", seq=g.seq)))
        return order

    at = T0 + minutes(10)
    for act in ([release, sync_postage] if release_first else [sync_postage, release]):
        if act is sync_postage and fixed:
            continue
        order = act(order, at)
        at += minutes(10)
        for _ in range(resync):  # more syncs and rules passes change nothing
            order = step(ruled(Decision(order), rules_, at))
            at += minutes(10)
    # finally: exactly once if it was needed, never otherwise; nothing left waiting
    assert len(sent) == (1 if needed else 0)
    assert len(set(sent)) == len(sent)
    assert confirm_gates(order) == []
    assert not order.confirm_due


def postage_is_set(order: Order) -> bool:
    return order.channel.amounts.postage != NOT_FIXED and all(
        p.postage_price != NOT_FIXED for p in order.channel.packages)


def test_jst_days_use_the_order_date(tmp_path: Any) -> None:
    late = imported(ordered_at=datetime(2026, 11, 27, 23, 59, tzinfo=JST)).order
    left = auto_cancel(replace(late, rms_status=100), datetime(2026, 11, 28, 0, 1, tzinfo=JST))
    assert left is not None and left.days_left == 13
    assert left.on == (datetime(2026, 11, 27, tzinfo=JST) + timedelta(days=14)).date()
