"""`--explain` (issue 15 item 6): the rules' own conditions, traced — the verdicts agree
with what decide() does, rows an all / any never reached are 未評価, and the derived
values say why a pre-order or a repeat buyer's order went as it did."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.factories import BUYER, T0, channel_order
from unyo.domain import ImportOrder, Item, OrderType, Package, decide
from unyo.domain.decide import ApplyRules
from unyo.domain.explain import MATCHED, NOT_EVALUATED, NOT_MATCHED, explain
from unyo.domain.rules import Facts
from unyo.flow.config import parse_config, render_init

RULES = parse_config(render_init("shop")).rules
PLAIN = replace(BUYER, family_name="高橋")


def _order(name: str = "米 5kg", remarks: str = "", order_type: OrderType = OrderType.normal,
           price: int = 3980, method: int = 1, island: bool = False):
    item = Item(1, "item-1", "item-1", name, price, 1)
    pkg = Package(1, PLAIN, (item,), price, 0, 0, price, isolated_island=island)
    channel = channel_order(status=300, buyer=PLAIN, packages=(pkg,), remarks=remarks,
                            order_type=order_type, method=method, total=price)
    return decide(None, ImportOrder("shop", channel, T0)).order


CASES = [
    _order(),
    _order(remarks="[配送日時指定:]\n\n領収書をお願いします"),
    _order("【予約】限定版 12月11日発売予定", order_type=OrderType.reservation),
    _order("【予約】限定版", order_type=OrderType.reservation),
    _order(price=60_000),
    _order(price=320_000, method=2),
    _order(island=True),
]
FACTS = [Facts(past_orders=1, postal_code_valid=True),
         Facts(past_orders=0, postal_code_valid=False,
               postal_problems=("送付先の郵便番号 1500000 は存在しません",)),
         Facts(other_open_orders=1, past_orders=2, postal_code_valid=True,
               merge_blockers=("注文 X と送付先の住所が違う",))]


def test_the_verdicts_are_what_decide_acts_on() -> None:
    for order in CASES:
        for facts in FACTS:
            e = explain(RULES, order, facts, T0)
            decided = decide(order, ApplyRules(RULES, facts, T0, lambda d: d + timedelta(1)))
            opened = {g.rule for g in decided.order.open_gates if g.rule}
            matched = {r.name for r in e.rules if r.verdict == MATCHED}
            assert opened <= matched, (order.channel.packages[0].items[0].name, facts)
            assert [r.name for r in e.rules] == [r.name for r in RULES]
            assert all(r.verdict in (MATCHED, NOT_MATCHED) for r in e.rules)
            for r in e.rules:  # a rule matched exactly when its rows say so
                src = next(x for x in RULES if x.name == r.name).source["when"]
                rows = [w.verdict for w in r.rows]
                if "all" in src:
                    assert (r.verdict == MATCHED) is all(v == MATCHED for v in rows)
                elif "any" in src:
                    assert (r.verdict == MATCHED) is (MATCHED in rows)
                else:
                    assert rows == [r.verdict]


def test_rows_an_all_never_reached_are_not_evaluated() -> None:
    e = explain(RULES, _order(price=3980), Facts(past_orders=3, postal_code_valid=True), T0)
    first_time = next(r for r in e.rules if r.name == "初回高額")
    assert [w.verdict for w in first_time.rows] == [NOT_MATCHED, NOT_EVALUATED]
    assert first_time.rows[0].value == "3" and first_time.rows[1].value == ""


def test_past_the_hand_off_nothing_is_evaluated() -> None:
    from unyo.domain import HandOff

    order = decide(_order(), HandOff(T0)).order
    e = explain(RULES, order, Facts(), T0)
    assert not e.evaluated and {r.verdict for r in e.rules} == {NOT_EVALUATED}


def test_the_derived_values_answer_why_a_pre_order_flowed_or_stopped() -> None:
    def derived(order, facts=FACTS[0]):  # type: ignore[no-untyped-def]
        return {d.key: d.value for d in explain(RULES, order, facts, T0).derived}

    read = derived(CASES[2])
    assert read["release_date"].startswith("2026-12-11")
    assert derived(CASES[3])["release_date"].startswith("読み取れません")
    assert derived(CASES[1])["remarks"] == "領収書をお願いします"
    assert derived(CASES[0], FACTS[1])["postal_code"] == "送付先の郵便番号 1500000 は存在しません"
    assert derived(CASES[0], FACTS[2])["merge"] == "注文 X と送付先の住所が違う"
    odd = replace(PLAIN, family_name="😀田")
    pkg = replace(CASES[0].channel.packages[0], recipient=odd)
    order = CASES[0].with_(channel=replace(CASES[0].channel, packages=(pkg,)))
    assert derived(order)["unprintable"] == "送付先氏名に印字できない文字「😀」(U+1F600)"
