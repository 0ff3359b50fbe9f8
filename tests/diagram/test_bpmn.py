"""`unyo flow draw --format bpmn`: valid against the OMG BPMN 2.0 XSD (shipped in
bpmn_xsd/ with its licence), one participant with the four lanes, every node shaped
inside its lane, every flow's waypoints from the layout, hostile names escaped, and the
same file the same bytes."""

from __future__ import annotations

from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from typer.testing import CliRunner

from tests.diagram.conftest import HOSTILE_NAMES
from tests.diagram.test_layout import names, rules_yaml, thirty_rules
from unyo.cli import app
from unyo.diagram import build_diagram
from unyo.diagram.bpmn import NS, to_bpmn
from unyo.flow import Config
from unyo.flow.config import parse_config, render_init

XSD = Path(__file__).parent / "bpmn_xsd" / "BPMN20.xsd"
B = "{" + NS["bpmn"] + "}"
DI = "{" + NS["bpmndi"] + "}"


@cache
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))  # local files only: nothing fetched


def valid(text: str) -> Any:
    doc = etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False,
                                                                  no_network=True))
    s = schema()
    assert s.validate(doc), str(s.error_log)
    return doc


def bounds(el: Any) -> tuple[float, float, float, float]:
    b = el.find("dc:Bounds", NS)
    x, y, w, h = (float(b.get(k)) for k in ("x", "y", "width", "height"))
    return x, y, x + w, y + h


def within(outer: tuple[float, ...], inner: tuple[float, ...], slack: float = 0.01) -> bool:
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack
            and inner[2] <= outer[2] + slack and inner[3] <= outer[3] + slack)


def check_structure(doc: Any) -> None:
    """One participant, four lanes in order; every flow node shaped inside its lane (the
    sub-process's nodes inside it too); every flow an edge from its source to its target."""
    (participant,) = doc.findall("bpmn:collaboration/bpmn:participant", NS)
    (process,) = doc.findall("bpmn:process", NS)
    assert participant.get("processRef") == process.get("id")
    lanes = process.findall("bpmn:laneSet/bpmn:lane", NS)
    assert [ln.get("name") for ln in lanes] == ["楽天RMS", "unyo（受注処理）", "倉庫", "購入者"]
    shapes = {s.get("bpmnElement"): s for s in doc.iter(DI + "BPMNShape")}
    pool = bounds(shapes[participant.get("id")])
    lane_box = [bounds(shapes[ln.get("id")]) for ln in lanes]
    for upper, lower in pairwise(lane_box):
        assert upper[3] <= lower[1] + 0.01  # in order, apart
    nodes = [el for el in process.iter() if el.get("id") and el.tag not in (
        B + "lane", B + "laneSet", B + "sequenceFlow", B + "process")]
    assert all(n.get("id") in shapes for n in nodes)  # every node placed
    for ln, box in zip(lanes, lane_box, strict=True):
        assert within(pool, box)
        for ref in ln.findall("bpmn:flowNodeRef", NS):
            assert within(box, bounds(shapes[ref.text])), ref.text
    sub = process.find("bpmn:subProcess", NS)
    unyo = lane_box[1]
    for child in sub:
        if child.get("id") and child.tag != B + "sequenceFlow":
            assert within(bounds(shapes[sub.get("id")]), bounds(shapes[child.get("id")]))
            assert within(unyo, bounds(shapes[child.get("id")]))
    edges = {e.get("bpmnElement"): e for e in doc.iter(DI + "BPMNEdge")}
    flows = list(process.iter(B + "sequenceFlow"))
    assert flows and set(edges) == {f.get("id") for f in flows}
    for f in flows:
        pts = [(float(p.get("x")), float(p.get("y")))
               for p in edges[f.get("id")].findall("di:waypoint", NS)]
        assert len(pts) >= 2
        for end, ref in ((pts[0], f.get("sourceRef")), (pts[-1], f.get("targetRef"))):
            x0, y0, x1, y1 = bounds(shapes[ref])
            on_side = (abs(end[0] - x0) < 0.02 or abs(end[0] - x1) < 0.02
                       or abs(end[1] - y0) < 0.02 or abs(end[1] - y1) < 0.02)
            assert on_side and within((x0, y0, x1, y1), (*end, *end)), (f.get("id"), ref)


def test_the_init_file_is_valid_bpmn_with_its_lanes_and_rules(init_config: Config):
    text = to_bpmn(build_diagram(init_config), title="お茶の店 運用フロー図")
    doc = valid(text)
    check_structure(doc)
    rules = doc.findall(".//bpmn:subProcess/bpmn:businessRuleTask", NS)
    assert [r.get("name") for r in rules] == [f"{i}. {r.name}"
                                               for i, r in enumerate(init_config.rules, 1)]
    assert doc.find(".//bpmn:startEvent", NS).get("name") == "1. 注文（RMS 100）"
    assert doc.find(".//bpmn:endEvent", NS).get("name") == "13. 発送済（RMS 500）"
    assert len(doc.findall(".//bpmn:sendTask", NS)) == 2  # the two mails
    inner = doc.findall(".//bpmn:subProcess/bpmn:sequenceFlow", NS)
    assert len(inner) == len(init_config.rules) + 1  # 入金待ち → rules → その他, chained


def test_thirty_rules_and_hostile_names(hostile_config: Config):
    check_structure(valid(to_bpmn(build_diagram(thirty_rules()))))
    text = to_bpmn(build_diagram(hostile_config), title="<script>")
    doc = valid(text)
    check_structure(doc)
    shown = [r.get("name") for r in doc.findall(".//bpmn:businessRuleTask", NS)]
    assert shown == [f"{i}. {' '.join(n.split())}" for i, n in enumerate(HOSTILE_NAMES, 1)]
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert doc.find(".//bpmn:participant", NS).get("name") == '<b>悪"意</b> 受注業務'


def test_the_same_file_gives_the_same_bytes(whole_init_config: Config):
    a = to_bpmn(build_diagram(whole_init_config))
    b = to_bpmn(build_diagram(parse_config(render_init("tea", "お茶の店"), "unyo.yaml",
                                           env={})))
    assert a == b


def test_flow_draw_writes_bpmn_by_suffix(tmp_path: Path):
    shop = tmp_path / "unyo.yaml"
    shop.write_text(render_init("tea", "お茶の店"), encoding="utf-8")
    out = tmp_path / "flow.bpmn"
    r = CliRunner().invoke(app, ["flow", "draw", "-c", str(shop), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "bpmn" in r.output
    check_structure(valid(out.read_text(encoding="utf-8")))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(names, max_size=30, unique_by=lambda s: s.strip()), st.booleans(),
       st.booleans())
def test_any_rule_set_is_valid_bpmn(rule_names: list[str], mail: bool, warehouse: bool):
    try:
        cfg = parse_config(rules_yaml(rule_names, mail=mail, warehouse=warehouse), env={})
    except Exception:  # a name the file itself refuses (the loader's own tests cover it)
        return
    doc = valid(to_bpmn(build_diagram(cfg)))
    check_structure(doc)
    assert len(doc.findall(".//bpmn:businessRuleTask", NS)) == max(1, len(cfg.rules))
