"""Orders as unyo sees them.

`ChannelOrder` is what the marketplace says about an order, normalised (the
RMS keys are translated in `unyo.adapters.rakuten.mapping` and never reach
here). `Order` is unyo's order: a channel snapshot plus the stage, the gates
and a version for compare-and-set. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from operator import attrgetter
from typing import Any

from unyo.domain.vocabulary import (
    Actor,
    EffectKind,
    EventType,
    GateKind,
    OrderType,
    RmsStatus,
    Stage,
)

NOT_FIXED = -9999
"""Rakuten's value for an amount that is not fixed yet (e.g. postage to be decided)."""
_KNOWN_STATUS = frozenset(int(s) for s in RmsStatus)

# One encoder for every digest: `json.dumps(..., ensure_ascii=False)` builds a new
# JSONEncoder per call, which cost more than the encoding. Same output, byte for byte
# (stored fingerprints must not change).
_DIGEST_JSON = json.JSONEncoder(ensure_ascii=False)

_DIGIT_DASH = re.compile(r"(?<=\d)[ー‐‑‒–—―−](?=\d)")
_DASHES = str.maketrans({ch: "-" for ch in "‐‑‒–—―−"})


def fold(text: str) -> str:
    """Text as people mean it, for matching names and addresses: NFKC (full and half
    width the same), no spaces, every hyphen-like mark (and ー between digits, as in
    1ー2ー3) one `-`."""
    t = unicodedata.normalize("NFKC", text)
    t = _DIGIT_DASH.sub("-", t).translate(_DASHES)
    return "".join(t.split())


def digits(text: str) -> str:
    """Only the digits (phone numbers, postal codes), after NFKC."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isdigit())


@dataclass(frozen=True, slots=True)
class Address:
    postal_code: str  # 7 digits, no hyphen
    prefecture: str
    city: str
    sub_address: str


@dataclass(frozen=True, slots=True)
class Person:
    """A buyer (注文者) or a recipient (送付先)."""

    family_name: str
    first_name: str
    family_name_kana: str
    first_name_kana: str
    phone: str
    address: Address
    email: str = ""  # masked Rakuten address for buyers, empty for recipients

    @property
    def name(self) -> str:
        return f"{self.family_name} {self.first_name}".strip()


@dataclass(frozen=True, slots=True)
class Item:
    item_detail_id: int | None
    item_number: str  # 商品番号 (shop's number)
    manage_number: str  # 商品管理番号
    name: str
    price: int
    units: int
    tax_rate: float | None = None
    selected_choice: str = ""  # 項目選択肢 text
    sku: str = ""  # merchant SKU when the item has variants
    delivery_info: str = ""  # 納期情報 (e.g. release date text for pre-orders)


@dataclass(frozen=True, slots=True)
class Shipment:
    """A shipping row on a package (RMS ShippingModel)."""

    shipping_detail_id: int | None
    carrier_code: str  # RMS deliveryCompany code, e.g. "1001"
    tracking_number: str
    ship_date: date | None


@dataclass(frozen=True, slots=True)
class PickupStore:
    """コンビニ受取 / 郵便局受取: the store the parcel goes to, where the recipient collects
    it (RMS PackageModel.DeliveryCvsModel). The recipient's own address is not where it
    goes."""

    chain: str  # the store chain (ファミリーマート, ローソン, 郵便局...)
    store_code: str  # the chain's store code (ストアコード)
    name: str  # ストア名称
    postal_code: str  # 7 digits, no hyphen ("" when RMS has none)
    prefecture: str
    address: str  # the rest of the store's address
    remarks: str = ""  # 特記事項

    @property
    def full_address(self) -> str:
        return f"{self.prefecture}{self.address}"


@dataclass(frozen=True, slots=True)
class SocialGift:
    """ソーシャルギフト: the buyer sent a link; the recipient gives their address themselves
    by `input_due`. Until then the package's recipient is a placeholder (RMS PackageModel.
    SocialGiftModel)."""

    number: str  # ソーシャルギフト管理番号 (the recipient quotes it when asking)
    input_due: date | None  # 受取情報入力期限日
    address_given: bool  # 受取情報入力済
    given_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Package:
    """One destination (RMS PackageModel / 送付先)."""

    basket_id: int
    recipient: Person
    items: tuple[Item, ...]
    goods_price: int
    postage_price: int
    delivery_price: int  # 代引料
    total_price: int
    noshi: str = ""
    isolated_island: bool = False
    shipments: tuple[Shipment, ...] = ()
    pickup_store: PickupStore | None = None  # コンビニ受取 / 郵便局受取
    drop_off: str = ""  # 置き配: where to leave the parcel ("" = handed over in person)
    social_gift: SocialGift | None = None  # ソーシャルギフト

    @property
    def awaiting_address(self) -> bool:
        """A social gift whose recipient has not given their address yet."""
        return self.social_gift is not None and not self.social_gift.address_given


@dataclass(frozen=True, slots=True)
class Payment:
    method_code: int  # RMS settlementMethodCode
    method_name: str
    rakuten_pay: bool  # rpaySettlementFlag 1 = 楽天共通決済; 0 = 選択制決済

    @property
    def cash_on_delivery(self) -> bool:
        return self.method_code == 2


@dataclass(frozen=True, slots=True)
class Amounts:
    """Order-level amounts in yen; NOT_FIXED (-9999) where Rakuten has none yet."""

    goods: int
    postage: int
    delivery: int  # 代引料
    payment_charge: int
    total: int
    request: int  # 請求金額 (what the buyer pays after points and coupons)
    coupon: int = 0
    points_used: int = 0

    @property
    def any_not_fixed(self) -> bool:
        return NOT_FIXED in (self.goods, self.postage, self.delivery, self.payment_charge,
                             self.total, self.request)


@dataclass(frozen=True, slots=True)
class ChannelOrder:
    """The marketplace's view of one order, normalised."""

    order_number: str
    status: int  # RMS orderProgress
    ordered_at: datetime
    order_type: OrderType
    member: bool  # rakutenMemberFlag
    next_day: bool  # あす楽 (asurakuFlag)
    next_day_cert: bool  # 最強翌日配送 (deliveryCertPrgFlag)
    buyer: Person
    payment: Payment
    amounts: Amounts
    packages: tuple[Package, ...]
    remarks: str = ""  # 備考欄, raw, template lines included
    gift: bool = False
    isolated_island: bool = False
    requested_delivery_date: date | None = None
    shipping_term: str = ""  # RMS shippingTerm as given ("0", "1", "1416"...)
    delivery_name: str = ""  # 配送方法
    confirmed_at: datetime | None = None  # shopOrderCfmDatetime
    memo: str = ""  # ひとことメモ
    sub_status_id: int | None = None
    social_gift: bool = False  # ソーシャルギフト (socialGiftFlag); per package: Package.social_gift
    same_day: bool = False  # 当日出荷: to ship within one business day (oneDayOperationFlag)
    # Rakuten's 顧客・配送対応注意表示 on the buyer, in words: the level ("" none, 注意喚起,
    # キャンセル確定) and what to watch for (受取拒否に注意...)
    caution: str = ""
    caution_detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # What the channel's adapter had to repair to read the order (e.g. a NUL in a name):
    # each opens 確認待ち (`problems`).
    notes: tuple[str, ...] = field(default=(), compare=False, hash=False)
    # Payment due dates (RMS DueDateModelList, bank transfer / prepaid) and the date RMS
    # cancels an unsettled order (cancelDueDate): the money watch's, not the rules'.
    due_dates: tuple[date, ...] = field(default=(), compare=False, hash=False)
    cancel_due: date | None = field(default=None, compare=False, hash=False)
    # Digests computed once per instance (an order is re-read, compared and stored many
    # times); a copy with changes starts without them.
    _digests: dict[str, str] | None = field(default=None, init=False, compare=False,
                                            hash=False, repr=False)

    def _digest(self, name: str, compute: Any) -> str:
        cache = self._digests
        if cache is None:
            cache = {}
            object.__setattr__(self, "_digests", cache)
        value = cache.get(name)
        if value is None:
            value = cache[name] = compute()
        return value

    def with_notes(self, notes: tuple[str, ...]) -> ChannelOrder:
        return replace(self, notes=notes)

    def problems(self) -> list[str]:
        """What makes no sense in this order (computed once per instance); see `_problems`."""
        cache = self._digests
        if cache is None:
            cache = {}
            object.__setattr__(self, "_digests", cache)
        found = cache.get("problems")
        if found is None:
            found = cache["problems"] = "\x1f".join(self._problems())
        return found.split("\x1f") if found else []

    def _problems(self) -> list[str]:
        """What makes no sense in this order, each a reason for 確認待ち: repaired data, an
        orderProgress RMS does not define, a negative amount (other than NOT_FIXED), totals
        that do not add up (reference/rakuten-rms.md: 合計 = 商品 + 送料 + 代引料 + 決済手数料
        + ラッピング料; 請求 = 合計 − クーポン − ポイント)."""
        out = [f"受注データを修復しました（{n}）"[:300] for n in self.notes]
        if self.status not in _KNOWN_STATUS:
            out.append(f"RMSの受注ステータス {self.status} は未知の値です")
        a = self.amounts
        named = (("商品金額", a.goods), ("送料", a.postage), ("代引料", a.delivery),
                 ("決済手数料", a.payment_charge), ("合計金額", a.total),
                 ("請求金額", a.request), ("クーポン", a.coupon), ("ポイント", a.points_used))
        negative = [f"{name} {value:,}円" for name, value in named
                    if value < 0 and value != NOT_FIXED]
        for p in self.packages:
            negative += [f"送付先{p.basket_id}の{name} {value:,}円" for name, value in (
                ("商品金額", p.goods_price), ("送料", p.postage_price),
                ("代引料", p.delivery_price), ("合計金額", p.total_price))
                if value < 0 and value != NOT_FIXED]
        if negative:
            out.append(f"金額が負の値です: {'、'.join(negative)}"[:300])
        elif not a.any_not_fixed:
            wrapping = self.wrapping_price()
            parts = a.goods + a.postage + a.delivery + a.payment_charge
            if a.total not in (parts, parts + wrapping):
                out.append(f"合計金額 {a.total:,}円が内訳（商品 {a.goods:,} + 送料 {a.postage:,}"
                           f" + 代引料 {a.delivery:,} + 決済手数料 {a.payment_charge:,}"
                           + (f" + ラッピング {wrapping:,}" if wrapping else "")
                           + "）と合いません")
            elif a.request != a.total - a.coupon - a.points_used:
                out.append(f"請求金額 {a.request:,}円が 合計 {a.total:,} − クーポン {a.coupon:,}"
                           f" − ポイント {a.points_used:,} と合いません")
        return out

    def wrapping_price(self) -> int:
        total = 0
        for key in ("WrappingModel1", "WrappingModel2"):
            w = self.extra.get(key)
            if isinstance(w, dict) and type(w.get("price")) is int and w["price"] > 0:
                total += w["price"]
        return total

    @property
    def several_destinations(self) -> bool:
        return len(self.packages) > 1

    @property
    def awaiting_gift_address(self) -> bool:
        """A social gift with a recipient still to give their address."""
        return any(p.awaiting_address for p in self.packages)

    @property
    def self_cancellable(self) -> bool:
        """Whether the buyer may still cancel by themselves within 30 minutes of ordering.

        Rakuten members can; not for next-day (あす楽 / 最強翌日配送), 予約, 定期,
        頒布会, nor non-members (reference/rakuten-rms.md, status codes).
        """
        return (
            self.member
            and self.order_type is OrderType.normal
            and not self.next_day
            and not self.next_day_cert
        )

    def buyer_key(self) -> str:
        """Who the buyer is across orders: name and phone, normalised (NFKC, no spaces or
        hyphens). Rakuten masks buyer e-mail addresses, so they cannot serve."""
        return self._digest("buyer", self._buyer_key)

    def _buyer_key(self) -> str:
        text = fold(self.buyer.family_name + self.buyer.first_name) + "|" + digits(
            self.buyer.phone)
        return hashlib.sha1(text.encode()).hexdigest()[:20]

    def details(self) -> str:
        """A digest of what the rules read beyond the fingerprint: remarks, the requested
        delivery date and time, delivery and payment method, gift, the buyer. A change of
        it re-runs the rules without asking a person (it is not a change of what is paid
        for or where it goes)."""
        return self._digest("details", self._details)

    def _details(self) -> str:
        b = self.buyer
        parts = [self.remarks, str(self.requested_delivery_date), self.shipping_term,
                 self.delivery_name, self.payment.method_code, self.gift,
                 self.isolated_island, self.order_type.value, self.next_day,
                 self.next_day_cert, b.family_name, b.first_name, b.phone,
                 b.address.postal_code, b.address.prefecture, b.address.city,
                 b.address.sub_address, [p.noshi for p in self.packages]]
        if self.same_day or self.caution or self.caution_detail or any(
                p.drop_off for p in self.packages):
            # (appended only where there is one: other orders' digests stay as they were)
            parts.append([self.same_day, self.caution, self.caution_detail,
                          [p.drop_off for p in self.packages]])
        return hashlib.sha1(_DIGEST_JSON.encode(parts).encode()).hexdigest()[:16]

    def fingerprint(self) -> str:
        """A digest of what the buyer pays for and where it goes: amounts, and per package
        the items and the recipient (name, address, phone).

        A change of it after import means the order changed at the channel (変更).
        """
        return self._digest("fingerprint", self._fingerprint)

    def _fingerprint(self) -> str:
        a = self.amounts
        parts: list[Any] = [a.goods, a.postage, a.delivery, a.payment_charge, a.total, a.request,
                            a.coupon, a.points_used]
        for p in self.packages:
            r = p.recipient
            parts.append([p.basket_id, p.total_price,
                          sorted((i.item_number, i.manage_number, i.selected_choice, i.sku,
                                  i.price, i.units) for i in p.items),
                          [r.family_name, r.first_name, r.phone, r.address.postal_code,
                           r.address.prefecture, r.address.city, r.address.sub_address]])
            if p.pickup_store is not None:  # where it goes: the store (only where there is
                s = p.pickup_store           # one, so other orders' fingerprints stay)
                parts.append([s.chain, s.store_code, s.name, s.postal_code, s.prefecture,
                              s.address])
        return hashlib.sha1(_DIGEST_JSON.encode(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Gate:
    """Something an order waits for. Open while `closed_at` is None."""

    kind: GateKind
    reason: str
    opened_at: datetime
    opened_by: Actor
    closed_at: datetime | None = None
    closed_by: Actor | None = None
    close_note: str = ""
    until: datetime | None = None  # hold gates: the time the clock closes them
    seq: int = 0  # the gate's number within its order, from 1, given when opened
    rule: str = ""  # the shop rule that opened it ("" for the flow's own gates)
    fingerprint: str = ""  # the order's fingerprint when a rule opened it

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    at: datetime
    actor: Actor
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Effect:
    """An outside action to deliver after commit; `dedupe_key` makes it once-only."""

    kind: EffectKind
    dedupe_key: str
    payload: dict[str, Any] = field(default_factory=dict)
    not_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class MergedPart:
    """An order merged into another (同梱): what it adds to the surviving order's parcel,
    as RMS had it when last read. The survivor reports shipping to RMS for it."""

    order_number: str
    order_id: int | None
    basket_id: int
    items: tuple[Item, ...]
    amounts: Amounts
    package_total: int  # the package's totalPrice: what cash on delivery collects for it
    fingerprint: str  # the merged order's fingerprint when last read
    rms_status: int  # its RMS status when last read
    merged_at: datetime


def combined_amounts(amounts: tuple[Amounts, ...]) -> Amounts:
    """Field-wise sums; a field not fixed (-9999) in any of them is not fixed."""
    def total(name: str) -> int:
        values = [getattr(a, name) for a in amounts]
        return NOT_FIXED if NOT_FIXED in values else sum(values)
    return Amounts(*(total(n) for n in ("goods", "postage", "delivery", "payment_charge",
                                        "total", "request", "coupon", "points_used")))


@dataclass(frozen=True, slots=True)
class Order:
    """unyo's order: the channel snapshot, the stage, the gates and a version.

    `channel` is the last full read from the marketplace; `rms_status` and
    `confirmed_at` are unyo's latest knowledge of the RMS status, which a
    confirmation moves without a new read.
    """

    shop: str
    channel: ChannelOrder
    stage: Stage
    gates: tuple[Gate, ...] = ()
    version: int = 0
    imported_at: datetime | None = None
    id: int | None = None
    fingerprint: str = ""
    rms_status: int = 0
    confirmed_at: datetime | None = None
    tags: tuple[str, ...] = ()  # 受注分類タグ, added by rules or people
    settings: tuple[tuple[str, str], ...] = ()  # fields set for the warehouse (配送方法...)
    merged: tuple[MergedPart, ...] = ()  # orders merged into this one (同梱): it carries them
    merged_into: str = ""  # the order this one was merged into (then cancelled in unyo)
    # unyo is to confirm it at RMS (注文確認) and has not asked yet: set at import, decided
    # once the rules ran (unyo.domain.confirmation)
    confirm_due: bool = False

    @property
    def parcel_items(self) -> tuple[Item, ...]:
        """The items of the parcel: its own and those of the orders merged into it."""
        packages = self.channel.packages
        own = packages[0].items if len(packages) == 1 else tuple(
            i for p in packages for i in p.items)
        return own + tuple(i for m in self.merged for i in m.items) if self.merged else own

    @property
    def parcel_amounts(self) -> Amounts:
        """Its amounts, with those of the orders merged into it added."""
        if not self.merged:
            return self.channel.amounts
        return combined_amounts((self.channel.amounts, *(m.amounts for m in self.merged)))

    def merged_part(self, number: str) -> MergedPart | None:
        return next((m for m in self.merged if m.order_number == number), None)

    def setting(self, name: str) -> str | None:
        return dict(self.settings).get(name)

    @property
    def number(self) -> str:
        return self.channel.order_number

    @property
    def open_gates(self) -> tuple[Gate, ...]:
        return tuple(g for g in self.gates if g.is_open)

    def open_gate(self, kind: GateKind) -> Gate | None:
        for g in self.gates:
            if g.kind is kind and g.is_open:
                return g
        return None

    def with_(self, **changes: Any) -> Order:
        """A copy with `changes`: `dataclasses.replace`, without its per-field reflection
        (orders are copied several times per move)."""
        values = _order_values(self)
        if changes:
            values = tuple([changes.pop(n, v) for n, v in zip(_ORDER_FIELDS, values,
                                                               strict=True)])
            if changes:
                raise TypeError(f"Order has no field {sorted(changes)[0]!r}")
        return Order(*values)


_ORDER_FIELDS = tuple(f.name for f in fields(Order))
_order_values = attrgetter(*_ORDER_FIELDS)
