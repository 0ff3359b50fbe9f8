"""The one module that translates RMS JSON to unyo's domain and back.

RMS keys (`orderProgress`, `PackageModelList`, ...) stop here: nothing past
`channel_order_from_rms` sees them. Facts from reference/rakuten-rms.md.

Mapping runs once per order on every poll, so it is written for speed: plain
dict look-ups, no schema library, error paths built only when an error is
raised. Text is kept verbatim — escaping hostile remarks or names is the UI's
and the mailer's job, not this module's.

Imports only `unyo.clock`, `unyo.domain` and this adapter's errors.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from unyo.adapters.rakuten.errors import MappingError
from unyo.clock import JST
from unyo.domain.order import (
    Address,
    Amounts,
    ChannelOrder,
    Item,
    Package,
    Payment,
    Person,
    Shipment,
)
from unyo.domain.vocabulary import OrderType

__all__ = [
    "CARRIERS",
    "ORDER_TYPES",
    "channel_order_from_rms",
    "format_rms_date",
    "format_rms_datetime",
    "parse_rms_date",
    "parse_rms_datetime",
]

CARRIERS: dict[str, str] = {
    "1000": "その他",
    "1001": "ヤマト運輸",
    "1002": "佐川急便",
    "1003": "日本郵便",
    "1004": "西濃運輸",
    "1005": "セイノースーパーエクスプレス",
    "1006": "福山通運",
    "1007": "名鉄運輸",
    "1008": "トナミ運輸",
    "1009": "第一貨物",
    "1010": "新潟運輸",
    "1011": "中越運送",
    "1012": "岡山県貨物運送",
    "1013": "久留米運送",
    "1014": "山陽自動車運送",
    "1015": "NXトランスポート",
    "1016": "エコ配",
    "1017": "EMS",
    "1018": "DHL",
    "1019": "FedEx",
    "1020": "UPS",
    "1021": "日本通運",
    "1022": "TNT",
    "1023": "OCS",
    "1024": "USPS",
    "1025": "SFエクスプレス",
    "1026": "Aramex",
    "1027": "SGHグローバル・ジャパン",
    "1028": "Rakuten EXPRESS",
    "1029": "日本郵便 楽天倉庫出荷",
    "1030": "ヤマト運輸 クロネコゆうパケット",
    "1031": "名鉄NX運輸",
}
"""RMS deliveryCompany codes (strings) → carrier name (reference/rakuten-rms.md; RMS
PackageModel.defaultDeliveryCompanyCode documents the same 32 codes)."""

ORDER_TYPES: dict[int, OrderType] = {
    1: OrderType.normal,
    4: OrderType.subscription,
    5: OrderType.distribution,
    6: OrderType.reservation,
}
"""RMS orderType → OrderType."""

_RMS_DATETIME = "%Y-%m-%dT%H:%M:%S+0900"

# Raw fields kept in ChannelOrder.extra (for display and diagnosis, never for decisions).
_EXTRA_KEYS = ("orderFixDatetime", "shippingInstDatetime", "shippingCmplRptDatetime",
               "cancelDueDate", "severalSenderFlag", "reserveNumber", "subStatusName",
               "modifyFlag", "cautionDisplayType")


def format_rms_datetime(dt: datetime) -> str:
    """`yyyy-MM-ddTHH:mm:ss+0900`, the only datetime form RMS accepts.

    Any aware datetime is converted to JST; a naive one is refused (its zone
    is a guess, and a wrong guess silently shifts a search window by hours).
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("format_rms_datetime needs a timezone-aware datetime")
    return dt.astimezone(JST).strftime(_RMS_DATETIME)


def parse_rms_datetime(text: str) -> datetime:
    """Parse an RMS datetime (`2026-11-27T10:00:00+0900`) to an aware JST datetime.

    Tolerant of other ISO-8601 offsets; a value without offset is taken as JST.
    """
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=JST)
    return value.astimezone(JST)


def format_rms_date(day: date) -> str:
    """`YYYY-MM-DD`."""
    return day.isoformat()


def parse_rms_date(text: str) -> date:
    """Parse an RMS date (`YYYY-MM-DD`; a datetime's date part is accepted)."""
    return date.fromisoformat(text[:10])


# --- field readers -------------------------------------------------------------------------
# Each takes the dict, the key and the dotted path of the dict (for the error message only).


class _Bad(Exception):
    """Internal: raised by the readers, turned into MappingError with the order number."""


def _fail(path: str, key: str, why: str) -> _Bad:
    return _Bad(f"{path}{key} {why}")


def _int(d: dict[str, Any], key: str, path: str) -> int:
    v = d.get(key)
    if type(v) is int:
        return v
    if v is None:
        raise _fail(path, key, "is missing" if key not in d else "is null")
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    raise _fail(path, key, f"is not an integer: {v!r:.40}")


def _opt_int(d: dict[str, Any], key: str, path: str) -> int | None:
    v = d.get(key)
    if v is None or type(v) is int:
        return v
    return _int(d, key, path)


def _int_or(d: dict[str, Any], key: str, path: str, default: int) -> int:
    v = d.get(key)
    if type(v) is int:
        return v
    if v is None:
        return default
    return _int(d, key, path)


def _flag(d: dict[str, Any], key: str) -> bool:
    v = d.get(key)
    return v == 1 or v == "1" or v is True


def _str(d: dict[str, Any], key: str, path: str) -> str:
    v = d.get(key)
    if type(v) is str:
        return v
    if v is None:
        raise _fail(path, key, "is missing" if key not in d else "is null")
    raise _fail(path, key, f"is not a string: {v!r:.40}")


def _text(d: dict[str, Any], key: str) -> str:
    """Optional text: null or absent becomes ''; numbers are stringified."""
    v = d.get(key)
    if type(v) is str:
        return v
    if v is None:
        return ""
    return str(v)


def _dict(d: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    v = d.get(key)
    if type(v) is dict:
        return v
    if v is None:
        raise _fail(path, key, "is missing" if key not in d else "is null")
    raise _fail(path, key, "is not an object")


def _list(d: dict[str, Any], key: str, path: str, *, required: bool) -> list[Any]:
    v = d.get(key)
    if type(v) is list:
        return v
    if v is None:
        if required:
            raise _fail(path, key, "is missing" if key not in d else "is null")
        return []
    raise _fail(path, key, "is not a list")


def _datetime(d: dict[str, Any], key: str, path: str) -> datetime:
    text = _str(d, key, path)
    try:
        return parse_rms_datetime(text)
    except ValueError:
        raise _fail(path, key, f"is not a datetime: {text!r:.40}") from None


def _opt_datetime(d: dict[str, Any], key: str, path: str) -> datetime | None:
    v = d.get(key)
    if v is None or v == "":
        return None
    return _datetime(d, key, path)


def _opt_date(d: dict[str, Any], key: str, path: str) -> date | None:
    v = d.get(key)
    if v is None or v == "":
        return None
    if type(v) is not str:
        raise _fail(path, key, f"is not a date: {v!r:.40}")
    try:
        return parse_rms_date(v)
    except ValueError:
        raise _fail(path, key, f"is not a date: {v!r:.40}") from None


def _opt_float(d: dict[str, Any], key: str, path: str) -> float | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        raise _fail(path, key, f"is not a number: {v!r:.40}") from None


# --- models ---------------------------------------------------------------------------------


def _person(m: dict[str, Any], path: str, *, email: bool) -> Person:
    phone = "-".join(p for p in (_text(m, "phoneNumber1"), _text(m, "phoneNumber2"),
                                 _text(m, "phoneNumber3")) if p)
    return Person(
        family_name=_str(m, "familyName", path),
        first_name=_text(m, "firstName"),
        family_name_kana=_text(m, "familyNameKana"),
        first_name_kana=_text(m, "firstNameKana"),
        phone=phone,
        address=Address(
            postal_code=_text(m, "zipCode1") + _text(m, "zipCode2"),
            prefecture=_text(m, "prefecture"),
            city=_text(m, "city"),
            sub_address=_text(m, "subAddress"),
        ),
        email=_text(m, "emailAddress") if email else "",
    )


def _item(m: dict[str, Any], path: str) -> Item:
    sku = ""
    skus = m.get("SkuModelList")
    if type(skus) is list and skus and type(skus[0]) is dict:
        sku = _text(skus[0], "merchantDefinedSkuId")
    return Item(
        item_detail_id=_opt_int(m, "itemDetailId", path),
        item_number=_text(m, "itemNumber"),
        manage_number=_text(m, "manageNumber"),
        name=_str(m, "itemName", path),
        price=_int(m, "price", path),
        units=_int(m, "units", path),
        tax_rate=_opt_float(m, "taxRate", path),
        selected_choice=_text(m, "selectedChoice"),
        sku=sku,
        delivery_info=_text(m, "delvdateInfo"),
    )


def _shipment(m: dict[str, Any], path: str) -> Shipment:
    return Shipment(
        shipping_detail_id=_opt_int(m, "shippingDetailId", path),
        carrier_code=_text(m, "deliveryCompany"),
        tracking_number=_text(m, "shippingNumber"),
        ship_date=_opt_date(m, "shippingDate", path),
    )


def _package(m: Any, path: str) -> Package:
    if type(m) is not dict:
        raise _Bad(f"{path[:-1]} is not an object")
    sender = _dict(m, "SenderModel", path)
    items_path = path + "ItemModelList"
    items = tuple(_item(_obj(x, f"{items_path}[{i}]"), f"{items_path}[{i}].")
                  for i, x in enumerate(_list(m, "ItemModelList", path, required=True)))
    ships_path = path + "ShippingModelList"
    shipments = tuple(_shipment(_obj(x, f"{ships_path}[{i}]"), f"{ships_path}[{i}].")
                      for i, x in enumerate(_list(m, "ShippingModelList", path, required=False)))
    return Package(
        basket_id=_int(m, "basketId", path),
        recipient=_person(sender, path + "SenderModel.", email=False),
        items=items,
        goods_price=_int(m, "goodsPrice", path),
        postage_price=_int(m, "postagePrice", path),
        delivery_price=_int(m, "deliveryPrice", path),
        total_price=_int(m, "totalPrice", path),
        noshi=_text(m, "noshi"),
        isolated_island=_flag(sender, "isolatedIslandFlag"),
        shipments=shipments,
    )


def _obj(x: Any, where: str) -> dict[str, Any]:
    if type(x) is not dict:
        raise _Bad(f"{where} is not an object")
    return x


def channel_order_from_rms(model: dict[str, Any]) -> ChannelOrder:
    """Translate one RMS getOrder `OrderModel` into a `ChannelOrder`.

    Raises `MappingError` naming the key (with its path, e.g.
    `PackageModelList[0].SenderModel.familyName`) when required data is
    missing or malformed. Nulls RMS is known to send (remarks, memo,
    shopOrderCfmDatetime, deliveryDate, ShippingModelList, kana...) become
    empty values; -9999 amounts are kept as NOT_FIXED. Unknown keys are
    ignored.
    """
    if type(model) is not dict:
        raise MappingError(None, "OrderModel is not an object")
    number = model.get("orderNumber")
    if type(number) is not str or not number:
        raise MappingError(None, "orderNumber is missing" if number is None
                           else f"orderNumber is not a non-empty string: {number!r:.40}")
    try:
        return _channel_order(model, number)
    except _Bad as exc:
        raise MappingError(number, str(exc)) from None


def _channel_order(m: dict[str, Any], number: str) -> ChannelOrder:
    order_type_code = _int(m, "orderType", "")
    order_type = ORDER_TYPES.get(order_type_code)
    if order_type is None:
        raise _Bad(f"orderType {order_type_code} is not one of 1, 4, 5, 6")
    settlement = _dict(m, "SettlementModel", "")
    point = m.get("PointModel")
    points_used = _int_or(point, "usedPoint", "PointModel.", 0) if type(point) is dict else 0
    delivery = m.get("DeliveryModel")
    packages = tuple(_package(p, f"PackageModelList[{i}].")
                     for i, p in enumerate(_list(m, "PackageModelList", "", required=True)))
    if not packages:
        raise _Bad("PackageModelList is empty")
    extra = {k: m[k] for k in _EXTRA_KEYS if m.get(k) is not None}
    return ChannelOrder(
        order_number=number,
        status=_int(m, "orderProgress", ""),
        ordered_at=_datetime(m, "orderDatetime", ""),
        order_type=order_type,
        member=_flag(m, "rakutenMemberFlag"),
        next_day=_flag(m, "asurakuFlag"),
        next_day_cert=_flag(m, "deliveryCertPrgFlag"),
        buyer=_person(_dict(m, "OrdererModel", ""), "OrdererModel.", email=True),
        payment=Payment(
            method_code=_int(settlement, "settlementMethodCode", "SettlementModel."),
            method_name=_text(settlement, "settlementMethod"),
            rakuten_pay=_flag(settlement, "rpaySettlementFlag"),
        ),
        amounts=Amounts(
            goods=_int(m, "goodsPrice", ""),
            postage=_int(m, "postagePrice", ""),
            delivery=_int(m, "deliveryPrice", ""),
            payment_charge=_int(m, "paymentCharge", ""),
            total=_int(m, "totalPrice", ""),
            request=_int(m, "requestPrice", ""),
            coupon=_int_or(m, "couponAllTotalPrice", "", 0),
            points_used=points_used,
        ),
        packages=packages,
        remarks=_text(m, "remarks"),
        gift=_flag(m, "giftCheckFlag"),
        isolated_island=_flag(m, "isolatedIslandFlag"),
        requested_delivery_date=_opt_date(m, "deliveryDate", ""),
        shipping_term=_text(m, "shippingTerm"),
        delivery_name=_text(delivery, "deliveryName") if type(delivery) is dict else "",
        confirmed_at=_opt_datetime(m, "shopOrderCfmDatetime", ""),
        memo=_text(m, "memo"),
        sub_status_id=_opt_int(m, "subStatusId", ""),
        extra=extra,
    )
