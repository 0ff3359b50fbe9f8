"""Before / after (`unyo flow draw --compare OLD.yaml`): the proposed flow, its changes marked.

`rule_changes(old, new)` matches the two files' rules by name (names are unique in a
file): a name only in the new file is **added**, only in the old one **removed**, in
both with another condition, other actions or another description **changed** (a
renamed rule is one removed and one added). `compare_diagram` draws the new flow with
each change on its rule's node — a removed rule where it stood, so the box still reads
in evaluation order — and, given the replay of `unyo simulate` (old = current, new =
proposed), each rule's orders to 確認待ち / 保留 before → after and both automation
rates in the title block.

Each change is marked twice over, so it reads in black and white too: a text marker
(`CHANGE_MARKS`) at the start of the rule's name, and a border of its own (svg.py).
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from unyo.diagram.model import (
    PROCESSING,
    Diagram,
    Lane,
    Node,
    NodeKind,
    ReplayFigures,
    build_diagram,
    rule_detail,
)
from unyo.domain.rules import ActionKind, CompiledRule
from unyo.flow.config import Config

if TYPE_CHECKING:
    from unyo.app.simulate import Simulation

__all__ = ["ADDED", "CHANGED", "CHANGE_MARKS", "REMOVED", "compare_diagram", "rule_changes"]

ADDED, CHANGED, REMOVED = "added", "changed", "removed"
CHANGE_MARKS = {ADDED: "【追加】", CHANGED: "【変更】", REMOVED: "【削除】"}
"""The text marker at the start of a changed rule's name (the colours need not print)."""


def _meaning(rule: CompiledRule) -> tuple[Any, Any, str]:
    src: Mapping[str, Any] = rule.source if isinstance(rule.source, Mapping) else {}
    return (src.get("when"), src.get("then"), rule.description)


def rule_changes(old: Sequence[CompiledRule], new: Sequence[CompiledRule]) -> dict[str, str]:
    """Rule name → ADDED, CHANGED or REMOVED; unchanged rules are not in it."""
    before = {r.name: r for r in old}
    after = {r.name: r for r in new}
    out: dict[str, str] = {}
    for r in new:
        if r.name not in before:
            out[r.name] = ADDED
        elif _meaning(before[r.name]) != _meaning(r):
            out[r.name] = CHANGED
    for r in old:
        if r.name not in after:
            out[r.name] = REMOVED
    return out


def _checks(rule: CompiledRule | None) -> bool:
    return rule is not None and any(a.kind is ActionKind.check for a in rule.then)


def _holds(rule: CompiledRule | None) -> bool:
    return rule is not None and any(a.kind is ActionKind.hold for a in rule.then)


def _replay(name: str, old: CompiledRule | None, new: CompiledRule | None,
            sim: Simulation) -> ReplayFigures | None:
    if not (_checks(old) or _checks(new) or _holds(old) or _holds(new)):
        return None  # tags and notes only: nothing to count
    cur, pro = sim.current, sim.proposed
    return ReplayFigures(
        checks_before=cur.checks[name] if _checks(old) else None,
        checks_after=pro.checks[name] if _checks(new) else None,
        holds_before=cur.holds[name] if _holds(old) else None,
        holds_after=pro.holds[name] if _holds(new) else None)


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def compare_diagram(new: Config, old: Config, simulation: Simulation | None = None, *,
                    source_hash: str = "", old_source: str = "") -> Diagram:
    """The new flow's diagram with its rules' changes from `old` marked, and the replay's
    figures when given (the replay of `old` as current, `new` as proposed)."""
    d = build_diagram(new, source_hash=source_hash)
    changes = rule_changes(old.rules, new.rules)
    before = {r.name: r for r in old.rules}
    after = {r.name: r for r in new.rules}

    def marked(n: Node) -> Node:
        if n.kind is not NodeKind.rule or n.title not in after:
            return n
        change = changes.get(n.title, "")
        was = before.get(n.title)
        return replace(n, change=change,
                       before=rule_detail(was) if change == CHANGED and was else "",
                       replay=_replay(n.title, was, after[n.title], simulation)
                       if simulation is not None else None)

    nodes = [marked(n) for n in d.nodes]
    removed = [(i, r) for i, r in enumerate(old.rules, 1) if changes.get(r.name) == REMOVED]
    if removed:
        nodes = [n for n in nodes if n.id != "rule_none"]
    for i, rule in removed:
        # after the nearest rule before it that is still there (and the removed ones
        # already put after that rule), else at the head of the rules, after 入金待ち
        anchor = next((r.name for r in reversed(old.rules[:i - 1]) if r.name in after), None)
        at = next(k for k, n in enumerate(nodes) if n.id == "payment") + 1
        if anchor is not None:
            at = next(k for k, n in enumerate(nodes)
                      if n.kind is NodeKind.rule and n.title == anchor and n.change != REMOVED
                      ) + 1
        while at < len(nodes) and nodes[at].change == REMOVED:
            at += 1
        nodes.insert(at, Node(f"removed{i}", Lane.unyo, NodeKind.rule, rule.name,
                              rule_detail(rule), 8, group=PROCESSING, change=REMOVED,
                              replay=_replay(rule.name, rule, None, simulation)
                              if simulation is not None else None))
    summary = ""
    since = until = None
    if simulation is not None:
        sim = simulation
        checks_before = sum(sim.current.checks.values())
        checks_after = sum(sim.proposed.checks.values())
        summary = (f"再現（unyo simulate）{sim.orders}件：自動化率 "
                   f"{_rate(sim.current.automation_rate)} → "
                   f"{_rate(sim.proposed.automation_rate)}・確認待ち 延べ{checks_before}件 → "
                   f"{checks_after}件")
        since, until = sim.since, sim.until
    return replace(d, nodes=tuple(nodes), summary=summary, since=since, until=until,
                   compared_with=old_source or old.path or "（既定の設定）")
