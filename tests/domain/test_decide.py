"""decide(): how an order moves, given what happened."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.factories import T0, channel_order, minutes
from unyo.domain import (
    Actor,
    CancelOrder,
    CloseGate,
    DomainError,
    EffectKind,
    EventType,
    GateKind,
    ImportOrder,
    OpenGate,
    RecordConfirmed,
    RecordEffectFailed,
    Stage,
    SyncOrder,
    decide,
)
from unyo.domain.decide import REASON_CHANGED, REASON_PAYMENT, ApplyRules
from unyo.domain.rules import Facts


def imported(**kw):  # type: ignore[no-untyped-def]
    d = decide(None, ImportOrder("shop", channel_order(**kw), T0))
    return d.order


def types(decision):  # type: ignore[no-untyped-def]
    return [e.type for e in decision.events]


def ruled(decision):  # type: ignore[no-untyped-def]
    """The decision followed by a rules pass without rules (what move() chains)."""
    return decision.and_then(ApplyRules((), Facts(), T0, lambda d: d))


def test_import_of_unpaid_order_opens_payment_gate_queues_thanks_and_marks_it_to_confirm():
    d = decide(None, ImportOrder("shop", channel_order(status=100), T0))
    assert d.order.stage is Stage.processing
    assert [(g.kind, g.reason) for g in d.order.open_gates] == [(GateKind.payment,
                                                                  REASON_PAYMENT)]
    assert [e.kind for e in d.effects] == [EffectKind.send_mail]  # confirmOrder: after rules
    assert d.order.confirm_due
    assert d.effects[0].payload["mail"] == "thanks"
    assert types(d)[:2] == [EventType.order_imported, EventType.gate_opened]
    assert [e.kind for e in ruled(d).effects] == [EffectKind.send_mail,
                                                  EffectKind.confirm_order]


def test_import_of_settled_confirmed_order_is_ready_at_once_and_not_confirmed_again():
    d = decide(None, ImportOrder("shop", channel_order(status=300, method=2, rakuten_pay=False,
                                                       confirmed_at=T0), T0))
    assert d.order.stage is Stage.ready
    assert d.order.open_gates == ()
    assert [e.kind for e in d.effects] == [EffectKind.send_mail]


def test_import_respects_confirm_and_mail_switches():
    d = decide(None, ImportOrder("shop", channel_order(), T0, confirm=False, thanks_mail=False))
    assert d.effects == ()
    assert not d.order.confirm_due
    assert ruled(d).effects == ()


def test_import_twice_is_refused():
    order = imported()
    with pytest.raises(DomainError, match="already imported"):
        decide(order, ImportOrder("shop", channel_order(), T0))


def test_effect_dedupe_keys_are_per_shop_and_order():
    d = ruled(decide(None, ImportOrder("s1", channel_order("123456-20261127-0000000009"), T0)))
    assert {e.dedupe_key for e in d.effects} == {
        f"confirm:s1:123456-20261127-0000000009:{d.order.fingerprint}",
        "mail:thanks:s1:123456-20261127-0000000009"}


def test_confirmed_moves_channel_status_to_200():
    order = imported()
    d = decide(order, RecordConfirmed(T0 + minutes(1)))
    assert d.order.rms_status == 200
    assert d.order.confirmed_at == T0 + minutes(1)
    assert d.order.channel.status == 100  # the snapshot stays what RMS last said
    assert EventType.order_confirmed in types(d)


def test_rms_300_closes_payment_gate_and_order_becomes_ready():
    order = imported()
    d = decide(order, SyncOrder(channel_order(status=300), T0 + minutes(5)))
    assert d.order.stage is Stage.ready
    closed = [g for g in d.order.gates if g.kind is GateKind.payment]
    assert closed[0].closed_by is Actor.channel
    assert types(d) == [EventType.channel_status_changed, EventType.gate_closed,
                        EventType.payment_settled, EventType.stage_changed]


def test_sync_without_change_decides_nothing():
    order = imported()
    d = decide(order, SyncOrder(channel_order(status=100), T0 + minutes(5)))
    assert not d.changed


def test_cancel_at_rms_cancels_an_order_not_handed_off():
    order = imported()
    d = decide(order, SyncOrder(channel_order(status=900), T0 + minutes(10)))
    assert d.order.stage is Stage.cancelled
    assert d.order.open_gates == ()
    assert EventType.order_cancelled in types(d)


def test_cancel_at_rms_after_hand_off_opens_a_check():
    order = replace(imported(status=300), stage=Stage.at_warehouse)
    d = decide(order, SyncOrder(channel_order(status=800), T0 + minutes(10)))
    assert d.order.stage is Stage.at_warehouse
    assert [g.kind for g in d.order.open_gates] == [GateKind.check]
    assert EventType.cancel_after_handoff in types(d)


def test_changed_amount_opens_a_check_gate_once():
    order = imported(status=300)
    changed = channel_order(status=300, total=4500, postage=520)
    d = decide(order, SyncOrder(changed, T0 + minutes(10)))
    assert d.order.stage is Stage.processing
    assert [g.reason for g in d.order.open_gates] == [REASON_CHANGED]
    again = decide(d.order, SyncOrder(changed, T0 + minutes(20)))
    assert not again.changed


def test_payment_falling_back_to_200_reopens_the_gate():
    order = decide(imported(), SyncOrder(channel_order(status=300), T0 + minutes(5))).order
    d = decide(order, SyncOrder(channel_order(status=200), T0 + minutes(30)))
    assert [g.kind for g in d.order.open_gates] == [GateKind.payment]
    assert EventType.payment_reverted in types(d)


def test_person_closes_a_check_gate_and_the_order_becomes_ready():
    order = imported(status=300)
    opened = decide(order, OpenGate(GateKind.check, "備考欄を確認", T0)).order
    assert opened.stage is Stage.processing
    d = decide(opened, CloseGate(GateKind.check, T0 + minutes(3), note="確認済"))
    assert d.order.stage is Stage.ready
    assert d.events[0].actor is Actor.person


def test_closing_a_gate_that_is_not_open_is_refused():
    with pytest.raises(DomainError, match="no such open gate"):
        decide(imported(status=300), CloseGate(GateKind.hold, T0))


def test_cancel_by_person_only_before_hand_off():
    order = imported()
    assert decide(order, CancelOrder("重複注文", T0)).order.stage is Stage.cancelled
    with pytest.raises(DomainError, match="cannot cancel"):
        decide(replace(order, stage=Stage.shipped), CancelOrder("x", T0))


def test_a_persons_cancel_goes_to_rms_once_with_the_reason_and_who():
    d = decide(imported(), CancelOrder("お客様から電話", T0, Actor.person, by="suzuki",
                                       rms_reason=8))
    (effect,) = [e for e in d.effects if e.kind is EffectKind.cancel_at_rms]
    assert effect.dedupe_key == f"rms-cancel:{d.order.shop}:{d.order.number}"
    assert effect.payload == {"order_number": d.order.number, "reason_code": 8,
                              "by": "suzuki", "note": "お客様から電話"}
    cancelled = [e for e in d.events if e.type is EventType.order_cancelled]
    assert cancelled[0].data["rms_reason"] == 8 and cancelled[0].data["by"] == "suzuki"
    # the default reason is the buyer's キャンセル (1), which does not count against the shop
    d = decide(imported(), CancelOrder("x", T0))
    assert [e.payload["reason_code"] for e in d.effects
            if e.kind is EffectKind.cancel_at_rms] == [1]
    with pytest.raises(DomainError, match="unknown RMS cancel reason"):
        decide(imported(), CancelOrder("x", T0, rms_reason=7))


def test_no_cancel_at_rms_for_the_system_or_an_order_rms_cancelled_already():
    for order, command in (
            (imported(), CancelOrder("x", T0, Actor.system)),
            (imported(), CancelOrder("x", T0, Actor.channel)),
            (replace(imported(), rms_status=800), CancelOrder("x", T0))):
        d = decide(order, command)
        assert d.order.stage is Stage.cancelled
        assert not [e for e in d.effects if e.kind is EffectKind.cancel_at_rms]
        assert "rms_reason" not in d.events[-1].data or d.events[-1].type is not \
            EventType.order_cancelled


def test_a_refused_cancel_at_rms_opens_a_check_on_the_cancelled_order():
    order = decide(imported(), CancelOrder("x", T0)).order
    d = decide(order, RecordEffectFailed(EffectKind.cancel_at_rms, "発送日が設定済み", T0))
    assert [g.reason for g in d.order.open_gates if g.kind is GateKind.check] == [
        "楽天でキャンセルできませんでした（発送日が設定済み）: RMSでキャンセルしてください"]
    assert d.order.stage is Stage.cancelled


def test_failed_effect_opens_a_check_with_the_reason():
    d = decide(imported(), RecordEffectFailed(EffectKind.confirm_order, "送料が未確定", T0))
    assert any(g.reason.startswith("注文確認に失敗: 送料が未確定") for g in d.order.open_gates)
    assert EventType.effect_failed in types(d)


def test_commands_other_than_import_need_an_order():
    with pytest.raises(DomainError, match="no order"):
        decide(None, RecordConfirmed(T0))


def test_self_cancellable_only_for_normal_member_orders_without_next_day():
    from unyo.domain import OrderType
    assert channel_order().self_cancellable
    assert not channel_order(member=False).self_cancellable
    assert not channel_order(next_day=True).self_cancellable
    assert not channel_order(order_type=OrderType.reservation).self_cancellable


def test_cash_on_delivery_at_300_without_confirmation_is_confirmed():
    d = ruled(decide(None, ImportOrder("shop", channel_order(status=300, method=2,
                                                             rakuten_pay=False), T0)))
    assert [e.kind for e in d.effects] == [EffectKind.send_mail, EffectKind.confirm_order]
    confirmed = channel_order(status=300, method=2, rakuten_pay=False, confirmed_at=T0)
    d = ruled(decide(None, ImportOrder("shop", confirmed, T0)))
    assert [e.kind for e in d.effects] == [EffectKind.send_mail]


def test_postage_fixed_after_a_refused_confirm_queues_a_new_confirm_after_the_rules():
    # an order whose confirmation was sent with -9999 postage before unyo waited for it
    # (RMS refused it: ERROR_105)
    order = replace(imported(postage=-9999, total=-9999), confirm_due=False)
    fixed = channel_order(postage=600, total=4580)
    d = decide(order, SyncOrder(fixed, T0 + minutes(30)))
    assert d.effects == () and d.order.confirm_due
    (effect,) = ruled(d).effects
    assert effect.kind is EffectKind.confirm_order
    assert effect.dedupe_key == f"confirm:shop:123456-20261127-0000000001:{d.order.fingerprint}"
    assert not ruled(decide(order, SyncOrder(fixed, T0, confirm=False))).effects


def test_changed_destination_is_a_change_too():
    from unyo.domain import Address
    order = imported(status=300)
    pkg = order.channel.packages[0]
    moved = replace(pkg, recipient=replace(pkg.recipient, address=Address(
        "9000001", "沖縄県", "那覇市", "港町1-1")))
    d = decide(order, SyncOrder(replace(order.channel, packages=(moved,)), T0 + minutes(10)))
    assert [g.reason for g in d.order.open_gates] == [REASON_CHANGED]
