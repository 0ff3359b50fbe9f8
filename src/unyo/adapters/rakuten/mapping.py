"""The one module that translates RMS JSON to unyo's domain and back.

RMS keys (`orderProgress`, `PackageModelList`, ...) stop here: nothing past
`channel_order_from_rms` sees them. Facts from reference/rakuten-rms.md.

Mapping runs once per order on every poll and on every payment-sync re-read,
so it is written for speed: a fast path (`_fast_channel_order`) reads the keys
directly and accepts only values whose meaning is plain (an int where an int
is due, a str or null for text...). Anything else makes it give up, and the
validating readers (`_channel_order`) map the order again: they convert what
can be converted and name the key path of what cannot. Both must give the
same ChannelOrder for every input the fast path accepts. Text is kept
verbatim — escaping hostile remarks or names is the UI's and the mailer's
job, not this module's.

The mapping is also the edge where what the store cannot hold is stopped
(DESIGN.md §8): integers beyond the columns of both databases, datetimes outside
2000–2199, non-finite or out-of-range tax rates, order numbers that are not RMS's
shape, and text with a NUL or a lone surrogate (PostgreSQL refuses the one, UTF-8
the other: such characters are replaced by U+FFFD and the order carries a note that
opens 確認待ち), nesting deeper than any OrderModel has (cut, with a note).

Imports only `orjson`, `unyo.clock`, `unyo.domain` and this adapter's errors.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import date, datetime
from operator import itemgetter
from typing import Any

import orjson

from unyo.adapters.rakuten.errors import MappingError
from unyo.clock import JST
from unyo.domain.carriers import CARRIER_NAMES
from unyo.domain.order import (
    Address,
    Amounts,
    ChannelOrder,
    Item,
    Package,
    Payment,
    Person,
    PickupStore,
    Shipment,
    SocialGift,
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

CARRIERS = CARRIER_NAMES  # RMS deliveryCompany code → name (reference/rakuten-rms.md)
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

# --- limits at the edge ---------------------------------------------------------------------
INT_LIMIT = 2**31 - 1
"""Amounts, codes, counts: `orders.total`, `rms_status` and `payment_method` are INTEGER
columns, 32 bits on PostgreSQL."""
ID_LIMIT = 2**53
"""basketId, itemDetailId, shippingDetailId, subStatusId: kept in JSON, exact in any reader."""
EARLIEST_YEAR, LATEST_YEAR = 2000, 2199
"""A datetime or date outside these years is not an order's (and near year 1 or 9999 a
time-zone shift overflows)."""
ORDER_NUMBER = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,63}")
"""RMS order numbers are `shop-yyyymmdd-number` (reference/rakuten-rms.md); 64 characters is
`orders.order_number`'s column."""
MAX_TEXT = 20_000
"""Characters of one text (RMS's remarks field holds far less); longer is cut, with a note."""
CHECK_TEXTS_ABOVE = 256 * 1024
"""An answer larger than this (bytes) has its texts' lengths checked one by one."""
MAX_DEPTH = 32
"""An OrderModel nests five deep; anything deeper is cut (a note says where)."""
_ASCII_INT = re.compile(r"-?[0-9]+")
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")

# Raw fields kept in ChannelOrder.extra (for display and diagnosis; the wrapping models
# only tell the rules' `wrapping` field whether one is there).
_EXTRA_KEYS = ("orderFixDatetime", "shippingInstDatetime", "shippingCmplRptDatetime",
               "cancelDueDate", "severalSenderFlag", "reserveNumber", "subStatusName",
               "modifyFlag", "WrappingModel1", "WrappingModel2")

# --- order types (getOrder version 8–10) ----------------------------------------------------
# Source: RMS WEB SERVICE, 楽天ペイ受注API getOrder (request `version` 10 "ソーシャルギフト
# 対応"; 6 added cautionDisplayDetailType, 8 deliveryCertPrgFlag / oneDayOperationFlag,
# 9 dropOffFlag / dropOffLocation, 10 socialGiftFlag / SocialGiftModel), response tables
# Level 2 OrderModel, Level 3 PackageModel, Level 4 DeliveryCVSModel and SocialGiftModel;
# reference/rakuten-rms.md, "Order types that need their own handling". The emulator
# (unyo.sandbox.rms_emulator) serves the same keys from the same source.

CVS_CHAINS: dict[int, str] = {
    1: "ファミリーマート", 20: "ミニストップ", 40: "サークルK", 41: "サンクス", 50: "ローソン",
    60: "郵便局", 70: "スリーエフ", 71: "エブリワン", 72: "ココストア", 74: "セーブオン",
    80: "デイリーヤマザキ", 81: "ヤマザキデイリーストア", 82: "ニューヤマザキデイリーストア",
    85: "ニューデイズ", 90: "ポプラ", 91: "くらしハウス", 92: "スリーエイト", 93: "生活彩家",
}
"""DeliveryCvsModel.cvsCode → the chain (コンビニコード). PackageModel.DeliveryCvsModel is
there "配送方法がコンビニ、郵便局受取の場合": the parcel goes to that store (storeCode,
storeName, storeZip "158-0094", storePrefecture, storeAddress, cvsRemarks 特記事項), and
the recipient collects it there."""

CAUTION_TYPES: dict[int, str] = {0: "", 1: "注意喚起", 2: "キャンセル確定"}
"""cautionDisplayType (警告表示タイプ, Rakuten's 「顧客・配送対応注意表示」): 0 表示なし,
1 表示あり 注意喚起, 2 表示あり キャンセル確定."""

CAUTION_DETAILS: dict[int, str] = {
    101: "前払い未払いに注意", 102: "受取拒否に注意", 103: "長期不在による受取拒否に注意",
    104: "開梱後の返品に注意", 105: "高いサービスレベルの要望に注意",
}
"""cautionDisplayDetailType (警告表示タイプ詳細, version 6 and later): set only on orders
Rakuten judged 「1: 表示あり 注意喚起」 since 2021-10-13; null otherwise."""

DROP_OFF_UNSPECIFIED = "置き配（場所の指定なし）"
"""dropOffFlag 1 (置き配注文) with dropOffLocation null: not documented to happen (the
location is one of 宅配ボックス, 玄関前, 玄関前鍵付容器, ポスト（郵便受箱）, メーターボックス,
物置, 車庫); kept as a drop-off all the same. dropOffFlag 0 is 対面受取 (or not offered)."""


def _code_word(table: dict[int, str], v: Any, path: str, key: str, unknown: str) -> str:
    if v is None:
        return ""
    if type(v) is not int:
        raise _fail(path, key, f"is not an integer: {_shown(v)}")
    word = table.get(v)
    return word if word is not None else f"{unknown} {v}"


def _pickup_store(m: dict[str, Any], path: str) -> PickupStore | None:
    cvs = m.get("DeliveryCvsModel")
    if cvs is None:
        return None
    if type(cvs) is not dict:
        raise _fail(path, "DeliveryCvsModel", "is not an object")
    code = cvs.get("cvsCode")
    chain = "" if code is None else _code_word(CVS_CHAINS, code, path + "DeliveryCvsModel.",
                                               "cvsCode", "コンビニ")
    store_code, name = _text(cvs, "storeCode"), _text(cvs, "storeName")
    if not (chain or store_code or name):
        return None  # an empty model: no store named, so no store pickup
    return PickupStore(chain=chain, store_code=store_code, name=name,
                       postal_code="".join(ch for ch in _text(cvs, "storeZip")
                                           if ch.isascii() and ch.isdigit()),
                       prefecture=_text(cvs, "storePrefecture"),
                       address=_text(cvs, "storeAddress"), remarks=_text(cvs, "cvsRemarks"))


def _social_gift(m: dict[str, Any], path: str) -> SocialGift | None:
    gift = m.get("SocialGiftModel")
    if gift is None:
        return None
    if type(gift) is not dict:
        raise _fail(path, "SocialGiftModel", "is not an object")
    at = path + "SocialGiftModel."
    # Until inputFlag is 1 the SenderModel holds Rakuten's placeholders (zip 999-9999,
    # 入力待ち, ニュウリョクマチ, phone 999-9999-9999).
    return SocialGift(number=_text(gift, "sgMngNumber"),
                      input_due=_opt_date(gift, "inputDueDate", at),
                      address_given=_flag(gift, "inputFlag"),
                      given_at=_opt_datetime(gift, "inputCompDatetime", at))


def _drop_off(m: dict[str, Any]) -> str:
    if not _flag(m, "dropOffFlag"):
        return ""
    return _text(m, "dropOffLocation").strip() or DROP_OFF_UNSPECIFIED


def _package_types(m: dict[str, Any], path: str) -> tuple[PickupStore | None, str,
                                                           SocialGift | None]:
    """コンビニ受取, 置き配 and ソーシャルギフト of one PackageModel (both paths use it)."""
    return _pickup_store(m, path), _drop_off(m), _social_gift(m, path)


def _order_types(m: dict[str, Any]) -> tuple[bool, bool, str, str]:
    """socialGiftFlag, 当日出荷 (oneDayOperationFlag: 1営業日以内出荷の注文) and the 注意表示
    in words, of one OrderModel (both paths use it)."""
    return (_flag(m, "socialGiftFlag"), _flag(m, "oneDayOperationFlag"),
            _code_word(CAUTION_TYPES, m.get("cautionDisplayType"), "", "cautionDisplayType",
                       "注意表示"),
            _code_word(CAUTION_DETAILS, m.get("cautionDisplayDetailType"), "",
                       "cautionDisplayDetailType", "注意表示の詳細"))


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


def _int(d: dict[str, Any], key: str, path: str, limit: int = INT_LIMIT) -> int:
    v = d.get(key)
    if type(v) is int:
        n = v
    elif v is None:
        raise _fail(path, key, "is missing" if key not in d else "is null")
    elif isinstance(v, str) and _ASCII_INT.fullmatch(v.strip()) and len(v) < 40:
        n = int(v)  # ASCII digits only: int() also reads "²"-less forms like "٣" and "1_0"
    elif isinstance(v, float) and math.isfinite(v) and v.is_integer():
        n = int(v)
    else:
        raise _fail(path, key, f"is not an integer: {_shown(v)}")
    if not -limit <= n <= limit:
        raise _fail(path, key, f"is out of range: {_shown(n)}")
    return n


def _id(d: dict[str, Any], key: str, path: str) -> int | None:
    return None if d.get(key) is None else _int(d, key, path, ID_LIMIT)


def _shown(v: Any) -> str:
    """A value for a message: its repr, cut (a 10,000-digit integer is not printed)."""
    if type(v) is int and abs(v) >= 10**30:
        return f"{'-' if v < 0 else ''}{str(abs(v))[:12]}… ({len(str(abs(v)))} digits)"
    return f"{v!r:.40}"


def _non_negative(d: dict[str, Any], key: str, path: str) -> int:
    v = _int(d, key, path)
    if v < 0:
        raise _fail(path, key, f"is negative: {v}")
    return v


def _int_or(d: dict[str, Any], key: str, path: str, default: int) -> int:
    if d.get(key) is None:
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
        value = parse_rms_datetime(text)
    except (ValueError, OverflowError):
        raise _fail(path, key, f"is not a datetime: {text!r:.40}") from None
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise _fail(path, key, f"is out of range: {text!r:.40}")
    return value


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
        day = parse_rms_date(v)
    except ValueError:
        raise _fail(path, key, f"is not a date: {v!r:.40}") from None
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise _fail(path, key, f"is out of range: {v!r:.40}")
    return day


def _opt_float(d: dict[str, Any], key: str, path: str) -> float | None:
    v = d.get(key)
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        raise _fail(path, key, f"is not a number: {_shown(v)}") from None
    if not (math.isfinite(f) and 0.0 <= f <= 100.0):
        raise _fail(path, key, f"is out of range: {_shown(v)}")
    return f


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
        item_detail_id=_id(m, "itemDetailId", path),
        item_number=_text(m, "itemNumber"),
        manage_number=_text(m, "manageNumber"),
        name=_str(m, "itemName", path),
        price=_non_negative(m, "price", path),
        units=_non_negative(m, "units", path),
        tax_rate=_opt_float(m, "taxRate", path),
        selected_choice=_text(m, "selectedChoice"),
        sku=sku,
        delivery_info=_text(m, "delvdateInfo"),
    )


def _shipment(m: dict[str, Any], path: str) -> Shipment:
    return Shipment(
        shipping_detail_id=_id(m, "shippingDetailId", path),
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
    store, drop_off, gift = _package_types(m, path)
    return Package(
        basket_id=_int(m, "basketId", path, ID_LIMIT),
        recipient=_person(sender, path + "SenderModel.", email=False),
        items=items,
        goods_price=_int(m, "goodsPrice", path),
        postage_price=_int(m, "postagePrice", path),
        delivery_price=_int(m, "deliveryPrice", path),
        total_price=_int(m, "totalPrice", path),
        noshi=_text(m, "noshi"),
        isolated_island=_flag(sender, "isolatedIslandFlag"),
        shipments=shipments,
        pickup_store=store,
        drop_off=drop_off,
        social_gift=gift,
    )


def _obj(x: Any, where: str) -> dict[str, Any]:
    if type(x) is not dict:
        raise _Bad(f"{where} is not an object")
    return x


def channel_order_from_rms(model: dict[str, Any], raw: bytes | None = None) -> ChannelOrder:
    """Translate one RMS getOrder `OrderModel` into a `ChannelOrder`.

    Raises `MappingError` naming the key (with its path, e.g.
    `PackageModelList[0].SenderModel.familyName`) when required data is
    missing, malformed or out of range (the limits above). Nulls RMS is known
    to send (remarks, memo, shopOrderCfmDatetime, deliveryDate,
    ShippingModelList, kana...) become empty values; -9999 amounts are kept as
    NOT_FIXED. Unknown keys are ignored. Text with a NUL or a lone surrogate is
    repaired (U+FFFD) and noted in `ChannelOrder.notes`. `raw`, when the caller has
    it, is `orjson.dumps(model)` (it spares serialising the model again).
    """
    if type(model) is not dict:
        raise MappingError(None, "OrderModel is not an object")
    number = model.get("orderNumber")
    if type(number) is not str or not number:
        raise MappingError(None, "orderNumber is missing" if number is None
                           else f"orderNumber is not a non-empty string: {_shown(number)}")
    if not ORDER_NUMBER.fullmatch(number):
        raise MappingError(None, f"orderNumber is not an RMS order number: {number!r:.80}")
    notes: list[str] = []
    if not _clean(model, raw):
        model = _repaired(model, "", 0, notes)
    else:
        try:
            order = _fast_channel_order(model, number)
            if _within_limits(order):
                return _with_money_dates(order, model)
        except _FAST_MISS:
            pass  # something is absent, null where required or of another type: map strictly
    try:
        order = _channel_order(model, number)
    except _Bad as exc:
        raise MappingError(number, str(exc)) from None
    except RecursionError:  # cannot happen after _repaired; kept as the last line of defence
        raise MappingError(number, "OrderModel is nested too deeply") from None
    if notes:
        order = order.with_notes(tuple(dict.fromkeys(notes)))
    return _with_money_dates(order, model)


def _money_date(v: Any) -> date | None:
    if type(v) is not str or not v:
        return None
    try:
        day = parse_rms_date(v[:10])
    except ValueError:
        return None
    return day if EARLIEST_YEAR <= day.year <= LATEST_YEAR else None


def _with_money_dates(order: ChannelOrder, m: dict[str, Any]) -> ChannelOrder:
    """The dates the money watch needs: `cancelDueDate` (キャンセル期限日) and the payment
    due dates of `DueDateModelList` (v5; bank transfer, prepaid — reference/rakuten-rms.md).
    The DueDateModel's date key is taken as `dueDate` *(unconfirmed: not in a public
    source)*. A date that cannot be read is left out: it warns, it never stops an import."""
    dues = m.get("DueDateModelList")
    due_dates = tuple(sorted({d for d in (_money_date(x.get("dueDate")) for x in dues
                                          if type(x) is dict) if d is not None})) \
        if type(dues) is list else ()
    cancel_due = _money_date(m.get("cancelDueDate"))
    if not due_dates and cancel_due is None:
        return order
    return replace(order, due_dates=due_dates, cancel_due=cancel_due)


def _clean(model: dict[str, Any], raw: bytes | None) -> bool:
    """Whether every text is storable and every value serialisable as it is: orjson refuses
    lone surrogates, integers beyond 64 bits and deep nesting; NUL it writes as an escape."""
    if raw is None:
        try:
            raw = orjson.dumps(model)
        except (TypeError, orjson.JSONEncodeError):
            return False
    return b"\\u0000" not in raw and len(raw) <= CHECK_TEXTS_ABOVE


def _repaired(v: Any, path: str, depth: int, notes: list[str]) -> Any:
    """A copy of `v` that the store can hold: NUL and lone surrogates replaced by U+FFFD,
    integers beyond 64 bits and anything nested deeper than MAX_DEPTH dropped; each
    repair noted by its key path."""
    if type(v) is str:
        if len(v) > MAX_TEXT:
            notes.append(f"{path or 'OrderModel'}: {len(v):,}文字のため{MAX_TEXT:,}文字で切り詰め")
            v = v[:MAX_TEXT]
        if _BAD_CHARS.search(v):
            notes.append(f"{path or 'OrderModel'}: NUL・不正な文字を「\ufffd」に置換")
            return _BAD_CHARS.sub("\ufffd", v)
        return v
    if depth >= MAX_DEPTH and isinstance(v, dict | list):
        notes.append(f"{path}: 入れ子が深すぎるため読み飛ばし")
        return None
    if type(v) is dict:
        out = {}
        for k, x in v.items():
            key = _BAD_CHARS.sub("\ufffd", k) if type(k) is str else str(k)
            out[key] = _repaired(x, f"{path}.{key[:40]}" if path else key[:40], depth + 1,
                                 notes)
        return out
    if type(v) is list:
        return [_repaired(x, f"{path}[{i}]", depth + 1, notes) for i, x in enumerate(v)]
    if type(v) is int and not -(2**63) <= v < 2**63:
        return v  # a mapped field says "out of range"; an unmapped one is never stored
    if type(v) is float and not math.isfinite(v):
        return v
    return v


def _storable(v: Any) -> bool:
    try:
        orjson.dumps(v)
    except (TypeError, orjson.JSONEncodeError):
        return False
    return True


def _within_limits(o: ChannelOrder) -> bool:
    """What the fast path built is inside the limits the strict readers check (else the
    strict path maps it again and names the key)."""
    a = o.amounts
    lo, hi = -INT_LIMIT, INT_LIMIT
    if not (lo <= o.status <= hi and lo <= a.goods <= hi and lo <= a.postage <= hi
            and lo <= a.delivery <= hi and lo <= a.payment_charge <= hi and lo <= a.total <= hi
            and lo <= a.request <= hi and lo <= a.coupon <= hi and lo <= a.points_used <= hi
            and lo <= o.payment.method_code <= hi
            and EARLIEST_YEAR <= o.ordered_at.year <= LATEST_YEAR):
        return False
    if o.sub_status_id is not None and not -ID_LIMIT <= o.sub_status_id <= ID_LIMIT:
        return False
    for day in (o.requested_delivery_date, o.confirmed_at):
        if day is not None and not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
            return False
    for p in o.packages:
        if not (-ID_LIMIT <= p.basket_id <= ID_LIMIT and lo <= p.goods_price <= hi
                and lo <= p.postage_price <= hi and lo <= p.delivery_price <= hi
                and lo <= p.total_price <= hi):
            return False
        for i in p.items:
            if not (i.price <= hi and i.units <= hi
                    and (i.item_detail_id is None or -ID_LIMIT <= i.item_detail_id <= ID_LIMIT)
                    and (i.tax_rate is None
                         or (math.isfinite(i.tax_rate) and 0.0 <= i.tax_rate <= 100.0))):
                return False
        for sh in p.shipments:
            if ((sh.shipping_detail_id is not None
                 and not -ID_LIMIT <= sh.shipping_detail_id <= ID_LIMIT)
                    or (sh.ship_date is not None
                        and not EARLIEST_YEAR <= sh.ship_date.year <= LATEST_YEAR)):
                return False
    return True


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
    extra = {k: m[k] for k in _EXTRA_KEYS if m.get(k) is not None and _storable(m[k])}
    social_gift, same_day, caution, caution_detail = _order_types(m)
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
        sub_status_id=_id(m, "subStatusId", ""),
        social_gift=social_gift,
        same_day=same_day,
        caution=caution,
        caution_detail=caution_detail,
        extra=extra,
    )


# --- fast path ------------------------------------------------------------------------------
# The same mapping as above for well-formed models, without per-field helper calls. It only
# accepts a value when the validating reader would return it unchanged (or, for text, when it
# does the same `str(v)`); otherwise it raises `_Slow` (or lets a KeyError, TypeError,
# ValueError... escape) and `channel_order_from_rms` maps the model again with the readers.
# Each dict's keys are fetched in one itemgetter call; should one be absent, they are fetched
# again with `.get` (absent = None, as the readers see it), so RMS omitting an optional key
# costs a little time, not the fallback to the readers.

class _Slow(Exception):
    """Internal: the fast path met a value it does not handle; the strict path will."""


_FAST_MISS = (_Slow, KeyError, TypeError, ValueError, AttributeError, IndexError,
              ArithmeticError)

_TRUE = frozenset((1, "1"))
_NOT_SET = frozenset((0, None))
"""A flag the fast path may skip reading further (0, absent or null)."""
"""`v in _TRUE` is `_flag`'s `v == 1 or v == "1" or v is True` for JSON values (True == 1.0 ==
1); an unhashable value raises TypeError, which sends the order to the strict path."""


# The fast path builds the domain objects positionally, in field order.
_new_address = Address
_new_person = Person
_new_item = Item
_new_shipment = Shipment
_new_package = Package
_new_payment = Payment
_new_amounts = Amounts
_new_channel_order = ChannelOrder


def _fast_day(value: Any) -> date | None:
    """An RMS date for the fast path: absent or empty is None; anything but text is left
    to the strict readers."""
    if value is None or value == "":
        return None
    if type(value) is str:
        return parse_rms_date(value)
    raise _Slow


def _t(v: Any) -> str:
    """`_text` of a value that is not a str."""
    return "" if v is None else str(v)



# Keys fetched together by one itemgetter call.
_PERSON_KEYS = ("familyName", "firstName", "familyNameKana", "firstNameKana", "phoneNumber1",
                "phoneNumber2", "phoneNumber3", "zipCode1", "zipCode2", "prefecture", "city",
                "subAddress")
_ITEM_KEYS = ("itemDetailId", "itemName", "price", "units", "taxRate", "itemNumber",
              "manageNumber", "selectedChoice", "delvdateInfo")
_PACKAGE_KEYS = ("SenderModel", "ItemModelList", "basketId", "goodsPrice", "postagePrice",
                 "deliveryPrice", "totalPrice", "noshi")
_ORDER_KEYS = ("orderType", "orderProgress", "orderDatetime", "SettlementModel",
               "PackageModelList", "OrdererModel", "goodsPrice", "postagePrice", "deliveryPrice",
               "paymentCharge", "totalPrice", "requestPrice", "couponAllTotalPrice", "PointModel",
               "DeliveryModel", "deliveryDate", "shopOrderCfmDatetime", "subStatusId",
               "rakutenMemberFlag", "asurakuFlag", "deliveryCertPrgFlag", "giftCheckFlag",
               "isolatedIslandFlag", "remarks", "shippingTerm", "memo")
_person_values = itemgetter(*_PERSON_KEYS)
_item_values = itemgetter(*_ITEM_KEYS)
_package_values = itemgetter(*_PACKAGE_KEYS)
_order_values = itemgetter(*_ORDER_KEYS)
_extra_values = itemgetter(*_EXTRA_KEYS)


def _get_all(m: dict[str, Any], keys: tuple[str, ...]) -> tuple[Any, ...]:
    g = m.get
    return tuple([g(k) for k in keys])


def _fast_person(m: Any, email: bool) -> Person:
    if type(m) is not dict:
        raise _Slow
    try:
        (family, first, family_kana, first_kana, p1, p2, p3, zip1, zip2, prefecture, city,
         sub_address) = _person_values(m)
    except KeyError:
        (family, first, family_kana, first_kana, p1, p2, p3, zip1, zip2, prefecture, city,
         sub_address) = _get_all(m, _PERSON_KEYS)
    if type(family) is not str:
        raise _Slow
    if type(first) is not str:
        first = _t(first)
    if type(family_kana) is not str:
        family_kana = _t(family_kana)
    if type(first_kana) is not str:
        first_kana = _t(first_kana)
    if type(p1) is not str:
        p1 = _t(p1)
    if type(p2) is not str:
        p2 = _t(p2)
    if type(p3) is not str:
        p3 = _t(p3)
    if type(zip1) is not str:
        zip1 = _t(zip1)
    if type(zip2) is not str:
        zip2 = _t(zip2)
    if type(prefecture) is not str:
        prefecture = _t(prefecture)
    if type(city) is not str:
        city = _t(city)
    if type(sub_address) is not str:
        sub_address = _t(sub_address)
    return _new_person(
        family,
        first,
        family_kana,
        first_kana,
        f"{p1}-{p2}-{p3}" if p1 and p2 and p3 else "-".join(filter(None, (p1, p2, p3))),
        _new_address(zip1 + zip2, prefecture, city, sub_address),
        (v if type(v := m.get("emailAddress")) is str else _t(v)) if email else "",
    )


def _fast_item(m: Any) -> Item:
    if type(m) is not dict:
        raise _Slow
    try:
        (detail_id, name, price, units, tax_rate, number, manage_number, choice,
         delivery_info) = _item_values(m)
    except KeyError:
        (detail_id, name, price, units, tax_rate, number, manage_number, choice,
         delivery_info) = _get_all(m, _ITEM_KEYS)
    if ((detail_id is not None and type(detail_id) is not int) or type(name) is not str
            or type(price) is not int or type(units) is not int or price < 0 or units < 0):
        raise _Slow
    if type(tax_rate) is not float and tax_rate is not None:
        if type(tax_rate) is not int:
            raise _Slow
        tax_rate = float(tax_rate)
    if type(number) is not str:
        number = _t(number)
    if type(manage_number) is not str:
        manage_number = _t(manage_number)
    if type(choice) is not str:
        choice = _t(choice)
    if type(delivery_info) is not str:
        delivery_info = _t(delivery_info)
    sku = ""
    skus = m.get("SkuModelList")
    if type(skus) is list and skus and type(skus[0]) is dict:
        sku = v if type(v := skus[0].get("merchantDefinedSkuId")) is str else _t(v)
    return _new_item(detail_id, number, manage_number, name, price, units, tax_rate, choice,
                     sku, delivery_info)


def _fast_shipment(m: Any) -> Shipment:
    if type(m) is not dict:
        raise _Slow
    g = m.get
    detail_id = g("shippingDetailId")
    if detail_id is not None and type(detail_id) is not int:
        raise _Slow
    ship_date = _fast_day(g("shippingDate"))
    return _new_shipment(
        detail_id,
        v if type(v := g("deliveryCompany")) is str else _t(v),
        v if type(v := g("shippingNumber")) is str else _t(v),
        ship_date,
    )


def _fast_package(m: Any) -> Package:
    if type(m) is not dict:
        raise _Slow
    try:
        sender, items, basket_id, goods, postage, delivery, total, noshi = _package_values(m)
    except KeyError:
        sender, items, basket_id, goods, postage, delivery, total, noshi = _get_all(
            m, _PACKAGE_KEYS)
    if (type(sender) is not dict or type(items) is not list or type(basket_id) is not int
            or type(goods) is not int or type(postage) is not int or type(delivery) is not int
            or type(total) is not int):
        raise _Slow
    ships = m.get("ShippingModelList")
    if type(ships) is list:
        shipments = tuple([_fast_shipment(s) for s in ships]) if ships else ()
    elif ships is None:
        shipments = ()
    else:
        raise _Slow
    g = m.get
    if g("DeliveryCvsModel") is None and g("SocialGiftModel") is None and \
            g("dropOffFlag") in _NOT_SET:
        store, drop_off, gift = None, "", None
    else:
        try:
            store, drop_off, gift = _package_types(m, "")
        except _Bad:
            raise _Slow from None
    return _new_package(
        basket_id,
        _fast_person(sender, False),
        tuple([_fast_item(i) for i in items]),
        goods,
        postage,
        delivery,
        total,
        noshi if type(noshi) is str else _t(noshi),
        sender.get("isolatedIslandFlag") in _TRUE,
        shipments,
        store,
        drop_off,
        gift,
    )


def _fast_channel_order(m: dict[str, Any], number: str) -> ChannelOrder:
    try:
        (order_type_code, status, ordered, settlement, packages, orderer, goods, postage,
         delivery_price, charge, total, request, coupon, point, delivery, day, confirmed,
         sub_status_id, member, next_day, next_day_cert, gift, isolated_island, remarks,
         shipping_term, memo) = _order_values(m)
    except KeyError:
        (order_type_code, status, ordered, settlement, packages, orderer, goods, postage,
         delivery_price, charge, total, request, coupon, point, delivery, day, confirmed,
         sub_status_id, member, next_day, next_day_cert, gift, isolated_island, remarks,
         shipping_term, memo) = _get_all(m, _ORDER_KEYS)
    if type(order_type_code) is not int:  # True would find OrderType.normal
        raise _Slow
    order_type = ORDER_TYPES[order_type_code]
    if (type(status) is not int or type(ordered) is not str or type(settlement) is not dict
            or type(packages) is not list or not packages
            or type(goods) is not int or type(postage) is not int
            or type(delivery_price) is not int or type(charge) is not int
            or type(total) is not int or type(request) is not int):
        raise _Slow
    method_code = settlement["settlementMethodCode"]
    if type(method_code) is not int:
        raise _Slow
    if type(coupon) is not int:
        if coupon is not None:
            raise _Slow
        coupon = 0
    points_used = point.get("usedPoint") if type(point) is dict else 0
    if type(points_used) is not int:
        if points_used is not None:
            raise _Slow
        points_used = 0
    requested = _fast_day(day)
    if confirmed is not None:
        if type(confirmed) is not str:
            raise _Slow
        confirmed = parse_rms_datetime(confirmed) if confirmed else None
    if sub_status_id is not None and type(sub_status_id) is not int:
        raise _Slow
    try:
        extra_values = _extra_values(m)
    except KeyError:
        extra_values = _get_all(m, _EXTRA_KEYS)
    try:
        types = _order_types(m)
    except _Bad:
        raise _Slow from None
    return _new_channel_order(
        number,
        status,
        parse_rms_datetime(ordered),
        order_type,
        member in _TRUE,
        next_day in _TRUE,
        next_day_cert in _TRUE,
        _fast_person(orderer, True),
        _new_payment(
            method_code,
            v if type(v := settlement.get("settlementMethod")) is str else _t(v),
            settlement.get("rpaySettlementFlag") in _TRUE,
        ),
        _new_amounts(goods, postage, delivery_price, charge, total, request, coupon,
                     points_used),
        tuple([_fast_package(p) for p in packages]),
        remarks if type(remarks) is str else _t(remarks),
        gift in _TRUE,
        isolated_island in _TRUE,
        requested,
        shipping_term if type(shipping_term) is str else _t(shipping_term),
        (v if type(v := delivery.get("deliveryName")) is str else _t(v))
        if type(delivery) is dict else "",
        confirmed,
        memo if type(memo) is str else _t(memo),
        sub_status_id,
        *types,
        {k: v for k, v in zip(_EXTRA_KEYS, extra_values, strict=True) if v is not None},
    )
