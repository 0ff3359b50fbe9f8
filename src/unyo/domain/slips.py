"""The 納品書 (packing slip) of an order, as data: what each slip prints.

One slip per destination (送付先): its recipient and the items going there. The order's
amounts (商品合計, 送料, 代引料, 決済手数料, ラッピング, 合計, クーポン, ポイント, ご請求額)
and the tax by rate are on the first destination's slip. Prices are left off for gift
orders (unless the shop prints them) and for orders carrying one of the shop's
`no_prices_tags` (a rule adds it, e.g. when the buyer asked for no prices).

Tax by rate (税率ごとの区分): Rakuten's prices include tax. Each item counts at its own
rate (taxRate 0.08 → 8 %, 0.1 or none → 10 %); postage, 代引料, 決済手数料 and wrapping
at 10 %. The tax included in each rate's total is rounded down once per rate per
slip, as a 適格簡易請求書 requires (消費税法施行令 70条の10). The totals are those of
合計金額, before coupons and points (which are shown as how it was paid).

A slip is plain data (JSON-ready dicts) so a batch keeps what it printed and prints the
same again. Standard library only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from unyo.domain.order import NOT_FIXED, Item, Order, Person

__all__ = ["BatchOutput", "SlipRules", "rate_of", "slips", "tax_by_rate"]

STANDARD_RATE = 10
REDUCED_RATE = 8


@dataclass(frozen=True)
class SlipRules:
    """When a slip prints its prices (the shop file's `invoice:` section)."""

    gift_prices: bool = False
    no_prices_tags: Collection[str] = ()


def rate_of(item: Item) -> int:
    """An item's tax rate in percent: RMS taxRate 0.08 is 8, 0.1 (or none given) 10."""
    r = item.tax_rate
    if r is None:
        return STANDARD_RATE
    percent = r * 100 if r < 1 else r
    return REDUCED_RATE if round(percent) == REDUCED_RATE else STANDARD_RATE


def tax_by_rate(items: Collection[Item], charges: int) -> list[dict[str, int]]:
    """Per rate (10 % first, a rate with nothing left out): the tax-inclusive amount and
    the tax it includes, rounded down once per rate. `charges`: the amounts at the
    standard rate besides the items (postage, 代引料, 決済手数料, wrapping)."""
    amounts = {STANDARD_RATE: charges, REDUCED_RATE: 0}
    for i in items:
        amounts[rate_of(i)] += i.price * i.units
    out = []
    for rate in (STANDARD_RATE, REDUCED_RATE):
        amount = amounts[rate]
        if amount or (rate == STANDARD_RATE and not amounts[REDUCED_RATE]):
            out.append({"rate": rate, "amount": amount, "tax": amount * rate // (100 + rate)})
    return out


def _person(p: Person) -> dict[str, str]:
    a = p.address
    z = a.postal_code
    return {"name": p.name, "kana": f"{p.family_name_kana} {p.first_name_kana}".strip(),
            "postal_code": f"{z[:3]}-{z[3:]}" if len(z) == 7 else z,
            "address": f"{a.prefecture}{a.city}{a.sub_address}", "phone": p.phone}


def _item(i: Item) -> dict[str, Any]:
    rate = rate_of(i)
    return {"name": i.name, "item_number": i.item_number, "sku": i.sku or i.manage_number,
            "choice": i.selected_choice, "units": i.units, "price": i.price,
            "subtotal": i.price * i.units, "rate": rate, "reduced": rate == REDUCED_RATE}


def _fixed(value: int) -> int | None:
    return None if value == NOT_FIXED else value


def slips(order: Order, rules: SlipRules = SlipRules()) -> list[dict[str, Any]]:
    """The order's slips, one per destination, as plain data."""
    c = order.channel
    show = not ((c.gift and not rules.gift_prices)
                or any(t in rules.no_prices_tags for t in order.tags))
    a = order.parcel_amounts
    wrapping = c.wrapping_price()
    merged_items = tuple(i for m in order.merged for i in m.items)
    all_items = tuple(i for p in c.packages for i in p.items) + merged_items
    charges = sum(v for v in (a.postage, a.delivery, a.payment_charge) if v != NOT_FIXED)
    totals = {"goods": _fixed(a.goods), "postage": _fixed(a.postage),
              "delivery": _fixed(a.delivery), "payment_charge": _fixed(a.payment_charge),
              "wrapping": wrapping, "total": _fixed(a.total), "coupon": a.coupon,
              "points": a.points_used, "request": _fixed(a.request),
              "tax": tax_by_rate(all_items, charges + wrapping)}
    out = []
    count = len(c.packages)
    for n, p in enumerate(c.packages, start=1):
        items = p.items + (merged_items if n == 1 else ())
        out.append({
            "order_number": c.order_number, "ordered_at": c.ordered_at.isoformat(),
            "destination": n, "destinations": count, "basket_id": p.basket_id,
            "buyer": _person(c.buyer), "recipient": _person(p.recipient),
            "same_person": _person(c.buyer) == _person(p.recipient),
            "items": [_item(i) for i in items], "show_prices": show, "gift": c.gift,
            "noshi": p.noshi, "payment": c.payment.method_name,
            "delivery_method": order.setting("delivery_method") or c.delivery_name,
            "delivery_date": c.requested_delivery_date.isoformat()
            if c.requested_delivery_date else "", "shipping_term": c.shipping_term,
            "merged": [m.order_number for m in order.merged],
            "package": {"goods": _fixed(p.goods_price), "postage": _fixed(p.postage_price),
                        "delivery": _fixed(p.delivery_price), "total": _fixed(p.total_price)},
            "totals": totals if n == 1 else None,
        })
    return out


@dataclass(frozen=True, slots=True)
class BatchOutput:
    """One file a print batch made: the 納品書 PDF first; carriers' label files follow
    (issue 20 item 3) in the same list."""

    name: str
    media_type: str
    content: bytes
