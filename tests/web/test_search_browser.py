"""The queue's search in real Chromium: each kind of search typed into the form as an
operator would (names in kana, half-width or another 異体字, phones with or without
hyphens, mail, item, SKU, any part of the number), the filters, hostile text."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.factories import BUYER, T0, channel_order, minutes
from tests.fakes import FakeChannel
from tests.web.conftest import RULES, SHOP
from tests.web.test_browser import Served, log_in, page, served  # noqa: F401
from unyo.app.context import ShopContext
from unyo.app.importing import import_orders
from unyo.domain import Item
from unyo.flow import Config

DAY = "2026-11-27"  # in JST, the day of every order here
PEOPLE = {  # number → (family, first, kana…, phone, mail, item, SKU, payment)
    "A": ("宮﨑", "太郎", "ﾐﾔｻﾞｷ", "ﾀﾛｳ", "090-1111-2222", "miyazaki@mail.example",
          "宇治抹茶 30g缶", "tea-002-a", 1),
    "B": ("齋藤", "恵", "サイトウ", "メグミ", "045-987-6543", "saito@mail.example",
          "今治タオル バスタオル", "swt-001-wh", 2),
    "C": ("渡邉", "真一", "わたなべ", "しんいち", "０６－６０００－００００",
          "watanabe@mail.example", "南部鉄器 急須 0.6L", "kit-001", 1),
}
NUMBERS = {k: f"123456-20261126-00000009{i}{i}" for i, k in enumerate(PEOPLE, 1)}
"""Numbers of another day than the seeded orders' (123456-20261127-…)."""


def add_people(s: Served) -> None:
    channel = FakeChannel()
    placed = s.clock.now()  # after the seeded orders' import
    for i, (key, (fam, first, fk, gk, phone, mail, item, sku, pay)) in enumerate(
            PEOPLE.items()):
        person = replace(BUYER, family_name=fam, first_name=first, family_name_kana=fk,
                         first_name_kana=gk, phone=phone, email=mail)
        c = channel_order(NUMBERS[key], status=300, member=False, buyer=person,
                          confirmed_at=T0, ordered_at=placed + minutes(i), method=pay)
        pkg = replace(c.packages[0], recipient=person,
                      items=(Item(1, sku, sku, item, 1000, 1, 0.1, sku=sku.upper()),))
        channel.put(replace(c, packages=(pkg,)))
    s.clock.advance(3600)
    import_orders(ShopContext(Config(shop_id=SHOP, shop_name="テスト店", rules=RULES),
                              s.store, channel, s.clock))


def found(tab: Any, text: str = "", **fields: str) -> set[str]:
    """Type `text` into the queue's search box (tab すべて), set the filters, submit."""
    tab.goto(tab.url.split("/queue")[0] + "/queue?tab=all")
    tab.fill("form.search input[name=q]", text)
    if "date" in fields:
        tab.fill("form.search input[name=date]", fields["date"])
    if "pay" in fields:
        tab.select_option("form.search select[name=pay]", fields["pay"])
    with tab.expect_navigation():
        tab.press("form.search input[name=q]", "Enter")
    assert tab.locator("form.search input[name=q]").input_value() == " ".join(text.split())
    numbers = set(tab.locator("tr[data-order]").evaluate_all(
        "rows => rows.map(r => r.dataset.order)"))
    return {k for k, n in NUMBERS.items() if n in numbers} | (
        {"seeded"} if numbers - set(NUMBERS.values()) else set())


@pytest.fixture
def searching(page: Any, served: Served) -> Any:  # noqa: F811 (the fixtures)
    add_people(served)
    log_in(page, served, "/queue?tab=all")
    return page


@pytest.mark.parametrize(("kind", "text", "hits"), [
    ("number, whole", NUMBERS["A"], {"A"}),
    ("number, its serial", NUMBERS["B"][-10:], {"B"}),
    ("number, from the date on", NUMBERS["C"][7:], {"C"}),
    ("number, last digits", NUMBERS["C"][-4:], {"C"}),
    ("family name, another 異体字", "宮崎", {"A"}),
    ("family name, 齊 for 齋", "齊藤", {"B"}),
    ("family name, 邊 for 邉", "渡邊", {"C"}),
    ("given name", "真一", {"C"}),
    ("full name with a space", "宮崎　太郎", {"A"}),
    ("kana, hiragana", "みやざき", {"A"}),
    ("kana, half-width", "ｻｲﾄｳ ﾒｸﾞﾐ", {"B"}),
    ("kana, katakana for hiragana", "ワタナベ", {"C"}),
    ("phone with hyphens", "045-987-6543", {"B"}),
    ("phone without hyphens, full-width", "０９０１１１１２２２２", {"A"}),
    ("phone, last four digits", "6543", {"B"}),
    ("mail address", "Watanabe@Mail", {"C"}),
    ("item name, a word inside it", "抹茶", {"A"}),
    ("item name, half-width kana", "ﾀｵﾙ", {"B"}),
    ("SKU", "SWT-001", {"B"}),
    ("unrelated name", "佐々木", set()),
])
def test_each_kind_of_search(searching: Any, kind: str, text: str, hits: set[str]):
    assert found(searching, text) == hits, kind
    assert searching.dialogs == []


def test_filters_payment_and_date(searching: Any):
    assert found(searching, "", pay="2") == {"B"}  # 代金引換
    assert found(searching, "", date=DAY) == {"A", "B", "C", "seeded"}
    assert found(searching, "宮崎", date=DAY) == {"A"}
    assert found(searching, "宮崎", date="2026-11-28") == set()
    assert found(searching, "たかはし", pay="2") == set()  # the seeded 髙橋 paid by card
    assert found(searching, "たかはし") == {"seeded"}
    # the filters stay in the form and in the next page's link
    assert searching.locator("form.search select[name=pay]").input_value() == ""


@pytest.mark.parametrize("text", ["%", "_", "' OR 1=1 --", '"*', "NEAR(a b)", "宮%", "\\",
                                  "a' UNION SELECT order_number FROM orders --"])
def test_hostile_text_neither_breaks_nor_widens_the_search(searching: Any, text: str):
    assert found(searching, text) == set()
    assert searching.locator("p.error").count() == 0
    assert searching.dialogs == []
