"""Why an order is where it is (`unyo orders show N --explain`, the order page).

Each of the shop's rules with its verdict — matched, not matched, or not evaluated (an
order past the hand-off: the rules no longer run on it; a condition row that an
all / any stopped before) — and the values its rows saw, plus the derived values the
rules read (the remarks without Rakuten's template, the release date read, the
characters the warehouse cannot print, the postal-code check, what stops a merge).

There is no second rule engine here: the verdicts come from each rule's own compiled
condition (`CompiledRule.when`, what `decide()` evaluates), given a `RuleInput` that
carries a trace; the values from the same field getters. Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from unyo.domain.order import Order
from unyo.domain.printing import PrintSpec
from unyo.domain.remarks import NO_TEMPLATE, RemarksTemplate, read_remarks
from unyo.domain.rules import (
    DEFAULT_PRINT,
    FIELDS,
    RELEASE_DATE_SETTING,
    CompiledRule,
    Facts,
    RowTrace,
    RuleInput,
    release_reading,
    unprintable,
)
from unyo.domain.vocabulary import BEFORE_HANDOFF

MATCHED, NOT_MATCHED, NOT_EVALUATED = "matched", "not_matched", "not_evaluated"
VERDICT_WORDS = {MATCHED: "該当", NOT_MATCHED: "該当せず", NOT_EVALUATED: "未評価"}


@dataclass(frozen=True)
class RowVerdict:
    path: str  # within the rule: when, when.all[1], ...
    source: Mapping[str, Any]  # the row as written: {field, op, value}
    label: str  # the field's Japanese name
    verdict: str  # matched / not_matched / not_evaluated
    value: str  # what the field held for this order, as shown ("" when not evaluated)
    raw: Any = None  # the value itself


@dataclass(frozen=True)
class RuleVerdict:
    name: str
    description: str
    verdict: str
    rows: tuple[RowVerdict, ...]


@dataclass(frozen=True)
class Derived:
    """A value the rules read that is not simply a field of the order, in words."""

    key: str  # remarks, release_date, unprintable, postal_code, merge
    label: str
    value: str


@dataclass(frozen=True)
class Explanation:
    evaluated: bool  # False: past the hand-off, the rules no longer run on the order
    rules: tuple[RuleVerdict, ...]
    derived: tuple[Derived, ...]


def shown(value: Any) -> str:
    """A field's value as a person reads it."""
    if value is None:
        return "なし"
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if isinstance(value, int | float):
        return f"{value:,}"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "、".join(map(str, value)) if value else "なし"
    text = str(value)
    return text if text.strip() else "（空）"


def _rows(node: Any, path: str = "when") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every condition row with its path, as `_compile_condition` names them."""
    if not isinstance(node, Mapping):
        return
    if "field" in node:
        yield path, node
        return
    for key, inner in node.items():
        if key == "not":
            yield from _rows(inner, f"{path}.not")
        elif isinstance(inner, list):
            for n, c in enumerate(inner):
                yield from _rows(c, f"{path}.{key}[{n}]")


def _verdict(rule: CompiledRule, given: RuleInput | None) -> RuleVerdict:
    trace: list[RowTrace] = []
    held: bool | None = None
    if given is not None:
        held = rule.when(replace(given, trace=trace))
    seen = {t.path: t for t in trace}
    rows = []
    for path, src in _rows(rule.source.get("when")):
        spec = FIELDS.get(str(src.get("field")))
        t = seen.get(path)
        rows.append(RowVerdict(
            path, src, spec.label if spec else str(src.get("field")),
            NOT_EVALUATED if t is None else MATCHED if t.held else NOT_MATCHED,
            "" if t is None else shown(t.value), None if t is None else t.value))
    verdict = NOT_EVALUATED if held is None else MATCHED if held else NOT_MATCHED
    return RuleVerdict(rule.name, rule.description, verdict, tuple(rows))


def derived_values(order: Order, facts: Facts, remarks: RemarksTemplate = NO_TEMPLATE,
                   printing: PrintSpec = DEFAULT_PRINT) -> tuple[Derived, ...]:
    """The values behind the remarks, pre-order, address and merge rules, in words."""
    request = read_remarks(order.channel.remarks, remarks).request
    reading = release_reading(order)
    given = order.setting(RELEASE_DATE_SETTING)
    if given:
        release = f"{given}（担当者が設定）"
    elif reading.undecided:
        release = "発売日未定と書かれています（担当者が日付を設定するまで確認待ち）"
    elif reading.day is not None:
        release = f"{reading.day.isoformat()}（商品名・納期情報・備考欄から読み取り）"
    else:
        release = "読み取れません（商品名・納期情報・備考欄に日付がありません）"
    bad = unprintable(order, printing)
    postal = ("確認していません" if facts.postal_code_valid is None else
              "正しい" if facts.postal_code_valid else
              "、".join(facts.postal_problems) or "存在しないか住所と合いません")
    merge = ("同梱できない未出荷の注文はありません" if not facts.merge_blockers
             else "、".join(facts.merge_blockers))
    return (
        Derived("remarks", "備考欄（テンプレート行を除く）", request or "（お客様の記入なし）"),
        Derived("release_date", "発売日の読み取り", release),
        Derived("unprintable", f"印字できない文字（{printing.encoding}、置き換えなし）",
                "、".join(u.reason for u in bad) or "なし"),
        Derived("postal_code", "郵便番号の確認", postal),
        Derived("open_orders", "同じ注文者の未出荷の注文",
                f"{facts.other_open_orders}件（過去の注文 {facts.past_orders}件）"),
        Derived("merge", "同梱できない理由", merge),
    )


def explain(rules: Sequence[CompiledRule], order: Order, facts: Facts, now: datetime, *,
            remarks: RemarksTemplate = NO_TEMPLATE,
            printing: PrintSpec = DEFAULT_PRINT) -> Explanation:
    """Each rule's verdict on `order` with these facts now, and the derived values."""
    evaluated = order.stage in BEFORE_HANDOFF
    if facts.tags != order.tags:  # as decide() gives them: the order's own tags
        facts = replace(facts, tags=order.tags)
    given = RuleInput(order, facts, now) if evaluated else None
    return Explanation(evaluated, tuple(_verdict(r, given) for r in rules),
                       derived_values(order, facts, remarks, printing))
