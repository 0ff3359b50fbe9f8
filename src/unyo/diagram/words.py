"""A rule's condition and actions in Japanese words, for the flow diagram.

The words come from the same registry the compiler checks against: each field's
Japanese label in `unyo.domain.rules.FIELDS`, and one phrase per operator of
`OPERATORS`. The text returned is plain (never markup); the renderers escape it.
A condition the compiler would refuse is never drawn (the file is checked first),
but an unknown field, operator or action kind is still put into words generically,
so a newer rule shape shows up as itself instead of breaking the diagram.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from unyo.domain.rules import FIELDS, HOLD_FROM_FIELDS, SETTABLE, Action, FieldType
from unyo.domain.vocabulary import OrderType

__all__ = ["action_words", "condition_words", "rule_words"]

CHOICE_WORDS: dict[str, dict[str, str]] = {
    "order_type": {OrderType.normal: "通常", OrderType.subscription: "定期購入",
                   OrderType.distribution: "頒布会", OrderType.reservation: "予約"},
}
"""Japanese for the values of choice fields (the file writes them in English)."""

_COMPARE = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥"}


def _value(v: Any, field: str = "") -> str:
    if isinstance(v, bool):
        return "はい" if v else "いいえ"
    if isinstance(v, int | float):
        return f"{v:,}"
    if isinstance(v, datetime | date):
        return v.isoformat()
    text = str(v)
    return CHOICE_WORDS.get(field, {}).get(text, text)


def _quoted(v: Any, field: str = "") -> str:
    items = v if isinstance(v, list) else [v]
    return "".join(f"「{_value(x, field)}」" for x in items)


def _row(node: Mapping[str, Any]) -> str:
    name = str(node.get("field", "?"))
    spec = FIELDS.get(name)
    label = spec.label if spec is not None else name
    op = str(node.get("op", "?"))
    v = node.get("value")
    kind = spec.type if spec is not None else None
    if op in ("is_true", "is_false"):
        return f"{label}：{'はい' if op == 'is_true' else 'いいえ'}"
    if kind is FieldType.flag and op in ("eq", "ne"):
        return f"{label}：{_value(bool(v) == (op == 'eq'))}"
    if op == "not_empty":
        return f"{label}あり"
    if op == "is_empty":
        return f"{label}なし"
    if kind in (FieldType.number, None) and op in _COMPARE:
        return f"{label} {_COMPARE[op]} {_value(v, name)}"
    if kind is FieldType.day:
        day = {"eq": "が {}", "ne": "が {} 以外", "before": "が {} より前",
               "after": "が {} より後", "on_or_before": "が {} 以前",
               "on_or_after": "が {} 以降", "within_days": "が {}日以内",
               "beyond_days": "が {}日より先"}.get(op)
        if day is not None:
            return label + day.format(_value(v))
    phrase = {
        "eq": "が{q}", "ne": "が{q}以外",
        "between": "が {lo}〜{hi}",
        "in": "が{q}のいずれか", "not_in": "が{q}のいずれでもない",
        "contains": "に{q}を含む" if kind is not FieldType.texts else "に{q}がある",
        "not_contains": "に{q}を含まない" if kind is not FieldType.texts else "に{q}がない",
        "starts_with": "が{q}で始まる", "ends_with": "が{q}で終わる",
        "matches": "がパターン{q}に一致",
        "contains_all": "に{q}がすべてある",
        "any_starts_with": "のどれかが{q}で始まる", "any_contains": "のどれかに{q}を含む",
        "count_gt": "が {n}件より多い", "count_lt": "が {n}件より少ない",
    }.get(op)
    if phrase is None:  # an operator this module does not know yet: say it as written
        return f"{label} {op} {_value(v, name) if v is not None else ''}".rstrip()
    lo, hi = (v if isinstance(v, list) and len(v) == 2 else ("?", "?"))
    return label + phrase.format(q=_quoted(v, name), lo=_value(lo), hi=_value(hi),
                                 n=_value(v))


def condition_words(node: Any, *, nested: bool = False) -> str:
    """`{field, op, value}` rows and all / any / not, as one line of Japanese."""
    if not isinstance(node, Mapping):
        return str(node)
    if "field" in node:
        return _row(node)
    if len(node) != 1:
        return str(dict(node))
    ((key, inner),) = node.items()
    if key == "not":
        return f"（{condition_words(inner)}）ではない"
    if key in ("all", "any") and isinstance(inner, list):
        if len(inner) == 1:
            return condition_words(inner[0], nested=nested)
        joined = (" かつ " if key == "all" else " または ").join(
            condition_words(c, nested=True) for c in inner)
        return f"（{joined}）" if nested else joined
    return f"{key}: {inner}"


def _hold_end(a: Action) -> str:
    h = a.hold
    if h is None:
        return ""
    if h.at is not None:
        return f"{h.at.isoformat(timespec='minutes')} まで"
    if h.after is not None:
        minutes = int(h.after.total_seconds() // 60)
        if minutes % 1440 == 0:
            return f"{minutes // 1440}日間"
        if minutes % 60 == 0:
            return f"{minutes // 60}時間"
        return f"{minutes}分間"
    if h.next_business_day:
        return "翌営業日まで"
    if h.while_matched:
        return "条件に該当する間"
    if h.field is not None:
        source = HOLD_FROM_FIELDS.get(h.field, h.field)
        return f"{source}の{h.days_before}日前まで" if h.days_before else f"{source}まで"
    return ""


_QUOTED = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")


def action_words(a: Action) -> str:
    """One action: 確認待ち「…」, 保留「…」 until when, a set field, a tag, 同梱."""
    kind = str(a.kind)
    if kind == "check":  # a quoted field ({remarks}) is the order's own text: drawn as …
        return f"確認待ち「{_QUOTED.sub('…', a.message)}」"
    if kind == "hold":
        reason = f"「{a.message}」" if a.message else ""
        return f"保留{reason} {_hold_end(a)}".rstrip()
    if kind == "set":
        return f"{SETTABLE.get(a.target, a.target)}を「{a.message}」にする"
    if kind == "tag":
        return f"タグ「{a.message}」"
    if kind == "merge":  # the message is the tag the surviving order gets, if any
        tag = f"、タグ「{a.message}」" if a.message else ""
        ask = (f"、できなければ確認待ち「{_QUOTED.sub('…', a.unmergeable)}」"
               if a.unmergeable else "")
        where = "同じ送付先" if ask else "同じ注文者・同じ送付先"
        return f"同梱（{where}の未出荷の注文とまとめる）{tag}{ask}"
    # an action kind added after this module: drawn as written
    detail = " ".join(x for x in (a.target, a.message) if x)
    return f"{kind}「{detail}」" if detail else kind


def rule_words(when: Any, then: tuple[Action, ...]) -> str:
    """'condition → action、action' — the sentence on a rule's node."""
    return f"{condition_words(when)} → {'、'.join(action_words(a) for a in then)}"
