"""Rule conditions and actions in Japanese words, from the field registry's labels."""

from __future__ import annotations

from datetime import timedelta

import pytest

from unyo.diagram.words import action_words, condition_words, rule_words
from unyo.domain.rules import Action, ActionKind, HoldSpec, compile_rules
from unyo.flow.patterns import compile_pattern


@pytest.mark.parametrize(("when", "words"), [
    ({"field": "remarks", "op": "not_empty"}, "備考欄（お客様の記入）あり"),
    ({"field": "remarks", "op": "is_empty"}, "備考欄（お客様の記入）なし"),
    ({"field": "total", "op": "ge", "value": 50000}, "合計金額 ≥ 50,000"),
    ({"field": "total", "op": "between", "value": [1000, 2000]}, "合計金額が 1,000〜2,000"),
    ({"field": "payment_code", "op": "in", "value": [2, 4]},
     "支払方法コードが「2」「4」のいずれか"),
    ({"field": "gift", "op": "is_true"}, "ギフト：はい"),
    ({"field": "postal_code_valid", "op": "is_false"}, "郵便番号が正しい：いいえ"),
    ({"field": "member", "op": "eq", "value": False}, "楽天会員：いいえ"),
    ({"field": "payment_method", "op": "contains", "value": ["代引", "後払"]},
     "支払方法に「代引」「後払」を含む"),
    ({"field": "remarks", "op": "matches", "value": "領収書"},
     "備考欄（お客様の記入）がパターン「領収書」に一致"),
    ({"field": "order_type", "op": "eq", "value": "reservation"}, "注文種別が「予約」"),
    ({"field": "requested_delivery_date", "op": "beyond_days", "value": 5},
     "お届け希望日が 5日より先"),
    ({"field": "order_date", "op": "on_or_after", "value": "2026-12-01"},
     "注文日が 2026-12-01 以降"),
    ({"field": "skus", "op": "contains", "value": "A-1"}, "SKUに「A-1」がある"),
    ({"field": "item_numbers", "op": "count_gt", "value": 3}, "商品番号が 3件より多い"),
    ({"all": [{"field": "past_orders", "op": "eq", "value": 0},
              {"field": "total", "op": "ge", "value": 50000}]},
     "同じ注文者の過去の注文数 = 0 かつ 合計金額 ≥ 50,000"),
    ({"any": [{"field": "gift", "op": "is_true"},
              {"all": [{"field": "noshi", "op": "is_true"}, {"field": "total", "op": "gt",
                                                              "value": 1}]}]},
     "ギフト：はい または （のし指定：はい かつ 合計金額 > 1）"),
    ({"not": {"field": "member", "op": "is_true"}}, "（楽天会員：はい）ではない"),
])
def test_a_condition_reads_as_japanese_with_the_registry_labels(when, words):
    compile_rules([{"name": "r", "when": when, "then": [{"check": "x"}]}],
                  patterns=compile_pattern)  # a valid rule
    assert condition_words(when) == words


def test_every_operator_of_every_field_type_has_words():
    from unyo.domain.rules import FIELDS, OPERATORS

    samples = {"number": 1, "text": "a", "flag": True, "day": "2026-12-01",
               "choice": "normal", "texts": "a"}
    for spec in {s.type: s for s in FIELDS.values()}.values():
        for op in OPERATORS[spec.type]:
            row: dict[str, object] = {"field": spec.name, "op": op}
            if op not in ("is_empty", "not_empty", "is_true", "is_false"):
                row["value"] = ([1, 2] if op == "between" else
                                [samples[spec.type.value]] if op in ("in", "not_in")
                                else samples[spec.type.value])
            words = condition_words(row)
            # spoken as a phrase, not echoed as the operator's key
            assert spec.label in words and f" {op}" not in words, (spec.name, op, words)


def test_each_action_kind_in_words_and_an_unknown_kind_generically():
    assert action_words(Action(ActionKind.check, "備考欄を確認")) == "確認待ち「備考欄を確認」"
    assert action_words(Action(ActionKind.tag, "ギフト")) == "タグ「ギフト」"
    assert action_words(Action(ActionKind.set, "ギフト包装", target="warehouse_note")) == \
        "倉庫への指示を「ギフト包装」にする"
    assert action_words(Action(ActionKind.hold, "発売日待ち", hold=HoldSpec(
        field="release_date", days_before=1))) == "保留「発売日待ち」 発売日の1日前まで"
    assert action_words(Action(ActionKind.hold, "", hold=HoldSpec(
        after=timedelta(hours=6)))) == "保留 6時間"
    assert action_words(Action(ActionKind.hold, "", hold=HoldSpec(
        next_business_day=True))) == "保留 翌営業日まで"
    assert action_words(Action(ActionKind.merge)) == \
        "同梱（同じ注文者・同じ送付先の未出荷の注文とまとめる）"
    assert action_words(Action(ActionKind.merge, "同梱")).endswith("、タグ「同梱」")
    unknown = Action.__new__(Action)
    object.__setattr__(unknown, "kind", "split")
    object.__setattr__(unknown, "message", "2個口")
    object.__setattr__(unknown, "target", "")
    object.__setattr__(unknown, "hold", None)
    assert action_words(unknown) == "split「2個口」"


def test_a_rule_is_its_condition_an_arrow_and_its_actions():
    (rule,) = compile_rules([{"name": "備考欄あり", "when": {"field": "remarks",
                                                         "op": "not_empty"},
                              "then": [{"check": "備考欄を確認"}, {"tag": "備考"}]}])
    assert rule_words(rule.source["when"], rule.then) == \
        "備考欄（お客様の記入）あり → 確認待ち「備考欄を確認」、タグ「備考」"
