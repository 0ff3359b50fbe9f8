"""The figures on the diagram's nodes, from the code of `unyo report`.

`diagram_counts` runs `unyo.app.report.build_report` for the period and adds the
current stage counts; `build_diagram` only distributes those numbers over the
nodes, so the diagram and `unyo report` cannot disagree.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from unyo.adapters.db.store import Store
from unyo.app.report import build_report
from unyo.diagram.model import DiagramCounts

__all__ = ["diagram_counts", "file_sha256"]


def diagram_counts(store: Store, shop: str, since: datetime, until: datetime) -> DiagramCounts:
    """The period's report (touches by reason, dwell, waiting now) and orders per stage now."""
    report = build_report(store, shop, since, until)
    with store.transaction() as conn:
        stages = store.stage_counts(conn, shop)
    return DiagramCounts(report=report, stages_now=stages)


def file_sha256(path: str | None) -> str:
    """The sha256 (hex) of the shop file's bytes, printed in the drawing's corner; "" when
    there is no file or it cannot be read."""
    if not path:
        return ""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""
