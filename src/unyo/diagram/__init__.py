"""The flow diagram (運用フロー図): drawn from the flow file that runs, with live numbers.

    build_diagram(config, counts)  → Diagram     (model.py: pure, no I/O)
    diagram_counts(store, shop, since, until)   (counts.py: `unyo report`'s figures)
    layout(diagram, title=, made=) → Layout     (layout.py: the swimlanes on A4 pages)
    problems(layout) → [str]                    (checks.py: overlaps, crossings, sizes)
    to_svg(layout) → str                        (svg.py: the standalone SVG)
    to_pdf(layout) → bytes                      (pdf.py: printed by Chromium)
    to_html(diagram, title=...) → str           (html.py: one offline file, SVG inline)
    to_mermaid(diagram) → str                   (mermaid.py: flowchart LR text)
    to_bpmn(diagram) → str                      (bpmn.py: BPMN 2.0 XML with its DI)
    compare_diagram(new, old, simulation)       (compare.py: before / after, --compare)

Used by `unyo flow draw` and the dashboard. May import `unyo.domain`, `unyo.flow`,
`unyo.app.report` and the store; must not import the CLI or the web layer.
"""

from unyo.diagram.checks import problems
from unyo.diagram.counts import diagram_counts
from unyo.diagram.html import to_html
from unyo.diagram.layout import Layout, layout
from unyo.diagram.mermaid import escape_label, to_mermaid
from unyo.diagram.model import (
    Diagram,
    DiagramCounts,
    Edge,
    Lane,
    Node,
    NodeCounts,
    NodeKind,
    build_diagram,
)
from unyo.diagram.pdf import PdfUnavailable, to_pdf
from unyo.diagram.svg import to_svg

__all__ = [
    "Diagram",
    "DiagramCounts",
    "Edge",
    "Lane",
    "Layout",
    "Node",
    "NodeCounts",
    "NodeKind",
    "PdfUnavailable",
    "build_diagram",
    "diagram_counts",
    "escape_label",
    "layout",
    "problems",
    "to_html",
    "to_mermaid",
    "to_pdf",
    "to_svg",
]
