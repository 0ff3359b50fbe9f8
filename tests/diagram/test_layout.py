"""The swimlane layout: bands in order, nodes in their band, nothing overlapping, no arrow
through a node or a label, text never below 7 pt, and the same file the same bytes."""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.diagram.conftest import HOSTILE_NAMES
from unyo.diagram import Lane, build_diagram, layout, problems, to_svg
from unyo.diagram.checks import _seg_hits
from unyo.diagram.layout import LANE_ORDER, MIN_FONT, Rect
from unyo.flow import Config
from unyo.flow.config import parse_config


def rules_yaml(names: list[str], *, mail: bool = False, warehouse: bool = False,
               confirm: bool = True, thanks: bool = True) -> str:
    rules = "".join(
        f"  - name: {json.dumps(name, ensure_ascii=False)}\n"
        f"    when: {{field: total, op: ge, value: {i}}}\n"
        f"    then: [{{check: {json.dumps('確認 ' + name, ensure_ascii=False)}}}]\n"
        for i, name in enumerate(names))
    return ("shop: {id: s, name: 店}\n"
            f"import: {{confirm: {str(confirm).lower()}, thanks_mail: {str(thanks).lower()}}}\n"
            f"mail: {{enabled: {str(mail).lower()}}}\n"
            f"warehouse: {{enabled: {str(warehouse).lower()}}}\n"
            + ("rules:\n" + rules if names else ""))


def thirty_rules() -> Config:
    return parse_config(rules_yaml([f"ルール{i} 高額注文の確認と住所の確認を担当者が行う"
                                    for i in range(30)]), env={})


def test_the_init_file_is_one_good_page(init_config: Config):
    lay = layout(build_diagram(init_config))
    assert len(lay.pages) == 1
    assert problems(lay) == []
    page = lay.pages[0]
    assert [b.lane for b in page.bands] == list(LANE_ORDER)
    assert [b.lane for b in page.bands] == [Lane.rms, Lane.unyo, Lane.warehouse, Lane.buyer]
    assert {n.id for n in page.nodes if n.group} == {
        "payment", "other_checks", *(f"rule{i}" for i in range(1, 11))}


def test_the_whole_init_file_is_good_pages(whole_init_config: Config):
    lay = layout(build_diagram(whole_init_config))
    assert len(lay.pages) == 2 and problems(lay) == []
    rules = {n.id for p in lay.pages for n in p.nodes if n.kind == "rule"}
    assert rules == {f"rule{i}" for i in range(1, 17)}


def test_time_runs_left_to_right_in_the_order_of_the_reference_flow(init_config: Config):
    page = layout(build_diagram(init_config)).pages[0]
    x = {n.id: n.rect.x for n in page.nodes}
    order = ["rms_new", "rms_auth", "processing", "ready", "shipped", "shipping_report"]
    assert [x[i] for i in order] == sorted(x[i] for i in order)
    assert x["import"] == x["rms_new"] and x["wms"] == x["ready"]  # vertical hand-offs
    assert x["thanks_mail"] < x["processing"] < x["shipping_mail"] <= x["rms_done"]
    # the rules in file order, left to right then downward
    rules = [n for n in page.nodes if n.kind == "rule"]
    assert [(round(n.rect.y), n.rect.x) for n in rules] == sorted(
        (round(n.rect.y), n.rect.x) for n in rules)


def test_thirty_rules_continue_on_a_second_page_with_the_lanes_repeated():
    cfg = thirty_rules()
    lay = layout(build_diagram(cfg))
    assert problems(lay) == []
    assert len(lay.pages) == 2
    for page in lay.pages:
        assert [b.lane for b in page.bands] == list(LANE_ORDER)
    placed = [n.id for p in lay.pages for n in p.nodes if n.kind == "rule"]
    assert placed == [f"rule{i}" for i in range(1, 31)]  # each once, in file order
    texts = [ln for p in lay.pages for n in p.nodes for ln in n.lines]
    assert min(ln.size for ln in texts) == MIN_FONT  # never smaller to fit


def test_the_same_file_gives_the_same_bytes(init_config: Config, hostile_config: Config):
    for cfg in (init_config, hostile_config, thirty_rules()):
        a = to_svg(layout(build_diagram(cfg)))
        b = to_svg(layout(build_diagram(replace(cfg))))
        assert a == b


def test_hostile_names_are_escaped_in_the_svg(hostile_config: Config):
    svg = to_svg(layout(build_diagram(hostile_config)))
    assert "<script" not in svg and "<img" not in svg and "&lt;script&gt;" in svg
    assert "<b>" not in svg and "onerror=" in svg  # as text: &lt;img src=x onerror=…&gt;
    import xml.dom.minidom

    xml.dom.minidom.parseString(svg.encode("utf-8"))  # well-formed, controls dropped


def test_the_checks_catch_a_broken_drawing(init_config: Config):
    """The guard itself: move a node onto another, an arrow through one, a band out of place."""
    lay = layout(build_diagram(init_config))
    page = lay.pages[0]
    ready = next(n for n in page.nodes if n.id == "ready")
    moved = replace(ready, rect=next(n for n in page.nodes if n.id == "shipped").rect)
    broken = replace(lay, pages=(replace(page, nodes=tuple(
        moved if n.id == "ready" else n for n in page.nodes)),))
    found = problems(broken)
    assert any("overlap" in p for p in found)
    imp = next(n for n in page.nodes if n.id == "import").rect
    in_the_way = replace(ready, rect=Rect(imp.right + 2, imp.y, 12, imp.h))  # on 取込時
    crossed = replace(lay, pages=(replace(page, nodes=tuple(
        in_the_way if n.id == "ready" else n for n in page.nodes)),))
    assert any("crosses node ready" in p for p in problems(crossed))
    swapped = replace(lay, pages=(replace(page, bands=page.bands[::-1]),))
    assert any("out of order" in p for p in problems(swapped))
    assert _seg_hits((0, 5), (20, 5), Rect(5, 0, 5, 10))
    assert not _seg_hits((0, 20), (20, 20), Rect(5, 0, 5, 10))


names = st.one_of(st.sampled_from(HOSTILE_NAMES),
                  st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != ""))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(names, max_size=30, unique_by=lambda s: s.strip()), st.booleans(),
       st.booleans(), st.booleans(), st.booleans())
def test_any_rule_set_keeps_the_rules_of_the_drawing(rule_names: list[str], mail: bool,
                                                     warehouse: bool, confirm: bool,
                                                     thanks: bool):
    try:
        cfg = parse_config(rules_yaml(rule_names, mail=mail, warehouse=warehouse,
                                      confirm=confirm, thanks=thanks), env={})
    except Exception:  # a name the file itself refuses (the loader's own tests cover it)
        return
    lay = layout(build_diagram(cfg))
    assert problems(lay) == []
    placed = [n.id for p in lay.pages for n in p.nodes if n.kind == "rule"]
    assert len(placed) == max(1, len(cfg.rules)) and len(set(placed)) == len(placed)


def test_a_word_wider_than_its_line_is_cut_wherever_it_stands():
    """Found by Hypothesis: a long word after other text was moved to its own line whole
    and ran out of its box."""
    from unyo.diagram.layout import text_width, wrap

    for text in ("0" * 22, "ルール " + "0" * 30, "ab " + "W" * 40 + " cd"):
        lines = wrap(text, 60, 7.2)
        assert all(text_width(line.rstrip(), 7.2) <= 60 for line in lines), lines
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
