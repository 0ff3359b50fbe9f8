"""ChannelOrder ⇄ JSON for the `orders.data` column.

Hand-written rather than reflective: it runs for every order loaded or saved.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import orjson

from unyo.domain import (
    Address,
    Amounts,
    ChannelOrder,
    Item,
    MergedPart,
    OrderType,
    Package,
    Payment,
    Person,
    PickupStore,
    Shipment,
    SocialGift,
)


def _dt(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _pdt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _person(p: Person) -> list[Any]:
    a = p.address
    return [p.family_name, p.first_name, p.family_name_kana, p.first_name_kana, p.phone,
            a.postal_code, a.prefecture, a.city, a.sub_address, p.email]


def _unperson(v: list[Any]) -> Person:
    return Person(v[0], v[1], v[2], v[3], v[4], Address(v[5], v[6], v[7], v[8]), v[9])


def _item(i: Item) -> list[Any]:
    return [i.item_detail_id, i.item_number, i.manage_number, i.name, i.price, i.units,
            i.tax_rate, i.selected_choice, i.sku, i.delivery_info]


def _package(p: Package) -> dict[str, Any]:
    d = {
        "basket_id": p.basket_id, "recipient": _person(p.recipient),
        "items": [_item(i) for i in p.items], "goods": p.goods_price, "postage": p.postage_price,
        "delivery": p.delivery_price, "total": p.total_price, "noshi": p.noshi,
        "island": p.isolated_island,
        "shipments": [[s.shipping_detail_id, s.carrier_code, s.tracking_number,
                       s.ship_date.isoformat() if s.ship_date else None] for s in p.shipments],
    }
    # the order types: only where there is one (rows written before read the same)
    if (st := p.pickup_store) is not None:
        d["store"] = [st.chain, st.store_code, st.name, st.postal_code, st.prefecture,
                      st.address, st.remarks]
    if p.drop_off:
        d["drop_off"] = p.drop_off
    if (g := p.social_gift) is not None:
        d["social_gift"] = [g.number, g.input_due.isoformat() if g.input_due else None,
                            g.address_given, _dt(g.given_at)]
    return d


def _unpackage(d: dict[str, Any]) -> Package:
    store, gift = d.get("store"), d.get("social_gift")
    return Package(
        basket_id=d["basket_id"], recipient=_unperson(d["recipient"]),
        items=tuple(Item(*v) for v in d["items"]), goods_price=d["goods"],
        postage_price=d["postage"], delivery_price=d["delivery"], total_price=d["total"],
        noshi=d["noshi"], isolated_island=d["island"],
        shipments=tuple(Shipment(s[0], s[1], s[2], date.fromisoformat(s[3]) if s[3] else None)
                        for s in d["shipments"]),
        pickup_store=PickupStore(*store) if store is not None else None,
        drop_off=d.get("drop_off", ""),
        social_gift=None if gift is None else SocialGift(
            gift[0], date.fromisoformat(gift[1]) if gift[1] else None, gift[2],
            _pdt(gift[3])),
    )


def channel_to_json(c: ChannelOrder) -> str:
    a = c.amounts
    doc = {
        "v": 1,
        "number": c.order_number, "status": c.status, "ordered_at": _dt(c.ordered_at),
        "type": c.order_type.value, "member": c.member, "next_day": c.next_day,
        "next_day_cert": c.next_day_cert, "buyer": _person(c.buyer),
        "payment": [c.payment.method_code, c.payment.method_name, c.payment.rakuten_pay],
        "amounts": [a.goods, a.postage, a.delivery, a.payment_charge, a.total, a.request,
                    a.coupon, a.points_used],
        "packages": [_package(p) for p in c.packages], "remarks": c.remarks, "gift": c.gift,
        "island": c.isolated_island,
        "delivery_date": c.requested_delivery_date.isoformat()
        if c.requested_delivery_date else None,
        "shipping_term": c.shipping_term, "delivery_name": c.delivery_name,
        "confirmed_at": _dt(c.confirmed_at), "memo": c.memo, "sub_status": c.sub_status_id,
        "extra": c.extra,
    }
    if c.notes:
        doc["notes"] = list(c.notes)
    if c.due_dates:
        doc["due_dates"] = [d.isoformat() for d in c.due_dates]
    if c.cancel_due is not None:
        doc["cancel_due"] = c.cancel_due.isoformat()
    for key, value in (("social_gift", c.social_gift), ("same_day", c.same_day),
                       ("caution", c.caution), ("caution_detail", c.caution_detail)):
        if value:  # only where there is one (rows written before read the same)
            doc[key] = value
    return orjson.dumps(doc).decode()


def channel_from_json(text: str) -> ChannelOrder:
    d = orjson.loads(text)
    ordered_at = _pdt(d["ordered_at"])
    assert ordered_at is not None
    return ChannelOrder(
        order_number=d["number"], status=d["status"], ordered_at=ordered_at,
        order_type=OrderType(d["type"]), member=d["member"], next_day=d["next_day"],
        next_day_cert=d["next_day_cert"], buyer=_unperson(d["buyer"]),
        payment=Payment(*d["payment"]), amounts=Amounts(*d["amounts"]),
        packages=tuple(_unpackage(p) for p in d["packages"]), remarks=d["remarks"],
        gift=d["gift"], isolated_island=d["island"],
        requested_delivery_date=date.fromisoformat(d["delivery_date"])
        if d["delivery_date"] else None,
        shipping_term=d["shipping_term"], delivery_name=d["delivery_name"],
        confirmed_at=_pdt(d["confirmed_at"]), memo=d["memo"], sub_status_id=d["sub_status"],
        social_gift=d.get("social_gift", False), same_day=d.get("same_day", False),
        caution=d.get("caution", ""), caution_detail=d.get("caution_detail", ""),
        extra=d.get("extra") or {},
        notes=tuple(d.get("notes") or ()),
        due_dates=tuple(date.fromisoformat(v) for v in d.get("due_dates") or ()),
        cancel_due=date.fromisoformat(d["cancel_due"]) if d.get("cancel_due") else None,
    )


def parts_to_doc(parts: tuple[MergedPart, ...]) -> list[Any]:
    """Orders merged into an order (同梱), for its `attrs` column."""
    return [{"number": m.order_number, "id": m.order_id, "basket_id": m.basket_id,
             "items": [_item(i) for i in m.items],
             "amounts": [m.amounts.goods, m.amounts.postage, m.amounts.delivery,
                         m.amounts.payment_charge, m.amounts.total, m.amounts.request,
                         m.amounts.coupon, m.amounts.points_used],
             "package_total": m.package_total, "fingerprint": m.fingerprint,
             "rms_status": m.rms_status, "at": _dt(m.merged_at)} for m in parts]


def parts_from_doc(doc: list[Any]) -> tuple[MergedPart, ...]:
    return tuple(MergedPart(d["number"], d["id"], d["basket_id"],
                            tuple(Item(*v) for v in d["items"]), Amounts(*d["amounts"]),
                            d["package_total"], d["fingerprint"], d["rms_status"],
                            datetime.fromisoformat(d["at"])) for d in doc)


def attrs_from_json(text: str) -> dict[str, Any]:
    """The `orders.attrs` column as `Order` fields: tags, settings, whether unyo is still
    to confirm it (`confirm_due`) and, for 同梱, the orders this one carries (`merged`) or
    the one it went into (`merged_into`)."""
    d = orjson.loads(text or "{}")
    out: dict[str, Any] = {"tags": tuple(d.get("tags", ())),
           "settings": tuple(sorted(d.get("set", {}).items()))}
    if "merged" in d:  # 同梱: the orders this one carries
        out["merged"] = parts_from_doc(d["merged"])
    if "merged_into" in d:
        out["merged_into"] = d["merged_into"]
    if d.get("confirm_due"):  # 注文確認 still to be decided or kept back
        out["confirm_due"] = True
    return out
