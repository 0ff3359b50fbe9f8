"""The `Diagram` as one self-contained HTML file: the deliverable a consultant hands a shop.

Mermaid is vendored (`static/mermaid.min.js`, see `static/README.md`) and inlined, so
the file opens offline and nothing is fetched: a Content-Security-Policy in the page
allows no network at all. The Mermaid source travels as JSON in a non-executable
script element and is rendered with `securityLevel: 'strict'`; every text in the
page is escaped by Jinja2's autoescape. The page prints on one A4 landscape sheet.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from unyo.clock import JST
from unyo.diagram.mermaid import BOTTLENECK_MARK, CLASS_DEFS, minutes_words, to_mermaid
from unyo.diagram.model import Diagram, Group, Node, NodeCounts, NodeKind

__all__ = ["MERMAID_JS", "MERMAID_VERSION", "to_html"]

MERMAID_VERSION = "11.17.2"
MERMAID_JS: Path = Path(str(resources.files("unyo.diagram") / "static" / "mermaid.min.js"))
"""The vendored Mermaid bundle (the dashboard serves it as a static file)."""


@lru_cache(maxsize=1)
def _mermaid_js() -> str:
    text = MERMAID_JS.read_text(encoding="utf-8")
    # Inlined in <script>: only "</script" could end the element early. "<\/" means
    # the same inside JavaScript strings and regular expressions (the bundle has none
    # today; a test keeps watch).
    return text.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=PackageLoader("unyo.diagram", "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _script_json(value: object) -> Markup:
    """JSON that is safe inside <script>: no '<', '>' or '&' left to end or open a tag."""
    text = json.dumps(value, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


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
        "title": item.title,
        "detail": item.detail,
        "off": node.disabled_because if node is not None and not node.enabled else "",
        "bottleneck": node is not None and node.bottleneck,
        "css": " ".join(x for x in (
            "rule" if node is not None and node.kind is NodeKind.rule else "",
            "off" if node is not None and not node.enabled else "",
            "bottleneck" if node is not None and node.bottleneck else "") if x),
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


def to_html(diagram: Diagram, *, title: str, generated_at: datetime | None = None) -> str:
    """The diagram as a complete HTML document with Mermaid inlined."""
    generated = generated_at or datetime.now(JST)
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
        counted=diagram.since is not None,
        rows=_rows(diagram),
        triggers=_triggers(diagram),
        mermaid_source=_script_json(to_mermaid(diagram)),
        mermaid_js=Markup(_mermaid_js()),
        mermaid_version=MERMAID_VERSION,
    )
