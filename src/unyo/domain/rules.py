"""Shop rules (受注処理ルール): conditions and actions as data, compiled once into callables.

A rule is a name, a condition and actions, as the shop file writes them:

    - name: 備考欄あり
      when: {field: remarks, op: not_empty}
      then: [{check: 備考欄を確認}]

Conditions are field / operator / value rows combined with `all`, `any` and
`not` — the shape of the condition rows of Japanese OMS screens — so they can
be validated, drawn and edited in a form. `compile_rules` checks every field,
operator and value against the field's type and returns plain Python closures:
no `eval`, no templates, nothing from the file is ever executed. Mistakes are
`RuleError`s naming the path of the offending key (`rules[2].when.all[0].op`),
which the flow loader turns into file:line errors.

The fields are the normalised order (`FIELDS`, each with its type and Japanese
label) plus `Facts` that need the store or outside data (the buyer's other open
orders, postal code validity), which the app layer gathers. Standard library only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Any, Protocol

from unyo.domain.order import NOT_FIXED, Order, Person
from unyo.domain.printing import PrintSpec, Unprintable, check_fields, substitute
from unyo.domain.release import ReleaseReading, read_release
from unyo.domain.remarks import NO_TEMPLATE, RemarksTemplate, quote, read_remarks
from unyo.domain.vocabulary import OrderType

__all__ = [
    "FIELDS",
    "OPERATORS",
    "Action",
    "CompiledRule",
    "Facts",
    "FieldSpec",
    "FieldType",
    "PatternCompiler",
    "RemarksTemplate",
    "RuleError",
    "RuleErrors",
    "RuleInput",
    "TextPattern",
    "compile_rules",
    "customer_remarks",
    "evaluate",
    "recipient_texts",
    "release_date",
    "release_reading",
    "unprintable",
    "unprintable_chars",
]

DEFAULT_PRINT = PrintSpec()
"""cp932 and the shipped substitution table: what rules read when no shop file says."""


class RuleError(ValueError):
    """A rule that cannot be compiled; `path` names the key (e.g. rules[0].when.op)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class FieldType(StrEnum):
    """What kind of value a field holds; it decides the operators allowed."""

    number = "number"  # yen amounts, counts
    text = "text"  # free text
    flag = "flag"  # true / false
    day = "day"  # a calendar date (JST)
    choice = "choice"  # one of a fixed set of words
    texts = "texts"  # a list of text (item numbers, SKUs, tags...)


@dataclass(frozen=True)
class Facts:
    """What rules may ask beyond the order itself; gathered by the app layer."""

    other_open_orders: int = 0  # the same buyer's other orders not yet shipped or cancelled
    past_orders: int = 0  # the same buyer's earlier orders in this shop
    postal_code_valid: bool | None = None  # None = not checked
    tags: tuple[str, ...] = ()
    postal_problems: tuple[str, ...] = ()  # what is wrong with each postal code, in words
    # each of the buyer's other open orders that cannot share a parcel with this one, and
    # why, in words (「注文 X と送付先の住所が違う」; unyo.domain.merge.merge_blocker)
    merge_blockers: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowTrace:
    """One condition row as an evaluation met it: where it stands in its rule (`when`,
    `when.any[1]`, ...), its field, the field's value for the order and whether it held."""

    path: str
    field: str
    value: Any
    held: bool


@dataclass(frozen=True)
class RuleInput:
    """One evaluation: the order, its facts and the time (for relative dates). With a
    `trace` list, each condition row the evaluation reaches appends its `RowTrace`
    (`unyo.domain.explain`); `decide()` evaluates without one."""

    order: Order
    facts: Facts
    now: datetime
    trace: list[RowTrace] | None = field(default=None, compare=False, repr=False)


Getter = Callable[[RuleInput], Any]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType
    label: str  # Japanese, for the diagram and the dashboard
    get: Getter
    choices: tuple[str, ...] = ()
    # For fields the shop file's reading settings change (the remarks template): the
    # getter for those settings; `get` is the one for Rakuten's template alone.
    bind: Callable[[RemarksTemplate], Getter] | None = None
    # For fields the warehouse's encoding and substitution table change: likewise.
    printing: Callable[[PrintSpec], Getter] | None = None
    quoted: bool = True  # a message shows the start of the value only (buyer text)

    def getter(self, remarks: RemarksTemplate, printing: PrintSpec | None = None) -> Getter:
        if self.printing is not None and printing is not None and printing != DEFAULT_PRINT:
            return self.printing(printing)
        return self.get if self.bind is None or remarks == NO_TEMPLATE else self.bind(remarks)


# ---- field values -----------------------------------------------------------------------

def customer_remarks(remarks: str, shop: RemarksTemplate = NO_TEMPLATE) -> str:
    """備考欄 without the template lines (Rakuten's and the shop's): what the buyer wrote.
    The reading is `unyo.domain.remarks.read_remarks`."""
    return read_remarks(remarks, shop).request


def release_reading(order: Order) -> ReleaseReading:
    """What the order's texts say about its release date: the items' 納期情報, the item
    names and the remarks (unyo.domain.release)."""
    items = order.parcel_items
    return read_release(order.channel.ordered_at.astimezone(_JST).date(),
                        [it.delivery_info for it in items],
                        [*(it.name for it in items), order.channel.remarks])


RELEASE_DATE_SETTING = "release_date"
"""The order setting that holds a release date a person gave (ISO date)."""


def release_date(order: Order) -> date | None:
    """The pre-order's release date: the one a person set, else the one its texts name;
    None when none is named or a text says it is not decided (発売日未定)."""
    given = order.setting(RELEASE_DATE_SETTING)
    if given:
        try:
            return date.fromisoformat(given)
        except ValueError:
            pass
    return release_reading(order).known


def unprintable_chars(text: str, printing: PrintSpec = DEFAULT_PRINT) -> list[str]:
    """Characters of `text` the warehouse cannot print and the substitution table has no
    substitute for (unyo.domain.printing), once each in order of appearance."""
    return list(substitute(text, printing).unprintable)


def recipient_texts(person: Person) -> tuple[tuple[str, str], ...]:
    """The recipient's texts as the warehouse gets them: (field key, text) of the name, its
    kana and the address (the hand-off builds its requests from the same)."""
    a = person.address
    return (("recipient_name", person.name),
            ("recipient_kana", f"{person.family_name_kana} {person.first_name_kana}".strip()),
            ("address", f"{a.prefecture}{a.city}{a.sub_address}"))


def unprintable(order: Order, printing: PrintSpec = DEFAULT_PRINT) -> list[Unprintable]:
    """The characters of the recipients' names and addresses that stop the order: not
    printable, no substitute (the hand-off substitutes the others)."""
    return check_fields((t for p in order.channel.packages for t in recipient_texts(p.recipient)),
                        printing)[1]


def _unprintable_of(printing: PrintSpec) -> Getter:
    return lambda i: list(dict.fromkeys(u.char for u in unprintable(i.order, printing)))


def _unprintable_reasons_of(printing: PrintSpec) -> Getter:
    return lambda i: "、".join(u.reason for u in unprintable(i.order, printing))


REASON_POSTAL_CODE = "郵便番号・住所を確認"


def _address_problems_of(printing: PrintSpec) -> Getter:
    def get(i: RuleInput) -> str:
        postal = (list(i.facts.postal_problems) or [REASON_POSTAL_CODE]
                  if i.facts.postal_code_valid is False else [])
        return "、".join([*postal, *(u.reason for u in unprintable(i.order, printing))])
    return get


def _amount(value: int) -> int | None:
    return None if value == NOT_FIXED else value


PICKUP_STORE_COLUMNS = ("pickup_store_code", "pickup_store_name", "pickup_store_address")
"""The warehouse request columns コンビニ受取 needs (unyo.flow.warehouse.REQUEST_COLUMNS)."""


def _pickup_stores(i: RuleInput) -> str:
    return "、".join(dict.fromkeys(
        f"{s.name if s.name.startswith(s.chain) else f'{s.chain} {s.name}'.strip()}"
        f"（{s.full_address}）"
        for p in i.order.channel.packages if (s := p.pickup_store) is not None))


def _store_columns_of(printing: PrintSpec) -> Getter:
    has = printing.has_columns(*PICKUP_STORE_COLUMNS)
    return lambda i: has


def _gift_input_due(i: RuleInput) -> date | None:
    days = [p.social_gift.input_due for p in i.order.channel.packages
            if p.social_gift is not None and p.social_gift.input_due is not None]
    return min(days) if days else None


def _items(i: RuleInput) -> Sequence[Any]:
    """The item lines of the parcel: the order's own and those of orders merged into it."""
    return i.order.parcel_items


def _f(name: str, type_: FieldType, label: str, get: Getter,
       choices: tuple[str, ...] = (), bind: Callable[[RemarksTemplate], Getter] | None = None,
       printing: Callable[[PrintSpec], Getter] | None = None, quoted: bool = True,
       ) -> FieldSpec:
    return FieldSpec(name, type_, label, get, choices, bind, printing, quoted)


def _remarks_of(shop: RemarksTemplate) -> Getter:
    return lambda i: customer_remarks(i.order.channel.remarks, shop)


N, T, F, D, C, L = (FieldType.number, FieldType.text, FieldType.flag, FieldType.day,
                    FieldType.choice, FieldType.texts)

FIELD_SPECS: tuple[FieldSpec, ...] = (
    _f("total", N, "合計金額", lambda i: _amount(i.order.parcel_amounts.total)),
    _f("goods_total", N, "商品金額", lambda i: _amount(i.order.parcel_amounts.goods)),
    _f("postage", N, "送料", lambda i: _amount(i.order.parcel_amounts.postage)),
    _f("cod_fee", N, "代引手数料", lambda i: _amount(i.order.parcel_amounts.delivery)),
    _f("request_amount", N, "請求金額", lambda i: _amount(i.order.parcel_amounts.request)),
    _f("points_used", N, "利用ポイント", lambda i: i.order.parcel_amounts.points_used),
    _f("coupon", N, "クーポン利用額", lambda i: i.order.parcel_amounts.coupon),
    _f("amount_not_fixed", F, "金額未確定（送料未確定など）",
       lambda i: i.order.parcel_amounts.any_not_fixed),
    _f("payment_method", T, "支払方法", lambda i: i.order.channel.payment.method_name),
    _f("payment_code", N, "支払方法コード", lambda i: i.order.channel.payment.method_code),
    _f("cash_on_delivery", F, "代金引換", lambda i: i.order.channel.payment.cash_on_delivery),
    _f("rakuten_pay", F, "楽天ペイ（楽天市場決済）",
       lambda i: i.order.channel.payment.rakuten_pay),
    _f("remarks", T, "備考欄（お客様の記入）", _remarks_of(NO_TEMPLATE), bind=_remarks_of),
    _f("remarks_raw", T, "備考欄（全文）", lambda i: i.order.channel.remarks),
    _f("gift", F, "ギフト", lambda i: i.order.channel.gift),
    _f("noshi", F, "のし指定", lambda i: any(p.noshi for p in i.order.channel.packages)),
    _f("wrapping", F, "ラッピング", lambda i: bool(i.order.channel.extra.get("WrappingModel1")
                                                or i.order.channel.extra.get("WrappingModel2"))),
    _f("isolated_island", F, "離島",
       lambda i: i.order.channel.isolated_island
       or any(p.isolated_island for p in i.order.channel.packages)),
    _f("multiple_destinations", F, "複数送付先", lambda i: i.order.channel.several_destinations),
    _f("destination_count", N, "送付先数", lambda i: len(i.order.channel.packages)),
    _f("order_type", C, "注文種別", lambda i: i.order.channel.order_type.value,
       tuple(t.value for t in OrderType)),
    _f("next_day", F, "あす楽 / 最強翌日配送",
       lambda i: i.order.channel.next_day or i.order.channel.next_day_cert),
    _f("next_day_cert", F, "最強翌日配送", lambda i: i.order.channel.next_day_cert),
    _f("same_day_shipping", F, "当日出荷（1営業日以内出荷）", lambda i: i.order.channel.same_day),
    _f("store_pickup", F, "コンビニ・郵便局受取",
       lambda i: any(p.pickup_store for p in i.order.channel.packages)),
    _f("pickup_store", T, "受取店舗（チェーン・店名・住所）", _pickup_stores, quoted=False),
    _f("warehouse_store_columns", F, "倉庫の依頼ファイルに受取店舗の列がある",
       lambda i: True, printing=_store_columns_of),
    _f("drop_off", F, "置き配", lambda i: any(p.drop_off for p in i.order.channel.packages)),
    _f("drop_off_location", T, "置き配場所",
       lambda i: "、".join(dict.fromkeys(p.drop_off for p in i.order.channel.packages
                                         if p.drop_off))),
    _f("social_gift", F, "ソーシャルギフト",
       lambda i: i.order.channel.social_gift
       or any(p.social_gift for p in i.order.channel.packages)),
    _f("gift_address_waiting", F, "ソーシャルギフトの受取人の住所入力待ち",
       lambda i: i.order.channel.awaiting_gift_address),
    _f("gift_input_due", D, "ソーシャルギフトの受取情報入力期限", _gift_input_due),
    _f("caution", F, "楽天の注意表示（顧客・配送対応注意表示）",
       lambda i: bool(i.order.channel.caution or i.order.channel.caution_detail)),
    _f("caution_detail", T, "楽天の注意表示の内容",
       lambda i: i.order.channel.caution_detail or i.order.channel.caution, quoted=False),
    _f("member", F, "楽天会員", lambda i: i.order.channel.member),
    _f("requested_delivery_date", D, "お届け希望日",
       lambda i: i.order.channel.requested_delivery_date),
    _f("delivery_time", T, "お届け時間帯", lambda i: i.order.channel.shipping_term),
    _f("delivery_method", T, "配送方法", lambda i: i.order.channel.delivery_name),
    _f("order_date", D, "注文日", lambda i: i.order.channel.ordered_at.date()),
    _f("release_date", D, "発売日（予約商品）", lambda i: release_date(i.order)),
    _f("item_numbers", L, "商品番号", lambda i: [it.item_number for it in _items(i)]),
    _f("manage_numbers", L, "商品管理番号", lambda i: [it.manage_number for it in _items(i)]),
    _f("skus", L, "SKU", lambda i: [it.sku for it in _items(i) if it.sku]),
    _f("item_names", L, "商品名", lambda i: [it.name for it in _items(i)]),
    _f("quantity", N, "合計数量", lambda i: sum(it.units for it in _items(i))),
    _f("item_lines", N, "明細行数", lambda i: len(_items(i))),
    _f("prefecture", T, "注文者の都道府県", lambda i: i.order.channel.buyer.address.prefecture),
    _f("destination_prefectures", L, "送付先の都道府県",
       lambda i: [p.recipient.address.prefecture for p in i.order.channel.packages]),
    _f("postal_code_valid", F, "郵便番号が正しい",
       lambda i: i.facts.postal_code_valid is not False),
    _f("unprintable_chars", L, "印字できない文字（氏名・住所）",
       _unprintable_of(DEFAULT_PRINT), printing=_unprintable_of),
    _f("unprintable", T, "印字できない文字の項目とコード（理由の文）",
       _unprintable_reasons_of(DEFAULT_PRINT), printing=_unprintable_reasons_of,
       quoted=False),
    _f("address_problems", T, "住所確認の理由（郵便番号・印字できない文字）",
       _address_problems_of(DEFAULT_PRINT), printing=_address_problems_of, quoted=False),
    _f("other_open_orders", N, "同じ注文者の未出荷注文数", lambda i: i.facts.other_open_orders),
    _f("unmergeable_open_orders", N, "同梱できない同じ注文者の未出荷注文数",
       lambda i: len(i.facts.merge_blockers)),
    _f("merge_blockers", T, "同梱できない理由（理由の文）",
       lambda i: "、".join(i.facts.merge_blockers), quoted=False),
    _f("past_orders", N, "同じ注文者の過去の注文数", lambda i: i.facts.past_orders),
    _f("tags", L, "タグ", lambda i: list(i.facts.tags)),
    _f("rms_status", N, "RMSステータス", lambda i: i.order.rms_status),
)
"""Every rule field, in the order `unyo schema` and the docs list them."""
FIELDS: dict[str, FieldSpec] = {f.name: f for f in FIELD_SPECS}


# ---- operators --------------------------------------------------------------------------

Test = Callable[[Any], bool]
_MAX_PATTERN = 200
MAX_CONDITION_DEPTH = 32
"""How deeply all / any / not may nest; deeper is refused, never a RecursionError."""


class TextPattern(Protocol):
    """A compiled `matches` pattern: found anywhere in the text, or not."""

    def search(self, text: str) -> object | None: ...


PatternCompiler = Callable[[str], TextPattern]
"""Compiles a `matches` pattern, or raises ValueError saying why it is refused.

The domain does not pick the regular-expression engine: Python's `re` backtracks, so a
pattern such as `(a+)+$` or even `\\d*\\d*x` against a long remark can keep a run busy
for minutes, and no check of a pattern's shape catches every such case. The flow layer
injects a linear-time engine (`unyo.flow.patterns`); without one, `matches` is refused.
"""


def _num(path: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise RuleError(path, f"expected a number, got {v!r}")
    return v


def _text(path: str, v: Any) -> str:
    if not isinstance(v, str):
        raise RuleError(path, f"expected text, got {v!r}")
    return unicodedata.normalize("NFKC", v)


def _texts(path: str, v: Any) -> list[str]:
    if isinstance(v, str):
        return [_text(path, v)]
    if not isinstance(v, list) or not v:
        raise RuleError(path, f"expected text or a list of text, got {v!r}")
    return [_text(f"{path}[{n}]", x) for n, x in enumerate(v)]


def _day(path: str, v: Any) -> date:
    if isinstance(v, date) and not isinstance(v, datetime):
        return v
    if isinstance(v, str):
        try:
            return date.fromisoformat(v)
        except ValueError:
            pass
    raise RuleError(path, f"expected a date like 2026-12-01, got {v!r}")


def _norm(s: Any) -> str:
    return unicodedata.normalize("NFKC", s) if isinstance(s, str) else ""


def _number_op(op: str, path: str, value: Any) -> Test:
    if op in ("eq", "ne", "lt", "le", "gt", "ge"):
        x = _num(path, value)
        cmp = {"eq": lambda a: a == x, "ne": lambda a: a != x, "lt": lambda a: a < x,
               "le": lambda a: a <= x, "gt": lambda a: a > x, "ge": lambda a: a >= x}[op]
        return lambda a: a is not None and cmp(a)
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise RuleError(path, "between takes [low, high]")
        lo, hi = _num(f"{path}[0]", value[0]), _num(f"{path}[1]", value[1])
        if lo > hi:
            raise RuleError(path, f"between: {lo} is above {hi}")
        return lambda a: a is not None and lo <= a <= hi
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise RuleError(path, f"{op} takes a list of numbers")
        xs = frozenset(_num(f"{path}[{n}]", v) for n, v in enumerate(value))
        return (lambda a: a in xs) if op == "in" else (lambda a: a not in xs)
    if op == "is_empty":
        return lambda a: a is None
    if op == "not_empty":
        return lambda a: a is not None
    raise AssertionError(op)


def _text_op(op: str, path: str, value: Any, patterns: PatternCompiler | None = None) -> Test:
    if op in ("is_empty", "not_empty"):
        empty = op == "is_empty"
        return lambda a: (not _norm(a).strip()) is empty
    if op in ("eq", "ne"):
        x = _text(path, value)
        return (lambda a: _norm(a) == x) if op == "eq" else (lambda a: _norm(a) != x)
    if op in ("in", "not_in"):
        xs = frozenset(_texts(path, value))
        return (lambda a: _norm(a) in xs) if op == "in" else (lambda a: _norm(a) not in xs)
    if op in ("contains", "not_contains", "starts_with", "ends_with"):
        words = _texts(path, value)
        if op == "starts_with":
            return lambda a: any(_norm(a).startswith(w) for w in words)
        if op == "ends_with":
            return lambda a: any(_norm(a).endswith(w) for w in words)
        hit: Test = lambda a: any(w in _norm(a) for w in words)  # noqa: E731
        return hit if op == "contains" else (lambda a: not hit(a))
    if op == "matches":
        pattern = _text(path, value)
        if len(pattern) > _MAX_PATTERN:
            raise RuleError(path, f"pattern longer than {_MAX_PATTERN} characters")
        if patterns is None:
            raise RuleError(path, "regular expressions cannot be used here (no pattern "
                            "engine was given to compile_rules)")
        try:
            rx = patterns(pattern)
        except ValueError as e:
            raise RuleError(path, str(e)) from None
        return lambda a: rx.search(_norm(a)) is not None
    raise AssertionError(op)


def _flag_op(op: str, path: str, value: Any) -> Test:
    if op == "is_true":
        return lambda a: a is True
    if op == "is_false":
        return lambda a: a is not True
    if not isinstance(value, bool):
        raise RuleError(path, f"expected true or false, got {value!r}")
    return (lambda a: bool(a) is value) if op == "eq" else (lambda a: bool(a) is not value)


def _day_op(op: str, path: str, value: Any, now_day: Callable[[RuleInput], date]) -> Any:
    """Day tests get the input too: `within_days` counts from the evaluation's day."""
    if op in ("is_empty", "not_empty"):
        empty = op == "is_empty"
        return lambda a, i: (a is None) is empty
    if op in ("within_days", "beyond_days"):
        n = _num(path, value)
        if op == "within_days":
            return lambda a, i: a is not None and (a - now_day(i)).days <= n
        return lambda a, i: a is not None and (a - now_day(i)).days > n
    x = _day(path, value)
    cmp = {"eq": lambda a: a == x, "ne": lambda a: a != x, "before": lambda a: a < x,
           "after": lambda a: a > x, "on_or_before": lambda a: a <= x,
           "on_or_after": lambda a: a >= x}[op]
    return lambda a, i: a is not None and cmp(a)


def _texts_op(op: str, path: str, value: Any) -> Test:
    if op in ("is_empty", "not_empty"):
        empty = op == "is_empty"
        return lambda a: (not a) is empty
    if op in ("count_gt", "count_lt"):
        n = _num(path, value)
        return (lambda a: len(a) > n) if op == "count_gt" else (lambda a: len(a) < n)
    words = _texts(path, value)
    if op == "contains":  # any element equals any word
        ws = frozenset(words)
        return lambda a: any(_norm(x) in ws for x in a)
    if op == "not_contains":
        ws = frozenset(words)
        return lambda a: not any(_norm(x) in ws for x in a)
    if op == "contains_all":
        ws = frozenset(words)
        return lambda a: ws <= {_norm(x) for x in a}
    if op == "any_starts_with":
        return lambda a: any(_norm(x).startswith(w) for x in a for w in words)
    if op == "any_contains":
        return lambda a: any(w in _norm(x) for x in a for w in words)
    raise AssertionError(op)


OPERATORS: dict[FieldType, tuple[str, ...]] = {
    FieldType.number: ("eq", "ne", "lt", "le", "gt", "ge", "between", "in", "not_in",
                       "is_empty", "not_empty"),
    FieldType.text: ("eq", "ne", "in", "not_in", "contains", "not_contains", "starts_with",
                     "ends_with", "matches", "is_empty", "not_empty"),
    FieldType.flag: ("is_true", "is_false", "eq", "ne"),
    FieldType.day: ("eq", "ne", "before", "after", "on_or_before", "on_or_after",
                    "within_days", "beyond_days", "is_empty", "not_empty"),
    FieldType.choice: ("eq", "ne", "in", "not_in"),
    FieldType.texts: ("contains", "not_contains", "contains_all", "any_starts_with",
                      "any_contains", "count_gt", "count_lt", "is_empty", "not_empty"),
}
_NO_VALUE = frozenset({"is_empty", "not_empty", "is_true", "is_false"})


# ---- conditions -------------------------------------------------------------------------

Condition = Callable[[RuleInput], bool]


_JST = timezone(timedelta(hours=9))


def _jst_day(i: RuleInput) -> date:
    return i.now.astimezone(_JST).date()


def _fused(type_: FieldType, op: str, value: Any, get: Getter) -> Condition | None:
    """The row as one closure for the most used operators (one call per row instead of
    three); None for the others. It must agree with the generic `test(get(i))` built by
    the `_*_op` functions, which have checked `value` already (tests/domain/test_rules.py
    compares the two on generated orders)."""
    if type_ is FieldType.flag:
        if op == "is_true":
            return lambda i: get(i) is True
        if op == "is_false":
            return lambda i: get(i) is not True
        return None
    if type_ is FieldType.number:
        if op == "is_empty":
            return lambda i: get(i) is None
        if op == "not_empty":
            return lambda i: get(i) is not None
        if op not in ("eq", "ne", "lt", "le", "gt", "ge"):
            return None
        x = value
        if op == "eq":
            return lambda i: (a := get(i)) is not None and a == x
        if op == "ne":
            return lambda i: (a := get(i)) is not None and a != x
        if op == "lt":
            return lambda i: (a := get(i)) is not None and a < x
        if op == "le":
            return lambda i: (a := get(i)) is not None and a <= x
        if op == "gt":
            return lambda i: (a := get(i)) is not None and a > x
        return lambda i: (a := get(i)) is not None and a >= x
    if type_ is FieldType.texts and op in ("is_empty", "not_empty"):
        if op == "is_empty":
            return lambda i: not get(i)
        return lambda i: bool(get(i))
    return None


def _compile_row(node: Mapping[str, Any], path: str, fuse: bool = True,
                 patterns: PatternCompiler | None = None,
                 remarks: RemarksTemplate = NO_TEMPLATE,
                 printing: PrintSpec | None = None) -> Condition:
    unknown = set(node) - {"field", "op", "value"}
    if unknown:
        raise RuleError(f"{path}.{sorted(unknown)[0]}",
                        "unknown key (a condition row has field, op and value)")
    name = node.get("field")
    if not isinstance(name, str) or name not in FIELDS:
        raise RuleError(f"{path}.field", f"unknown field {name!r}"
                        + _suggest(name, FIELDS))
    spec = FIELDS[name]
    op = node.get("op")
    allowed = OPERATORS[spec.type]
    if op not in allowed:
        raise RuleError(f"{path}.op", f"{op!r} is not an operator for {name} "
                        f"({spec.type.value}); use one of: {', '.join(allowed)}")
    assert isinstance(op, str)
    has_value = "value" in node
    if op in _NO_VALUE and has_value:
        raise RuleError(f"{path}.value", f"{op} takes no value")
    if op not in _NO_VALUE and not has_value:
        raise RuleError(path, f"{op} needs a value")
    value = node.get("value")
    vpath = f"{path}.value"
    get = spec.getter(remarks, printing)
    if spec.type is FieldType.choice:
        choices = _texts(vpath, value)
        bad = [c for c in choices if c not in spec.choices]
        if bad:
            raise RuleError(vpath, f"{bad[0]!r} is not one of {', '.join(spec.choices)}")
        test = _text_op(op, vpath, value)
    elif spec.type is FieldType.day:
        day_test = _day_op(op, vpath, value, _jst_day)
        return lambda i: bool(day_test(get(i), i))
    else:
        test = (_text_op(op, vpath, value, patterns) if spec.type is FieldType.text else
                {FieldType.number: _number_op, FieldType.flag: _flag_op,
                 FieldType.texts: _texts_op}[spec.type](op, vpath, value))
        fused = _fused(spec.type, op, value, get) if fuse else None
        if fused is not None:
            return fused
    return lambda i: bool(test(get(i)))


def rule_path(path: str) -> str:
    """A condition's path within its rule: `rules[3].when.any[0]` → `when.any[0]`."""
    at = path.find("when")
    return path[at:] if at >= 0 else path


def _traced(cond: Condition, path: str, get: Getter, name: str) -> Condition:
    """The row's condition, recording what it saw when the evaluation carries a trace
    (the same test decide() runs: the trace only watches it)."""
    where = rule_path(path)

    def row(i: RuleInput) -> bool:
        held = cond(i)
        if i.trace is not None:
            i.trace.append(RowTrace(where, name, get(i), held))
        return held
    return row


def _compile_condition(node: Any, path: str, fuse: bool = True,
                       patterns: PatternCompiler | None = None, depth: int = 0,
                       remarks: RemarksTemplate = NO_TEMPLATE,
                       printing: PrintSpec | None = None) -> Condition:
    """A condition as one callable. `fuse=False` builds every row the generic way (for
    tests that check the fused rows against it). `depth` counts the all / any / not
    around it: past MAX_CONDITION_DEPTH the rule is refused, so no shop file can make
    this recursion (or the diagram's) run out of stack."""
    if not isinstance(node, Mapping) or not node:
        raise RuleError(path, "expected a condition: {field, op, value}, or all / any / not")
    if "field" in node:
        return _traced(_compile_row(node, path, fuse, patterns, remarks, printing), path,
                       FIELDS[node["field"]].getter(remarks, printing), node["field"])
    if depth >= MAX_CONDITION_DEPTH:
        raise RuleError(path, f"conditions nested more than {MAX_CONDITION_DEPTH} levels deep "
                        "(all / any / not); split the rule or flatten the condition")
    if len(node) != 1:
        raise RuleError(path, f"combine conditions with exactly one of all / any / not, "
                        f"got {', '.join(map(str, node))}")
    ((key, inner),) = node.items()
    if key == "not":
        c = _compile_condition(inner, f"{path}.not", fuse, patterns, depth + 1, remarks,
                               printing)
        return lambda i: not c(i)
    if key not in ("all", "any"):
        raise RuleError(f"{path}.{key}", "unknown key (use field, all, any or not)")
    if not isinstance(inner, list) or not inner:
        raise RuleError(f"{path}.{key}", "expected a non-empty list of conditions")
    parts = [_compile_condition(c, f"{path}.{key}[{n}]", fuse, patterns, depth + 1, remarks,
                                printing)
             for n, c in enumerate(inner)]
    # Every part returns a bool, so `and` / `or` give the same answer as all() / any(),
    # stopping at the same part, without a generator per evaluation.
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        a, b = parts
        return (lambda i: a(i) and b(i)) if key == "all" else (lambda i: a(i) or b(i))
    if key == "all":
        return lambda i: all(p(i) for p in parts)
    return lambda i: any(p(i) for p in parts)


def _suggest(name: Any, known: Mapping[str, Any]) -> str:
    if not isinstance(name, str):
        return ""
    import difflib
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


# ---- actions ----------------------------------------------------------------------------

class ActionKind(StrEnum):
    check = "check"  # open a check gate (確認待ち) with a message
    hold = "hold"  # open a hold gate (保留) until a time
    set = "set"  # set a field for the warehouse (配送方法, 倉庫メモ)
    tag = "tag"  # add a tag (受注分類タグ)
    merge = "merge"  # merge with the buyer's other open orders (同梱)
    confirm = "confirm"  # confirm: wait — keep 注文確認 back until a person releases it


SETTABLE = {"delivery_method": "配送方法", "warehouse_note": "倉庫への指示"}
HOLD_FROM_FIELDS = {"requested_delivery_date": "お届け希望日", "release_date": "発売日"}


@dataclass(frozen=True)
class HoldSpec:
    """When a hold ends: a fixed time, a duration from now, N days before a field's date,
    or the next business day; resolved against the evaluation's time."""

    at: datetime | None = None
    after: timedelta | None = None
    field: str | None = None
    days_before: int = 0
    next_business_day: bool = False
    # no time: the hold lasts while the rule's condition holds (e.g. a social gift until
    # its recipient gives the address) and ends by itself once it does not
    while_matched: bool = False


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    message: str = ""  # check / confirm: the reason shown; tag: the tag; set: the value
    target: str = ""  # set: which field
    hold: HoldSpec | None = None
    # check: a message that quotes fields ({remarks}) is built per order by this
    render: Callable[[RuleInput], str] | None = field(default=None, compare=False,
                                                      repr=False)
    # merge: the check (確認待ち) reason when some of the buyer's open orders cannot share
    # the parcel (Facts.merge_blockers); "" for none
    unmergeable: str = ""

    def reason(self, given: RuleInput) -> str:
        """The check's reason for this order: the message with its fields filled in (for a
        merge, the `unmergeable` reason)."""
        text = self.unmergeable if self.kind is ActionKind.merge else self.message
        return text if self.render is None else self.render(given)


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
QUOTE_LENGTH = 30
"""How much of a quoted field a reason shows (e.g. the start of the buyer's request)."""


def _shown_value(value: Any, limit: int = QUOTE_LENGTH) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if isinstance(value, list | tuple):
        value = "、".join(map(str, value))
    return quote(str(value), limit)


def _message(text: str, remarks: RemarksTemplate, printing: PrintSpec | None = None
             ) -> Callable[[RuleInput], str] | None:
    """A check message quoting fields by name (`備考欄に要望: {remarks}`): a builder of the
    text per order, or None for a fixed message. `{name}` quotes the field of that name;
    any other braces are text (shop files written before quoting keep their meaning).
    The values are quoted on one line and cut (buyer text is shown, never interpreted,
    and a quoted value is not read again for fields)."""
    specs = {n: FIELDS[n] for n in _PLACEHOLDER.findall(text) if n in FIELDS}
    getters = {n: f.getter(remarks, printing) for n, f in specs.items()}
    if not getters:
        return None

    def render(i: RuleInput) -> str:
        def fill(m: re.Match[str]) -> str:
            get = getters.get(m.group(1))
            if get is None:
                return m.group(0)
            return _shown_value(get(i), QUOTE_LENGTH if specs[m.group(1)].quoted else 300)
        return _PLACEHOLDER.sub(fill, text)[:300]

    return render


_DURATION = re.compile(r"^(\d+)\s*(m|h|d)$")


def _compile_hold(v: Any, path: str) -> HoldSpec:
    if not isinstance(v, Mapping) or not v:
        raise RuleError(path, "hold needs until, for, from or next_business_day")
    keys = set(v) - {"reason"}
    if keys == {"until"}:
        raw = v["until"]
        try:
            at = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
        except ValueError:
            raise RuleError(f"{path}.until", f"{raw!r} is not a date-time "
                            "(e.g. 2026-12-01T09:00+09:00)") from None
        if at.tzinfo is None:
            raise RuleError(f"{path}.until", "give the time zone, e.g. +09:00")
        return HoldSpec(at=at)
    if keys == {"for"}:
        m = _DURATION.match(str(v["for"]).strip())
        if not m or int(m.group(1)) == 0:
            raise RuleError(f"{path}.for", f"{v['for']!r} is not a duration like 30m, 6h, 3d")
        n, unit = int(m.group(1)), m.group(2)
        return HoldSpec(after=timedelta(minutes=n) if unit == "m" else
                        timedelta(hours=n) if unit == "h" else timedelta(days=n))
    if keys in ({"from"}, {"from", "days_before"}):
        src = v["from"]
        if src not in HOLD_FROM_FIELDS:
            raise RuleError(f"{path}.from", f"{src!r} is not a date to hold from; use one of: "
                            f"{', '.join(HOLD_FROM_FIELDS)}")
        days = v.get("days_before", 0)
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 60:
            raise RuleError(f"{path}.days_before", "expected whole days, 0–60")
        return HoldSpec(field=src, days_before=days)
    if keys == {"next_business_day"}:
        if v["next_business_day"] is not True:
            raise RuleError(f"{path}.next_business_day", "expected true")
        return HoldSpec(next_business_day=True)
    if keys == {"while"}:
        if v["while"] is not True:
            raise RuleError(f"{path}.while", "expected true (保留 while the condition holds)")
        return HoldSpec(while_matched=True)
    got = ", ".join(sorted(map(str, keys))) or "none"
    raise RuleError(path, "a hold ends with exactly one of until, for, from (+ days_before), "
                    f"next_business_day or while; got {got}")


def _merge_spec(v: Any, path: str) -> tuple[str, str]:
    """`merge: true`, `merge: {}` or `merge: {tag: 同梱, unmergeable: "…"}`: the tag for
    the surviving order and the check reason when some of the buyer's open orders cannot
    share the parcel ("" for either: none)."""
    if v is True:
        return "", ""
    if not isinstance(v, Mapping):
        raise RuleError(path, "expected true, or a mapping with an optional tag "
                        "(merge: true / merge: {tag: 同梱})")
    unknown = sorted(map(str, set(v) - {"tag", "unmergeable"}))
    if unknown:
        raise RuleError(f"{path}.{unknown[0]}",
                        "unknown key (merge takes tag and unmergeable)")
    tag = v.get("tag", "")
    if "tag" in v and (not isinstance(tag, str) or not tag.strip() or len(tag) > 50):
        raise RuleError(f"{path}.tag", "expected a tag of 1–50 characters")
    check = v.get("unmergeable", "")
    if "unmergeable" in v and (not isinstance(check, str) or not check.strip()):
        raise RuleError(f"{path}.unmergeable", "expected the message to show (確認内容) "
                        "when an open order of the buyer cannot be merged")
    return tag.strip(), check.strip()[:200]


def _confirm_wait(v: Any, path: str) -> str:
    """`confirm: wait` (the reason shown is the rule's name) or `confirm: {wait: true,
    reason: …}`: the reason for keeping confirmOrder back ("" for the rule's name)."""
    if v == "wait":
        return ""
    if not isinstance(v, Mapping) or v.get("wait") is not True:
        raise RuleError(path, "expected wait, or {wait: true, reason: …} (注文確認を保留)")
    unknown = sorted(map(str, set(v) - {"wait", "reason"}))
    if unknown:
        raise RuleError(f"{path}.{unknown[0]}", "unknown key (confirm takes wait and reason)")
    reason = v.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 200:
        raise RuleError(f"{path}.reason", "expected text of at most 200 characters")
    return reason.strip()


def _compile_action(node: Any, path: str, remarks: RemarksTemplate = NO_TEMPLATE,
                    printing: PrintSpec | None = None) -> Action:
    if not isinstance(node, Mapping) or len(node) != 1:
        raise RuleError(path, "an action is one of check, hold, set, tag, merge, confirm")
    ((key, v),) = node.items()
    if key == "check":
        if not isinstance(v, str) or not v.strip():
            raise RuleError(f"{path}.check", "expected the message to show (確認内容)")
        message = v.strip()[:200]
        return Action(ActionKind.check, message,
                      render=_message(message, remarks, printing))
    if key == "hold":
        reason = v.get("reason", "") if isinstance(v, Mapping) else ""
        return Action(ActionKind.hold, str(reason)[:200], hold=_compile_hold(v, f"{path}.hold"))
    if key == "tag":
        if not isinstance(v, str) or not v.strip() or len(v) > 50:
            raise RuleError(f"{path}.tag", "expected a tag of 1–50 characters")
        return Action(ActionKind.tag, v.strip())
    if key == "set":
        if not isinstance(v, Mapping) or len(v) != 1:
            raise RuleError(f"{path}.set", f"set one field: {', '.join(SETTABLE)}")
        ((target, value),) = v.items()
        if target not in SETTABLE:
            raise RuleError(f"{path}.set.{target}", f"cannot set {target!r}; settable: "
                            f"{', '.join(SETTABLE)}")
        if not isinstance(value, str) or len(value) > 200:
            raise RuleError(f"{path}.set.{target}", "expected text of at most 200 characters")
        return Action(ActionKind.set, value, target=str(target))
    if key == "merge":
        tag, check = _merge_spec(v, f"{path}.merge")
        return Action(ActionKind.merge, tag, unmergeable=check,
                      render=_message(check, remarks, printing) if check else None)
    if key == "confirm":
        return Action(ActionKind.confirm, _confirm_wait(v, f"{path}.confirm"))
    raise RuleError(f"{path}.{key}", f"unknown action {key!r}; use check, hold, set, tag, "
                    "merge or confirm" + _suggest(key, {k.value: 1 for k in ActionKind}))


# ---- rules ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CompiledRule:
    name: str
    description: str
    when: Condition = field(repr=False)
    then: tuple[Action, ...]
    source: Mapping[str, Any] = field(repr=False, compare=False)  # for the diagram


class RuleErrors(RuleError):
    """Several rules with mistakes: `errors` has one RuleError per rule, in file order."""

    def __init__(self, errors: list[RuleError]) -> None:
        super().__init__(errors[0].path, errors[0].message)
        self.errors = errors


def compile_rules(nodes: Any, path: str = "rules", *,
                  patterns: PatternCompiler | None = None,
                  remarks: RemarksTemplate = NO_TEMPLATE,
                  printing: PrintSpec | None = None) -> tuple[CompiledRule, ...]:
    """Check and compile the shop file's `rules` list.

    Each rule is checked on its own, so a file with several broken rules gets one
    error per rule (RuleErrors; its first is also the RuleError itself). `patterns`
    compiles the `matches` rows (see PatternCompiler); without it they are refused.
    `remarks` is the shop's own remarks template (its question headers), which the
    `remarks` field leaves out besides Rakuten's. `printing` is the warehouse's encoding
    and substitution table (`unprintable_chars`, `unprintable`); default cp932 and the
    shipped table."""
    if nodes is None:
        return ()
    if not isinstance(nodes, list):
        raise RuleError(path, "expected a list of rules")
    rules: list[CompiledRule] = []
    names: dict[str, int] = {}
    errors: list[RuleError] = []
    for n, node in enumerate(nodes):
        try:
            rule = _compile_rule(node, f"{path}[{n}]", n, names, patterns, remarks, printing)
        except RuleError as e:
            errors.append(e)
            continue
        if rule is not None:
            rules.append(rule)
    if errors:
        raise RuleErrors(errors)
    return tuple(rules)


def _compile_rule(node: Any, at: str, n: int, names: dict[str, int],
                  patterns: PatternCompiler | None,
                  remarks: RemarksTemplate = NO_TEMPLATE,
                  printing: PrintSpec | None = None) -> CompiledRule | None:
    if not isinstance(node, Mapping):
        raise RuleError(at, "expected a rule: name, when, then")
    unknown = set(node) - {"name", "description", "when", "then", "enabled"}
    if unknown:
        raise RuleError(f"{at}.{sorted(map(str, unknown))[0]}",
                        "unknown key (a rule has name, description, when, then, enabled)")
    name = node.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 80:
        raise RuleError(f"{at}.name", "expected a name of 1–80 characters")
    if name in names:
        raise RuleError(f"{at}.name", f"{name!r} is already the name of rules[{names[name]}]")
    names[name] = n
    if "when" not in node:
        raise RuleError(at, "a rule needs when (its condition)")
    when = _compile_condition(node["when"], f"{at}.when", patterns=patterns, remarks=remarks,
                              printing=printing)
    then = node.get("then")
    if not isinstance(then, list) or not then:
        raise RuleError(f"{at}.then", "expected a non-empty list of actions")
    actions = tuple(_compile_action(a, f"{at}.then[{k}]", remarks, printing)
                    for k, a in enumerate(then))
    enabled = node.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError(f"{at}.enabled", "expected true or false")
    if not enabled:
        return None
    return CompiledRule(name, str(node.get("description") or ""), when, actions, node)


def evaluate(rules: Sequence[CompiledRule], given: RuleInput) -> list[CompiledRule]:
    """The rules whose condition holds for this order, in file order."""
    return [r for r in rules if r.when(given)]


def hold_until(spec: HoldSpec, given: RuleInput,
               next_business_day: Callable[[date], date]) -> datetime | None:
    """When a hold ends for this order; None when the date it holds from is unknown.

    Day-based ends are at 00:00 JST of that day. `next_business_day` (from the app,
    which knows the holidays) maps a day to the first business day after it.
    """
    if spec.at is not None:
        return spec.at
    if spec.while_matched:
        return None
    if spec.after is not None:
        return given.now + spec.after
    if spec.next_business_day:
        return datetime.combine(next_business_day(_jst_day(given)), time(), _JST)
    day: date | None = None
    if spec.field == "requested_delivery_date":
        day = given.order.channel.requested_delivery_date
    elif spec.field == "release_date":
        day = release_date(given.order)
    if day is None:
        return None
    return datetime.combine(day - timedelta(days=spec.days_before), time(), _JST)

