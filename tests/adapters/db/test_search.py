"""The queue's search in the database (SQLite, or PostgreSQL with UNYO_TEST_DATABASE):
the same orders as `unyo.domain.search` finds in Python, for any typed text, hostile
text included; the terms follow every write of the order, in its transaction; the
migration fills them in for orders stored before it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.factories import BUYER, T0, channel_order, import_decision, minutes
from unyo.adapters.db import Store
from unyo.adapters.db import dashboard as q
from unyo.adapters.db import schema as t
from unyo.adapters.db.migrate import downgrade, upgrade
from unyo.domain import ChannelOrder, ImportOrder, Item, Order, SyncOrder, decide
from unyo.domain.search import query_words, search_terms, terms_matching

PEOPLE = [("髙橋", "花子", "タカハシ", "ハナコ", "03-1234-5678", "宇治抹茶ラテ 250ml",
           "matcha-250"),
          ("宮﨑", "太郎", "ﾐﾔｻﾞｷ", "ﾀﾛｳ", "090-1111-2222", "新潟県産コシヒカリ 5kg", "KOME-5"),
          ("齋藤", "恵", "さいとう", "めぐみ", "０４５－９８７－６５４３", "今治タオル", "TW-01"),
          ("渡邉", "真一", "ワタナベ", "シンイチ", "(06) 6000-0000", "抹茶 100g", "matcha-100"),
          ("佐藤", "翔太", "サトウ", "ショウタ", "0312345679", "ギフト券 100%オフ_特別", "G_100%"),
          ("O'Brien", "Ann", "オブライエン", "アン", "080 3333 4444", 'Tea "AND" NEAR(x*)',
           "TEA-*1")]
SHOP = "shop"


def number(i: int) -> str:
    return f"123456-2026112{i % 3}-{i * 7919:010d}"


def seeded_channels() -> list[ChannelOrder]:
    out = []
    for i, (fam, first, fk, gk, phone, item, sku) in enumerate(PEOPLE * 2):
        buyer = replace(BUYER, family_name=fam, first_name=first, family_name_kana=fk,
                        first_name_kana=gk, phone=phone, email=f"buyer{i}@pc.fw.rakuten.ne.jp")
        c = channel_order(number(i), ordered_at=T0 - minutes(i), buyer=buyer,
                          method=1 if i % 2 else 2)
        pkg = replace(c.packages[0], recipient=buyer,
                      items=(Item(1, f"item-{i}", sku.lower(), item, 1000, 1, 0.1, sku=sku),))
        out.append(replace(c, packages=(pkg,)))
    return out


@pytest.fixture
def seeded(store: Store) -> list[Order]:
    decisions = []
    for i, c in enumerate(seeded_channels()):
        d = import_decision(ImportOrder(SHOP, c, T0))
        if i % 4 == 0:
            d = replace(d, order=d.order.with_(tags=("ギフト", "要確認")))
        decisions.append(d)
    with store.transaction() as conn:
        store.create_orders(conn, decisions, T0)
        return [store.load_order(conn, SHOP, d.order.number) for d in decisions]  # type: ignore[misc]


def search(store: Store, text: str = "", **kw: object) -> set[str]:
    with store.transaction() as conn:
        page = q.queue_page(conn, SHOP, q.QueueFilter(words=tuple(query_words(text)), **kw),
                            limit=100)  # type: ignore[arg-type]
    return {r.order_number for r in page.rows}


def expected(orders: list[Order], text: str) -> set[str]:
    """The orders `text` finds by the domain's rule, in Python (nothing typed: all)."""
    words = query_words(text)
    out = set()
    for o in orders:
        terms = search_terms(o)
        if not words or (all(terms_matching(terms, w) for w in words)
                      or terms_matching(terms, "".join(words))):
            out.add(o.number)
    return out


def test_each_kind_of_search_finds_its_orders(store: Store, seeded: list[Order]):
    hits = {
        "高橋": {0, 6}, "タカハシ": {0, 6}, "たかはし": {0, 6}, "ﾀｶﾊｼ": {0, 6}, "宮崎": {1, 7},
        "みやざき": {1, 7}, "斎藤": {2, 8}, "斉藤": {2, 8}, "渡辺 真一": {3, 9}, "花子": {0, 6},
        "0452-98-7654": set(), "045-987-6543": {2, 8}, "０４５９８７６５４３": {2, 8},
        "6543": {2, 8}, "buyer1@pc": {1}, "ＢＵＹＥＲ１＠": {1}, "buyer1": {1, 10, 11},
        "抹茶": {0, 3, 6, 9},
        "ｺｼﾋｶﾘ": {1, 7}, "kome-5": {1, 7}, "matcha": {0, 3, 6, 9},
        number(4)[-10:]: {4}, number(4)[7:]: {4}, str(4 * 7919): {4}, number(4): {4},
        "高橋 kome": set(), "ﾀｶﾊｼ ﾊﾅｺ": {0, 6}, "抹茶 渡辺": {3, 9}, "宮 崎": {1, 7},
        "佐藤 鈴木": set(),
    }
    for many in (q.MANY, 3, 0):  # by the matches' ids, and by walking the orders
        saved, q.MANY = q.MANY, many
        try:
            for text, ids in hits.items():
                assert search(store, text) == {number(i) for i in ids}, (text, many)
                assert search(store, text) == expected(seeded, text), text
        finally:
            q.MANY = saved


@pytest.mark.parametrize("many", [5000, 1])
def test_filters_stage_payment_date_and_tag(store: Store, seeded: list[Order], many: int,
                                            monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(q, "MANY", many)  # by the tagged orders' ids, and by walking
    assert search(store, "高橋", payment_method=2) == {number(0), number(6)}
    assert search(store, "高橋", payment_method=1) == set()
    assert search(store, "", tag="ギフト") == {number(i) for i in (0, 4, 8)}
    assert search(store, "", tag="ｷﾞﾌﾄ") == {number(i) for i in (0, 4, 8)}  # folded too
    assert search(store, "ギフト") == {number(4), number(10)}  # the item, not the tag
    assert search(store, "", tag="ギフ") == set()  # a tag is whole
    assert search(store, "抹茶", ordered_from=T0 - minutes(3),
                  ordered_until=T0 + minutes(1)) == {number(0), number(3)}
    stage = seeded[0].stage
    assert search(store, "高橋", stage=stage) == {number(0), number(6)}


HOSTILE = st.text(alphabet="%_'\"*:()^-+\\/[]{}!?&|;=<>~`$@#.,　 NEARORANDnot高タ0１", max_size=20)
PIECES = st.sampled_from(["高橋", "ﾀｶﾊｼ", "抹茶", "6543", "kome", "matcha-", "O'Brien", "100%",
                          "G_1", "TEA-*", '"AND"', "NEAR(", "*", "%", "_", "'", "ギフト"])


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(PIECES, HOSTILE), min_size=1, max_size=4).map(" ".join))
def test_any_typed_text_finds_exactly_what_the_terms_say(store: Store, seeded: list[Order],
                                                         text: str):
    # wildcards, quotes and FTS words are text: they neither break nor widen the query
    want = expected(seeded, text)
    # each way of reading the matches: by their ids, by walking the orders (MANY small)
    for many in (q.MANY, 3, 0):
        saved, q.MANY = q.MANY, many
        try:
            assert search(store, text) == want, many
        finally:
            q.MANY = saved


def test_terms_follow_a_re_read_and_its_rollback(store: Store, seeded: list[Order]):
    order = seeded[0]
    renamed = replace(order.channel.buyer, family_name="櫻井", family_name_kana="サクライ")
    packages = tuple(replace(p, recipient=renamed) for p in order.channel.packages)
    sync = decide(order, SyncOrder(replace(order.channel, buyer=renamed, packages=packages),
                                   T0 + minutes(5)))
    with pytest.raises(RuntimeError), store.transaction() as conn:
        store.apply(conn, order, sync, T0 + minutes(5))
        raise RuntimeError("rolled back")
    assert number(0) not in search(store, "桜井")  # nothing written outside the transaction
    with store.transaction() as conn:
        store.apply(conn, order, sync, T0 + minutes(5))
    assert number(0) in search(store, "桜井") and number(0) in search(store, "さくらい")
    assert search(store, "髙橋") == {number(6)}  # the old family name no longer finds it


def test_the_migration_fills_in_the_terms_of_stored_orders(store: Store, seeded: list[Order]):
    with store.transaction() as conn:
        before = sorted(conn.execute(select(t.order_search)).all())
    downgrade(store.engine, "0005")
    upgrade(store.engine)
    with store.transaction() as conn:
        assert sorted(conn.execute(select(t.order_search)).all()) == before
    assert search(store, "ﾐﾔｻﾞｷ") == {number(1), number(7)}
