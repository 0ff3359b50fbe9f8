"""RMS OrderModel → ChannelOrder, and the RMS datetime format."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.adapters.rakuten.rms_samples import order_model
from unyo.adapters.rakuten import mapping
from unyo.adapters.rakuten.errors import MappingError
from unyo.adapters.rakuten.mapping import (
    CARRIERS,
    channel_order_from_rms,
    format_rms_datetime,
    parse_rms_datetime,
)
from unyo.clock import JST
from unyo.domain import NOT_FIXED, OrderType


def test_a_full_model_maps_every_field() -> None:
    order = channel_order_from_rms(order_model())

    assert order.order_number == "123456-20261127-0000000001"
    assert order.status == 100
    assert order.ordered_at == datetime(2026, 11, 27, 10, 15, 30, tzinfo=JST)
    assert order.order_type is OrderType.normal
    assert (order.member, order.next_day, order.next_day_cert, order.gift) == (
        True, False, False, False)
    assert order.buyer.name == "楽天 太郎"
    assert order.buyer.family_name_kana == "ラクテン"
    assert order.buyer.phone == "03-1234-5678"
    assert order.buyer.address.postal_code == "1580094"
    assert order.buyer.address.sub_address == "玉川1-14-1"
    assert order.buyer.email.endswith("@pc.fw.rakuten.ne.jp")
    assert order.payment.method_code == 1
    assert order.payment.method_name == "クレジットカード"
    assert order.payment.rakuten_pay is True
    a = order.amounts
    assert (a.goods, a.postage, a.delivery, a.payment_charge, a.total, a.request) == (
        3300, 600, 0, 0, 3900, 3700)
    assert (a.coupon, a.points_used) == (100, 100)
    assert order.remarks.startswith("[配送日時指定:]")
    assert order.requested_delivery_date == date(2026, 11, 30)
    assert order.shipping_term == "1416"
    assert order.delivery_name == "宅配便"
    assert order.confirmed_at is None
    assert order.memo == ""
    assert order.sub_status_id is None
    assert order.extra["cancelDueDate"] == "2026-12-11"
    (package,) = order.packages
    assert package.basket_id == 10746402
    assert package.recipient.name == "山田 花子"
    assert package.recipient.address.postal_code == "5300001"
    assert package.recipient.phone == "06-1111-2222"
    assert package.recipient.email == ""
    assert (package.goods_price, package.postage_price, package.delivery_price,
            package.total_price) == (3300, 600, 0, 3900)
    assert package.noshi == ""
    assert package.shipments == ()
    (item,) = package.items
    assert item.item_detail_id == 555001
    assert (item.item_number, item.manage_number, item.name) == ("mikan-5", "mikan", "みかん 5kg")
    assert (item.price, item.units, item.tax_rate) == (3300, 1, 0.08)
    assert item.selected_choice == "サイズ:L"
    assert item.sku == "MIKAN-5-L"
    assert item.delivery_info == "12月上旬発送"


def test_flags_order_type_and_confirmation_are_mapped() -> None:
    model = order_model(orderType=6, asurakuFlag=1, deliveryCertPrgFlag=1, giftCheckFlag=1,
                        rakutenMemberFlag=0, isolatedIslandFlag=1, subStatusId=12,
                        shopOrderCfmDatetime="2026-11-27T11:00:00+0900", memo="電話済")

    order = channel_order_from_rms(model)

    assert order.order_type is OrderType.reservation
    assert (order.next_day, order.next_day_cert, order.gift, order.member) == (
        True, True, True, False)
    assert order.isolated_island is True
    assert order.sub_status_id == 12
    assert order.confirmed_at == datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    assert order.memo == "電話済"
    assert order.self_cancellable is False


def test_shipments_are_mapped_from_the_shipping_model_list() -> None:
    model = order_model()
    model["PackageModelList"][0]["ShippingModelList"] = [
        {"shippingDetailId": 77, "shippingNumber": "123456789012", "deliveryCompany": "1001",
         "deliveryCompanyName": "ヤマト運輸", "shippingDate": "2026-11-28"},
        {"shippingDetailId": 78, "shippingNumber": None, "deliveryCompany": "1002",
         "shippingDate": None},
    ]

    shipments = channel_order_from_rms(model).packages[0].shipments

    assert [(s.shipping_detail_id, s.carrier_code, s.tracking_number, s.ship_date)
            for s in shipments] == [(77, "1001", "123456789012", date(2026, 11, 28)),
                                    (78, "1002", "", None)]


def test_not_fixed_amounts_are_kept() -> None:
    model = order_model(postagePrice=NOT_FIXED, totalPrice=NOT_FIXED, requestPrice=NOT_FIXED)
    model["PackageModelList"][0]["postagePrice"] = NOT_FIXED

    order = channel_order_from_rms(model)

    assert order.amounts.postage == NOT_FIXED
    assert order.amounts.any_not_fixed is True
    assert order.packages[0].postage_price == NOT_FIXED


def test_nulls_rms_sends_become_empty_values() -> None:
    model = order_model(remarks=None, deliveryDate=None, shippingTerm=None,
                        couponAllTotalPrice=None, PointModel=None, DeliveryModel=None)
    sender = model["PackageModelList"][0]["SenderModel"]
    sender.update(firstName=None, familyNameKana=None, firstNameKana=None, phoneNumber3=None)
    item = model["PackageModelList"][0]["ItemModelList"][0]
    item.update(SkuModelList=None, selectedChoice=None, taxRate=None, itemNumber=None)
    model["PackageModelList"][0]["ShippingModelList"] = None

    order = channel_order_from_rms(model)

    assert (order.remarks, order.requested_delivery_date, order.shipping_term) == ("", None, "")
    assert (order.amounts.coupon, order.amounts.points_used, order.delivery_name) == (0, 0, "")
    recipient = order.packages[0].recipient
    assert (recipient.name, recipient.first_name_kana, recipient.phone) == (
        "山田", "", "06-1111")
    mapped = order.packages[0].items[0]
    assert (mapped.sku, mapped.selected_choice, mapped.tax_rate, mapped.item_number) == (
        "", "", None, "")
    assert order.packages[0].shipments == ()


def test_hostile_text_is_kept_verbatim() -> None:
    hostile = "<script>alert(1)</script>\r\nBcc: x@example.com\n=HYPERLINK(\"http://x\")"
    model = order_model(remarks=hostile)
    model["OrdererModel"]["familyName"] = hostile
    model["PackageModelList"][0]["ItemModelList"][0]["selectedChoice"] = hostile

    order = channel_order_from_rms(model)

    assert order.remarks == hostile
    assert order.buyer.family_name == hostile
    assert order.packages[0].items[0].selected_choice == hostile


def test_unknown_extra_keys_are_ignored() -> None:
    model = order_model(brandNewFlag=1, SomeFutureModel={"x": [1, 2]})
    model["PackageModelList"][0]["ItemModelList"][0]["futureKey"] = "?"
    model["OrdererModel"]["futureKey"] = None

    assert channel_order_from_rms(model) == channel_order_from_rms(order_model())


@pytest.mark.parametrize(("key", "path"), [
    ("orderProgress", "orderProgress is missing"),
    ("orderDatetime", "orderDatetime is missing"),
    ("orderType", "orderType is missing"),
    ("SettlementModel", "SettlementModel is missing"),
    ("OrdererModel", "OrdererModel is missing"),
    ("PackageModelList", "PackageModelList is missing"),
    ("goodsPrice", "goodsPrice is missing"),
    ("requestPrice", "requestPrice is missing"),
    ("paymentCharge", "paymentCharge is missing"),
])
def test_a_missing_required_key_is_named(key: str, path: str) -> None:
    model = order_model()
    del model[key]

    with pytest.raises(MappingError, match=f"123456-20261127-0000000001: {path}"):
        channel_order_from_rms(model)


def test_a_missing_order_number_is_a_mapping_error() -> None:
    model = order_model()
    del model["orderNumber"]

    with pytest.raises(MappingError, match="orderNumber is missing"):
        channel_order_from_rms(model)


@pytest.mark.parametrize(("change", "reason"), [
    ({"orderProgress": "abc"}, "orderProgress is not an integer"),
    ({"orderDatetime": "27/11/2026"}, "orderDatetime is not a datetime"),
    ({"orderType": 3}, "orderType 3 is not one of 1, 4, 5, 6"),
    ({"totalPrice": None}, "totalPrice is null"),
    ({"SettlementModel": {"settlementMethod": "x"}},
     "SettlementModel.settlementMethodCode is missing"),
    ({"PackageModelList": []}, "PackageModelList is empty"),
    ({"deliveryDate": "soon"}, "deliveryDate is not a date"),
])
def test_malformed_values_are_named(change: dict[str, object], reason: str) -> None:
    model = order_model(**change)

    with pytest.raises(MappingError, match=reason):
        channel_order_from_rms(model)


def test_nested_errors_name_the_path() -> None:
    model = order_model()
    del model["PackageModelList"][0]["ItemModelList"][0]["price"]

    with pytest.raises(MappingError, match=r"PackageModelList\[0\]\.ItemModelList\[0\]\.price"):
        channel_order_from_rms(model)


def test_a_missing_recipient_name_names_the_sender_model() -> None:
    model = order_model()
    del model["PackageModelList"][0]["SenderModel"]["familyName"]

    with pytest.raises(MappingError, match=r"PackageModelList\[0\]\.SenderModel\.familyName"):
        channel_order_from_rms(model)


def test_mapping_error_carries_number_and_reason() -> None:
    model = order_model(orderProgress=None)

    with pytest.raises(MappingError) as info:
        channel_order_from_rms(model)

    assert (info.value.order_number, info.value.reason) == (
        "123456-20261127-0000000001", "orderProgress is null")


def test_ten_thousand_orders_map_to_distinct_orders() -> None:
    # (the mapping's speed is measured in bench/import.py, not asserted here)
    models = [order_model(f"123456-20261127-{i:010d}") for i in range(10_000)]
    orders = [channel_order_from_rms(m) for m in models]
    assert len({o.order_number for o in orders}) == 10_000
    assert orders[-1].order_number == "123456-20261127-0000009999"


def test_rms_datetime_format_is_exact_and_in_jst() -> None:
    utc = datetime(2026, 11, 27, 15, 30, 5, 123456, tzinfo=UTC)

    assert format_rms_datetime(utc) == "2026-11-28T00:30:05+0900"
    assert format_rms_datetime(datetime(2026, 1, 2, 3, 4, 5, tzinfo=JST)) == (
        "2026-01-02T03:04:05+0900")
    other = timezone(timedelta(hours=-5))
    assert format_rms_datetime(datetime(2026, 1, 1, 10, 0, tzinfo=other)) == (
        "2026-01-02T00:00:00+0900")


def test_format_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_rms_datetime(datetime(2026, 1, 1))


def test_parse_rms_datetime_is_aware_jst_and_round_trips() -> None:
    parsed = parse_rms_datetime("2026-11-27T10:15:30+0900")

    assert parsed.utcoffset() == timedelta(hours=9)
    assert parsed == datetime(2026, 11, 27, 1, 15, 30, tzinfo=UTC)
    assert format_rms_datetime(parsed) == "2026-11-27T10:15:30+0900"
    assert parse_rms_datetime("2026-11-27T01:15:30Z") == parsed
    assert parse_rms_datetime("2026-11-27T10:15:30") == parsed


def test_carrier_table_holds_the_documented_codes() -> None:
    assert len(CARRIERS) == 32
    assert CARRIERS["1001"] == "ヤマト運輸"
    assert CARRIERS["1031"] == "名鉄NX運輸"
    assert set(CARRIERS) == {str(c) for c in range(1000, 1032)}


# --- fast path and validating readers agree -------------------------------------------------


def _strict(model: dict[str, Any]) -> Any:
    return mapping._channel_order(model, model["orderNumber"])


def _assert_same(model: dict[str, Any]) -> None:
    """The public mapping (fast path or fallback) gives what the validating readers give."""
    before = copy.deepcopy(model)
    mapped = channel_order_from_rms(model)
    strict = _strict(model)
    assert mapped == strict
    assert mapped.extra == strict.extra
    assert model == before


def test_generated_orders_map_the_same_on_the_fast_path() -> None:
    from unyo.sandbox.generator import generate_orders

    orders = generate_orders(300, seed=7, start=datetime(2026, 11, 26, tzinfo=JST),
                             end=datetime(2026, 12, 3, tzinfo=JST))
    for generated in orders:
        model = generated.model
        fast = mapping._fast_channel_order(model, model["orderNumber"])
        assert fast == _strict(model)
        assert fast.extra == _strict(model).extra


def test_the_sample_with_shipments_and_confirmation_maps_the_same_on_the_fast_path() -> None:
    model = order_model(shopOrderCfmDatetime="2026-11-27T11:00:00+0900", subStatusId=12,
                        memo="電話済", giftCheckFlag=1)
    model["PackageModelList"][0]["ShippingModelList"] = [
        {"shippingDetailId": 77, "shippingNumber": "123456789012", "deliveryCompany": "1001",
         "shippingDate": "2026-11-28"},
        {"shippingDetailId": None, "shippingNumber": None, "deliveryCompany": 1002,
         "shippingDate": ""},
    ]

    fast = mapping._fast_channel_order(model, model["orderNumber"])

    assert fast == _strict(model)
    assert fast.packages[0].shipments[1].carrier_code == "1002"


def _set(path: str, value: Any) -> Any:
    """A change to apply to order_model(): `a.b[0].c` = value; value `...` deletes the key."""
    def change(model: dict[str, Any]) -> None:
        *parents, last = path.replace("]", "").replace("[", ".").split(".")
        node: Any = model
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is ...:
            del node[last]
        else:
            node[last] = value
    return change


_ITEM = "PackageModelList.0.ItemModelList.0."
_SENDER = "PackageModelList.0.SenderModel."


@pytest.mark.parametrize("change", [
    _set("orderProgress", "100"),
    _set("orderType", "4"),
    _set("goodsPrice", 3300.0),
    _set("couponAllTotalPrice", None),
    _set("couponAllTotalPrice", ...),
    _set("couponAllTotalPrice", "100"),
    _set("PointModel", {"usedPoint": None}),
    _set("PointModel", {"usedPoint": "50"}),
    _set("PointModel", []),
    _set("subStatusId", "12"),
    _set("rakutenMemberFlag", "1"),
    _set("rakutenMemberFlag", True),
    _set("rakutenMemberFlag", [1]),
    _set("asurakuFlag", 1.0),
    _set("giftCheckFlag", "0"),
    _set("shippingTerm", 0),
    _set("shippingTerm", None),
    _set("remarks", ...),
    _set("deliveryDate", ""),
    _set("deliveryDate", "2026-11-30T00:00:00+0900"),
    _set("shopOrderCfmDatetime", ""),
    _set("shopOrderCfmDatetime", "2026-11-27T02:00:00Z"),
    _set("orderDatetime", "2026-11-27T10:15:30"),
    _set("DeliveryModel", "宅配便"),
    _set("DeliveryModel", {"deliveryName": None}),
    _set("SettlementModel.settlementMethodCode", "1"),
    _set("SettlementModel.rpaySettlementFlag", None),
    _set("OrdererModel.phoneNumber2", None),
    _set("OrdererModel.zipCode1", 158),
    _set("OrdererModel.emailAddress", ...),
    _set(_SENDER + "isolatedIslandFlag", "1"),
    _set(_SENDER + "firstName", ...),
    _set("PackageModelList.0.basketId", "10746402"),
    _set("PackageModelList.0.noshi", 0),
    _set("PackageModelList.0.ShippingModelList", ...),
    _set(_ITEM + "price", "3300"),
    _set(_ITEM + "units", 1.0),
    _set(_ITEM + "itemDetailId", None),
    _set(_ITEM + "itemDetailId", "555001"),
    _set(_ITEM + "taxRate", 1),
    _set(_ITEM + "taxRate", "0.08"),
    _set(_ITEM + "taxRate", True),
    _set(_ITEM + "SkuModelList", []),
    _set(_ITEM + "SkuModelList", ["x"]),
    _set(_ITEM + "SkuModelList", [{"merchantDefinedSkuId": 12}]),
    _set(_ITEM + "itemNumber", 123),
])
def test_values_the_fast_path_leaves_to_the_readers_map_the_same(change: Any) -> None:
    model = order_model()
    change(model)

    _assert_same(model)


@pytest.mark.parametrize(("change", "reason"), [
    (_set("orderType", True), "orderType is not an integer: True"),
    (_set("orderProgress", False), "orderProgress is not an integer: False"),
    (_set(_ITEM + "price", True), r"ItemModelList\[0\]\.price is not an integer: True"),
    (_set(_ITEM + "itemName", None), r"ItemModelList\[0\]\.itemName is null"),
    (_set(_ITEM + "taxRate", "8%"), r"ItemModelList\[0\]\.taxRate is not a number"),
    (_set("PackageModelList.0.ItemModelList", None),
     r"PackageModelList\[0\]\.ItemModelList is null"),
    (_set("PackageModelList.0.ItemModelList", [[]]),
     r"PackageModelList\[0\]\.ItemModelList\[0\] is not an object"),
    (_set("PackageModelList.0.ShippingModelList", {}),
     r"PackageModelList\[0\]\.ShippingModelList is not a list"),
    (_set("PackageModelList.0.ShippingModelList", [{"shippingDate": "soon"}]),
     r"ShippingModelList\[0\]\.shippingDate is not a date"),
    (_set("PackageModelList.0.SenderModel", "x"), r"PackageModelList\[0\]\.SenderModel is not"),
    (_set("PointModel", {"usedPoint": "many"}), r"PointModel\.usedPoint is not an integer"),
    (_set("shopOrderCfmDatetime", 1), "shopOrderCfmDatetime is not a string: 1"),
    (_set("subStatusId", "x"), "subStatusId is not an integer"),
    (_set("OrdererModel.familyName", 1), r"OrdererModel\.familyName is not a string"),
    (_set("SettlementModel", []), "SettlementModel is not an object"),
])
def test_what_the_fast_path_refuses_is_named_by_the_readers(change: Any, reason: str) -> None:
    model = order_model()
    change(model)

    with pytest.raises(MappingError, match=reason):
        channel_order_from_rms(model)
