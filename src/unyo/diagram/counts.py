"""The figures on the diagram's nodes, from the code of `unyo report`.

`diagram_counts` runs `unyo.app.report.build_report` for the period and adds the
current stage counts; `build_diagram` only distributes those numbers over the
nodes, so the diagram and `unyo report` cannot disagree.
"""

from __future__ import annotations

from datetime import datetime

from unyo.adapters.db.store import Store
from unyo.app.report import build_report
from unyo.diagram.model import DiagramCounts

__all__ = ["diagram_counts"]


def diagram_counts(store: Store, shop: str, since: datetime, until: datetime) -> DiagramCounts:
    """The period's report (touches by reason, dwell, waiting now) and orders per stage now."""
    report = build_report(store, shop, since, until)
    with store.transaction() as conn:
        stages = store.stage_counts(conn, shop)
    return DiagramCounts(report=report, stages_now=stages)
