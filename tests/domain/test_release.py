"""Release dates of pre-orders as shops write them, and the 予約商品 rule on them."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import BUYER, T0, channel_order
from unyo.clock import JST
from unyo.domain import (
    Actor,
    DomainError,
    GateKind,
    ImportOrder,
    Item,
    OrderType,
    Package,
    SetReleaseDate,
    Stage,
    decide,
)
from unyo.domain.decide import REASON_RELEASE_UNKNOWN, ApplyRules
from unyo.domain.release import read_release, release_dates, undecided
from unyo.domain.rules import Facts, compile_rules

ORDERED = date(2026, 11, 27)  # T0's day

# (text, where it stands: "name" = item name / remarks, "field" = the item's 納期情報, date)
SPELLINGS = [
    ("12月11日発売予定", "name", date(2026, 12, 11)),
    ("【予約】12/8(火)発売", "name", date(2026, 12, 8)),
    ("12月中旬発送予定", "name", date(2026, 12, 20)),
    ("12月上旬発送予定", "name", date(2026, 12, 10)),
    ("12月下旬発送予定", "name", date(2026, 12, 31)),
    ("12月初旬入荷予定", "name", date(2026, 12, 10)),
    ("12月末発売", "name", date(2026, 12, 31)),
    ("12月発売予定", "name", date(2026, 12, 31)),
    ("２月下旬発売予定", "name", date(2027, 2, 28)),
    ("【予約】1月中旬発送", "name", date(2027, 1, 20)),
    ("【予約商品】2026年12月11日発売", "name", date(2026, 12, 11)),
    ("2026/12/11発売", "name", date(2026, 12, 11)),
    ("２０２６／１２／１１発売予定", "name", date(2026, 12, 11)),
    ("１２月１１日（金）発売", "name", date(2026, 12, 11)),
    ("12/11(金)頃発送予定", "name", date(2026, 12, 11)),
    ("12/11～順次発送", "name", date(2026, 12, 11)),
    ("12月11日より順次発送", "name", date(2026, 12, 11)),
    ("12月11日以降順次発送", "name", date(2026, 12, 11)),
    ("発売日：2026年12月11日", "name", date(2026, 12, 11)),
    ("発売日:12/11", "name", date(2026, 12, 11)),
    ("発売予定日 12月11日", "name", date(2026, 12, 11)),
    ("発送予定：12月中旬", "name", date(2026, 12, 20)),
    ("入荷予定 2026年12月下旬", "name", date(2026, 12, 31)),
    ("【12/20頃発送】", "name", date(2026, 12, 20)),
    ("《予約》12月中旬頃入荷予定", "name", date(2026, 12, 20)),
    ("【予約】12/8", "name", date(2026, 12, 8)),
    ("[予約] 12/08 発売", "name", date(2026, 12, 8)),
    ("ミニカー 1/43 【予約】12月下旬入荷予定", "name", date(2026, 12, 31)),
    ("カレンダー2027 11/30発売", "name", date(2026, 11, 30)),
    ("11/27発売", "name", date(2026, 11, 27)),  # the order's own day: on or after
    ("11/20発売", "name", date(2027, 11, 20)),  # no year, before the order: next year
    ("1/8発売 福袋", "name", date(2027, 1, 8)),
    ("2月29日発売", "name", date(2028, 2, 29)),
    ("2026年12月11日発売予定（発売日以降順次発送）", "field", date(2026, 12, 11)),
    ("2026年12月10日", "field", date(2026, 12, 10)),
    ("12月11日", "field", date(2026, 12, 11)),
    ("12/11", "field", date(2026, 12, 11)),
    ("2026-12-11", "field", date(2026, 12, 11)),
    ("2026.12.11", "field", date(2026, 12, 11)),
    ("１２月中旬", "field", date(2026, 12, 20)),
    ("12月下旬お届け予定", "field", date(2026, 12, 31)),
    ("2027年1月上旬", "field", date(2027, 1, 10)),
    ("12月11日発売、12月12日以降順次発送", "field", date(2026, 12, 12)),
]

NO_DATE = [
    ("発売日未定", "name"), ("【予約】発売日未定", "name"), ("入荷時期未定", "field"),
    ("1～2日以内に発送予定（店舗休業日を除く）", "field"), ("新潟県産コシヒカリ 5kg", "name"),
    ("【予約】1/12スケール 戦車", "name"), ("1/43 ミニカー", "name"), ("12-11 型番", "name"),
    ("送料無料 10%OFF", "name"), ("2026-12-10(木)", "name"),  # a delivery date, not a release
    ("12月13日まで予約受付", "name"), ("13/45発売", "name"), ("2月30日発売", "name"),
]


def _read(text: str, where: str):
    fields, free = ([text], []) if where == "field" else ([], [text])
    return read_release(ORDERED, fields, free)


@pytest.mark.parametrize(("text", "where", "day"), SPELLINGS)
def test_release_dates_as_shops_write_them(text: str, where: str, day: date) -> None:
    assert _read(text, where).known == day


@pytest.mark.parametrize(("text", "where"), NO_DATE)
def test_texts_without_a_release_date_give_none(text: str, where: str) -> None:
    assert _read(text, where).known is None


def test_an_undecided_item_leaves_the_order_without_a_date() -> None:
    reading = read_release(ORDERED, ["2026年12月11日発売予定", "発売日未定"], [])
    assert reading.day == date(2026, 12, 11) and reading.undecided and reading.known is None


def test_several_dates_the_latest_counts() -> None:
    assert read_release(ORDERED, ["12月11日"], ["【予約】12月下旬発売"]).known == date(2026, 12, 31)


# ---- properties -----------------------------------------------------------------------

def _spell(day: date, style: int, full_width: bool) -> str:
    y, m, d = day.year, day.month, day.day
    text = [f"{y}年{m}月{d}日", f"{y}/{m:02d}/{d:02d}", f"{m}月{d}日", f"{m}/{d}",
            f"{m:02d}/{d:02d}", f"{m}/{d}(火)", f"{y}/{m}/{d}", f"{m}月{d}日（水）"][style]
    if full_width:
        text = text.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789/"})
    return text


_DAYS = st.dates(min_value=ORDERED, max_value=ORDERED + timedelta(days=360))
_JAPANESE = st.text(alphabet="予約商品限定版特典付き送料無料ポイント倍セット【】《》 ", max_size=12)


@settings(max_examples=300, deadline=None)
@given(day=_DAYS, style=st.integers(0, 7), full_width=st.booleans(), before=_JAPANESE,
       after=_JAPANESE,
       word=st.sampled_from(["発売", "発売予定", "頃発送予定", "入荷予定", "より順次発送"]))
def test_any_supported_spelling_reads_back(day: date, style: int, full_width: bool,
                                           before: str, after: str, word: str) -> None:
    # Given a date within a year of the order, spelled in any supported way, in Japanese text
    text = f"{before}{_spell(day, style, full_width)}{word}{after}"
    # then it reads back as that date (without a year: the next such date from the order)
    assert release_dates(text, ORDERED) == [day]


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="予約商品限定版発売送料無料日月年上中下旬【】／ー ", max_size=30))
def test_a_text_without_digits_never_yields_a_date(text: str) -> None:
    assert release_dates(text, ORDERED) == []
    assert release_dates(text, ORDERED, keyword=False) == []


@settings(max_examples=300, deadline=None)
@given(ordered=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
       month=st.integers(1, 12), day=st.integers(1, 31),
       third=st.sampled_from(["", "上旬", "中旬", "下旬", "末"]))
def test_without_a_year_never_before_the_order_date(ordered: date, month: int, day: int,
                                                    third: str) -> None:
    text = f"{month}月{third or f'{day}日'}発売"
    for found in release_dates(text, ordered) + release_dates(f"{month}/{day}発売", ordered):
        assert ordered <= found <= ordered + timedelta(days=366 * 8 + 1)


def test_undecided_spellings() -> None:
    spellings = ("発売日未定", "発売日は未定です", "入荷時期未定", "発送日未確定")
    assert all(undecided(t) for t in spellings)
    assert not undecided("12月11日発売")


# ---- the rule: 発売日不明, and a person's date ----------------------------------------

RULES = compile_rules([{"name": "予約商品",
                        "when": {"field": "order_type", "op": "eq", "value": "reservation"},
                        "then": [{"hold": {"from": "release_date", "days_before": 1,
                                           "reason": "発売日待ち"}}]}])


def _pre_order(item_name: str, delivery_info: str = "", remarks: str = "[配送日時指定:]\n"):
    item = Item(1, "pre-1", "pre-1", item_name, 5000, 1, delivery_info=delivery_info)
    pkg = Package(1, BUYER, (item,), 5000, 0, 0, 5000)
    channel = channel_order(order_type=OrderType.reservation, packages=(pkg,), total=5000,
                            remarks=remarks, status=300)
    return decide(None, ImportOrder("shop", channel, T0)).order


def _rules(order, now: datetime = T0):
    return decide(order, ApplyRules(RULES, Facts(), now, lambda d: d)).order


@pytest.mark.parametrize("name", ["【予約】限定版 発売日未定", "【予約】限定版",
                                  "予約商品 1/12スケール"])
def test_a_pre_order_without_a_readable_date_waits_for_a_person(name: str) -> None:
    order = _rules(_pre_order(name))
    (gate,) = order.open_gates
    assert (gate.kind, gate.reason) == (GateKind.check, REASON_RELEASE_UNKNOWN)
    assert gate.rule == "予約商品"


def test_a_date_in_the_item_name_holds_until_the_day_before() -> None:
    order = _rules(_pre_order("【予約】12/8(火)発売 限定版"))
    (gate,) = order.open_gates
    assert gate.kind is GateKind.hold and gate.until == datetime(2026, 12, 7, tzinfo=JST)


def test_a_person_sets_the_date_then_the_clock_releases() -> None:
    # Given a pre-order waiting with 発売日不明
    order = _rules(_pre_order("【予約】限定版"))
    # when a person sets the release date
    set_ = decide(order, SetReleaseDate(date(2026, 12, 11), T0, Actor.person, by="sato")).order
    # then the question is answered and the order is held until that day
    assert [g.reason for g in set_.open_gates] == ["発売日待ち（2026-12-11）"]
    assert set_.open_gates[0].until == datetime(2026, 12, 11, tzinfo=JST)
    assert set_.setting("release_date") == "2026-12-11"
    # and the rules, run again, read the person's date and ask nothing
    again = _rules(set_)
    assert REASON_RELEASE_UNKNOWN not in [g.reason for g in again.open_gates]
    assert {g.until for g in again.open_gates} == {datetime(2026, 12, 10, tzinfo=JST),
                                                   datetime(2026, 12, 11, tzinfo=JST)}


def test_a_date_read_later_takes_the_question_back() -> None:
    order = _rules(_pre_order("【予約】限定版"))
    changed = order.with_(channel=channel_order(
        order_type=OrderType.reservation, total=5000, status=300, packages=(Package(1, BUYER, (
            Item(1, "pre-1", "pre-1", "【予約】限定版", 5000, 1,
                 delivery_info="2026年12月11日発売予定"),), 5000, 0, 0, 5000),)))
    after = _rules(changed)
    assert [g.kind for g in after.open_gates] == [GateKind.hold]


def test_no_release_date_on_a_shipped_order() -> None:
    order = _pre_order("【予約】限定版").with_(stage=Stage.shipped)
    with pytest.raises(DomainError, match="cannot set the release date"):
        decide(order, SetReleaseDate(date(2026, 12, 11), T0))
