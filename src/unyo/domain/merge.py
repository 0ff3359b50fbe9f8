"""同梱 (merge): which of a buyer's open orders go out as one parcel, and which one carries it.

Next Engine's rule (reference/order-operations.md): the same shop, the same recipient
name, address and phone, not cancelled, not shipped. unyo also asks for what one parcel
cannot mix — one destination each, the same payment method (cash on delivery collects
once), delivery method, requested delivery date and time, gift flag and のし — and
that none is at the warehouse yet. Names, addresses and phones are compared folded
(`fold`: full/half width, spaces, hyphens; phones and postal codes by their digits).

The surviving order is the one that already carries a merge, else the oldest (order
time, then number). The moves themselves are `MergeInto` (each merged-away order) and
`AbsorbOrders` (the survivor) through `decide()`; the app applies them together.
Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from unyo.domain.decide import mergeable
from unyo.domain.order import Order, digits, fold
from unyo.domain.vocabulary import BEFORE_HANDOFF, Stage


def merge_key(order: Order) -> tuple[Any, ...] | None:
    """What must be equal for two orders to share a parcel; None when it cannot merge."""
    if mergeable(order) is not None:
        return None
    (p,) = order.channel.packages
    if p.shipments:
        return None
    return _key_ignoring_passing(order)


# What each part of `merge_key` is, in words (the first is the shop, the second the buyer:
# equal for a buyer's orders by construction).
_KEY_WORDS = ("店舗", "注文者", "送付先の氏名", "送付先の郵便番号", "送付先の住所",
              "送付先の電話番号", "支払方法", "配送方法", "お届け希望日", "お届け時間帯",
              "ギフト指定", "のし")


def _lasting_problem(order: Order) -> str | None:
    """Why `order` can never take part in a merge as it is, in words; None when it can or
    when only a passing state stops it (注文確認 not sent yet, postage to fix: the merge
    is tried again when that changes)."""
    if order.stage not in BEFORE_HANDOFF:
        return {Stage.at_warehouse: "倉庫に連携済み", Stage.shipped: "出荷済み"}.get(
            order.stage, "キャンセル済み")
    if order.merged_into:
        return None  # it is part of its survivor's parcel: the survivor is compared
    c = order.channel
    if len(c.packages) != 1:
        return f"送付先が{len(c.packages)}か所"
    if any(p.shipments for p in c.packages):
        return "出荷の記録あり"
    return None


def _key_ignoring_passing(order: Order) -> tuple[Any, ...]:
    c = order.channel
    (p,) = c.packages
    r, a = p.recipient, p.recipient.address
    term = "" if c.shipping_term in ("", "0") else c.shipping_term
    return (order.shop, c.buyer_key(), fold(r.family_name + r.first_name),
            digits(a.postal_code), fold(a.prefecture + a.city + a.sub_address),
            digits(r.phone), c.payment.method_code,
            fold(order.setting("delivery_method") or c.delivery_name),
            c.requested_delivery_date, term, c.gift, fold(p.noshi))


def merge_blocker(order: Order, other: Order) -> str | None:
    """Why the buyer's open order `other` cannot go in one parcel with `order`, in words
    naming the order and the cause (「注文 X と送付先の住所が違う」); None when the two can
    merge, now or once a passing state ends (see `_lasting_problem`)."""
    mine = _lasting_problem(order)
    if mine is not None:
        return f"この注文は{mine}（注文 {other.number} と同梱できません）"
    theirs = _lasting_problem(other)
    if theirs is not None:
        return f"注文 {other.number} は{theirs}"
    if other.merged_into:
        return None
    a, b = _key_ignoring_passing(order), _key_ignoring_passing(other)
    differ = [w for w, x, y in zip(_KEY_WORDS, a, b, strict=True) if x != y]
    if differ:
        return f"注文 {other.number} と{'・'.join(differ)}が違う"
    return None


def _age(order: Order) -> tuple[Any, str]:
    return order.channel.ordered_at, order.number


def merge_group(trigger: Order, candidates: Iterable[Order]) -> list[Order]:
    """The orders to merge with `trigger` (found by its merge rule), survivor first; empty
    when there is nothing to merge. `candidates` are the buyer's orders (any stage)."""
    key = merge_key(trigger)
    if key is None:
        return []
    members = {o.number: o for o in candidates if merge_key(o) == key}
    members[trigger.number] = trigger
    carrying = sorted((o for o in members.values() if o.merged), key=_age)
    survivor = carrying[0] if carrying else min(members.values(), key=_age)
    # An order that carries a merge of its own is not merged away (it would move its parts).
    others = sorted((o for o in members.values() if o is not survivor and not o.merged),
                    key=_age)
    if not others or (trigger is not survivor and trigger not in others):
        return []
    return [survivor, *others]
