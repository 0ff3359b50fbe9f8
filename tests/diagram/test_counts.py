"""The figures on the diagram are `unyo report`'s figures, on a hand-checked set of orders."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

from typer.testing import CliRunner

from tests.diagram.conftest import DAY
from tests.factories import T0
from unyo.adapters.db import Store
from unyo.app.report import build_report
from unyo.cli import app
from unyo.diagram import DiagramCounts, build_diagram, diagram_counts, to_mermaid
from unyo.flow.config import Config


def test_the_diagram_counts_are_the_report(store: Store, shop: tuple[Config, Path]):
    # given the hand-checked orders and the report of their day
    cfg, _ = shop
    rep = build_report(store, "shop", *DAY)
    # when the diagram is counted for the same day
    counts = diagram_counts(store, "shop", *DAY)
    d = build_diagram(cfg, counts)
    # then its figures are the report's own
    assert counts.report == rep
    touches = {t.reason: t.count for t in rep.manual_touches}
    dwell = {x.name: x for x in rep.rule_dwell}
    rules = {node.title: node.counts for node in d.rule_nodes}
    assert rules["備考欄あり"] == replace(rules["備考欄あり"], waiting=1, passed=3, touches=3,
                                        p50_minutes=60.0)
    assert (touches["備考欄あり"], dwell["備考欄あり"].p50_minutes) == (3, 60.0)
    assert rules["高額"] == replace(rules["高額"], waiting=0, passed=1, touches=1,
                                   p50_minutes=20.0)
    assert rules["ギフト"] == replace(rules["ギフト"], waiting=0, passed=1, touches=0,
                                     p50_minutes=None)
    assert rep.rule_orders == {"ギフト": 1, "備考欄あり": 3, "高額": 1}
    payment = d.node("payment").counts
    gate = {x.name: x for x in rep.gate_dwell}
    assert payment is not None
    assert (payment.passed, payment.p50_minutes, payment.waiting) == (
        gate["payment"].count, gate["payment"].p50_minutes, 0) == (2, 10.0, 0)
    other = d.node("other_checks").counts
    assert other is not None and (other.waiting, other.touches) == (1, 2)  # 8 held; 9 held+released
    # every touch of the report is on exactly one node
    assert sum(node.counts.touches or 0 for node in d.nodes if node.counts) == \
        sum(touches.values()) == 6
    # the 受注処理 box carries the processing stage, 出荷OK the ready stage
    (processing,) = d.groups
    stage = {x.name: x for x in rep.stage_dwell}
    assert processing.counts is not None
    assert (processing.counts.waiting, processing.counts.passed,
            processing.counts.p50_minutes) == (2, stage["processing"].count,
                                               stage["processing"].p50_minutes)
    assert stage["processing"].count == rep.orders == 8
    ready = d.node("ready").counts
    assert ready is not None and ready.waiting == 8
    # and the rule causing the most manual work is the bottleneck
    bottleneck = d.bottleneck
    assert bottleneck is not None and bottleneck.title == "備考欄あり"
    assert [node.id for node in d.nodes if node.bottleneck] == [bottleneck.id]


def test_no_touches_no_bottleneck(store: Store, init_config: Config):
    d = build_diagram(init_config, diagram_counts(store, "shop", *DAY))
    assert d.bottleneck is None
    assert all(node.counts is not None for node in d.rule_nodes)
    assert "自動化率 —" in d.summary


def test_unyo_flow_draw_counts_match_unyo_report(store: Store, shop: tuple[Config, Path]):
    # given the same database, read by the two commands
    _, path = shop
    runner = CliRunner(env={"UNYO_DATABASE_URL":
                            store.engine.url.render_as_string(hide_password=False)})
    period = ["--since", T0.isoformat(), "--until", DAY[1].isoformat()]
    report = runner.invoke(app, ["report", "-c", str(path), "--json", *period])
    assert report.exit_code == 0, report.stderr
    rep = json.loads(report.stdout)
    # when the diagram is drawn with counts
    drawn = runner.invoke(app, ["flow", "draw", "-c", str(path), "--counts", *period])
    assert drawn.exit_code == 0, drawn.stderr
    # then each rule's node says the report's numbers
    touches = {t["reason"]: t["count"] for t in rep["manual_touches"]}
    for i, name in enumerate(["備考欄あり", "高額", "ギフト"], 1):
        (line,) = [x for x in drawn.stdout.splitlines() if x.strip().startswith(f"u_rule{i}[")]
        assert f"通過 {rep['rule_orders'][name]}件" in line
        assert f"手作業 {touches.get(name, 0)}回" in line
    (rule1,) = re.findall(r"u_rule1\[.*", drawn.stdout)
    assert "待ち 1件" in rule1 and "p50 60分" in rule1 and "ボトルネック" in rule1
    rate = f"{rep['automation_rate']:.1%}"
    assert rate == "37.5%"  # 1, 4 and 7 of the 8 that reached 出荷OK
    html = runner.invoke(app, ["flow", "draw", "-c", str(path), "--counts", "--format",
                               "html", *period])
    assert html.exit_code == 0 and f"自動化率 {rate}" in html.stdout


def test_counts_are_optional_and_never_invented(init_config: Config):
    d = build_diagram(init_config)
    assert all(node.counts is None for node in d.nodes) and d.summary == ""
    text = to_mermaid(d)
    assert "通過" not in text and "手作業" not in text and "ボトルネック" not in text


def test_diagram_counts_keeps_the_report_itself(store: Store):
    counts = diagram_counts(store, "shop", *DAY)
    assert isinstance(counts, DiagramCounts)
    assert counts.report == build_report(store, "shop", *DAY)
