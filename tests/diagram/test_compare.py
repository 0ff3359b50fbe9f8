"""Before / after (`unyo flow draw --compare OLD.yaml`): every added, removed and changed
rule marked exactly once (a text marker and a border of its own), the replay's figures of
`unyo simulate` for both flows, and the drawing's rules kept over generated changes."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.diagram.conftest import DAY, HOSTILE_NAMES
from unyo.app.simulate import FlowOutcome, Simulation
from unyo.cli import app
from unyo.clock import JST
from unyo.diagram import layout, problems, to_html, to_svg
from unyo.diagram.compare import (
    ADDED,
    CHANGE_MARKS,
    CHANGED,
    REMOVED,
    compare_diagram,
    rule_changes,
)
from unyo.domain.rules import compile_rules
from unyo.flow import Config

runner = CliRunner()


def sq(text: str) -> str:
    return re.sub(r"\s+", "", text)


def rule(name: str, value: int = 1, action: str = "check") -> dict[str, object]:
    then = ({"check": f"確認 {name}"} if action == "check" else
            {"hold": {"reason": f"保留 {name}", "for": "1d"}} if action == "hold" else
            {"tag": "タグ"})
    return {"name": name, "when": {"field": "total", "op": "ge", "value": value},
            "then": [then]}


def config(rules: list[dict[str, object]], path: str = "new.yaml") -> Config:
    return Config(shop_id="s", shop_name="店", rules=compile_rules(rules), path=path)


def marks(cfg_new: Config, cfg_old: Config) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The changes expected, and (title, change) of every rule node as drawn."""
    d = compare_diagram(cfg_new, cfg_old)
    lay = layout(d)
    by_id = {n.id: n for n in d.nodes}
    drawn = [(by_id[n.id].title, n.change) for p in lay.pages for n in p.nodes
             if n.kind == "rule" and n.id != "rule_none"]
    return rule_changes(cfg_old.rules, cfg_new.rules), drawn


def test_added_removed_and_changed_rules_are_each_marked_once():
    old = config([rule("備考"), rule("高額", 10000), rule("離島"), rule("ギフト", 1, "tag")],
                 "old.yaml")
    new = config([rule("備考"), rule("高額", 20000), rule("初回"), rule("ギフト", 1, "tag")])
    changes, drawn = marks(new, old)
    assert changes == {"高額": CHANGED, "初回": ADDED, "離島": REMOVED}
    # every rule of both files once, in the new file's order, the removed one where it stood
    assert drawn == [("備考", ""), ("高額", CHANGED), ("離島", REMOVED), ("初回", ADDED),
                     ("ギフト", "")]
    d = compare_diagram(new, old)
    lay = layout(d)
    assert problems(lay) == []
    lines = {n.id: [ln.text for ln in n.lines] for n in lay.pages[0].nodes}
    assert lines["rule2"][0].startswith("【変更】2. 高額")
    assert any("変更前：" in t for t in lines["rule2"])  # what it said before
    assert lines["rule3"][0].startswith("【追加】3. 初回")
    assert lines["removed3"][0].startswith("【削除】離島")  # no number: it is not in the file
    assert lines["rule1"][0].startswith("1. 備考")  # unchanged: no marker
    svg = to_svg(lay)
    for change in (ADDED, CHANGED, REMOVED):
        assert svg.count(f'class="node rule {change}"') == 1
    assert "【追加】青の太線" in svg and "【削除】赤の点線" in svg  # the legend says so
    assert "変更前：old.yaml" in svg  # the title block names the file before


def test_the_figures_of_the_replay_for_both_flows():
    old = config([rule("備考"), rule("高額", 10000), rule("離島"), rule("予約", 1, "hold")],
                 "old.yaml")
    new = config([rule("備考"), rule("高額", 20000), rule("初回")])
    sim = Simulation(since=datetime(2026, 11, 1, tzinfo=JST),
                     until=datetime(2026, 12, 1, tzinfo=JST), orders=100,
                     current=FlowOutcome(automated=70, automation_rate=0.7,
                                         checks=Counter({"備考": 20, "高額": 8, "離島": 2}),
                                         holds=Counter({"予約": 5})),
                     proposed=FlowOutcome(automated=76, automation_rate=0.76,
                                          checks=Counter({"備考": 20, "高額": 3, "初回": 1})))
    d = compare_diagram(new, old, sim)
    assert "自動化率 70.0% → 76.0%" in d.summary and "延べ30件 → 24件" in d.summary
    lay = layout(d)
    assert problems(lay) == []
    text = {n.id: sq("".join(ln.text for ln in n.lines)) for p in lay.pages for n in p.nodes}
    assert sq("再現 確認待ち 8件 → 3件") in text["rule2"]
    assert sq("再現 確認待ち — → 1件") in text["rule3"]  # added: not in the flow before
    assert sq("再現 確認待ち 2件 → —") in text["removed3"]
    assert sq("再現 保留 5件 → —") in text["removed4"]
    assert sq("再現 確認待ち 20件 → 20件") in text["rule1"]
    html = to_html(d, title="店 運用フロー図（変更案）")
    assert "【変更】高額" in html and "再現 確認待ち 8件 → 3件" in html
    assert 'class="rule changed"' in html and "変更前：old.yaml" in html


def test_flow_draw_compare_with_the_replay_of_simulate(shop: tuple[Config, Path],
                                                      tmp_path: Path):
    _, path = shop
    old = tmp_path / "old.yaml"
    old.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    text = path.read_text(encoding="utf-8").replace("value: 10000", "value: 30000")
    text = text.replace("  - name: ギフト\n", "  - name: 贈り物\n")
    path.write_text(text, encoding="utf-8")
    since, until = (d.astimezone(JST).isoformat() for d in DAY)
    period = ["--since", since, "--until", until]
    sim = runner.invoke(app, ["simulate", "-c", str(old), "--flow", str(path), *period,
                              "--json"])
    assert sim.exit_code == 0, sim.output
    figures = json.loads(sim.stdout)
    out = tmp_path / "flow.svg"
    r = runner.invoke(app, ["flow", "draw", "-c", str(path), "--compare", str(old),
                            "--counts", *period, "-o", str(out)])
    assert r.exit_code == 0, r.output
    svg = out.read_text(encoding="utf-8")
    before, after = (figures[k]["automation_rate"] for k in ("current", "proposed"))
    assert f"自動化率 {before:.1%} → {after:.1%}" in svg
    svg = sq(re.sub(r"<[^>]+>", "", svg))  # the words, as the lines of the drawing join
    high = (figures["current"]["checks"].get("高額", 0),
            figures["proposed"]["checks"].get("高額", 0))
    assert sq(f"再現 確認待ち {high[0]}件 → {high[1]}件") in svg
    assert "【変更】2.高額" in svg and "【追加】3.贈り物" in svg and "【削除】ギフト" in svg
    html = tmp_path / "flow.html"
    assert runner.invoke(app, ["flow", "draw", "-c", str(path), "--compare", str(old),
                               "-o", str(html)]).exit_code == 0
    assert "【削除】ギフト" in html.read_text(encoding="utf-8")
    mmd = runner.invoke(app, ["flow", "draw", "-c", str(path), "--compare", str(old)])
    assert mmd.exit_code == 2 and "--compare draws html, svg or pdf" in mmd.output


# ---- generated changes --------------------------------------------------------------------

names = st.one_of(st.sampled_from(HOSTILE_NAMES),
                  st.text(min_size=1, max_size=30).filter(
                      lambda s: s.strip() != "" and "【" not in s))
edits = st.lists(st.tuples(st.sampled_from(["add", "remove", "change", "keep"]),
                           st.integers(0, 10_000), names), max_size=14)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(names, max_size=14, unique_by=lambda s: s.strip()), edits,
       st.sampled_from(["check", "hold", "tag"]))
@example([], [("add", 0, "0" * 22)], "check")  # a word wider than its box: cut, not spilled
def test_any_change_is_marked_exactly_once_and_the_drawing_keeps_its_rules(
        old_names: list[str], changes: list[tuple[str, int, str]], action: str):
    try:
        old_rules = [rule(n, i, action) for i, n in enumerate(old_names)]
        old = config(old_rules, "old.yaml")
    except Exception:  # a name the rules refuse (the loader's own tests cover it)
        return
    new_rules = [dict(r) for r in old_rules]
    taken = {str(r["name"]).strip() for r in new_rules}
    for op, value, name in changes:
        if op == "add" and name.strip() not in taken:
            new_rules.insert(value % (len(new_rules) + 1), rule(name, value, action))
            taken.add(name.strip())
        elif op == "remove" and new_rules:
            gone = new_rules.pop(value % len(new_rules))
            taken.discard(str(gone["name"]).strip())
        elif op == "change" and new_rules:
            k = value % len(new_rules)
            new_rules[k] = rule(str(new_rules[k]["name"]), value + 100_000, action)
    try:
        new = config(new_rules)
    except Exception:
        return
    _, drawn = marks(new, old)
    # what changed, from the files' own rules (not from the code under test)
    was = {r.name: r.source for r in old.rules}
    now = {r.name: r.source for r in new.rules}
    expected = {n: ADDED for n in now if n not in was} | {
        n: REMOVED for n in was if n not in now} | {
        n: CHANGED for n in now if n in was and dict(now[n]) != dict(was[n])}
    # every rule of either file is drawn exactly once, with its change (or none); the new
    # file's in its order, the removed ones in the old file's order
    names_drawn = [t for t, _ in drawn]
    assert sorted(names_drawn) == sorted({*was, *now})
    assert dict(drawn) == {t: expected.get(t, "") for t in names_drawn}
    assert [t for t, c in drawn if c != REMOVED] == [r.name for r in new.rules]
    assert [t for t, c in drawn if c == REMOVED] == [r.name for r in old.rules
                                                     if r.name not in now]
    d = compare_diagram(new, old)
    lay = layout(d)
    assert problems(lay) == []
    firsts = [n.lines[0].text for p in lay.pages for n in p.nodes
              if n.kind == "rule" and n.lines]
    for change, mark in CHANGE_MARKS.items():
        want = sum(1 for c in expected.values() if c == change)
        assert sum(1 for t in firsts if t.startswith(mark)) == want
        assert len(re.findall(rf'class="node rule {change}"', to_svg(lay))) == want
    # the same two files, the same bytes
    assert to_svg(layout(compare_diagram(replace(new), old))) == to_svg(lay)


def test_flow_draw_compare_prints_a_pdf(tmp_path: Path):
    import pytest

    from unyo.diagram.pdf import chromium_path

    if chromium_path() is None:
        pytest.skip("chromium is not installed")
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text("shop: {id: s}\nrules:\n  - {name: 高額, when: {field: total, op: ge, "
                   "value: 1}, then: [{check: 確認}]}\n", encoding="utf-8")
    new.write_text("shop: {id: s}\nrules: []\n", encoding="utf-8")
    out = tmp_path / "flow.pdf"
    r = runner.invoke(app, ["flow", "draw", "-c", str(new), "--compare", str(old), "-o",
                            str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"%PDF-") and "compared with" in r.output
