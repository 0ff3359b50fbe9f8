"""The flow as BPMN 2.0 XML (`unyo flow draw --format bpmn`), for the consultant's own tools.

One collaboration with one participant (the shop's order operations) whose process has a
laneSet of the four lanes, top to bottom 楽天RMS, unyo（受注処理）, 倉庫, 購入者; each step
a flow node in its party's lane: 注文 the start event, 発送済（RMS 500） the end event,
unyo's steps service tasks, the mails send tasks, the other parties' steps tasks, and
受注処理 an expanded sub-process holding 入金待ち (a receive task: RMS 300), the shop's
rules as business rule tasks in file order, chained by sequence flows in the order they
are evaluated, and その他の確認待ち・手動保留 (a user task). The arrows are sequence
flows named by their trigger; a step or arrow that is off says so in its documentation.

The diagram interchange (BPMN DI) is the swimlane layout itself (`layout(...,
one_page=True)`: every rule in the box, the bands below it moved down), shifted right
by the participant's 30-unit name column: a BPMNShape per lane, node and the
participant, with the layout's bounds, and a BPMNEdge per flow with the layout's
waypoints — so bpmn.io or Camunda Modeler open the same picture as the PDF.

Written by hand like svg.py: fixed ids from the diagram's own (never shop text), every
name and text escaped (`xml_text`), numbers with two decimals, no clock: the same file
gives the same bytes. Validated against the OMG BPMN 2.0 XSD by the tests.
"""

from __future__ import annotations

from itertools import pairwise

from unyo.diagram.layout import (
    LANE_ORDER,
    Layout,
    PlacedEdge,
    PlacedNode,
    Rect,
    counts_words,
    layout,
)
from unyo.diagram.model import PROCESSING, Diagram, Lane, Node, NodeKind
from unyo.diagram.svg import _n, xml_text

__all__ = ["to_bpmn"]

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
NAME_COLUMN = 30.0  # the participant's name, left of its lanes (bpmn.io draws it there)
EVENT = 36.0  # a start or end event's circle
LANE_IDS = {Lane.rms: "Lane_rms", Lane.unyo: "Lane_unyo", Lane.warehouse: "Lane_warehouse",
            Lane.buyer: "Lane_buyer"}


def _element(n: Node) -> str:
    if n.id == "rms_new":
        return "startEvent"
    if n.id == "rms_done":
        return "endEvent"
    if n.kind is NodeKind.rule:
        return "businessRuleTask"
    if n.id == "payment":
        return "receiveTask"
    if n.kind is NodeKind.gate:
        return "userTask"
    if n.kind is NodeKind.mail:
        return "sendTask"
    if n.kind is NodeKind.step:
        return "serviceTask"
    return "task"


def _id(node_id: str) -> str:
    return f"Node_{node_id}"


def _docs(text: str) -> str:
    return f"<bpmn:documentation>{xml_text(text)}</bpmn:documentation>" if text else ""


def _node_doc(n: Node) -> str:
    parts = [n.detail] if n.detail else []
    if not n.enabled:
        parts.append(f"オフ（{n.disabled_because}）")
    if n.step is not None and n.kind is not NodeKind.rule:
        parts.append(f"標準の楽天フローの手順 {n.step}")
    if n.counts is not None and counts_words(n.counts):
        parts.append(counts_words(n.counts))
    return "\n".join(parts)


def _name(n: Node, number: int | None) -> str:
    title = f"{number}. {n.title}" if number is not None else n.title
    return title if n.kind is NodeKind.rule or n.step is None else f"{n.step}. {n.title}"


def _bounds(r: Rect) -> str:
    return (f'<dc:Bounds x="{_n(r.x + NAME_COLUMN)}" y="{_n(r.y)}" width="{_n(r.w)}" '
            f'height="{_n(r.h)}"/>')


def _shape_rect(n: PlacedNode) -> Rect:
    if n.id in ("rms_new", "rms_done"):  # a circle in the middle of the step's box
        r = n.rect
        return Rect(r.cx - EVENT / 2, r.y + r.h / 2 - EVENT / 2, EVENT, EVENT)
    return n.rect


def _onto(point: tuple[float, float], toward: tuple[float, float], shape: Rect
          ) -> tuple[float, float]:
    """An end of an arrow moved onto the circle of an event (the layout ends it at the
    step's box): along its own straight segment, so it stays vertical or horizontal."""
    x, y = point
    cy = shape.y + shape.h / 2
    if x == toward[0]:  # vertical
        return (x, shape.y if toward[1] < y else shape.bottom) if not (
            shape.y <= y <= shape.bottom) else point
    return (shape.x if toward[0] < x else shape.right, cy)


def _waypoints(e: PlacedEdge, shapes: dict[str, Rect]) -> list[tuple[float, float]]:
    pts = list(e.points)
    if e.source in ("rms_new", "rms_done") and len(pts) > 1:
        r = shapes[e.source]
        pts[0] = (pts[0][0], r.bottom if pts[1][1] > r.bottom else r.y) \
            if pts[0][0] == pts[1][0] else _onto(pts[0], pts[1], r)
    if e.target in ("rms_new", "rms_done") and len(pts) > 1:
        r = shapes[e.target]
        pts[-1] = (pts[-1][0], r.y if pts[-2][1] < r.y else r.bottom) \
            if pts[-1][0] == pts[-2][0] else _onto(pts[-1], pts[-2], r)
    return pts


def _chain(cells: list[PlacedNode]) -> list[tuple[str, str, list[tuple[float, float]]]]:
    """The box's nodes one after the other, in evaluation order: along a row from the
    right side to the next one's left side; at a row's end down through the gap under
    the row, back to the next row's first column, and down into it."""
    out = []
    for a, b in pairwise(cells):
        ra, rb = a.rect, b.rect
        if abs(ra.y - rb.y) < 0.01:
            y = ra.y + min(ra.h, rb.h) / 2
            pts = [(ra.right, y), (rb.x, y)]
        else:
            gap = (ra.bottom + rb.y) / 2
            pts = [(ra.cx, ra.bottom), (ra.cx, gap), (rb.cx, gap), (rb.cx, rb.y)]
            if ra.cx == rb.cx:
                pts = [(ra.cx, ra.bottom), (rb.cx, rb.y)]
        out.append((a.id, b.id, pts))
    return out


def _di_edge(flow_id: str, pts: list[tuple[float, float]]) -> str:
    way = "".join(f'<di:waypoint x="{_n(x + NAME_COLUMN)}" y="{_n(y)}"/>' for x, y in pts)
    return f'<bpmndi:BPMNEdge id="{flow_id}_di" bpmnElement="{flow_id}">{way}</bpmndi:BPMNEdge>'


def to_bpmn(diagram: Diagram, *, title: str = "") -> str:
    """The BPMN 2.0 XML document (UTF-8 text) of the diagram, with its DI."""
    lay: Layout = layout(diagram, title=title, one_page=True)
    page = lay.pages[0]
    by_id = {n.id: n for n in diagram.nodes}
    group = next(g for g in diagram.groups if g.id == PROCESSING)
    placed = {n.id: n for n in page.nodes}
    rule_no = {n.id: i for i, n in enumerate(
        (r for r in diagram.rule_nodes if r.change != "removed"), 1) if n.id != "rule_none"}
    inside = [placed[n.id] for n in diagram.nodes if n.group == PROCESSING and n.id in placed]
    outside = [n for n in diagram.nodes if n.group != PROCESSING and n.id in placed]
    shapes = {n.id: _shape_rect(n) for n in page.nodes}

    def flow_node(n: Node, incoming: list[str], outgoing: list[str]) -> str:
        tag = _element(n)
        refs = "".join(f"<bpmn:incoming>{f}</bpmn:incoming>" for f in incoming) + "".join(
            f"<bpmn:outgoing>{f}</bpmn:outgoing>" for f in outgoing)
        return (f'<bpmn:{tag} id="{_id(n.id)}" name="{xml_text(_name(n, rule_no.get(n.id)))}">'
                f"{_docs(_node_doc(n))}{refs}</bpmn:{tag}>")

    # the sequence flows: the layout's arrows, then the chain inside the box
    flows: list[tuple[str, str, str, str, bool, list[tuple[float, float]]]] = []
    for i, e in enumerate(page.edges, 1):
        edge = next((x for x in diagram.edges if (x.source, x.target) == (e.source, e.target)),
                    None)
        label = edge.label if edge is not None else ""
        if edge is not None and edge.step is not None and label:
            label = f"{edge.step}. {label}"
        flows.append((f"Flow_{i}", e.source, e.target, label, e.enabled, _waypoints(e, shapes)))
    inner: list[tuple[str, str, str, str, bool, list[tuple[float, float]]]] = [
        (f"Flow_in_{k}", a, b, "", True, pts) for k, (a, b, pts) in enumerate(_chain(inside), 1)]

    def refs(node_id: str, fl: list[tuple[str, str, str, str, bool, list[tuple[float, float]]]]
             ) -> tuple[list[str], list[str]]:
        return ([f[0] for f in fl if f[2] == node_id], [f[0] for f in fl if f[1] == node_id])

    def seq(f: tuple[str, str, str, str, bool, list[tuple[float, float]]]) -> str:
        fid, s, t, label, enabled, _ = f
        name = f' name="{xml_text(label)}"' if label else ""
        doc = _docs("" if enabled else "オフ")
        return (f'<bpmn:sequenceFlow id="{fid}"{name} sourceRef="{_id(s)}" targetRef="{_id(t)}">'
                f"{doc}</bpmn:sequenceFlow>")

    children = "".join(flow_node(by_id[c.id], *refs(c.id, inner)) for c in inside)
    children += "".join(seq(f) for f in inner)
    g_in, g_out = refs(PROCESSING, flows)
    box_name = xml_text(f"{group.step}. {group.title}")
    sub = (f'<bpmn:subProcess id="{_id(PROCESSING)}" name="{box_name}">'
           f"{_docs(group.detail)}"
           + "".join(f"<bpmn:incoming>{f}</bpmn:incoming>" for f in g_in)
           + "".join(f"<bpmn:outgoing>{f}</bpmn:outgoing>" for f in g_out)
           + f"{children}</bpmn:subProcess>")
    lanes = []
    for lane in LANE_ORDER:
        members = [n.id for n in outside if n.lane is lane]
        if lane is Lane.unyo:
            members.append(PROCESSING)
        lanes.append(f'<bpmn:lane id="{LANE_IDS[lane]}" name="{xml_text(lane.value)}">'
                     + "".join(f"<bpmn:flowNodeRef>{_id(m)}</bpmn:flowNodeRef>"
                               for m in members) + "</bpmn:lane>")
    process = ('<bpmn:process id="Process_orders" isExecutable="false">'
               f'<bpmn:laneSet id="LaneSet_parties">{"".join(lanes)}</bpmn:laneSet>'
               + "".join(flow_node(n, *refs(n.id, flows)) for n in outside)
               + sub + "".join(seq(f) for f in flows) + "</bpmn:process>")
    shop = diagram.shop_name or diagram.shop_id
    collaboration = ('<bpmn:collaboration id="Collaboration_shop">'
                     f'<bpmn:participant id="Participant_shop" name="{xml_text(shop)} 受注業務" '
                     'processRef="Process_orders"/></bpmn:collaboration>')

    bands = page.bands
    top, bottom = bands[0].rect.y, bands[-1].rect.bottom
    left, width = bands[0].rect.x, bands[0].rect.w
    di = [f'<bpmndi:BPMNShape id="Participant_shop_di" bpmnElement="Participant_shop" '
          f'isHorizontal="true"><dc:Bounds x="{_n(left)}" y="{_n(top)}" '
          f'width="{_n(width + NAME_COLUMN)}" height="{_n(bottom - top)}"/></bpmndi:BPMNShape>']
    for b in bands:
        di.append(f'<bpmndi:BPMNShape id="{LANE_IDS[b.lane]}_di" bpmnElement="{LANE_IDS[b.lane]}"'
                  f' isHorizontal="true">{_bounds(b.rect)}</bpmndi:BPMNShape>')
    for n in page.nodes:
        expanded = ' isExpanded="true"' if n.id == PROCESSING else ""
        di.append(f'<bpmndi:BPMNShape id="{_id(n.id)}_di" bpmnElement="{_id(n.id)}"{expanded}>'
                  f"{_bounds(shapes[n.id])}</bpmndi:BPMNShape>")
    di.extend(_di_edge(f[0], f[5]) for f in (*flows, *inner))
    plane = ('<bpmndi:BPMNDiagram id="Diagram_flow" name="運用フロー図">'
             '<bpmndi:BPMNPlane id="Plane_flow" bpmnElement="Collaboration_shop">'
             + "".join(di) + "</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>")
    xmlns = " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items())
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<bpmn:definitions {xmlns} id="Definitions_unyo" '
            'targetNamespace="urn:unyo:flow" exporter="unyo flow draw" '
            'exporterVersion="1">'
            + collaboration + process + plane + "</bpmn:definitions>\n")
