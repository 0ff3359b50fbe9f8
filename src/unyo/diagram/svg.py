"""The `Layout` as SVG: one `<svg>` per A4 landscape page, or all pages in one file.

Written by hand, element by element, so the same layout gives the same bytes: no
clock, no random ids, numbers printed with two decimals. Every text from the shop
file (rule names, messages, the shop's name, the file's path) goes through `_text`,
which escapes `&`, `<`, `>` and quotes and drops what XML cannot carry, so a rule
named `<script>` is shown as those characters and is never markup. No script, no
link, no outside reference: the SVG shows the same thing offline, anywhere.
"""

from __future__ import annotations

import unicodedata

from unyo.diagram.layout import (
    PAGE_H,
    PAGE_W,
    Label,
    Layout,
    Line,
    Page,
    PlacedEdge,
    PlacedNode,
)

__all__ = ["COLOURS", "FONT_FAMILY", "inline_svgs", "page_svg", "style_sheet", "to_svg",
           "xml_text"]

FONT_FAMILY = ("IPAGothic, 'IPAexGothic', 'Noto Sans CJK JP', 'Hiragino Kaku Gothic ProN', "
               "Meiryo, sans-serif")
COLOURS = {  # fill, stroke, text
    "event": ("#eef3fb", "#5b7db1", "#1d2b44"),
    "step": ("#ffffff", "#444444", "#111111"),
    "gate": ("#fff4d1", "#b7860b", "#3d2c00"),
    "rule": ("#f1f7ea", "#5c8a3a", "#1f3311"),
    "stage": ("#e8f5f5", "#2f7f7f", "#113333"),
    "mail": ("#f7eef7", "#8a4c8a", "#331133"),
    "group": ("#fafdf6", "#5c8a3a", "#1f3311"),
    "disabled": ("#f2f2f2", "#9a9a9a", "#666666"),
    # --compare: a rule's change (the border styles below tell them apart in grey too)
    "added": ("#e8f0fd", "#1f5fbf", "#0d2a57"),
    "changed": ("#fff0db", "#c26a00", "#3d2200"),
    "removed": ("#eeeeee", "#b00000", "#555555"),
}
BAND_FILLS = ("#f4f7fc", "#fbfbf7", "#f6f6f6", "#fbf5fb")

_RULES = (
    (".band", "stroke:#9a9a9a;stroke-width:.6"),
    (".lane-label", "font-weight:bold;fill:#333"),
    (".node rect", "stroke-width:1"),
    (".node.off rect", "stroke-dasharray:4 3"),
    (".node.bottleneck rect", "stroke:#d40000;stroke-width:3"),
    (".node.added rect", "stroke-width:2.6"),
    (".node.changed rect", "stroke-width:2.6;stroke-dasharray:7 2 1.5 2"),
    (".node.removed rect", "stroke-width:1.6;stroke-dasharray:1.5 1.5"),
    (".edge", "fill:none;stroke:#333;stroke-width:1"),
    (".edge.off", "stroke:#999;stroke-dasharray:2 2"),
    (".head", "fill:#333"),
    (".head.off", "fill:#999"),
    (".label,.meta,.corner,.legend", "fill:#333"),
    (".title", "font-weight:bold;fill:#111"),
)


def style_sheet(scope: str = "") -> str:
    """The drawing's styles; with `scope` (a selector) every rule applies under it only,
    so a page that links them as a style sheet keeps its own `.label` or `.title`."""
    def sel(s: str) -> str:
        return ",".join(f"{scope} {part}" if scope else part for part in s.split(","))
    return "".join(f"{sel(s)}{{{body}}}" for s, body in _RULES)


_STYLE = style_sheet()


def _text(s: str) -> str:
    """Text as XML character data or an attribute value: shown, never parsed."""
    out = []
    for ch in s:
        if unicodedata.category(ch)[0] == "C" or ch in "\ufffe\uffff":
            out.append(" ")
        elif ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == '"':
            out.append("&quot;")
        elif ch == "'":
            out.append("&#39;")
        else:
            out.append(ch)
    return "".join(out)


xml_text = _text


def _n(v: float) -> str:
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _line(ln: Line, cls: str = "") -> str:
    weight = ' font-weight="bold"' if ln.bold else ""
    c = f' class="{cls}"' if cls else ""
    body = _text(ln.text)
    if ln.bold_chars and not ln.bold:
        body = (f'<tspan font-weight="bold">{_text(ln.text[:ln.bold_chars])}</tspan>'
                f"{_text(ln.text[ln.bold_chars:])}")
    return (f'<text x="{_n(ln.x)}" y="{_n(ln.y)}" font-size="{_n(ln.size)}"{weight}{c}>'
            f"{body}</text>")


def _label(lb: Label) -> str:
    if lb.rotated and lb.lines:
        x0, y0 = lb.lines[0].x, lb.lines[0].y
        inner = "".join(_line(ln) for ln in lb.lines)
        return (f'<g class="{lb.cls}" transform="rotate(-90 {_n(x0)} {_n(y0)})">'
                f"{inner}</g>")
    return f'<g class="{lb.cls}">' + "".join(_line(ln) for ln in lb.lines) + "</g>"


def _node(n: PlacedNode) -> str:
    kind = "disabled" if not n.enabled else n.change or n.kind
    fill, stroke, colour = COLOURS.get(kind, COLOURS["step"])
    cls = " ".join(x for x in ("node", n.kind, "" if n.enabled else "off",
                               "bottleneck" if n.bottleneck else "", n.change) if x)
    r = n.rect
    radius = "6" if n.kind == "event" else "10" if n.kind == "stage" else "2"
    lines = "".join(_line(ln) for ln in n.lines)
    return (f'<g class="{cls}" data-id="{_text(n.id)}" data-lane="{_text(n.lane.name)}">'
            f'<rect x="{_n(r.x)}" y="{_n(r.y)}" width="{_n(r.w)}" height="{_n(r.h)}" '
            f'rx="{radius}" fill="{fill}" stroke="{stroke}"/>'
            f'<g fill="{colour}">{lines}</g></g>')


def _edge(e: PlacedEdge) -> str:
    off = "" if e.enabled else " off"
    d = "M" + " L".join(f"{_n(x)} {_n(y)}" for x, y in e.points)
    (x1, y1), (x2, y2) = e.points[-2], e.points[-1]
    ux = (x2 > x1) - (x2 < x1)
    uy = (y2 > y1) - (y2 < y1)
    a, w = 5.0, 2.6  # the arrow head: length and half width
    bx, by = x2 - ux * a, y2 - uy * a
    head = (f"{_n(x2)},{_n(y2)} {_n(bx - uy * w)},{_n(by + ux * w)} "
            f"{_n(bx + uy * w)},{_n(by - ux * w)}")
    label = _label(e.label) if e.label is not None else ""
    return (f'<g class="arrow{off}" data-from="{_text(e.source)}" data-to="{_text(e.target)}">'
            f'<path class="edge{off}" d="{d}"/><polygon class="head{off}" points="{head}"/>'
            f"{label}</g>")


def page_svg(page: Page, *, x: float = 0.0, y: float = 0.0, nested: bool = False,
             styled: bool = True) -> str:
    """One page: 297 × 210 mm, 1 unit = 1 pt at print size. Without `styled` the page
    carries no `<style>` (the dashboard links `style_sheet()` instead: its CSP allows
    no inline style)."""
    bands = "".join(
        f'<rect class="band" data-lane="{b.lane.name}" x="{_n(b.rect.x)}" y="{_n(b.rect.y)}" '
        f'width="{_n(b.rect.w)}" height="{_n(b.rect.h)}" fill="{BAND_FILLS[i % 4]}"/>'
        + _label(b.label) for i, b in enumerate(page.bands))
    groups = "".join(_node(n) for n in page.nodes if n.kind == "group")
    nodes = "".join(_node(n) for n in page.nodes if n.kind != "group")
    edges = "".join(_edge(e) for e in page.edges)
    texts = "".join(_label(t) for t in page.texts)
    size = (f'x="{_n(x)}" y="{_n(y)}" width="{_n(PAGE_W)}" height="{_n(PAGE_H)}"' if nested
            else 'xmlns="http://www.w3.org/2000/svg" width="297mm" height="210mm"')
    return (f'<svg {size} viewBox="0 0 {_n(PAGE_W)} {_n(PAGE_H)}" class="unyo-page" '
            f'data-page="{page.number}" font-family="{FONT_FAMILY}">'
            + ("" if nested or not styled else f"<style>{_STYLE}</style>")
            + f'<rect width="{_n(PAGE_W)}" height="{_n(PAGE_H)}" fill="#ffffff"/>'
            f'<g class="bands">{bands}</g><g class="groups">{groups}</g>'
            f'<g class="edges">{edges}</g><g class="nodes">{nodes}</g>'
            f'<g class="texts">{texts}</g></svg>')


def to_svg(lay: Layout) -> str:
    """A standalone SVG file: one page as it is, several pages one under the other."""
    head = '<?xml version="1.0" encoding="UTF-8"?>\n'
    if len(lay.pages) == 1:
        return head + page_svg(lay.pages[0]) + "\n"
    n = len(lay.pages)
    inner = "".join(page_svg(p, y=i * PAGE_H, nested=True) for i, p in enumerate(lay.pages))
    return (head + f'<svg xmlns="http://www.w3.org/2000/svg" width="297mm" '
            f'height="{210 * n}mm" viewBox="0 0 {_n(PAGE_W)} {_n(PAGE_H * n)}" '
            f'class="unyo-pages"><style>{_STYLE}</style>{inner}</svg>\n')


def inline_svgs(lay: Layout, *, styled: bool = True) -> list[str]:
    """Each page as an `<svg>` element for an HTML page (the styles carried by each,
    unless `styled` is False)."""
    return [page_svg(p, styled=styled) for p in lay.pages]
