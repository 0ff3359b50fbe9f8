"""Mermaid text: one line per node, labels quoted, shop text never read as syntax."""

from __future__ import annotations

import re

import pytest

from tests.diagram.conftest import HOSTILE_NAMES
from unyo.diagram import build_diagram, escape_label, to_mermaid
from unyo.flow import Config

ENTITY = re.compile(r"#(\d+);")


def unescape(label: str) -> str:
    return ENTITY.sub(lambda m: chr(int(m.group(1))), label)


@pytest.mark.parametrize("text", HOSTILE_NAMES)
def test_an_escaped_label_has_nothing_mermaid_or_html_could_parse(text: str):
    label = escape_label(text)
    for ch in '"<>[]{}|:%`&\n\r':
        assert ch not in label, (ch, label)
    assert "-->" not in label
    # every '#' and ';' left belongs to an entity of ours
    assert re.sub(r"#\d+;", "", label).count("#") == 0
    assert re.sub(r"#\d+;", "", label).count(";") == 0
    assert unescape(label).replace("\u2060", "") == text.replace("\n", " ")


def test_japanese_and_plain_text_stay_readable():
    assert escape_label("備考欄を確認（お客様）") == "備考欄を確認（お客様）"
    assert escape_label("A-1 / B.2, total=5") == "A-1 / B.2, total=5"
    assert escape_label("a\u2028b\tc\u200bd") == "a b c d"


def test_hostile_rule_names_stay_inside_their_quoted_labels(hostile_config: Config):
    text = to_mermaid(build_diagram(hostile_config))
    lines = text.splitlines()
    rule_lines = [line for line in lines if re.match(r"\s+u_rule\d+\[", line)]
    assert len(rule_lines) == len(HOSTILE_NAMES)
    for line, name in zip(rule_lines, HOSTILE_NAMES, strict=True):
        m = re.fullmatch(r'\s+u_rule\d+\["(.*)"\]', line)
        assert m is not None, line
        inner = m.group(1)
        assert '"' not in inner
        assert unescape(inner).replace("\u2060", "").startswith(
            f"<b>{name.replace(chr(10), ' ')}</b><br>")
    # nothing the shop wrote became a statement of its own
    statements = [line.strip().split()[0] for line in lines if line.strip()]
    assert set(statements) <= {"%%", "flowchart", "subgraph", "direction", "end", "classDef",
                               "class", "style"} | {s for s in statements if s.startswith("u_")}
    assert not any(s.startswith(("click", "style u_rule", "%% not")) for s in
                   (line.strip() for line in lines))


def test_the_default_flow_in_mermaid(default_config: Config):
    text = to_mermaid(build_diagram(default_config))
    assert text.startswith("%% unyo") and "\nflowchart LR\n" in text
    for lane in ("楽天RMS", "unyo（受注処理）", "倉庫", "購入者"):
        assert f'["{escape_label(lane)}"]' in text
    assert "u_rms_new -->|\"2. 1分ごと・30分待ち\"| u_import" in text
    assert "-.->" in text  # warehouse and mail are off by default: dotted edges
    assert "class u_thanks_mail," in text or "u_thanks_mail disabled" in text


def test_the_init_flow_in_mermaid_has_one_node_per_rule(init_config: Config):
    text = to_mermaid(build_diagram(init_config))
    for n, rule in enumerate(init_config.rules, 1):
        assert f'u_rule{n}["<b>{escape_label(rule.name)}</b><br>' in text
    assert "u_rule1 ~~~ u_rule3" in text  # two columns held in reading order
