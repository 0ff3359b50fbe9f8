"""The rules every drawing keeps, as a check over its `Layout` (used by the tests).

`problems(layout)` says, in words, every place where the drawing breaks one: the
four bands in order and apart, every node inside its band and the page, every text
inside its node and at least `MIN_FONT`, no two nodes (other than the 受注処理 box
and what it holds), labels or texts overlapping, and no arrow through a node or a
label. An empty list is a good drawing.
"""

from __future__ import annotations

from unyo.diagram.layout import LANE_ORDER, MIN_FONT, PAGE_H, PAGE_W, Layout, Line, Rect

__all__ = ["problems"]


def _seg_hits(a: tuple[float, float], b: tuple[float, float], r: Rect) -> bool:
    """Does the segment a–b (horizontal or vertical) pass through the inside of r?"""
    x1, x2 = sorted((a[0], b[0]))
    y1, y2 = sorted((a[1], b[1]))
    if x1 == x2:
        return r.x < x1 < r.right and y1 < r.bottom and r.y < y2
    if y1 == y2:
        return r.y < y1 < r.bottom and x1 < r.right and r.x < x2
    return x1 < r.right and r.x < x2 and y1 < r.bottom and r.y < y2  # its bounding box


def problems(lay: Layout) -> list[str]:
    """Every broken rule of the drawing, in words; [] for a good layout."""
    out: list[str] = []
    page_rect = Rect(0, 0, PAGE_W, PAGE_H)
    for page in lay.pages:
        p = f"page {page.number}"
        if [b.lane for b in page.bands] != list(LANE_ORDER):
            out.append(f"{p}: bands out of order")
        for upper, lower in zip(page.bands, page.bands[1:], strict=False):
            if upper.rect.bottom > lower.rect.y + 0.01:
                out.append(f"{p}: bands {upper.lane} and {lower.lane} overlap")
        band = {b.lane: b.rect for b in page.bands}
        labels: list[tuple[str, Rect]] = []
        for b in page.bands:
            labels.append((f"band {b.lane}", b.label.box))
            if not b.rect.contains(b.label.box):
                out.append(f"{p}: the name of band {b.lane} leaves it")
        for t in page.texts:
            labels.append((t.cls, t.box))
        for e in page.edges:
            if e.label is not None:
                labels.append((f"label of {e.source}→{e.target}", e.label.box))
        texts: list[Line] = [ln for t in page.texts for ln in t.lines]
        for n in page.nodes:
            texts.extend(n.lines)
            if not band[n.lane].contains(n.rect):
                out.append(f"{p}: {n.id} is outside its band {n.lane}")
            for ln in n.lines:
                if not n.rect.contains(ln.box, slack=0.5):
                    out.append(f"{p}: text {ln.text!r} leaves {n.id}")
        for e in page.edges:
            texts.extend(e.label.lines if e.label else ())
        for ln in texts:
            if ln.size < MIN_FONT:
                out.append(f"{p}: text {ln.text!r} is {ln.size} pt")
        boxes = [(n.id, n.rect, n.group) for n in page.nodes]
        for i, (ia, ra, ga) in enumerate(boxes):
            if not page_rect.contains(ra):
                out.append(f"{p}: {ia} leaves the page")
            for ib, rb, gb in boxes[i + 1:]:
                inside = ga == ib or gb == ia
                if not inside and ra.overlaps(rb):
                    out.append(f"{p}: nodes {ia} and {ib} overlap")
            for name, lb in labels:
                if lb.overlaps(ra):
                    out.append(f"{p}: {name} overlaps node {ia}")
        for i, (na, la) in enumerate(labels):
            if not page_rect.contains(la):
                out.append(f"{p}: {na} leaves the page")
            for nb, lb in labels[i + 1:]:
                if la.overlaps(lb):
                    out.append(f"{p}: {na} overlaps {nb}")
        for e in page.edges:
            for p0, p1 in e.segments:
                for nid, r, _ in boxes:
                    if _seg_hits(p0, p1, r.inset(0.5)):
                        out.append(f"{p}: edge {e.source}→{e.target} crosses node {nid}")
                for name, lb in labels:
                    if _seg_hits(p0, p1, lb):
                        out.append(f"{p}: edge {e.source}→{e.target} crosses {name}")
    return out
