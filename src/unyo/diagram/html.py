"""The `Diagram` as one self-contained HTML file: the deliverable a consultant hands a shop.

The drawing is the swimlane SVG of `svg.py`, inline, one `<svg>` per A4 page: no
script at all, so the page draws at once, offline, and a Content-Security-Policy
allows neither a request nor a script. Every text outside the SVG is escaped by
Jinja2's autoescape (the SVG escapes its own). Printed, each page of the drawing is
one A4 landscape sheet, followed by the table of every step and rule.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from unyo.clock import JST
from unyo.diagram.compare import CHANGE_MARKS
from unyo.diagram.layout import COMPARE_LEGEND, layout, replay_words
from unyo.diagram.mermaid import BOTTLENECK_MARK, CLASS_DEFS, minutes_words
from unyo.diagram.model import Diagram, Group, Node, NodeCounts, NodeKind
from unyo.diagram.svg import inline_svgs

__all__ = ["to_html"]


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=PackageLoader("unyo.diagram", "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _when(d: datetime) -> str:
    return d.astimezone(JST).strftime("%Y-%m-%d %H:%M")


def _figure(value: int | float | None, minutes: bool = False) -> str:
    if value is None:
        return ""
    return minutes_words(float(value)) if minutes else f"{value:,}"


def _row(item: Node | Group) -> dict[str, object]:
    """One line of the table under the diagram: what the node says, legibly printed."""
    c = item.counts or NodeCounts()
    node = item if isinstance(item, Node) else None
    return {
        "step": "" if node is not None and node.kind is NodeKind.rule else (item.step or ""),
        "lane": item.lane.value,
        "title": (CHANGE_MARKS.get(node.change, "") if node is not None else "") + item.title,
        "detail": item.detail,
        "before": node.before if node is not None else "",
        "replay": replay_words(node.replay) if node is not None and node.replay else "",
        "off": node.disabled_because if node is not None and not node.enabled else "",
        "bottleneck": node is not None and node.bottleneck,
        "css": " ".join(x for x in (
            "rule" if node is not None and node.kind is NodeKind.rule else "",
            "off" if node is not None and not node.enabled else "",
            "bottleneck" if node is not None and node.bottleneck else "",
            node.change if node is not None else "") if x),
        "waiting": _figure(c.waiting), "passed": _figure(c.passed),
        "touches": _figure(c.touches), "p50": _figure(c.p50_minutes, minutes=True),
    }


def _rows(diagram: Diagram) -> list[dict[str, object]]:
    """Nodes in drawing order, each box's row before its first node."""
    rows: list[dict[str, object]] = []
    groups = {g.id: g for g in diagram.groups}
    for n in diagram.nodes:
        if n.group in groups:
            rows.append(_row(groups.pop(n.group)))
        rows.append(_row(n))
    return rows


def _triggers(diagram: Diagram) -> list[str]:
    names = {n.id: n.title for n in diagram.nodes} | {g.id: g.title for g in diagram.groups}
    out = []
    for e in diagram.edges:
        if not e.label:
            continue
        step = f"{e.step}. " if e.step is not None else ""
        off = "（オフ）" if not e.enabled else ""
        out.append(f"{step}{names.get(e.source, e.source)} → {names.get(e.target, e.target)}："
                   f"{e.label}{off}")
    return out


def _drawing_date(diagram: Diagram) -> str:
    """The date in the drawing's corner: the end of the counted period, else none, so
    the same file draws the same bytes."""
    return _when(diagram.until) if diagram.until else ""


def to_html(diagram: Diagram, *, title: str, generated_at: datetime | None = None) -> str:
    """The diagram as a complete HTML document, the drawing inline."""
    generated = generated_at or datetime.now(JST)
    lay = layout(diagram, title=title, made=_drawing_date(diagram))
    period = (f"{_when(diagram.since)} → {_when(diagram.until)}（JST）"
              if diagram.since and diagram.until else "")
    return _environment().get_template("diagram.html.j2").render(
        title=title,
        shop=diagram.shop_name or diagram.shop_id,
        shop_id=diagram.shop_id,
        source=diagram.source,
        period=period,
        summary=diagram.summary,
        generated=f"{_when(generated)}（JST）",
        bottleneck=diagram.bottleneck,
        bottleneck_mark=BOTTLENECK_MARK,
        colours={k: dict(p.split(":", 1) for p in v.split(",")) for k, v in CLASS_DEFS.items()},
        counted=diagram.since is not None and not diagram.compared_with,
        compared=diagram.compared_with,
        compare_legend=COMPARE_LEGEND.removeprefix("凡例："),
        rows=_rows(diagram),
        triggers=_triggers(diagram),
        svgs=[Markup(svg) for svg in inline_svgs(lay)],
    )
