"""The order generator: deterministic, amounts that add up, and every case a shop meets."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta

import pytest

from unyo.clock import JST
from unyo.sandbox.generator import GeneratedOrder, generate_orders

START = datetime(2026, 11, 27, tzinfo=JST)
END = START + timedelta(days=1)
RMS_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0900$")


@pytest.fixture(scope="module")
def day() -> list[GeneratedOrder]:
    return generate_orders(3000, seed=42, start=START, end=END)


def test_same_seed_gives_same_orders_and_another_seed_does_not() -> None:
    # given / when
    first = generate_orders(50, seed=1, start=START, end=END)
    again = generate_orders(50, seed=1, start=START, end=END)
    other = generate_orders(50, seed=2, start=START, end=END)
    # then
    assert [o.model for o in first] == [o.model for o in again]
    assert [o.payment_delay for o in first] == [o.payment_delay for o in again]
    assert [o.model["orderNumber"] for o in first] != [o.model["orderNumber"] for o in other]


def test_order_numbers_are_unique_and_shaped_like_rakuten(day: list[GeneratedOrder]) -> None:
    numbers = [o.model["orderNumber"] for o in day]
    assert len(set(numbers)) == len(numbers)
    for order in day:
        ordered = order.ordered_at.astimezone(JST)
        assert re.fullmatch(rf"123456-{ordered:%Y%m%d}-\d{{10}}", order.model["orderNumber"])


def test_orders_fall_in_the_window_sorted_with_an_evening_peak(
    day: list[GeneratedOrder],
) -> None:
    times = [o.ordered_at for o in day]
    assert times == sorted(times)
    assert all(START <= t < END for t in times)
    assert all(RMS_DATETIME.match(o.model["orderDatetime"]) for o in day)
    per_hour = Counter(t.astimezone(JST).hour for t in times)
    assert per_hour[21] > 4 * per_hour[4]
    assert per_hour[12] > 2 * per_hour[3]


def test_amounts_add_up_or_are_all_not_fixed(day: list[GeneratedOrder]) -> None:
    for order in day:
        m = order.model
        packages = m["PackageModelList"]
        assert m["goodsPrice"] == sum(p["goodsPrice"] for p in packages)
        for p in packages:
            assert p["goodsPrice"] == sum(i["price"] * i["units"] for i in p["ItemModelList"])
        if m["postagePrice"] == -9999:
            assert m["totalPrice"] == m["requestPrice"] == -9999
            assert all(p["totalPrice"] == -9999 for p in packages)
            continue
        assert m["postagePrice"] == sum(p["postagePrice"] for p in packages)
        assert m["totalPrice"] == (
            m["goodsPrice"] + m["postagePrice"] + m["deliveryPrice"] + m["paymentCharge"]
        )
        assert m["requestPrice"] == (
            m["totalPrice"] - m["PointModel"]["usedPoint"] - m["couponAllTotalPrice"]
        )
        assert m["requestPrice"] >= 0
        for p in packages:
            assert p["totalPrice"] == p["goodsPrice"] + p["postagePrice"] + p["deliveryPrice"]


def test_the_mix_contains_every_case(day: list[GeneratedOrder]) -> None:
    models = [o.model for o in day]
    codes = Counter(m["SettlementModel"]["settlementMethodCode"] for m in models)
    assert codes[1] > len(day) / 2
    assert {2, 8, 9, 13, 14, 21} <= codes.keys()
    cod = [m for m in models if m["SettlementModel"]["settlementMethodCode"] == 2]
    assert all(
        m["SettlementModel"]["rpaySettlementFlag"] == 0 and m["deliveryPrice"] > 0 for m in cod
    )
    assert all(m["orderProgress"] == 100 for m in models)  # 選択制決済 too
    assert any(
        m["SettlementModel"]["settlementMethodCode"] == 8 and m["requestPrice"] == 0 for m in models
    )
    several = [m for m in models if m["severalSenderFlag"] == 1]
    assert several and all(len(m["PackageModelList"]) in (2, 3) for m in several)
    assert any(
        m["isolatedIslandFlag"] == 1
        and m["PackageModelList"][0]["SenderModel"]["prefecture"]
        in ("沖縄県", "東京都", "鹿児島県")
        for m in models
    )
    assert any(m["asurakuFlag"] == 1 for m in models)
    assert any(m["deliveryCertPrgFlag"] == 1 for m in models)
    preorders = [m for m in models if m["orderType"] == 6]
    assert preorders and all(
        m["reserveNumber"]
        and "発売" in m["PackageModelList"][0]["ItemModelList"][0]["delvdateInfo"]
        for m in preorders
    )
    assert any(m["orderType"] == 4 for m in models)
    assert any(m["rakutenMemberFlag"] == 0 for m in models)
    assert any(m["postagePrice"] == -9999 for m in models)
    assert any(m["giftCheckFlag"] == 1 and m["PackageModelList"][0]["noshi"] for m in models)
    assert any(m["CouponModelList"] and m["couponAllTotalPrice"] > 0 for m in models)
    assert any(
        any(s["SkuModelList"] for p in m["PackageModelList"] for s in p["ItemModelList"])
        for m in models
    )


def test_names_remarks_and_mail_addresses_look_like_rakuten(day: list[GeneratedOrder]) -> None:
    models = [o.model for o in day]
    family_names = {m["OrdererModel"]["familyName"] for m in models}
    assert any("髙" in n for n in family_names)
    assert any("﨑" in n for n in family_names)
    assert any(re.search("[ｱ-ﾝ]", m["OrdererModel"]["familyNameKana"]) for m in models)
    assert all(
        re.fullmatch(r"[0-9a-f]{32}s1@pc\.fw\.rakuten\.ne\.jp", m["OrdererModel"]["emailAddress"])
        for m in models
    )
    remarks = [m["remarks"] for m in models]
    assert any(
        r.startswith("[配送日時指定:]\n") and re.search(r"\d{4}-\d{2}-\d{2}\(.\)", r)
        for r in remarks
    )
    assert any(r.endswith("[メッセージ:]\n") for r in remarks)  # template lines only
    assert any("ギフト包装をお願いします" in r for r in remarks)
    assert any(m["deliveryDate"] and m["shippingTerm"] for m in models)


def test_a_small_share_carries_hostile_text(day: list[GeneratedOrder]) -> None:
    texts = [
        m["remarks"] + m["OrdererModel"]["firstName"] + m["OrdererModel"]["subAddress"]
        for m in (o.model for o in day)
    ]
    hostile = [t for t in texts if re.search(r"<script>|=HYPERLINK|\+cmd|\r\n|<img", t)]
    assert 0 < len(hostile) < len(day) * 0.08
    assert any("<script>alert(1)</script>" in t for t in texts)
    assert any("=HYPERLINK(" in t for t in texts)
    assert any("\r\n" in t for t in texts)


def test_rakuten_side_timings_cover_every_payment_story(day: list[GeneratedOrder]) -> None:
    by_code: dict[int, list[GeneratedOrder]] = {}
    for order in day:
        by_code.setdefault(order.model["SettlementModel"]["settlementMethodCode"], []).append(order)
    cards = by_code[1]
    assert all(
        o.payment_delay is not None and o.payment_delay <= timedelta(minutes=10) for o in cards
    )
    assert any(o.auth_fails for o in cards)
    assert any(o.payment_delay is None for o in by_code[9])  # bank transfer never paid
    assert any(
        o.payment_delay is not None and o.payment_delay >= timedelta(hours=1) for o in by_code[9]
    )
    cancels = [o for o in day if o.self_cancel_after is not None]
    assert cancels
    for order in cancels:
        m = order.model
        assert order.self_cancel_after is not None
        assert order.self_cancel_after < timedelta(minutes=30)
        assert m["rakutenMemberFlag"] == 1 and m["orderType"] == 1
        assert m["asurakuFlag"] == 0 and m["deliveryCertPrgFlag"] == 0


def test_bad_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="after start"):
        generate_orders(1, seed=1, start=END, end=START)


def test_a_day_holds_every_order_type_in_small_shares() -> None:
    # the demo's day (300 orders, seed 1) and others: each type there, none common
    from unyo.adapters.rakuten.mapping import channel_order_from_rms
    from unyo.demo import ORDER_TYPES

    shares = {"store_pickup": 0.05, "drop_off": 0.15, "social_gift": 0.05, "same_day": 0.15,
              "next_day_cert": 0.1, "caution": 0.03}
    assert set(shares) == set(ORDER_TYPES)
    for seed in (1, 2, 3):
        day = generate_orders(300, seed=seed, start=datetime(2026, 12, 5, tzinfo=JST),
                              end=datetime(2026, 12, 6, tzinfo=JST))
        orders = [channel_order_from_rms(g.model) for g in day]
        for name, test in ORDER_TYPES.items():
            n = sum(1 for o in orders if test(o))
            assert 1 <= n <= shares[name] * len(orders), (seed, name, n)
        # a social gift waits for its recipient, who answers later (or never)
        gifts = [g for g in day if g.model["socialGiftFlag"]]
        assert all(g.gift_recipient and g.model["PackageModelList"][0]["SenderModel"][
            "prefecture"] == "入力待ち" for g in gifts)
        assert all(not any(p["DeliveryCvsModel"] for p in g.model["PackageModelList"])
                   for g in gifts)
