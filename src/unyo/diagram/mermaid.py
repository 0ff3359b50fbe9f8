"""The `Diagram` as Mermaid `flowchart LR` text: lanes as subgraphs, rules in their own box.

Rule names and messages are the shop's own text, so nothing from a label reaches
Mermaid's parser as syntax: node ids are generated, every label is a quoted string,
and inside it every character that Mermaid, HTML or Mermaid's entity pre-pass could
read as something (quotes, brackets, `<`, `#`, `%`, `;`, `:`, `|`, backticks, the
placeholder characters ﬂ°¶ß of that pre-pass) is written as a numeric entity
(`#60;`), which Mermaid shows as the character itself. A placeholder character is
also followed by a WORD JOINER (U+2060, invisible), or Mermaid's second decoding
pass would read a literal "ﬂ°°60¶ß" as "<" (as text, never as markup). Line breaks and other
control characters become spaces. Our own markup (`<b>`, `<br>`) is added after
escaping. The result pastes into any Markdown that renders Mermaid.
"""

from __future__ import annotations

import unicodedata

from unyo.diagram.model import Diagram, Edge, Group, Lane, Node, NodeCounts, NodeKind

__all__ = ["escape_label", "format_counts", "group_label", "mermaid_id", "minutes_words",
           "node_label", "to_mermaid"]

_KEEP = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                  " .,-_/+=!?'@*~^$()")
"""ASCII characters that are plain text inside a quoted Mermaid label."""
_PLACEHOLDERS = frozenset("ﬂ°¶ß")  # Mermaid's entity pre-pass writes #…; as ﬂ°…¶ß
_LANE_IDS = {Lane.buyer: "lane_buyer", Lane.rms: "lane_rms", Lane.unyo: "lane_unyo",
             Lane.warehouse: "lane_warehouse"}
_SHAPES = {NodeKind.event: ('(["', '"])'), NodeKind.step: ('["', '"]'),
           NodeKind.gate: ('{{"', '"}}'), NodeKind.rule: ('["', '"]'),
           NodeKind.stage: ('[["', '"]]'), NodeKind.mail: ('>"', '"]')}
CLASS_DEFS = {
    "event": "fill:#eef3fb,stroke:#5b7db1,color:#1d2b44",
    "step": "fill:#ffffff,stroke:#444444,color:#111111",
    "gate": "fill:#fff4d1,stroke:#b7860b,color:#3d2c00",
    "rule": "fill:#f1f7ea,stroke:#5c8a3a,color:#1f3311",
    "stage": "fill:#e8f5f5,stroke:#2f7f7f,color:#113333",
    "mail": "fill:#f7eef7,stroke:#8a4c8a,color:#331133",
    "disabled": "fill:#f2f2f2,stroke:#9a9a9a,stroke-dasharray:5 4,color:#777777",
    "bottleneck": "stroke:#d40000,stroke-width:4px",
}
BOTTLENECK_MARK = "⚠ ボトルネック（手作業が最多）"
DISABLED_MARK = "オフ"


def escape_label(text: str) -> str:
    """Shop text as the inside of a quoted Mermaid label: shown as written, never parsed."""
    out: list[str] = []
    for ch in text:
        if ch in _KEEP or (not ch.isascii() and ch not in _PLACEHOLDERS
                           and not unicodedata.category(ch).startswith(("C", "Z"))):
            out.append(ch)
        elif ch.isspace() or unicodedata.category(ch).startswith(("C", "Z")):
            out.append(" ")  # newlines, tabs, U+2028, zero-width and other controls
        elif ch in _PLACEHOLDERS:
            out.append(f"#{ord(ch)};#8288;")
        else:
            out.append(f"#{ord(ch)};")
    return "".join(out)


def minutes_words(m: float) -> str:
    """A dwell time: '42分', '90分', '3.5時間', '2.1日'."""
    if m < 120:
        return f"{round(m, 1):g}分"
    if m < 2880:
        return f"{m / 60:.1f}時間"
    return f"{m / 1440:.1f}日"


def format_counts(c: NodeCounts) -> str:
    """'待ち 3件 · 通過 12件 · 手作業 5回 · p50 42分', the figures that apply."""
    parts = []
    if c.waiting is not None:
        parts.append(f"待ち {c.waiting:,}件")
    if c.passed is not None:
        parts.append(f"通過 {c.passed:,}件")
    if c.touches is not None:
        parts.append(f"手作業 {c.touches:,}回")
    if c.p50_minutes is not None:
        parts.append(f"p50 {minutes_words(c.p50_minutes)}")
    return " · ".join(parts)


def node_label(n: Node) -> str:
    """The label markup of a node: escaped text lines joined with our own <br>."""
    title = f"{n.step}. {n.title}" if n.step is not None and n.kind is not NodeKind.rule \
        else n.title
    lines = [f"<b>{escape_label(title)}</b>"]
    if n.detail:
        lines.append(escape_label(n.detail))
    if not n.enabled:
        lines.append(f"<i>{escape_label(f'{DISABLED_MARK}（{n.disabled_because}）')}</i>")
    if n.counts is not None and format_counts(n.counts):
        lines.append(f"<b>{escape_label(format_counts(n.counts))}</b>")
    if n.bottleneck:
        lines.append(f"<b>{escape_label(BOTTLENECK_MARK)}</b>")
    return "<br>".join(lines)


def mermaid_id(node_id: str) -> str:
    """The id in the Mermaid text: prefixed, so no id is a keyword (end, class, style…)."""
    return f"u_{node_id}"


def group_columns(n: int) -> int:
    """Columns of a box of n nodes: one up to 3, two up to 8, then three."""
    return 1 if n <= 3 else 2


def group_label(g: Group) -> str:
    """A box's title, on one line (Mermaid draws a longer title over the box's nodes)."""
    text = f"{g.step}. {g.title}" if g.step is not None else g.title
    if g.counts is not None and format_counts(g.counts):
        text += f" — {format_counts(g.counts)}"
    return f"<b>{escape_label(text)}</b>"


def _node_line(n: Node) -> str:
    start, end = _SHAPES.get(n.kind, ('["', '"]'))
    return f"{mermaid_id(n.id)}{start}{node_label(n)}{end}"


def _edge_line(e: Edge) -> str:
    arrow = "-->" if e.enabled else "-.->"
    text = f"{e.step}. {e.label}" if e.step is not None and e.label else e.label
    label = f'|"{escape_label(text)}"|' if text else ""
    return f"{mermaid_id(e.source)} {arrow}{label} {mermaid_id(e.target)}"


def to_mermaid(diagram: Diagram) -> str:
    """Mermaid source of the diagram (flowchart LR), ending with a newline."""
    out = ["%% unyo 運用フロー図: generated from the flow file (unyo flow draw); do not edit",
           "flowchart LR"]
    for lane in diagram.lanes:
        out.append(f'  subgraph {_LANE_IDS[lane]}["{escape_label(lane.value)}"]')
        out.append("    direction TB")
        for n in diagram.nodes:
            if n.lane is lane and not n.group:
                out.append(f"    {_node_line(n)}")
        for g in diagram.groups:
            if g.lane is not lane:
                continue
            inside = [n for n in diagram.nodes if n.group == g.id]
            out.append(f'    subgraph {mermaid_id(g.id)}["{group_label(g)}"]')
            out.append("      direction TB")
            out.extend(f"      {_node_line(n)}" for n in inside)
            # a grid in reading order, held by invisible links from each node to the one
            # below it: the box keeps its order and stays near the page's proportions
            cols = group_columns(len(inside))
            out.extend(f"      {mermaid_id(a.id)} ~~~ {mermaid_id(b.id)}"
                       for a, b in zip(inside, inside[cols:], strict=False))
            out.append("    end")
        out.append("  end")
    out.extend(f"  {_edge_line(e)}" for e in diagram.edges)
    for name, style in CLASS_DEFS.items():
        out.append(f"  classDef {name} {style}")
    by_class: dict[str, list[str]] = {}
    for n in diagram.nodes:
        by_class.setdefault(n.kind.value, []).append(n.id)
        if not n.enabled:
            by_class.setdefault("disabled", []).append(n.id)
        if n.bottleneck:
            by_class.setdefault("bottleneck", []).append(n.id)
    for name in CLASS_DEFS:  # in classDef order, so disabled and bottleneck win
        if by_class.get(name):
            out.append(f"  class {','.join(map(mermaid_id, by_class[name]))} {name}")
    out.extend(f"  style {mermaid_id(g.id)} fill:#fafdf6,stroke:#5c8a3a"
               for g in diagram.groups)
    return "\n".join(out) + "\n"
