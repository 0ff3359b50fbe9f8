"""The flow diagram (運用フロー図): drawn from the flow file that runs, with live numbers.

    build_diagram(config, counts)  → Diagram     (model.py: pure, no I/O)
    diagram_counts(store, shop, since, until)   (counts.py: `unyo report`'s figures)
    to_mermaid(diagram) → str                   (mermaid.py: flowchart LR text)
    to_html(diagram, title=...) → str           (html.py: one offline file, Mermaid inlined)
    MERMAID_JS                                  (the vendored mermaid.min.js)

Used by `unyo flow draw` and the dashboard. May import `unyo.domain`, `unyo.flow`,
`unyo.app.report` and the store; must not import the CLI or the web layer.
"""

from unyo.diagram.counts import diagram_counts
from unyo.diagram.html import MERMAID_JS, MERMAID_VERSION, to_html
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

__all__ = [
    "MERMAID_JS",
    "MERMAID_VERSION",
    "Diagram",
    "DiagramCounts",
    "Edge",
    "Lane",
    "Node",
    "NodeCounts",
    "NodeKind",
    "build_diagram",
    "diagram_counts",
    "escape_label",
    "to_html",
    "to_mermaid",
]
