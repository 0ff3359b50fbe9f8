"""Where everything goes on the A4 landscape sheet: our own layout for the fixed shape.

The reference flow has one shape, so it is placed by hand-written rules rather than a
general graph layout: four horizontal lane bands top to bottom (楽天RMS,
unyo（受注処理）, 倉庫, 購入者), and six columns in the order time runs (注文・取込 |
注文確認・サンクスメール・楽天処理中 | 受注処理 | 出荷OK・倉庫 | 出荷済・発送連絡メール |
発送完了報告・RMS 500). A step sits in its party's band and its column; an arrow
between two parties in one column is a short vertical line. The 受注処理 box holds
入金待ち, the shop's rules in file order and the other checks, two to a row, and grows
downward; rows that do not fit go on the next page, where the four bands are drawn
again and the box continues across the whole width. Text is never made smaller to
fit: it is wrapped and the boxes grow.

Units are PostScript points at print size (the page is 842 × 595, A4 landscape), so a
font size here is the size on paper. Text widths are estimated, never measured (no
font is read): a full-width character counts 1 em and any other 0.6 em, more than
the Japanese Gothic fonts need, so text stays inside its box on any machine. Pure:
the same `Diagram` gives the same `Layout`. `checks.problems(layout)` lists every
overlap, crossing or escape from a band; the tests hold it to an empty list.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, replace

from unyo.diagram.compare import CHANGE_MARKS, REMOVED
from unyo.diagram.mermaid import BOTTLENECK_MARK, format_counts
from unyo.diagram.model import (
    PROCESSING,
    Diagram,
    Edge,
    Group,
    Lane,
    Node,
    NodeKind,
    ReplayFigures,
)

__all__ = ["LANE_ORDER", "MIN_FONT", "PAGE_H", "PAGE_W", "Band", "Label", "Layout",
           "Line", "Page", "PlacedEdge", "PlacedNode", "Rect", "layout",
           "text_width", "wrap"]

PAGE_W, PAGE_H = 842.0, 595.0
MIN_FONT = 7.2  # the smallest text; 7.2 units ≥ 7 pt once the page is scaled to 297 mm
MARGIN = 14.0
TITLE_H = 30.0  # the title block at the top
LEGEND_H = 12.0  # the one-line legend at the bottom
HEADER_W = 20.0  # the band's name, turned on its side, at the left
PAD = 9.0  # inside a band, above and below its nodes
COL_W = 76.0
LANE_ORDER = (Lane.rms, Lane.unyo, Lane.warehouse, Lane.buyer)
"""Top to bottom, the order consultants draw this flow in."""

TITLE_SIZE, NODE_TITLE, NODE_TEXT, LABEL_SIZE, LANE_SIZE = 13.0, 7.8, MIN_FONT, MIN_FONT, 8.4
LEADING = 1.2
BOX_PAD = 3.5  # text inside a node
MAX_LINES = 12  # a node's text beyond this many lines ends in "…" (the table has it all)


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    def overlaps(self, o: Rect) -> bool:
        return (self.x < o.right and o.x < self.right and self.y < o.bottom
                and o.y < self.bottom)

    def contains(self, o: Rect, slack: float = 0.01) -> bool:
        return (o.x >= self.x - slack and o.y >= self.y - slack
                and o.right <= self.right + slack and o.bottom <= self.bottom + slack)

    def inset(self, d: float) -> Rect:
        return Rect(self.x + d, self.y + d, self.w - 2 * d, self.h - 2 * d)


@dataclass(frozen=True)
class Line:
    """One line of text: `x`, `y` are its left end and baseline."""

    x: float
    y: float
    size: float
    text: str
    bold: bool = False
    bold_chars: int = 0  # a bold start on a plain line (a rule's name before its words)

    @property
    def box(self) -> Rect:
        return Rect(self.x, self.y - self.size * 0.92, text_width(self.text, self.size),
                    self.size * 1.17)


@dataclass(frozen=True)
class Label:
    """Text that is not inside a node: an arrow's trigger, a band's name, the title."""

    lines: tuple[Line, ...]
    cls: str = "label"
    rotated: bool = False  # a band's name, turned 90° anticlockwise about its first line

    @property
    def box(self) -> Rect:
        if not self.lines:
            return Rect(0, 0, 0, 0)
        boxes = [ln.box for ln in self.lines]
        x, y = min(b.x for b in boxes), min(b.y for b in boxes)
        r = Rect(x, y, max(b.right for b in boxes) - x, max(b.bottom for b in boxes) - y)
        if not self.rotated:
            return r
        # rotate(-90) about (x0, y0) = the first line's start
        x0, y0 = self.lines[0].x, self.lines[0].y
        return Rect(x0 + (r.y - y0), y0 - (r.right - x0), r.h, r.w)


@dataclass(frozen=True)
class PlacedNode:
    id: str
    lane: Lane
    kind: str  # a NodeKind value, or "group" for the 受注処理 box
    rect: Rect
    lines: tuple[Line, ...]
    enabled: bool = True
    bottleneck: bool = False
    group: str = ""
    change: str = ""  # with --compare: "added", "changed", "removed"


@dataclass(frozen=True)
class PlacedEdge:
    source: str
    target: str
    points: tuple[tuple[float, float], ...]
    label: Label | None = None
    enabled: bool = True

    @property
    def segments(self) -> list[tuple[tuple[float, float], tuple[float, float]]]:
        return list(zip(self.points, self.points[1:], strict=False))


@dataclass(frozen=True)
class Band:
    lane: Lane
    rect: Rect
    label: Label


@dataclass(frozen=True)
class Page:
    number: int
    bands: tuple[Band, ...]
    nodes: tuple[PlacedNode, ...]
    edges: tuple[PlacedEdge, ...]
    texts: tuple[Label, ...]  # the title block, the corner, the legend


@dataclass(frozen=True)
class Layout:
    pages: tuple[Page, ...] = field(default_factory=tuple)


# ---- text -----------------------------------------------------------------------------

def _em(ch: str) -> float:
    return 1.0 if unicodedata.east_asian_width(ch) in "WFA" else 0.55


def text_width(text: str, size: float) -> float:
    return sum(_em(c) for c in text) * size


_CLOSE = set("、。，．）」』】〕・：；！？,.)]:;!?ー")  # not at the start of a line (禁則)


def clean(text: str) -> str:
    """Shop text on one line: controls and separators (newlines too) become spaces."""
    return "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text).strip()


def wrap(text: str, width: float, size: float) -> list[str]:
    """Greedy wrapping at any character (Japanese has no spaces), a Latin word kept whole
    where it fits, a closing mark never at a line's start. Spaces stay at line ends."""
    tokens: list[str] = []
    for ch in clean(text):
        if tokens and ch.isascii() and ch.isalnum() and tokens[-1][-1:].isascii() \
                and tokens[-1][-1:].isalnum():
            tokens[-1] += ch
        else:
            tokens.append(ch)
    lines: list[str] = []
    cur = ""

    def split_long(cur: str, tok: str) -> str:
        """A word wider than the line is cut where it must (measured, not guessed)."""
        while text_width(cur + tok, size) > width and len(tok) > 1:
            room = 1
            while room < len(tok) and text_width(cur + tok[:room + 1], size) <= width:
                room += 1
            if cur.strip() and text_width(cur + tok[:1], size) > width:
                lines.append(cur)  # not even one character fits after what is there
                cur = ""
                continue
            lines.append(cur + tok[:room])
            cur, tok = "", tok[room:]
        return cur + tok

    for tok in tokens:
        if text_width(cur + tok, size) <= width or not cur.strip():
            cur = split_long(cur, tok)
            continue
        if tok in _CLOSE and len(cur) > 1 and not cur[-1].isspace():
            lines.append(cur[:-1])
            cur = cur[-1] + tok
        else:
            lines.append(cur)
            cur = "" if tok.isspace() else split_long("", tok)
    if cur.strip() or not lines:
        lines.append(cur)
    return lines


# ---- words on a node --------------------------------------------------------------------

# The figures' words are the Mermaid output's own: one wording for every format.
counts_words = format_counts


def replay_words(r: ReplayFigures) -> str:
    """'再現 確認待ち 12件 → 3件・保留 2件 → 2件' (— where the rule does not do it)."""
    def pair(a: int | None, b: int | None) -> str:
        return f"{'—' if a is None else f'{a:,}件'} → {'—' if b is None else f'{b:,}件'}"
    parts = []
    if r.checks_before is not None or r.checks_after is not None:
        parts.append(f"確認待ち {pair(r.checks_before, r.checks_after)}")
    if r.holds_before is not None or r.holds_after is not None:
        parts.append(f"保留 {pair(r.holds_before, r.holds_after)}")
    return "再現 " + "・".join(parts) if parts else ""


def _node_texts(n: Node | Group, number: int | None = None
                ) -> list[tuple[str, float, bool | str]]:
    """(text, size, bold) paragraphs of a node, before wrapping; bold may be the text's
    bold start instead (a rule: its name, then its words on the same line)."""
    if isinstance(n, Node) and n.kind is NodeKind.rule:
        mark = CHANGE_MARKS.get(n.change, "")
        title = clean(mark + (f"{number}. {n.title}" if number is not None else n.title))
        out: list[tuple[str, float, bool | str]] = [
            (f"{title}　{n.detail}" if n.detail else title, NODE_TEXT, title)]
        if n.before:
            out.append((f"変更前：{n.before}", NODE_TEXT, False))
        if n.replay is not None and replay_words(n.replay):
            out.append((replay_words(n.replay), NODE_TEXT, True))
        if n.counts is not None and counts_words(n.counts):
            out.append((counts_words(n.counts), NODE_TEXT, True))
        if n.bottleneck:
            out.append((BOTTLENECK_MARK, NODE_TEXT, True))
        return out
    else:
        title = f"{n.step}. {n.title}" if n.step is not None else n.title
    out = [(title, NODE_TITLE, True)]
    off = isinstance(n, Node) and not n.enabled
    if isinstance(n, Group) and n.detail:  # the box's title and its sentence on one line
        out = [(f"{title}：{n.detail}", NODE_TITLE, True)]
    elif n.detail and not off:  # a step that is off says which setting, not what it would do
        out.append((n.detail, NODE_TEXT, False))
    if isinstance(n, Node) and not n.enabled:
        out.append((f"オフ（{n.disabled_because}）", NODE_TEXT, False))
    if n.counts is not None and counts_words(n.counts):
        out.append((counts_words(n.counts), NODE_TEXT, True))
    if isinstance(n, Node) and n.bottleneck:
        out.append((BOTTLENECK_MARK, NODE_TEXT, True))
    return out


def _bold_start(part: str, rest: str) -> tuple[int, str]:
    """How many characters at the start of `part` are still the bold `rest`."""
    k = 0
    while k < len(part) and rest:
        if part[k] == rest[0]:
            k, rest = k + 1, rest[1:]
        elif rest[0].isspace():
            rest = rest[1:]
        else:
            break
    return k, rest.lstrip() if k == len(part) else rest


def _lines(paragraphs: list[tuple[str, float, bool | str]], x: float, y: float,
           width: float) -> tuple[list[Line], float]:
    """Lines from the top-left corner (x, y) of a text block; and the block's height."""
    lines: list[Line] = []
    top = y
    for text, size, style in paragraphs:
        bold, rest = style is True, style if isinstance(style, str) else ""
        for part in wrap(text, width, size):
            k, rest = _bold_start(part, rest) if rest else (0, "")
            if len(lines) == MAX_LINES:
                last = lines[-1]
                lines[-1] = Line(last.x, last.y, last.size, last.text[:-1] + "…", last.bold,
                                 min(last.bold_chars, len(last.text) - 1))
                return lines, y - top
            y += size * LEADING
            lines.append(Line(x, y - size * (LEADING - 1) - size * 0.08, size, part, bold, k))
    return lines, y - top


def _block(n: Node | Group, x: float, y: float, w: float, number: int | None = None,
           min_h: float = 0.0) -> tuple[Rect, list[Line]]:
    lines, h = _lines(_node_texts(n, number), x + BOX_PAD, y + BOX_PAD, w - 2 * BOX_PAD)
    return Rect(x, y, w, max(h + 2 * BOX_PAD, min_h)), lines


def _label(text: str, x: float, y: float, width: float, *, up: bool = False,
           cls: str = "label") -> Label:
    """An arrow's label from (x, y) down (or, with up, ending at y)."""
    parts = wrap(text, width, LABEL_SIZE)
    step = LABEL_SIZE * LEADING
    if up:
        y -= step * len(parts)
    return Label(tuple(Line(x, y + step * (i + 1) - LABEL_SIZE * 0.33, LABEL_SIZE, p)
                       for i, p in enumerate(parts)), cls)


def _label_h(text: str, width: float) -> float:
    return len(wrap(text, width, LABEL_SIZE)) * LABEL_SIZE * LEADING


# ---- the page ---------------------------------------------------------------------------

X0 = MARGIN + HEADER_W + 6  # the left of the first column
X1 = PAGE_W - MARGIN
LANES_TOP = MARGIN + TITLE_H
LANES_BOTTOM = PAGE_H - MARGIN - LEGEND_H
GAPS = (34.0, 28.0, 36.0, 30.0, 26.0)  # between the six columns
NARROW = 68.0  # the columns after the box: short texts
BOX_W = (X1 - X0) - 2 * COL_W - 3 * NARROW - sum(GAPS)
BOX_COLS = 3
GRID_GAP = 4.0


def _columns() -> list[tuple[float, float]]:
    xs, x = [], X0
    widths = [COL_W, COL_W, BOX_W, NARROW, NARROW, NARROW]
    for i, w in enumerate(widths):
        xs.append((x, w))
        x += w + (GAPS[i] if i < len(GAPS) else 0)
    return xs


COLUMNS = _columns()
PLACES: dict[str, tuple[int, Lane]] = {
    "rms_new": (0, Lane.rms), "import": (0, Lane.unyo),
    "rms_auth": (1, Lane.rms), "thanks_mail": (1, Lane.buyer),
    "rms_changes": (2, Lane.rms),
    "ready": (3, Lane.unyo), "wms": (3, Lane.warehouse),
    "shipped": (4, Lane.unyo), "shipping_mail": (4, Lane.buyer),
    "shipping_report": (5, Lane.unyo), "rms_done": (5, Lane.rms),
}
"""The column and band of each step of the reference flow (the box is column 2)."""


def _band_label(lane: Lane, rect: Rect) -> Label:
    size = LANE_SIZE
    w = text_width(lane.value, size)
    x = rect.x + HEADER_W / 2 + size * 0.35  # the baseline, once turned
    y = rect.y + rect.h / 2 + min(w, rect.h - 4) / 2
    parts = wrap(lane.value, rect.h - 6, size)
    return Label(tuple(Line(x + i * size * LEADING, y, size, p, bold=True)
                       for i, p in enumerate(parts)), "lane-label", rotated=True)


def _bands(heights: dict[Lane, float]) -> list[Band]:
    bands, y = [], LANES_TOP
    for lane in LANE_ORDER:
        r = Rect(MARGIN, y, PAGE_W - 2 * MARGIN, heights[lane])
        bands.append(Band(lane, r, _band_label(lane, r)))
        y += heights[lane]
    return bands


@dataclass
class _Box:
    """The 受注処理 box's contents, cut into rows of `cols`."""

    title: Group
    items: list[tuple[Node, int | None]]  # the node, and its number in the file (rules)


def _grid(items: list[tuple[Node, int | None]], x: float, y: float, w: float, cols: int,
          limit: float) -> tuple[list[tuple[Node, Rect, list[Line]]], float, int]:
    """As many rows of `items` as fit under `limit`; the placed ones, the bottom, how many."""
    cw = (w - (cols - 1) * GRID_GAP) / cols
    placed: list[tuple[Node, Rect, list[Line]]] = []
    taken = 0
    while taken < len(items):
        row = items[taken:taken + cols]
        blocks = [_block(n, x + i * (cw + GRID_GAP), y, cw, num) for i, (n, num) in
                  enumerate(row)]
        h = max(r.h for r, _ in blocks)
        if y + h > limit and placed:
            break
        for (n, _), (r, lines) in zip(row, blocks, strict=True):
            placed.append((n, Rect(r.x, r.y, r.w, h), lines))
        taken += len(row)
        y += h + GRID_GAP
    return placed, y - GRID_GAP, taken


def _placed(n: Node, rect: Rect, lines: list[Line], group: str = "") -> PlacedNode:
    return PlacedNode(n.id, n.lane, n.kind.value, rect, tuple(lines), n.enabled,
                      n.bottleneck, group, n.change)


def _title_block(d: Diagram, title: str, page: int, pages: int, made: str) -> list[Label]:
    head = title + (f"（{page}/{pages}）" if pages > 1 else "")
    out = [Label((Line(MARGIN, MARGIN + TITLE_SIZE, TITLE_SIZE, clean(head), True),),
                 "title")]
    meta = [f"ショップ：{d.shop_name or d.shop_id}（{d.shop_id}）"]
    if d.compared_with:
        meta.append(f"変更前：{d.compared_with}")
    if d.since and d.until:
        from unyo.clock import JST

        meta.append(f"期間：{d.since.astimezone(JST):%Y-%m-%d %H:%M} → "
                    f"{d.until.astimezone(JST):%Y-%m-%d %H:%M}（JST）")
    if d.summary:
        meta.append(d.summary)
    if d.bottleneck is not None and d.bottleneck.counts is not None:
        meta.append(f"ボトルネック：{d.bottleneck.title}（手作業 {d.bottleneck.counts.touches}回）")
    corner = [f"ファイル：{d.source or '（既定の設定）'}"]
    if d.source_hash:
        corner.append(f"sha256 {d.source_hash[:16]}")
    if made:
        corner.append(f"作成 {made}")
    cw = max(text_width(clean(t), LABEL_SIZE) for t in corner) + 2
    cw = min(cw, 230.0)
    corner_lines = [p for t in corner for p in wrap(t, cw, LABEL_SIZE)][:3]
    cx = X1 - cw
    out.append(Label(tuple(Line(cx, MARGIN + LABEL_SIZE * LEADING * (i + 1) - 2, LABEL_SIZE, p)
                           for i, p in enumerate(corner_lines)), "corner"))
    meta_w = cx - 8 - MARGIN
    meta_lines = wrap(" ・ ".join(meta), meta_w, LABEL_SIZE)[:2]
    out.append(Label(tuple(Line(MARGIN, MARGIN + TITLE_SIZE + 3 + LABEL_SIZE * LEADING * (i + 1)
                                - 1, LABEL_SIZE, p) for i, p in enumerate(meta_lines)),
                     "meta"))
    return out


LEGEND = ("凡例：青 = 楽天・倉庫の出来事　白 = unyo の処理　黄 = ゲート（注文が待つところ）"
          "　緑 = ショップのルール（上から順に）　水色 = 注文の段階　紫 = 購入者へのメール"
          "　灰色の点線 = オフの手順　赤の太枠 = ボトルネック")


COMPARE_LEGEND = ("凡例：【追加】青の太線 = 追加したルール　"
                  "【変更】橙の太い一点鎖線 = 変更したルール（変更前の内容つき）　"
                  "【削除】赤の点線・灰色 = 削除したルール（もう動かない）"
                  "　緑 = ルール　黄 = ゲート　灰色の点線 = オフの手順")
"""The legend of a before / after drawing: the three marks first."""


def _legend(compared: bool = False) -> Label:
    parts = wrap(COMPARE_LEGEND if compared else LEGEND, X1 - MARGIN, MIN_FONT)[:1]
    return Label((Line(MARGIN, PAGE_H - MARGIN - 3, MIN_FONT, parts[0]),), "legend")


def layout(d: Diagram, *, title: str = "", made: str = "", one_page: bool = False) -> Layout:
    """The pages of the drawing. `made` is the date printed in the corner ("" = none).

    With `one_page` the 受注処理 box holds every rule on the first page however tall it
    gets (the bands below it move down): a plane, not paper, for the BPMN export."""
    title = title or f"{d.shop_name or d.shop_id} 運用フロー図"
    by_id = {n.id: n for n in d.nodes}
    group = next((g for g in d.groups if g.id == PROCESSING), None)
    assert group is not None, "the diagram has no 受注処理 box"
    rule_no = {n.id: i for i, n in enumerate(
        (r for r in d.rule_nodes if r.change != REMOVED), 1) if n.id != "rule_none"}
    box = _Box(group, [(n, rule_no.get(n.id)) for n in d.nodes if n.group == PROCESSING])

    # the steps outside the box, each at the top of its band, in its column
    blocks: dict[str, tuple[Rect, list[Line]]] = {}
    for node_id, (col, _lane) in PLACES.items():
        if node_id in by_id:
            x, w = COLUMNS[col]
            if node_id == "rms_changes":
                x, w = x + w - NARROW, NARROW
            blocks[node_id] = _block(by_id[node_id], x, 0.0, w,
                                     min_h=44.0 if node_id == "import" else 24.0)
    lane_nodes = {lane: [i for i in blocks if PLACES[i][1] is lane] for lane in LANE_ORDER}
    heights = {lane: 2 * PAD + max((blocks[i][0].h for i in lane_nodes[lane]), default=0.0)
               for lane in LANE_ORDER}
    heights[Lane.buyer] = max(heights[Lane.buyer], 2 * PAD + 24)
    heights[Lane.warehouse] = max(heights[Lane.warehouse], 2 * PAD + 24 + 18)

    rest = LANES_BOTTOM - LANES_TOP - sum(heights[lane] for lane in LANE_ORDER
                                          if lane is not Lane.unyo)
    bx, bw = COLUMNS[2]
    title_rect, title_lines = _block(group, bx, 0.0, bw)
    # first page: the box as tall as the unyo band can be
    top_u = LANES_TOP + heights[Lane.rms]
    extra = _confirm_room(d)  # the unyo band's steps sit lower when 注文確認 says more
    box_top = top_u + PAD + extra
    grid_top = box_top + title_rect.h
    cells, grid_bottom, taken = _grid(box.items, bx + BOX_PAD, grid_top, bw - 2 * BOX_PAD,
                                      BOX_COLS,
                                      float("inf") if one_page else top_u + rest - PAD - BOX_PAD)
    box_h = grid_bottom + BOX_PAD - box_top
    u_h = max(heights[Lane.unyo] + extra, box_h + 2 * PAD + extra)
    # room for the labels of the arrows that run down the unyo band (倉庫連携, 出荷実績)
    u_h = max(u_h, PAD + blocks["ready"][0].h + 8 + _label_h(_ready_wms_text(d), 60)
              + _label_h(_wms_shipped_text(d), 54) + 12 if "ready" in blocks else 0)
    heights[Lane.unyo] = u_h
    bands = _bands(heights)
    band = {b.lane: b.rect for b in bands}

    nodes: list[PlacedNode] = []
    for node_id, (r, lines) in blocks.items():
        dy = band[PLACES[node_id][1]].y + PAD + (extra if PLACES[node_id][1] is Lane.unyo
                                                 else 0.0)
        nodes.append(_placed(by_id[node_id], Rect(r.x, r.y + dy, r.w, r.h),
                             [replace(ln, y=ln.y + dy) for ln in lines]))
    box_rect = Rect(bx, box_top, bw, box_h)
    pages_total = 1 + _continuation_count(box.items[taken:], heights)
    nodes.append(PlacedNode(PROCESSING, Lane.unyo, "group", box_rect,
                            tuple(replace(ln, y=ln.y + box_top) for ln in title_lines)))
    nodes.extend(_placed(n, r, lines, PROCESSING) for n, r, lines in cells)
    placed = {n.id: n.rect for n in nodes}
    edges = [e for e in (_route(e, placed, band, d) for e in d.edges) if e is not None]
    pages = [Page(1, tuple(bands), tuple(nodes), tuple(edges),
                  (*_title_block(d, title, 1, pages_total, made), _legend(bool(d.compared_with))))]

    remaining = box.items[taken:]
    while remaining:
        page_no = len(pages) + 1
        thin = {lane: 30.0 for lane in LANE_ORDER}
        thin[Lane.unyo] = LANES_BOTTOM - LANES_TOP - 3 * 30.0
        bands = _bands(thin)
        u = next(b.rect for b in bands if b.lane is Lane.unyo)
        cont = Group(PROCESSING, Lane.unyo, f"{group.title}（続き）", step=group.step)
        t_rect, t_lines = _block(cont, X0, u.y + PAD, X1 - X0)
        cells, bottom, taken = _grid(remaining, X0 + BOX_PAD, u.y + PAD + t_rect.h,
                                     X1 - X0 - 2 * BOX_PAD, 4, u.bottom - PAD - BOX_PAD)
        box_rect = Rect(X0, u.y + PAD, X1 - X0, bottom + BOX_PAD - (u.y + PAD))
        nodes = [PlacedNode(PROCESSING, Lane.unyo, "group", box_rect, tuple(t_lines))]
        nodes.extend(_placed(n, r, lines, PROCESSING) for n, r, lines in cells)
        pages.append(Page(page_no, tuple(bands), tuple(nodes), (),
                          (*_title_block(d, title, page_no, pages_total, made),
                           _legend(bool(d.compared_with)))))
        remaining = remaining[taken:]
    return Layout(tuple(pages))


def _continuation_count(items: list[tuple[Node, int | None]], heights: dict[Lane, float]
                        ) -> int:
    pages = 0
    u_h = LANES_BOTTOM - LANES_TOP - 3 * 30.0
    while items:
        top = LANES_TOP + 30.0 + PAD + 20
        _, _, taken = _grid(items, X0 + BOX_PAD, top, X1 - X0 - 2 * BOX_PAD, 4,
                            LANES_TOP + 30.0 + u_h - PAD - BOX_PAD)
        items = items[taken:]
        pages += 1
    return pages


_CONFIRM_W = COLUMNS[2][0] - 4 - (COLUMNS[1][0] + COL_W / 2 - 7)
"""The width of 注文確認's words: from its line to the 受注処理 box."""


def _confirm_room(d: Diagram) -> float:
    """How much lower the unyo band's steps go so 注文確認's words fit above them."""
    text = next((_edge_text(e) for e in d.edges if (e.source, e.target)
                 == ("import", "rms_auth")), "")
    return max(0.0, _label_h(text, _CONFIRM_W) - 2 * PAD - 3) if text else 0.0


def _ready_wms_text(d: Diagram) -> str:
    return next((_edge_text(e) for e in d.edges if (e.source, e.target) == ("ready", "wms")),
                "")


def _wms_shipped_text(d: Diagram) -> str:
    return next((_edge_text(e) for e in d.edges
                 if (e.source, e.target) == ("wms", "shipped")), "")


def _edge_text(e: Edge) -> str:
    return f"{e.step}. {e.label}" if e.step is not None and e.label else e.label


def _route(e: Edge, at: dict[str, Rect], band: dict[Lane, Rect], d: Diagram
           ) -> PlacedEdge | None:
    """The line of each arrow of the reference flow, and where its words go."""
    if e.source not in at or e.target not in at:
        return None
    s, t = at[e.source], at[e.target]
    text = _edge_text(e)
    pts: list[tuple[float, float]]
    label: Label | None = None
    c1x = COLUMNS[1][0] + COL_W / 2
    ya, ym, yb = s.y + 8, s.y + 22, s.y + 36
    pair = (e.source, e.target)
    if pair in (("rms_new", "import"), ("rms_changes", PROCESSING), ("ready", "wms"),
                ("shipping_report", "rms_done")):
        x = s.cx
        down = t.y > s.y
        pts = [(x, s.bottom if down else s.y), (x, t.y if down else t.bottom)]
        top, bottom = (s.bottom, t.y) if down else (t.bottom, s.y)
        width = (COLUMNS[5][0] + NARROW - x - 3) if pair[0] == "shipping_report" else 62.0
        if pair == ("ready", "wms"):
            label = _label(text, x + 3, top + 3, width)
        else:
            h = _label_h(text, width)
            label = _label(text, x + 3, (top + bottom - h) / 2, width)
    elif pair == ("import", "rms_auth"):
        x = c1x - 10
        pts = [(s.right, ya), (x, ya), (x, t.bottom)]
        label = _label(text, x + 3, t.bottom + 2, _CONFIRM_W)
    elif pair == ("import", "thanks_mail"):
        x = c1x + 10
        pts = [(s.right, yb), (x, yb), (x, t.y)]
        wb = band[Lane.warehouse]
        label = _label(text, x + 3, wb.y + 4, 60)
    elif pair == ("import", PROCESSING):
        pts = [(s.right, ym), (t.x, ym)]
        label = _label(text, s.right + 3, ym - 1, c1x - 10 - s.right - 8, up=True)
    elif pair == ("rms_auth", PROCESSING):
        x = t.x + 20
        y = s.y + 12
        pts = [(s.right, y), (x, y), (x, t.y)]
        limit = at["rms_changes"].x - 4 if "rms_changes" in at else t.right
        width = limit - (x + 3)
        h = _label_h(text, width)
        label = _label(text, x + 3, max(y + 3, (s.bottom + t.y - h) / 2), width)
    elif pair in ((PROCESSING, "ready"), ("shipped", "shipping_report")):
        y = max(s.y, t.y) + 12
        pts = [(s.right, y), (t.x, y)]
        label = _label(text, s.right + 3, y + 2, t.x - s.right - 6)
    elif pair == ("wms", "shipped"):
        x = t.cx - 10
        y = s.y + 12
        pts = [(s.right, y), (x, y), (x, t.bottom)]
        width = x - 3 - (s.right + 3)
        ub = band[Lane.unyo]
        label = _label(text, s.right + 3, ub.bottom - 4, width, up=True)
    elif pair == ("shipped", "shipping_mail"):
        x = s.cx + 10
        pts = [(x, s.bottom), (x, t.y)]
        wb = band[Lane.warehouse]
        label = _label(text, x + 3, wb.y + 4, COLUMNS[5][0] - x - 6)
    else:  # an arrow this layout does not know: straight, centre to centre
        pts = [(s.cx, s.bottom), (t.cx, t.y)]
    if not text:
        label = None
    return PlacedEdge(e.source, e.target, tuple(pts), label, e.enabled)
