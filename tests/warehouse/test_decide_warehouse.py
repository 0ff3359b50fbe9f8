"""decide(): hand-off, shipments, warehouse rejections and cancels after hand-off."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from tests.factories import BUYER, T0, channel_order, minutes
from unyo.domain import (
    DomainError,
    EffectKind,
    EventType,
    GateKind,
    HandOff,
    ImportOrder,
    Item,
    Order,
    Package,
    RecordShipment,
    RecordWarehouseRejection,
    Shipment,
    Stage,
    SyncOrder,
    decide,
)
from unyo.domain.carriers import carrier_code, normalise_tracking, tracking_problem

YAMATO = Shipment(None, "1001", "123456789012", date(2026, 11, 28))


def ready(**kw) -> Order:  # type: ignore[no-untyped-def]
    order = decide(None, ImportOrder("shop", channel_order(status=300, confirmed_at=T0, **kw),
                                     T0, confirm=False, thanks_mail=False)).order
    assert order.stage is Stage.ready
    return order.with_(id=1, version=1)


def two_packages() -> Order:
    item = Item(2, "item-002", "mochi", "切り餅", 1200, 2, 0.08)
    second = Package(10002, BUYER, (item,), 2400, 0, 0, 2400)
    base = channel_order(status=300, confirmed_at=T0)
    return ready(packages=(*base.packages, second))


def at_warehouse(order: Order) -> Order:
    return decide(order, HandOff(T0)).order


def test_hand_off_moves_a_ready_order_to_the_warehouse_with_one_request():
    d = decide(ready(), HandOff(T0))
    assert d.order.stage is Stage.at_warehouse
    assert EventType.handed_off in [e.type for e in d.events]
    [effect] = d.effects
    assert effect.kind is EffectKind.hand_off_to_warehouse
    assert effect.payload == {"order_number": d.order.number, "baskets": [10001]}


def test_hand_off_refuses_an_order_that_is_not_ready():
    order = ready().with_(stage=Stage.processing)
    with pytest.raises(DomainError, match="not ready"):
        decide(order, HandOff(T0))


def test_shipment_of_the_only_package_ships_the_order_and_queues_report_and_mail():
    order = at_warehouse(ready())
    d = decide(order, RecordShipment(10001, (YAMATO,), T0 + minutes(60), "r.csv:2"))
    assert d.order.stage is Stage.shipped
    assert d.order.channel.packages[0].shipments == (YAMATO,)
    kinds = {e.kind: e for e in d.effects}
    report = kinds[EffectKind.report_shipping]
    assert report.payload["packages"] == [
        {"basket_id": 10001, "shipments": [["1001", "123456789012", "2026-11-28"]]}]
    assert kinds[EffectKind.send_mail].dedupe_key == f"mail:shipping:shop:{order.number}"
    assert kinds[EffectKind.send_mail].payload["mail"] == "shipping"


def test_the_same_shipment_twice_changes_nothing():
    order = at_warehouse(ready())
    shipped = decide(order, RecordShipment(10001, (YAMATO,), T0)).order
    again = decide(shipped, RecordShipment(10001, (YAMATO,), T0 + minutes(5)))
    assert not again.changed and not again.effects


def test_a_changed_tracking_number_reports_again_under_a_new_key_without_a_second_mail():
    order = at_warehouse(ready())
    first = decide(order, RecordShipment(10001, (YAMATO,), T0))
    fixed = replace(YAMATO, tracking_number="210987654321")
    second = decide(first.order, RecordShipment(10001, (fixed,), T0 + minutes(5)))
    [report] = second.effects
    [old] = [e for e in first.effects if e.kind is EffectKind.report_shipping]
    assert report.kind is EffectKind.report_shipping and report.dedupe_key != old.dedupe_key
    assert second.events[0].data["changed"] is True


def test_multi_package_order_ships_when_every_package_has_and_partial_is_visible():
    order = at_warehouse(two_packages())
    half = decide(order, RecordShipment(10001, (YAMATO,), T0))
    assert half.order.stage is Stage.at_warehouse and not half.effects
    [event] = half.events
    assert event.data["partial"] is True and event.data["shipped_packages"] == 1
    sagawa = Shipment(None, "1002", "400012345678", date(2026, 11, 28))
    full = decide(half.order, RecordShipment(10002, (sagawa,), T0 + minutes(1)))
    assert full.order.stage is Stage.shipped
    [report] = [e for e in full.effects if e.kind is EffectKind.report_shipping]
    assert [p["basket_id"] for p in report.payload["packages"]] == [10001, 10002]


def test_shipment_for_an_unknown_package_or_an_order_not_handed_off_is_refused():
    with pytest.raises(DomainError, match="no package 999"):
        decide(at_warehouse(ready()), RecordShipment(999, (YAMATO,), T0))
    with pytest.raises(DomainError, match="not at the warehouse"):
        decide(ready(), RecordShipment(10001, (YAMATO,), T0))


def test_warehouse_rejection_opens_a_check_gate_once():
    order = at_warehouse(ready())
    d = decide(order, RecordWarehouseRejection(10001, "出荷不可: 欠品", T0, "r.csv:3"))
    gate = d.order.open_gate(GateKind.check)
    assert gate is not None and gate.reason == "倉庫: 出荷不可: 欠品"
    assert d.order.stage is Stage.at_warehouse
    again = decide(d.order, RecordWarehouseRejection(10001, "出荷不可: 欠品", T0, "r.csv:3"))
    assert not again.changed


def test_cancel_after_hand_off_opens_a_check_and_asks_the_warehouse_to_stop():
    order = at_warehouse(ready())
    d = decide(order, SyncOrder(replace(order.channel, status=900), T0 + minutes(5)))
    assert d.order.stage is Stage.at_warehouse
    assert d.order.open_gate(GateKind.check) is not None
    [cancel] = d.effects
    assert cancel.kind is EffectKind.cancel_at_warehouse
    assert cancel.payload == {"order_number": order.number, "baskets": [10001]}


def test_shipped_after_a_cancel_at_rms_is_recorded_but_not_reported():
    order = at_warehouse(ready())
    cancelled = decide(order, SyncOrder(replace(order.channel, status=900), T0)).order
    d = decide(cancelled, RecordShipment(10001, (YAMATO,), T0 + minutes(1)))
    assert d.order.stage is Stage.shipped and not d.effects


def test_a_re_read_keeps_the_parcels_rms_does_not_show_yet():
    order = at_warehouse(two_packages())
    half = decide(order, RecordShipment(10001, (YAMATO,), T0)).order
    reread = replace(order.channel, memo="x")  # RMS shows no shipping rows yet
    d = decide(half, SyncOrder(reread, T0 + minutes(1)))
    assert d.order.channel.packages[0].shipments == (YAMATO,)


@pytest.mark.parametrize(("text", "code"), [("1001", "1001"), ("ヤマト運輸", "1001"),
                                            ("佐川急便", "1002"), ("ゆうパック", "1003"),
                                            ("ＹＡＭＡＴＯ", "1001"), ("謎の運送", None)])
def test_carriers_are_known_by_code_or_name(text: str, code: str | None):
    assert carrier_code(text) == code


@pytest.mark.parametrize(("code", "number", "ok"), [
    ("1001", "1234-5678-9012", True), ("1001", "12345678901", False),
    ("1002", "123456789012", True), ("1003", "12345678901", True),
    ("1003", "AB123456789JP", True), ("1003", "1234567", False), ("1000", "X-1", False),
    ("1001", "１２３４５６７８９０１２", True), ("1003", "ａｂ１２３４５６７８９ｊｐ", True),
    # other scripts' digits pass \d but are not digits to RMS or a carrier
    ("1001", "١٢٣٤٥٦٧٨٩٠١٢", False), ("1001", "१२३४५६७८९०१२", False),
    ("1003", "12345678901²", False), ("1000", "①②③④⑤⑥", False), ("1000", "ßtraße1", False)])
def test_tracking_numbers_must_be_plausible_for_the_carrier(code: str, number: str, ok: bool):
    assert (tracking_problem(code, normalise_tracking(number)) is None) is ok
