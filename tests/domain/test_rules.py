"""Shop rules: every operator and action, mistakes named by path, hostile input inert."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from tests.factories import BUYER, T0, channel_order
from unyo.domain import Address, ImportOrder, Item, Package, decide
from unyo.domain.printing import PrintSpec
from unyo.domain.rules import (
    FIELD_SPECS,
    FIELDS,
    OPERATORS,
    ActionKind,
    Facts,
    FieldType,
    RuleError,
    RuleInput,
    compile_rules,
    customer_remarks,
    evaluate,
    hold_until,
    unprintable_chars,
)
from unyo.flow.patterns import compile_pattern


def given(facts: Facts | None = None, now: datetime = T0, **changes: Any) -> RuleInput:
    order = decide(None, ImportOrder("shop", channel_order(**changes), T0)).order
    return RuleInput(order, facts or Facts(), now)


def holds(when: Any, i: RuleInput) -> bool:
    (rule,) = compile_rules([{"name": "r", "when": when, "then": [{"tag": "t"}]}],
                            patterns=compile_pattern)
    return rule.when(i)


def test_remarks_without_rakuten_template_lines():
    raw = "[配送日時指定:]\n2026-11-30(月)\n午前中\n[メッセージ:]\nギフト包装をお願いします"
    assert customer_remarks(raw) == "ギフト包装をお願いします"
    assert customer_remarks("[配送日時指定:]\n2026-11-30(月)\n[メッセージ:]\n") == ""
    assert customer_remarks("") == ""


@pytest.mark.parametrize(("remarks", "expected"), [
    ("[配送日時指定:]\n2026-11-30(月)\n午前中\n[メッセージ:]\n", False),
    ("[メッセージ:]\n不在時は宅配ボックスへ", True),
])
def test_remarks_not_empty_ignores_template_lines(remarks: str, expected: bool):
    assert holds({"field": "remarks", "op": "not_empty"}, given(remarks=remarks)) is expected


@pytest.mark.parametrize(("op", "value", "expected"), [
    ("eq", 3980, True), ("ne", 3980, False), ("lt", 4000, True), ("le", 3980, True),
    ("gt", 3980, False), ("ge", 3980, True), ("between", [3000, 4000], True),
    ("between", [4000, 5000], False), ("in", [1, 3980], True), ("not_in", [1, 3980], False),
    ("not_empty", None, True), ("is_empty", None, False),
])
def test_number_operators(op: str, value: Any, expected: bool):
    row = {"field": "total", "op": op} | ({} if value is None else {"value": value})
    assert holds(row, given()) is expected


def test_not_fixed_amounts_are_empty_not_numbers():
    i = given(postage=-9999, total=-9999)
    assert holds({"field": "total", "op": "is_empty"}, i)
    assert not holds({"field": "total", "op": "lt", "value": 100}, i)
    assert holds({"field": "amount_not_fixed", "op": "is_true"}, i)


@pytest.mark.parametrize(("op", "value", "expected"), [
    ("eq", "クレジットカード", True), ("ne", "クレジットカード", False),
    ("in", ["代金引換", "クレジットカード"], True), ("not_in", ["代金引換"], True),
    ("contains", "カード", True), ("not_contains", "カード", False),
    ("starts_with", "クレジット", True), ("ends_with", ["現金", "カード"], True),
    ("matches", "^クレ.+ド$", True), ("is_empty", None, False), ("not_empty", None, True),
])
def test_text_operators(op: str, value: Any, expected: bool):
    row = {"field": "payment_method", "op": op} | ({} if value is None else {"value": value})
    assert holds(row, given()) is expected


def test_text_is_compared_after_nfkc_normalisation():
    i = given(remarks="[メッセージ:]\nｷﾞﾌﾄ包装ＯＫ")
    assert holds({"field": "remarks", "op": "contains", "value": "ギフト"}, i)
    assert holds({"field": "remarks", "op": "contains", "value": "OK"}, i)


@pytest.mark.parametrize(("op", "expected"), [("is_true", True), ("is_false", False)])
def test_flag_operators(op: str, expected: bool):
    assert holds({"field": "member", "op": op}, given()) is expected
    assert holds({"field": "member", "op": "eq", "value": True}, given()) is True
    assert holds({"field": "member", "op": "ne", "value": True}, given()) is False


def test_day_operators_and_relative_days():
    i = given(requested_delivery_date=date(2026, 12, 10))
    assert holds({"field": "requested_delivery_date", "op": "after", "value": "2026-12-01"}, i)
    assert holds({"field": "requested_delivery_date", "op": "on_or_before",
                  "value": "2026-12-10"}, i)
    assert holds({"field": "requested_delivery_date", "op": "beyond_days", "value": 7}, i)
    assert not holds({"field": "requested_delivery_date", "op": "within_days", "value": 7}, i)
    assert holds({"field": "requested_delivery_date", "op": "is_empty"}, given())
    assert not holds({"field": "requested_delivery_date", "op": "before",
                      "value": "2030-01-01"}, given())


def test_choice_and_list_operators():
    i = given()
    assert holds({"field": "order_type", "op": "eq", "value": "normal"}, i)
    assert holds({"field": "order_type", "op": "not_in", "value": ["reservation"]}, i)
    assert holds({"field": "item_numbers", "op": "contains", "value": "item-001"}, i)
    assert holds({"field": "item_numbers", "op": "contains_all", "value": ["item-001"]}, i)
    assert holds({"field": "item_numbers", "op": "any_starts_with", "value": "item-"}, i)
    assert holds({"field": "item_names", "op": "any_contains", "value": "コシヒカリ"}, i)
    assert holds({"field": "item_numbers", "op": "not_contains", "value": "x"}, i)
    assert holds({"field": "item_numbers", "op": "count_lt", "value": 2}, i)
    assert not holds({"field": "item_numbers", "op": "count_gt", "value": 1}, i)
    assert holds({"field": "skus", "op": "is_empty"}, i)
    assert holds({"field": "tags", "op": "contains", "value": "VIP"},
                 given(Facts(tags=("VIP",))))


def test_every_field_can_be_read_for_a_real_order():
    i = given()
    for spec in FIELDS.values():
        spec.get(i)  # no field may fail on an ordinary order
        assert OPERATORS[spec.type]


def test_all_any_not_combine():
    i = given()
    cond = {"all": [{"field": "total", "op": "gt", "value": 1000},
                    {"any": [{"field": "gift", "op": "is_true"},
                             {"not": {"field": "member", "op": "is_false"}}]}]}
    assert holds(cond, i)
    assert not holds({"not": cond}, i)


def test_buyer_facts_and_printer_characters():
    assert holds({"field": "other_open_orders", "op": "ge", "value": 1},
                 given(Facts(other_open_orders=1)))
    assert holds({"field": "postal_code_valid", "op": "is_false"},
                 given(Facts(postal_code_valid=False)))
    # 髙橋 is in cp932: printable, nothing to stop
    assert holds({"field": "unprintable_chars", "op": "is_empty"}, given())
    for name, stops in (("𠮷田", False), ("😀", True), ("髙橋", False)):
        person = replace(BUYER, family_name=name)
        pkg = Package(1, person, (Item(1, "a", "a", "x", 1, 1),), 1, 0, 0, 1)
        assert holds({"field": "unprintable_chars", "op": "not_empty"},
                     given(packages=(pkg,))) is stops, name


def test_unprintable_chars_are_those_the_encoding_lacks_with_no_substitute():
    assert unprintable_chars("髙橋 﨑 ｶﾅ 高橋 山田太郎 ABC 123 〒 𠮷 😀 𪚲") == ["😀", "𪚲"]
    assert unprintable_chars("東京都渋谷区神宮前１－２－３") == []
    assert unprintable_chars("😀 \x07", PrintSpec("utf-8")) == ["\x07"]


def test_actions_compile():
    (rule,) = compile_rules([{
        "name": "ギフト", "description": "ギフトは倉庫に伝える",
        "when": {"field": "gift", "op": "is_true"},
        "then": [{"check": "ギフト包装を確認"}, {"tag": "ギフト"},
                 {"set": {"warehouse_note": "ギフト包装"}},
                 {"hold": {"from": "requested_delivery_date", "days_before": 3}}]}])
    kinds = [a.kind for a in rule.then]
    assert kinds == [ActionKind.check, ActionKind.tag, ActionKind.set, ActionKind.hold]
    assert rule.then[2].target == "warehouse_note"


def test_hold_ends():
    jst = T0.tzinfo
    i = given(requested_delivery_date=date(2026, 12, 10))
    (r,) = compile_rules([{"name": "r", "when": {"field": "gift", "op": "is_false"},
                           "then": [{"hold": {"from": "requested_delivery_date",
                                              "days_before": 3}},
                                    {"hold": {"for": "6h"}},
                                    {"hold": {"until": "2026-12-01T09:00:00+09:00"}},
                                    {"hold": {"next_business_day": True}}]}])
    specs = [a.hold for a in r.then]
    assert all(specs)
    ends = [hold_until(s, i, lambda d: d + timedelta(days=1)) for s in specs if s]
    assert ends[0] == datetime(2026, 12, 7, tzinfo=jst)
    assert ends[1] == T0 + timedelta(hours=6)
    assert ends[2] == datetime(2026, 12, 1, 9, tzinfo=jst)
    assert ends[3] == datetime(2026, 11, 28, tzinfo=jst)
    assert hold_until(specs[0], given(), lambda d: d) is None  # no date, no hold


def test_release_date_hold_reads_the_items_delivery_info():
    item = Item(1, "pre-1", "pre-1", "予約商品", 5000, 1, delivery_info="2026年12月10日発売予定")
    pkg = Package(1, BUYER, (item,), 5000, 0, 0, 5000)
    (r,) = compile_rules([{"name": "予約", "when": {"field": "order_type", "op": "eq",
                                                    "value": "reservation"},
                           "then": [{"hold": {"from": "release_date"}}]}])
    spec = r.then[0].hold
    assert spec is not None
    assert hold_until(spec, given(packages=(pkg,)), lambda d: d) == datetime(
        2026, 12, 10, tzinfo=T0.tzinfo)


def test_evaluate_returns_matching_rules_in_file_order():
    rules = compile_rules([
        {"name": "a", "when": {"field": "total", "op": "gt", "value": 1}, "then": [{"tag": "a"}]},
        {"name": "b", "when": {"field": "total", "op": "lt", "value": 1}, "then": [{"tag": "b"}]},
        {"name": "c", "when": {"field": "member", "op": "is_true"}, "then": [{"tag": "c"}]},
        {"name": "d", "enabled": False, "when": {"field": "member", "op": "is_true"},
         "then": [{"tag": "d"}]},
    ])
    assert [r.name for r in evaluate(rules, given())] == ["a", "c"]


@pytest.mark.parametrize(("rules", "path", "message"), [
    ("x", "rules", "expected a list"),
    ([{"name": "a", "when": {"field": "totl", "op": "gt", "value": 1}, "then": [{"tag": "t"}]}],
     "rules[0].when.field", "did you mean total"),
    ([{"name": "a", "when": {"field": "total", "op": "contains", "value": 1},
       "then": [{"tag": "t"}]}], "rules[0].when.op", "not an operator for total"),
    ([{"name": "a", "when": {"field": "total", "op": "gt", "value": "1万"},
       "then": [{"tag": "t"}]}], "rules[0].when.value", "expected a number"),
    ([{"name": "a", "when": {"field": "total", "op": "gt"}, "then": [{"tag": "t"}]}],
     "rules[0].when", "needs a value"),
    ([{"name": "a", "when": {"field": "gift", "op": "is_true", "value": 1},
       "then": [{"tag": "t"}]}], "rules[0].when.value", "takes no value"),
    ([{"name": "a", "when": {"field": "order_type", "op": "eq", "value": "yoyaku"},
       "then": [{"tag": "t"}]}], "rules[0].when.value", "not one of"),
    ([{"name": "a", "when": {"all": []}, "then": [{"tag": "t"}]}], "rules[0].when.all",
     "non-empty list"),
    ([{"name": "a", "when": {"all": [{"field": "gift", "op": "is_true"}], "any": []},
       "then": [{"tag": "t"}]}], "rules[0].when", "exactly one of"),
    ([{"name": "a", "when": {"field": "remarks", "op": "matches", "value": "("},
       "then": [{"tag": "t"}]}], "rules[0].when.value", "regular expression"),
    ([{"name": "a", "when": {"field": "gift", "op": "is_true"}, "then": []}],
     "rules[0].then", "non-empty list"),
    ([{"name": "a", "when": {"field": "gift", "op": "is_true"}, "then": [{"hold": {}}]}],
     "rules[0].then[0].hold", "needs until"),
    ([{"name": "a", "when": {"field": "gift", "op": "is_true"},
       "then": [{"hold": {"until": "2026-12-01T09:00"}}]}], "rules[0].then[0].hold.until",
     "time zone"),
    ([{"name": "a", "when": {"field": "gift", "op": "is_true"},
       "then": [{"hold": {"from": "ordered_at"}}]}], "rules[0].then[0].hold.from",
     "not a date to hold from"),
    ([{"name": "a", "when": {"field": "gift", "op": "is_true"},
       "then": [{"set": {"total": 1}}]}], "rules[0].then[0].set.total", "cannot set"),
    ([{"name": "a", "when": {"field": "gift", "op": "is_true"}, "then": [{"merge": False}]}],
     "rules[0].then[0].merge", "expected true, or a mapping"),
    ([{"name": "a", "when": {"field": "gift", "op": "is_true"},
       "then": [{"merge": {"with": "all"}}]}], "rules[0].then[0].merge.with", "unmergeable"),
    ([{"name": "a", "when": {"field": "gift", "op": "is_true"},
       "then": [{"merge": {"tag": ""}}]}], "rules[0].then[0].merge.tag", "1–50"),
    ([{"name": "a", "when": {"field": "gift", "op": "is_true"}, "then": [{"chek": "x"}]}],
     "rules[0].then[0].chek", "did you mean check"),
    ([{"name": "a", "when": {"field": "gift", "op": "is_true"}, "then": [{"tag": "t"}]},
      {"name": "a", "when": {"field": "gift", "op": "is_true"}, "then": [{"tag": "t"}]}],
     "rules[1].name", r"already the name of rules\[0\]"),
    ([{"name": "a", "when": {"field": "gift", "op": "is_true"}, "then": [{"tag": "t"}],
       "priority": 1}], "rules[0].priority", "unknown key"),
])
def test_mistakes_are_named_by_path(rules: Any, path: str, message: str):
    with pytest.raises(RuleError, match=message) as e:
        compile_rules(rules, patterns=compile_pattern)
    assert e.value.path == path


@pytest.mark.parametrize("attack", [
    "__import__('os').system('touch /tmp/pwned')",
    "{{ 7*7 }}",
    "${jndi:ldap://x}",
    "lambda: 1",
])
def test_hostile_values_are_only_data(attack: str, tmp_path):
    # given rules whose values are code-looking strings
    (r,) = compile_rules([{"name": attack, "when": {"field": "remarks", "op": "contains",
                                                    "value": attack},
                           "then": [{"check": attack}, {"tag": attack[:50]}]}])
    # then they match only that literal text, and nothing ran
    assert r.when(given(remarks=f"[メッセージ:]\n{attack}"))
    assert not r.when(given(remarks="[メッセージ:]\n49"))
    assert r.then[0].message == attack


def test_field_names_are_unique_and_typed():
    # Counted on the list: in the dict a second field of the same name would replace the
    # first, and could never be seen.
    names = [s.name for s in FIELD_SPECS]
    assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]
    assert len(FIELDS) == len(FIELD_SPECS)
    assert all(isinstance(s.type, FieldType) and s.label for s in FIELD_SPECS)
    assert FIELDS["remarks"].label == "備考欄（お客様の記入）"


def test_address_is_part_of_printer_check():
    odd = replace(BUYER, address=Address("1000001", "東京都", "千代田区", "丸の内1-1 ﾋﾞﾙ😀"))
    pkg = Package(1, odd, (Item(1, "a", "a", "x", 1, 1),), 1, 0, 0, 1)
    i = given(buyer=replace(odd, family_name="高橋"), packages=(pkg,))
    assert holds({"field": "unprintable_chars", "op": "contains", "value": "😀"}, i)
    assert holds({"field": "unprintable", "op": "eq",
                  "value": "送付先住所に印字できない文字「😀」(U+1F600)"}, i)


# ---- fused rows against the generic ones -------------------------------------------------

def _generated_inputs(n: int) -> list[RuleInput]:
    """n sandbox orders (the generator's mix: 髙 / ｶﾅ names, not-fixed postage, gifts,
    islands, several destinations...) with varied facts."""
    import random

    from unyo.adapters.rakuten.mapping import channel_order_from_rms
    from unyo.sandbox.generator import generate_orders

    rnd = random.Random(7)
    out = []
    for g in generate_orders(n, seed=11, start=T0 - timedelta(days=2), end=T0):
        order = decide(None, ImportOrder("shop", channel_order_from_rms(g.model), T0)).order
        facts = Facts(other_open_orders=rnd.choice((0, 0, 1, 3)),
                      past_orders=rnd.choice((0, 1, 5)),
                      postal_code_valid=rnd.choice((None, True, False)),
                      tags=rnd.choice(((), ("VIP",))))
        out.append(RuleInput(order, facts, T0))
    return out


_VALUES: dict[FieldType, list[Any]] = {
    FieldType.number: [-9999, 0, 1, 2, 3, 1000, 3980, 5000.5, 50000, 300000],
    FieldType.flag: [True, False],
    FieldType.texts: [None],
}


def test_fused_rows_agree_with_the_generic_rows_on_generated_orders():
    from unyo.domain.rules import _compile_condition, _fused

    inputs = _generated_inputs(400)
    checked = 0
    for name, spec in FIELDS.items():
        for op in OPERATORS[spec.type]:
            if not _fused(spec.type, op, 1 if spec.type is FieldType.number else True,
                          spec.get):
                continue
            no_value = op in ("is_empty", "not_empty", "is_true", "is_false")
            for value in [None] if no_value else _VALUES[spec.type]:
                node = {"field": name, "op": op} | ({} if no_value else {"value": value})
                fused = _compile_condition(node, "t")
                generic = _compile_condition(node, "t", fuse=False)
                answers = [fused(i) for i in inputs]
                assert answers == [generic(i) for i in inputs], node
                assert all(type(a) is bool for a in answers)
                checked += 1
    assert checked > 100  # every fused operator of every number, flag and list field


def test_combined_conditions_agree_with_all_and_any():
    from unyo.domain.rules import _compile_condition

    inputs = _generated_inputs(200)
    rows = [{"field": "gift", "op": "is_true"}, {"field": "total", "op": "ge", "value": 5000},
            {"field": "unprintable_chars", "op": "not_empty"},
            {"field": "postal_code_valid", "op": "is_false"}]
    for k in (1, 2, 3, 4):
        for key in ("all", "any"):
            node = {key: rows[:k]}
            cond = _compile_condition(node, "t")
            parts = [_compile_condition(r, "t", fuse=False) for r in rows[:k]]
            combine = all if key == "all" else any
            assert [cond(i) for i in inputs] == [combine(p(i) for p in parts) for i in inputs]
            negated = _compile_condition({"not": node}, "t")
            assert [negated(i) for i in inputs] == [not cond(i) for i in inputs]


def test_unprintable_chars_fast_path_gives_the_per_character_answer():
    from unyo.domain.printing import DEFAULT_SUBSTITUTIONS, printable
    from unyo.domain.rules import recipient_texts

    texts = [t for i in _generated_inputs(300) for p in i.order.channel.packages
             for _, t in recipient_texts(p.recipient)]
    texts += ["髙橋", "高橋", "ｶﾅ", "", "\t\r\n", "東京都\x00", "高橋髙", "𠮷😀", "\u202e"]
    for _ in range(2):  # cold, then with the characters already seen
        for text in texts:
            assert unprintable_chars(text) == [
                ch for ch in dict.fromkeys(text)
                if not printable(ch, "cp932") and ch not in DEFAULT_SUBSTITUTIONS]
    assert any(unprintable_chars(t) for t in texts)


def test_address_problems_names_each_cause_of_住所確認():
    emoji = replace(BUYER, family_name="😀")
    pkg = Package(1, emoji, (Item(1, "a", "a", "x", 1, 1),), 1, 0, 0, 1)
    reason = "送付先氏名に印字できない文字「😀」(U+1F600)"
    get = FIELDS["address_problems"].get
    assert get(given(Facts(postal_code_valid=False), packages=(pkg,))) == \
        f"郵便番号・住所を確認、{reason}"
    assert get(given(Facts(postal_code_valid=True), packages=(pkg,))) == reason
    assert get(given(Facts(postal_code_valid=False))) == "郵便番号・住所を確認"
    assert get(given(Facts(postal_code_valid=None))) == ""  # 髙橋 prints; not checked


def test_the_address_check_names_the_postal_code_that_is_wrong():
    """住所確認's reason says which postal code is wrong and how (issue 15 item 4)."""
    from unyo.app.processing import postal_problems

    buyer = replace(BUYER, address=replace(BUYER.address, postal_code="999-9999"))
    channel = channel_order(buyer=buyer)
    problems = postal_problems(channel)
    assert problems == ("注文者の郵便番号 999-9999 は存在しません",)
    wrong_pref = replace(BUYER, address=replace(BUYER.address, postal_code="150-0001",
                                                prefecture="大阪府"))
    assert postal_problems(channel_order(buyer=wrong_pref))[0].startswith(
        "注文者の郵便番号 150-0001 は大阪府の番号ではありません")
    short = replace(BUYER, address=replace(BUYER.address, postal_code="15000"))
    assert postal_problems(channel_order(buyer=short)) == (
        "注文者の郵便番号「15000」が7桁ではありません",)
    assert postal_problems(channel_order()) == ()
    get = FIELDS["address_problems"].get
    facts = Facts(postal_code_valid=False, postal_problems=problems)
    assert get(given(facts)) == "注文者の郵便番号 999-9999 は存在しません"
