"""The untouched `unyo init` flow on labelled orders: every order a person must see stops,
every order that needs nobody flows (issue 15: remarks and pre-orders).

Each family says why a person must or must not see its orders; the test prints the
table per family and fails on any miss (must stop, flowed) or false stop.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from itertools import product

import pytest

from tests.factories import BUYER, T0, channel_order
from unyo.domain import (
    Address,
    Amounts,
    GateKind,
    ImportOrder,
    Item,
    OrderType,
    Package,
    Person,
    PickupStore,
    SocialGift,
    decide,
)
from unyo.domain.decide import REASON_RELEASE_UNKNOWN, ApplyRules
from unyo.domain.rules import Facts
from unyo.flow.config import parse_config, render_init

PLAIN = replace(BUYER, family_name="高橋")  # printable everywhere (the 髙 is issue 15 item 3)
RULES = parse_config(render_init("shop")).rules

TEMPLATES = ["", "[配送日時指定:]\n", "[配送日時指定：]\n", "[配送日時指定:]\n2026-12-10(木)\n",
             "[配送日時指定:]\n2026-12-10(木)\n午前中\n",
             "[配送日時指定：]\n2026-12-10（木）\n14:00～16:00\n",
             "[配送日時指定:]\n指定なし\n", "[配送日時指定:]\n2026-12-10(木) 14時～16時\n",
             "[備考:]\n", "[メッセージ:]\n", "[配送日時指定:]\n\n\n[備考:]\n\n[メッセージ：]\n"]
REQUESTS = ["注文を間違えました。キャンセルをお願いします。",
            "金額のわかる明細書は入れないでください",
            "領収書をお願いします。宛名は株式会社サンプルで", "前回の注文と同梱してください",
            "<script>alert(1)</script>"]


def _remarks_families() -> list[tuple[str, str, str, str]]:
    rows = [("template only", "flow", t, "") for t in TEMPLATES]
    for t, r in product(TEMPLATES, REQUESTS):
        rows.append(("request after template", "stop", f"{t}\n\n{r}", r))
        rows.append(("request before template", "stop", f"{r}\n{t}", r))
    for r in REQUESTS:
        rows.append(("request between template lines", "stop",
                     f"[配送日時指定:]\n2026-12-10(木)\n{r}\n[メッセージ:]\n", r))
        rows.append(("request under メッセージ", "stop", f"[メッセージ：]\n{r}", r))
    return rows


# Pre-orders: (family, item name, 納期情報, label, hold until or None)
PRE_ORDERS = [
    ("pre-order, year-less date in the name", "【予約】限定版 12月11日発売予定", "", "hold",
     date(2026, 12, 10)),
    ("pre-order, M/D(曜) in the name", "【予約】12/8(火)発売 特典付き", "", "hold",
     date(2026, 12, 7)),
    ("pre-order, 中旬", "12月中旬発送予定 福袋", "", "hold", date(2026, 12, 19)),
    ("pre-order, date in 納期情報", "限定版", "2026年12月11日発売予定（発売日以降順次発送）",
     "hold", date(2026, 12, 10)),
    ("pre-order, full-width date", "【予約】１２月２０日発売", "", "hold", date(2026, 12, 19)),
    ("pre-order, 発売日未定", "【予約】限定版 発売日未定", "", "stop", None),
    ("pre-order, 未定 in 納期情報", "限定版", "発売日未定", "stop", None),
    ("pre-order, no date anywhere", "【予約】限定版", "", "stop", None),
    ("pre-order, a scale is no date", "【予約】1/12スケール 戦車", "", "stop", None),
    ("pre-order, already released", "限定版", "2026年11月20日発売", "flow", None),
    # without a year a date before the order is next year's: held, never shipped early
    ("pre-order, year-less date before the order", "11/20発売 限定版", "", "hold",
     date(2027, 11, 19)),
]


def _order(remarks: str = "", order_type: OrderType = OrderType.normal, name: str = "米 5kg",
           info: str = ""):
    item = Item(1, "item-1", "item-1", name, 3980, 1, delivery_info=info)
    pkg = Package(1, PLAIN, (item,), 3980, 0, 0, 3980)
    channel = channel_order(status=300, buyer=PLAIN, packages=(pkg,), remarks=remarks,
                            order_type=order_type)
    order = decide(None, ImportOrder("shop", channel, T0)).order
    facts = Facts(past_orders=1, postal_code_valid=True)
    return decide(order, ApplyRules(RULES, facts, T0, lambda d: d + timedelta(days=1))).order


def _verdict(order) -> str:
    kinds = {g.kind for g in order.open_gates}
    return "stop" if GateKind.check in kinds else "hold" if kinds else "flow"


def test_the_default_flow_stops_exactly_the_orders_a_person_must_see(capsys) -> None:
    table: dict[str, list[int]] = {}
    misses: list[str] = []
    for family, label, remarks, request in _remarks_families():
        order = _order(remarks)
        got = _verdict(order)
        reasons = [g.reason for g in order.open_gates]
        ok = got == label and (not request or any(
            r.startswith("備考欄に要望: ") and request[:8] in r for r in reasons))
        table.setdefault(family, [0, 0])[0 if ok else 1] += 1
        if not ok:
            misses.append(f"{family}: {remarks!r} → {got} {reasons}")
    for family, name, info, label, until in PRE_ORDERS:
        order = _order(order_type=OrderType.reservation, name=name, info=info)
        got = _verdict(order)
        reasons = [g.reason for g in order.open_gates]
        ok = got == label and (label != "stop" or REASON_RELEASE_UNKNOWN in reasons) and (
            until is None or {g.until.date() for g in order.open_gates if g.until} == {until})
        table.setdefault(family, [0, 0])[0 if ok else 1] += 1
        if not ok:
            misses.append(f"{family}: {name!r} {info!r} → {got} {reasons}")
    with capsys.disabled():
        print("\nfamily                                   right  wrong")
        for family, (right, wrong) in table.items():
            print(f"{family:40} {right:5} {wrong:6}")
    assert sum(r + w for r, w in table.values()) >= 140
    assert not misses, "\n".join(misses)


# 代引き上限: (family, goods, 代引料, points used, label). The carrier collects 請求金額
# (合計金額 less points and coupons), and the limit is on what it collects.
CASH_ON_DELIVERY = [
    ("代引き: well under the limit", 100_000, 660, 0, "flow"),
    ("代引き: over the limit", 301_000, 1_100, 0, "stop"),
    ("代引き: over it by the 代引料", 299_500, 660, 0, "stop"),
    ("代引き: under it after points", 300_500, 1_100, 2_000, "flow"),
    ("代引き: over it even after points", 310_000, 1_100, 2_000, "stop"),
]


@pytest.mark.parametrize(("family", "goods", "fee", "points", "label"), CASH_ON_DELIVERY)
def test_cash_on_delivery_stops_on_what_the_carrier_collects(family: str, goods: int, fee: int,
                                                              points: int, label: str) -> None:
    total = goods + fee
    item = Item(1, "item-1", "item-1", "米 5kg", goods, 1)
    pkg = Package(1, PLAIN, (item,), goods, 0, fee, total)
    channel = channel_order(status=300, buyer=PLAIN, packages=(pkg,), method=2,
                            rakuten_pay=False)
    channel = replace(channel, amounts=Amounts(goods, 0, fee, 0, total, total - points,
                                               points_used=points))
    assert not channel.problems()  # the amounts add up as RMS's do
    order = decide(None, ImportOrder("shop", channel, T0)).order
    facts = Facts(past_orders=1, postal_code_valid=True)
    order = decide(order, ApplyRules(RULES, facts, T0, lambda d: d + timedelta(days=1))).order
    stopped = [g.reason for g in order.open_gates if g.kind is GateKind.check]
    assert ("代引き上限を超えています" in stopped) is (label == "stop"), (family, stopped)


@pytest.mark.parametrize("remarks", ["[配送日時指定：]\n",
                                     "[配送日時指定:]\n\n\n注文を間違えました。"])
def test_the_issues_examples(remarks: str) -> None:
    order = _order(remarks)
    assert (_verdict(order) == "stop") is ("注文" in remarks)


# ---- printable characters (issue 15 item 3) ------------------------------------------------

# (family, recipient's family name, sub-address, label, the reasons it stops with)
CHARACTERS = [
    *(("cp932 holds it (IBM / NEC extensions)", n, "神宮前1-2-3", "flow", [])
      for n in ("髙橋", "山﨑", "德川", "草彅", "濵田", "瀨戸", "㈱山田商事", "鈴木Ⅱ世", "ﾀｶﾊｼ",
                "髙﨑德")),
    *(("cp932 holds it, in the address", "高橋", a, "flow", [])
      for a in ("神宮前1〜3", "神宮前1～3", "神宮前①番地", "ﾊｲﾂ101", "神宮前1－2－3", "神宮前1―2")),
    *(("a standard substitute", n, "神宮前1-2-3", "flow", [])
      for n in ("𠮷田", "𡈽屋", "𣘺本", "ジョ—ジ", "山田\u00a0", "山\u200b田", "葛\U000e0100西",
                "José")),
    *(("a substitute, in the address", "高橋", a, "flow", [])
      for a in ("神宮前1—2—3", "神宮前1–2", "神宮前1‒2", "𠮷野町1-2", "神宮前1-2 ㉑号室")),
    ("no substitute: emoji in the name", "😀田", "神宮前1-2-3", "stop",
     ["送付先氏名に印字できない文字「😀」(U+1F600)"]),
    ("no substitute: emoji in the name", "山田♥", "神宮前1-2-3", "stop",
     ["送付先氏名に印字できない文字「♥」(U+2665)"]),
    ("no substitute: a rare ideograph", "𪚲田", "神宮前1-2-3", "stop",
     ["送付先氏名に印字できない文字「𪚲」(U+2A6B2)"]),
    ("no substitute: emoji in the address", "高橋", "神宮前1-2-3 🏠", "stop",
     ["送付先住所に印字できない文字「🏠」(U+1F3E0)"]),
    ("no substitute: a control character", "山田\x07", "神宮前1-2-3", "stop",
     ["送付先氏名に印字できない文字(U+0007)"]),
    ("no substitute: two fields", "😀田", "神宮前1-2-3 🏠", "stop",
     ["送付先氏名に印字できない文字「😀」(U+1F600)、送付先住所に印字できない文字「🏠」(U+1F3E0)"]),
]


def test_names_and_addresses_stop_only_for_a_character_with_no_substitute_and_only_once(
        capsys) -> None:
    from unyo.app.warehouse import print_request, shipment_requests
    from unyo.domain import Actor, CloseGate, HandOff, Stage
    from unyo.flow.warehouse import REQUEST_COLUMNS

    printing = parse_config(render_init("shop")).warehouse.printing
    table: dict[str, list[int]] = {}
    misses: list[str] = []
    for family, name, sub_address, label, reasons in CHARACTERS:
        person = replace(PLAIN, family_name=name, address=replace(PLAIN.address,
                                                                  sub_address=sub_address))
        item = Item(1, "item-1", "item-1", "米 5kg", 3980, 1)
        channel = channel_order(status=300, buyer=PLAIN,
                                packages=(Package(1, person, (item,), 3980, 0, 0, 3980),))
        order = decide(None, ImportOrder("shop", channel, T0)).order
        order = decide(order, ApplyRules(RULES, Facts(past_orders=1, postal_code_valid=True),
                                         T0, lambda d: d + timedelta(days=1))).order
        got = _verdict(order)
        stops = [g.reason for g in order.open_gates]
        if order.open_gates:  # a person has looked
            order = decide(order, CloseGate(GateKind.check, T0, Actor.person)).order
        printed = [print_request(r, printing, REQUEST_COLUMNS) for r in shipment_requests(order)]
        handed = decide(order, HandOff(T0, tuple(s for p in printed for s in p.substituted),
                                       tuple(u for p in printed for u in p.unsendable))).order
        stops += [g.reason for g in handed.open_gates]  # the hand-off never stops it again
        sent = [p.request for p in printed]
        ok = (got == label and stops == reasons and handed.stage is Stage.at_warehouse
              and all(t.encode("cp932") for r in sent for t in (r.recipient_name, r.address)))
        table.setdefault(family, [0, 0])[0 if ok else 1] += 1
        if not ok:
            misses.append(f"{family}: {name!r} {sub_address!r} → {got} {stops} "
                          f"{handed.stage} {[(r.recipient_name, r.address) for r in sent]}")
    with capsys.disabled():
        print("\nfamily                                   right  wrong")
        for family, (right, wrong) in table.items():
            print(f"{family:40} {right:5} {wrong:6}")
    assert sum(r + w for r, w in table.values()) >= 35
    assert not misses, "\n".join(misses)


# ---- order types (issue 17 item 3) ---------------------------------------------------------

STORE = PickupStore("ファミリーマート", "012345", "ファミリーマート 新宿西口店", "1600023",
                    "東京都", "新宿区西新宿1-1-3")
WAITING = SocialGift("123456-20261127-0000000001-sg", date(2026, 12, 4), False)
PLACEHOLDER = Person("入力待ち", "入力待ち", "ニュウリョクマチ", "ニュウリョクマチ",
                     "999-9999-9999", Address("9999999", "入力待ち", "入力待ち", "入力待ち"))
NO_STORE_COLUMNS = render_init("shop").replace(
    "  # columns:              # your WMS's request layout (key: header), in order\n"
    "  #   order_number: 受注番号\n  #   basket_id: 送付先ID\n",
    "  columns:\n    order_number: 受注番号\n    basket_id: 送付先ID\n    address: 送付先住所\n")


def _typed(package: dict, **order: object):
    item = Item(1, "item-1", "item-1", "米 5kg", 3980, 1)
    pkg = replace(Package(1, PLAIN, (item,), 3980, 0, 0, 3980), **package)
    return channel_order(status=300, buyer=PLAIN, packages=(pkg,), **order)


# (family, package changes, order changes, the layout has the store columns, label,
#  a reason that names it, tags)
ORDER_TYPES = [
    ("コンビニ受取, the layout has the store columns", {"pickup_store": STORE}, {}, True,
     "flow", "", {"コンビニ受取"}),
    ("コンビニ受取, a layout without them", {"pickup_store": STORE}, {}, False, "stop",
     "コンビニ受取: 倉庫への依頼に受取店舗の列がありません"
     "（ファミリーマート 新宿西口店（東京都新宿区西新宿1-1-3））", {"コンビニ受取"}),
    ("置き配", {"drop_off": "宅配ボックス"}, {}, True, "flow", "", set()),
    ("置き配, a layout without the store columns", {"drop_off": "玄関前"}, {}, False, "flow", "",
     set()),
    ("ソーシャルギフト, the address not given yet", {"recipient": PLACEHOLDER,
                                            "social_gift": WAITING},
     {"social_gift": True, "gift": True}, True, "hold", "ソーシャルギフトの受取人の住所入力待ち",
     {"ギフト"}),
    ("ソーシャルギフト, the address given", {"social_gift": replace(WAITING, address_given=True)},
     {"social_gift": True, "gift": True}, True, "flow", "", {"ギフト"}),
    *(("注意表示 注意喚起", {}, {"caution": "注意喚起", "caution_detail": d}, True, "stop",
       f"楽天の注意表示: {d}", set())
      for d in ("前払い未払いに注意", "受取拒否に注意", "長期不在による受取拒否に注意",
                "開梱後の返品に注意", "高いサービスレベルの要望に注意")),
    ("注意表示 キャンセル確定", {}, {"caution": "キャンセル確定"}, True, "stop",
     "楽天の注意表示: キャンセル確定", set()),
    ("当日出荷", {}, {"same_day": True}, True, "flow", "", {"当日出荷"}),
    ("最強翌日配送", {}, {"next_day_cert": True}, True, "flow", "", {"最強翌日配送"}),
    ("当日出荷 and 最強翌日配送", {}, {"same_day": True, "next_day_cert": True}, True, "flow", "",
     {"当日出荷", "最強翌日配送"}),
    ("none of them", {}, {}, True, "flow", "", set()),
]


def test_the_default_flow_stops_the_order_types_a_person_must_see(capsys) -> None:
    from unyo.app.processing import with_postal_facts

    without = parse_config(NO_STORE_COLUMNS).rules
    assert parse_config(NO_STORE_COLUMNS).warehouse.columns != parse_config(
        render_init("shop")).warehouse.columns
    table: dict[str, list[int]] = {}
    misses: list[str] = []
    for family, package, changes, columns, label, reason, tags in ORDER_TYPES:
        channel = _typed(package, **changes)
        order = decide(None, ImportOrder("shop", channel, T0)).order
        facts = with_postal_facts(Facts(past_orders=1), channel)  # the placeholder: no check
        order = decide(order, ApplyRules(RULES if columns else without, facts, T0,
                                         lambda d: d + timedelta(days=1))).order
        got = _verdict(order)
        reasons = [g.reason for g in order.open_gates]
        ok = got == label and (reasons == [reason] if reason else not reasons) and set(
            order.tags) == tags
        table.setdefault(family, [0, 0])[0 if ok else 1] += 1
        if not ok:
            misses.append(f"{family}: → {got} {reasons} {order.tags}")
    with capsys.disabled():
        print("\nfamily                                   right  wrong")
        for family, (right, wrong) in table.items():
            print(f"{family:40} {right:5} {wrong:6}")
    assert not misses, "\n".join(misses)


def test_a_social_gift_goes_on_by_itself_once_the_recipient_gives_the_address() -> None:
    from unyo.app.processing import with_postal_facts
    from unyo.domain import Stage, SyncOrder

    waiting = _typed({"recipient": PLACEHOLDER, "social_gift": WAITING}, social_gift=True)
    order = decide(None, ImportOrder("shop", waiting, T0)).order
    run = ApplyRules(RULES, with_postal_facts(Facts(past_orders=1), waiting), T0,
                     lambda d: d + timedelta(days=1))
    order = decide(order, run).order
    assert [g.kind for g in order.open_gates] == [GateKind.hold]
    # the recipient gives their address; the sync reads it and the rules run again
    given = _typed({"social_gift": replace(WAITING, address_given=True)}, social_gift=True)
    order = decide(order, SyncOrder(given, T0 + timedelta(hours=2))).order
    # no 変更 to check: only the hold, until the rules run
    assert [g.kind for g in order.open_gates] == [GateKind.hold]
    order = decide(order, replace(run, facts=with_postal_facts(Facts(past_orders=1), given),
                                  now=T0 + timedelta(hours=2))).order
    assert not order.open_gates and order.stage is Stage.ready
    # but an address given together with another change is a change to look at
    order = decide(None, ImportOrder("shop", waiting, T0)).order
    order = decide(order, run).order
    other = replace(given, packages=(replace(given.packages[0], items=(
        replace(given.packages[0].items[0], units=2),)),))
    order = decide(order, SyncOrder(other, T0 + timedelta(hours=2))).order
    assert GateKind.check in {g.kind for g in order.open_gates}
