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


def merge_key(order: Order) -> tuple[Any, ...] | None:
    """What must be equal for two orders to share a parcel; None when it cannot merge."""
    if mergeable(order) is not None:
        return None
    c = order.channel
    (p,) = c.packages
    if p.shipments:
        return None
    r, a = p.recipient, p.recipient.address
    term = "" if c.shipping_term in ("", "0") else c.shipping_term
    return (order.shop, c.buyer_key(), fold(r.family_name + r.first_name),
            digits(a.postal_code), fold(a.prefecture + a.city + a.sub_address),
            digits(r.phone), c.payment.method_code,
            fold(order.setting("delivery_method") or c.delivery_name),
            c.requested_delivery_date, term, c.gift, fold(p.noshi))


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
