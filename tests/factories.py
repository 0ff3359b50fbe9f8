"""Builders for domain objects in tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from unyo.clock import JST
from unyo.domain import (
    NOT_FIXED,
    Address,
    Amounts,
    ChannelOrder,
    Item,
    OrderType,
    Package,
    Payment,
    Person,
)

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=JST)

BUYER = Person("髙橋", "花子", "タカハシ", "ハナコ", "03-1234-5678",
               Address("1500001", "東京都", "渋谷区", "神宮前1-2-3"),
               "0123456789abcdef0123456789abcdefs1@pc.fw.rakuten.ne.jp")


def channel_order(number: str = "123456-20261127-0000000001", *, status: int = 100,
                  ordered_at: datetime = T0, member: bool = True,
                  order_type: OrderType = OrderType.normal, method: int = 1,
                  rakuten_pay: bool = True, total: int = 3980, postage: int = 0,
                  next_day: bool = False, **changes: Any) -> ChannelOrder:
    item = Item(1, "item-001", "kome-5kg", "新潟県産コシヒカリ 5kg", 3980, 1, 0.08)
    # The amounts add up (total = goods + postage): a `total` of another value is in goods.
    goods = total - postage if NOT_FIXED not in (total, postage) else 3980
    pkg = Package(10001, BUYER, (item,), goods, postage, 0, total)
    order = ChannelOrder(
        order_number=number, status=status, ordered_at=ordered_at, order_type=order_type,
        member=member, next_day=next_day, next_day_cert=False, buyer=BUYER,
        payment=Payment(method, "クレジットカード" if method == 1 else "代金引換", rakuten_pay),
        amounts=Amounts(goods, postage, 0, 0, total, total), packages=(pkg,),
        remarks="[配送日時指定:]\n", )
    return replace(order, **changes)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def import_decision(command: Any) -> Any:
    """An import as move() decides it: the order created, then the rules pass (without
    rules) that decides its confirmation."""
    from unyo.domain import decide
    from unyo.domain.decide import ApplyRules
    from unyo.domain.rules import Facts

    return decide(None, command).and_then(ApplyRules((), Facts(), command.now, lambda d: d))
