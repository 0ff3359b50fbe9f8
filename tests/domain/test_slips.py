"""The 納品書's data: one slip per destination, prices left off by rule, tax by rate."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.factories import BUYER, channel_order
from unyo.domain import Amounts, Item, Order, Package, Stage
from unyo.domain.slips import SlipRules, rate_of, slips, tax_by_rate
from unyo.flow.config import ConfigError, parse_config
from unyo.flow.invoice import normalise_registration, registration_problem

TEA = Item(1, "tea", "tea", "煎茶", 1080, 2, 0.08)
CUP = Item(2, "cup", "cup", "湯呑み", 1500, 1, 0.1)


def order(**kw: object) -> Order:
    return Order("shop", channel_order(status=300, **kw), Stage.ready)


def two_destinations() -> Order:
    friend = replace(BUYER, family_name="佐藤", first_name="一郎")
    a = Package(1, BUYER, (TEA,), 2160, 660, 0, 2820)
    b = Package(2, friend, (CUP,), 1500, 660, 0, 2160)
    return order(packages=(a, b), amounts=Amounts(3660, 1320, 0, 0, 4980, 4980))


def test_a_multi_destination_order_has_one_slip_per_destination_totals_on_the_first():
    first, second = slips(two_destinations())
    assert (first["destination"], second["destination"], first["destinations"]) == (1, 2, 2)
    assert [i["name"] for i in first["items"]] == ["煎茶"]
    assert [i["name"] for i in second["items"]] == ["湯呑み"]
    assert second["recipient"]["name"] == "佐藤 一郎" and not second["same_person"]
    assert first["totals"]["total"] == 4980 and second["totals"] is None
    assert second["package"] == {"goods": 1500, "postage": 660, "delivery": 0, "total": 2160}
    # tax of the whole order: the tea at 8 %, the cup and both postages at 10 %
    assert first["totals"]["tax"] == [{"rate": 10, "amount": 2820, "tax": 256},
                                      {"rate": 8, "amount": 2160, "tax": 160}]


def test_gift_orders_and_tagged_orders_print_no_prices():
    assert slips(order())[0]["show_prices"]
    assert not slips(order(gift=True))[0]["show_prices"]
    assert slips(order(gift=True), SlipRules(gift_prices=True))[0]["show_prices"]
    tagged = order().with_(tags=("金額非表示",))
    assert not slips(tagged, SlipRules(no_prices_tags={"金額非表示"}))[0]["show_prices"]
    assert slips(tagged, SlipRules(no_prices_tags={"別のタグ"}))[0]["show_prices"]


@pytest.mark.parametrize(("rate", "percent"), [(0.08, 8), (0.1, 10), (None, 10), (8.0, 8),
                                                (10.0, 10)])
def test_item_rates(rate: float | None, percent: int):
    assert rate_of(replace(CUP, tax_rate=rate)) == percent


items = st.lists(st.builds(Item, st.just(1), st.just("i"), st.just("i"), st.just("x"),
                           st.integers(0, 100_000), st.integers(1, 20),
                           st.sampled_from([0.08, 0.1, None])), max_size=8)


@given(items, st.integers(0, 10_000))
def test_tax_by_rate_covers_every_yen_and_rounds_down_once_per_rate(its: list[Item],
                                                                    charges: int):
    rows = tax_by_rate(its, charges)
    assert sum(r["amount"] for r in rows) == sum(i.price * i.units for i in its) + charges
    for r in rows:
        assert r["rate"] in (8, 10)
        # the tax included in a tax-inclusive amount, rounded down (切り捨て)
        assert r["tax"] * (100 + r["rate"]) <= r["amount"] * r["rate"]
        assert (r["tax"] + 1) * (100 + r["rate"]) > r["amount"] * r["rate"]
    assert len({r["rate"] for r in rows}) == len(rows) >= 1


digits13 = st.text(st.characters(categories=["Nd"]), min_size=12, max_size=14)


@given(st.one_of(st.text(max_size=20), digits13.map(lambda d: "T" + d),
                 st.from_regex(r"T[0-9]{13}", fullmatch=True)))
def test_a_registration_number_is_t_and_13_digits(text: str):
    ok = len(text) == 14 and text[0] == "T" and all(c in "0123456789" for c in text[1:])
    assert (registration_problem(text) is None) == ok


def test_registration_numbers_as_people_type_them():
    assert normalise_registration("Ｔ１２３４－５６７８－９０１２３") == "T1234567890123"
    assert parse_config("invoice: {registration_number: t1234567890123}\n") \
        .invoice.registration_number == "T1234567890123"
    with pytest.raises(ConfigError, match=r"invoice.registration_number: 'T123' is not"):
        parse_config("invoice:\n  registration_number: T123\n")
    with pytest.raises(ConfigError, match=r":2: invoice.gift_prices: expected true or false"):
        parse_config("invoice:\n  gift_prices: 1\n")
    with pytest.raises(ConfigError, match=r"warehouse.type: 'wms' is not a warehouse type "
                                          r"\(known: csv, self\)"):
        parse_config("warehouse:\n  type: wms\n")
