"""The flow diagram as data: lanes, nodes and edges built from a shop's `Config`.

`build_diagram` draws the reference flow of DESIGN.md §2 (the fourteen steps, in
the four lanes of the parties) with the shop's settings on it — poll cadence, the
30-minute self-cancel wait, which steps are off — and every shop rule as its own
node, its condition and actions in words. Given `DiagramCounts` (the figures of
`unyo report`, see `counts.py`) each node also carries what waits there now, what
passed in the period, the manual touches and the p50 dwell, and the node with the
most manual work is marked as the bottleneck.

Pure: no I/O, no clock, no rendering. Renderers (`mermaid.py`, `html.py`) and the
dashboard read the `Diagram`; they never look at the `Config` again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from unyo.diagram.words import rule_words
from unyo.domain.decide import REASON_PAYMENT
from unyo.domain.rules import CompiledRule
from unyo.domain.vocabulary import GateKind, Stage
from unyo.flow.config import Config

if TYPE_CHECKING:
    from unyo.app.report import Report

__all__ = ["PROCESSING", "Diagram", "DiagramCounts", "Edge", "Group", "Lane", "Node",
           "NodeCounts", "NodeKind", "ReplayFigures", "build_diagram", "duration_words",
           "rule_detail"]


class Lane(StrEnum):
    """The parties of the reference flow (DESIGN.md §2), in drawing order."""

    buyer = "購入者"
    rms = "楽天RMS"
    unyo = "unyo（受注処理）"
    warehouse = "倉庫"


class NodeKind(StrEnum):
    """What a node stands for; the renderers choose its shape and colour by it."""

    event = "event"  # something a party does (注文, 与信, 出荷)
    step = "step"  # a step unyo runs (取込, 注文確認, 倉庫連携...)
    gate = "gate"  # a gate orders wait at (入金待ち, その他の確認)
    rule = "rule"  # one of the shop's rules
    stage = "stage"  # a stage orders rest in (受注処理, 出荷OK, 出荷済)
    mail = "mail"  # a mail to the buyer


@dataclass(frozen=True)
class NodeCounts:
    """One node's figures for the period; None where the figure does not apply."""

    waiting: int | None = None  # orders waiting here now
    passed: int | None = None  # orders that passed here in the period
    touches: int | None = None  # manual touches (gates closed by people, edits...)
    p50_minutes: float | None = None  # median time spent here


@dataclass(frozen=True)
class ReplayFigures:
    """A rule's figures in the replay of `unyo simulate` (before / after a change): the
    orders it sends to 確認待ち and those it holds; None where the rule is not in that
    flow, or has no such action there."""

    checks_before: int | None = None
    checks_after: int | None = None
    holds_before: int | None = None
    holds_after: int | None = None


@dataclass(frozen=True)
class Node:
    id: str  # generated, never shop text: safe as a Mermaid id
    lane: Lane
    kind: NodeKind
    title: str
    detail: str = ""  # a sentence under the title (plain text)
    step: int | None = None  # the row of the reference flow, DESIGN.md §2
    enabled: bool = True
    disabled_because: str = ""  # the setting that turns it off
    group: str = ""  # a Group's id: drawn inside that box
    counts: NodeCounts | None = None
    bottleneck: bool = False
    change: str = ""  # with --compare: "added", "changed" or "removed" (a rule)
    before: str = ""  # a changed rule: its words before the change
    replay: ReplayFigures | None = None  # with --compare --counts: the replay's figures


@dataclass(frozen=True)
class Edge:
    source: str  # a node id, or a group id ("processing")
    target: str
    label: str = ""  # the trigger: cadence, wait, RMS status
    enabled: bool = True
    step: int | None = None  # the row of the reference flow this edge is (3. 注文確認)


@dataclass(frozen=True)
class Group:
    """A box of nodes: the 受注処理 stage holds every gate, the shop's rules among them.

    Edges reach the box, never a node inside it, so the box keeps its own top-to-bottom
    order (the order rules are evaluated in)."""

    id: str
    lane: Lane
    title: str
    detail: str = ""
    step: int | None = None
    counts: NodeCounts | None = None


@dataclass(frozen=True)
class DiagramCounts:
    """The figures drawn on the nodes: `unyo report`'s own `Report` and the stage counts.

    Kept as the report itself, not a copy of its numbers, so the diagram cannot say
    anything the report does not.
    """

    report: Report
    stages_now: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Diagram:
    shop_id: str
    shop_name: str
    source: str  # the flow file it was drawn from ("" = the defaults)
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    groups: tuple[Group, ...] = ()
    since: datetime | None = None  # the period of the counts, if any
    until: datetime | None = None
    summary: str = ""  # automation rate and basis, when counted
    source_hash: str = ""  # the flow file's sha256 (hex), when drawn from a file
    compared_with: str = ""  # with --compare: the file of the flow before ("" = not compared)

    @property
    def lanes(self) -> tuple[Lane, ...]:
        return tuple(lane for lane in Lane if any(n.lane is lane for n in self.nodes))

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    @property
    def rule_nodes(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.kind is NodeKind.rule)

    @property
    def bottleneck(self) -> Node | None:
        return next((n for n in self.nodes if n.bottleneck), None)


def duration_words(seconds: float) -> str:
    """60 → '1分', 1800 → '30分', 90 → '1分30秒', 3600 → '1時間'."""
    s = round(seconds)
    if s <= 0:
        return "すぐ"
    if s % 86400 == 0:
        return f"{s // 86400}日"
    if s % 3600 == 0:
        return f"{s // 3600}時間"
    if s >= 3600:
        return f"{s // 3600}時間{(s % 3600) // 60}分"
    if s % 60 == 0:
        return f"{s // 60}分"
    return f"{s // 60}分{s % 60}秒" if s > 60 else f"{s}秒"


def _every(seconds: float) -> str:
    return f"{duration_words(seconds)}ごと"


# ---- the reference flow ---------------------------------------------------------------

PROCESSING = "processing"
"""The group of the 受注処理 stage: every gate an order can wait at, rules included."""


def _reference(cfg: Config) -> tuple[list[Node], list[Edge]]:
    imp, mail, wh = cfg.import_, cfg.mail, cfg.warehouse
    mail_off = "" if mail.enabled else "mail.enabled: false"
    wh_off = "" if wh.enabled else "warehouse.enabled: false"
    thanks_off = ("import.thanks_mail: false" if not imp.thanks_mail else mail_off
                  or ("mail.thanks.enabled: false" if not mail.thanks.enabled else ""))
    shipping_off = wh_off or mail_off or ("mail.shipping.enabled: false"
                                          if not mail.shipping.enabled else "")
    confirm_off = "" if imp.confirm else "import.confirm: false"
    self_cancel = duration_words(imp.self_cancel_wait)
    sync = _every(cfg.sync.interval)
    B, R, U, W = Lane.buyer, Lane.rms, Lane.unyo, Lane.warehouse
    K = NodeKind

    def node(id_: str, lane: Lane, kind: NodeKind, title: str, detail: str = "",
             step: int | None = None, off: str = "", group: str = "") -> Node:
        return Node(id_, lane, kind, title, detail, step, enabled=not off,
                    disabled_because=off, group=group)

    nodes = [
        node("rms_new", R, K.event, "注文（RMS 100）",
             f"会員は{self_cancel}以内なら自分でキャンセルできる", 1),
        node("import", U, K.step, "受注取込",
             f"searchOrder → getOrder。会員の通常注文は{self_cancel}後、あす楽・予約・定期・"
             "頒布会・非会員はすぐ、選択制決済（代引きなど）は RMS 300 から", 2),
        node("thanks_mail", B, K.mail, "サンクスメール", "取込時", 4, thanks_off),
        node("rms_auth", R, K.event, "楽天処理中（RMS 200）",
             "楽天が決済の承認・不正チェック → 300 発送待ち", 6),
        node("payment", U, K.gate, "入金待ち", "RMS 300 まで出荷できない", 5,
             group=PROCESSING),
        node("other_checks", U, K.gate, "その他の確認待ち・手動保留",
             "注文の変更・キャンセル、倉庫の出荷不可、連携の失敗", 14, group=PROCESSING),
        node("rms_changes", R, K.event, "変更・キャンセル", "RMS 400 / 800 / 900", 14),
        node("ready", U, K.stage, "出荷OK / 印刷待ち", "ゲートなし", 8),
        node("wms", W, K.event, "ピッキング・梱包・出荷", "倉庫（WMS）", 10, wh_off),
        node("shipped", U, K.stage, "出荷済", "出荷実績：配送会社・追跡番号・出荷日", 11, wh_off),
        node("shipping_mail", B, K.mail, "発送連絡メール", "追跡番号のリンク", 12,
             shipping_off),
        node("shipping_report", U, K.step, "発送完了報告",
             "updateOrderShipping：配送会社・追跡番号・出荷日", 13, wh_off),
        node("rms_done", R, K.event, "発送済（RMS 500）", "翌日に 500、楽天から店舗へ入金", 13,
             wh_off),
    ]
    edges = [
        Edge("rms_new", "import", f"{_every(imp.interval)}・{self_cancel}待ち", step=2),
        Edge("import", "rms_auth", "注文確認 100 → 200" + (f"（オフ：{confirm_off}）"
                                                          if confirm_off else ""),
             enabled=not confirm_off, step=3),
        Edge("import", "thanks_mail", "取込時", enabled=not thanks_off),
        Edge("import", PROCESSING, "取込時"),
        Edge("rms_auth", PROCESSING, f"RMS 300・{sync}", step=7),
        Edge("rms_changes", PROCESSING, f"{sync}", step=14),
        Edge(PROCESSING, "ready", "ゲートがすべて閉じたら"),
        Edge("ready", "wms", f"倉庫連携 {_every(wh.interval)}", enabled=not wh_off, step=9),
        Edge("wms", "shipped", f"出荷便ごとの実績（{_every(wh.results_interval)}に読む）",
             enabled=not wh_off, step=11),
        Edge("shipped", "shipping_mail", "出荷時", enabled=not shipping_off),
        Edge("shipped", "shipping_report", _every(cfg.outbox.interval), enabled=not wh_off),
        Edge("shipping_report", "rms_done", "翌日", enabled=not wh_off),
    ]
    return nodes, edges


def _rule_nodes(cfg: Config) -> list[Node]:
    if not cfg.rules:
        return [Node("rule_none", Lane.unyo, NodeKind.rule, "ルールなし",
                     "flow file の rules: に書いたルールがここに並ぶ", 8, group=PROCESSING)]
    return [Node(f"rule{n}", Lane.unyo, NodeKind.rule, rule.name, rule_detail(rule), 8,
                 group=PROCESSING) for n, rule in enumerate(cfg.rules, 1)]


def rule_detail(rule: CompiledRule) -> str:
    """A rule in words: its condition → its actions, and its description."""
    words = rule_words(rule.source.get("when"), rule.then)
    return f"{words}（{rule.description}）" if rule.description else words


# ---- counts ---------------------------------------------------------------------------

def _rule_gate_reasons(cfg: Config) -> dict[str, set[tuple[str, str]]]:
    """Per rule, the (gate kind, reason) its gates carry: decide() gives a check its
    message and a hold its reason, or the rule's name when the hold has none."""
    out: dict[str, set[tuple[str, str]]] = {}
    for rule in cfg.rules:
        reasons = out.setdefault(rule.name, set())
        for a in rule.then:
            if str(a.kind) == "check":
                reasons.add((GateKind.check.value, a.message))
            elif str(a.kind) == "hold":
                reasons.add((GateKind.hold.value, a.message or rule.name))
    return out


def _with_counts(cfg: Config, nodes: list[Node], counts: DiagramCounts
                 ) -> tuple[list[Node], NodeCounts]:
    rep = counts.report
    touches = {t.reason: t.count for t in rep.manual_touches}
    stage = {d.name: d for d in rep.stage_dwell}
    gate = {d.name: d for d in rep.gate_dwell}
    rule_dwell = {d.name: d for d in rep.rule_dwell}
    waiting = {(kind, reason): n for kind, reasons in rep.waiting_now.items()
               for reason, n in reasons.items()}
    claimed_waiting: set[tuple[str, str]] = set()
    claimed_touches: set[str] = set()
    figures: dict[str, NodeCounts] = {}

    pay = gate.get(GateKind.payment.value)
    pay_waiting = {k for k in waiting if k[0] == GateKind.payment.value}
    claimed_waiting |= pay_waiting
    pay_touches = [r for r in touches if r == REASON_PAYMENT]
    claimed_touches.update(pay_touches)
    figures["payment"] = NodeCounts(
        waiting=sum(waiting[k] for k in pay_waiting),
        passed=pay.count if pay else 0,
        touches=sum(touches[r] for r in pay_touches),
        p50_minutes=pay.p50_minutes if pay else None)

    rule_ids = {rule.name: f"rule{n}" for n, rule in enumerate(cfg.rules, 1)}
    for name, reasons in _rule_gate_reasons(cfg).items():
        mine = {k for k in waiting if k in reasons}
        claimed_waiting |= mine
        claimed_touches.add(name)
        d = rule_dwell.get(name)
        figures[rule_ids[name]] = NodeCounts(
            waiting=sum(waiting[k] for k in mine),
            passed=rep.rule_orders.get(name, 0),
            touches=touches.get(name, 0),
            p50_minutes=d.p50_minutes if d else None)
    figures["other_checks"] = NodeCounts(
        waiting=sum(n for k, n in waiting.items() if k not in claimed_waiting),
        touches=sum(n for r, n in touches.items() if r not in claimed_touches))

    def stage_counts(name: Stage) -> NodeCounts:
        d = stage.get(name.value)
        return NodeCounts(waiting=counts.stages_now.get(name.value, 0),
                          passed=d.count if d else None,
                          p50_minutes=d.p50_minutes if d else None)

    figures["ready"] = stage_counts(Stage.ready)
    figures["wms"] = stage_counts(Stage.at_warehouse)
    figures["shipped"] = NodeCounts(passed=rep.orders if rep.basis == "shipped" else 0)

    worst = max((f.touches or 0 for f in figures.values()), default=0)
    bottleneck = next((n.id for n in nodes if n.id in figures
                       and (figures[n.id].touches or 0) == worst), None) if worst else None
    return ([replace(n, counts=figures.get(n.id), bottleneck=n.id == bottleneck)
             for n in nodes], stage_counts(Stage.processing))


def build_diagram(config: Config, counts: DiagramCounts | None = None, *,
                  source_hash: str = "") -> Diagram:
    """The shop's flow diagram: the reference flow, its rules and (optionally) figures.

    `source_hash` is the sha256 of the file's bytes (the caller read them), printed in
    the drawing's corner so a signed-off copy names the exact version it shows."""
    nodes, edges = _reference(config)
    at = next(i for i, n in enumerate(nodes) if n.id == "payment") + 1
    nodes[at:at] = _rule_nodes(config)  # payment, the rules in file order, other checks
    processing = Group(PROCESSING, Lane.unyo, "受注処理（ルールは上から順に）",
                       "開いたゲートがすべて閉じるまで待つ", 8)
    summary = ""
    since = until = None
    if counts is not None:
        nodes, processing_counts = _with_counts(config, nodes, counts)
        processing = replace(processing, counts=processing_counts)
        rep = counts.report
        since, until = rep.since, rep.until
        basis = "出荷済" if rep.basis == "shipped" else "出荷OK（まだ出荷済の注文がない）"
        rate = "—" if rep.automation_rate is None else f"{rep.automation_rate:.1%}"
        summary = (f"自動化率 {rate}：{basis}に達した {rep.orders}件のうち手作業なし "
                   f"{rep.automated}件")
    return Diagram(shop_id=config.shop_id, shop_name=config.shop_name,
                   source=config.path or "", nodes=tuple(nodes), edges=tuple(edges),
                   groups=(processing,), since=since, until=until, summary=summary,
                   source_hash=source_hash)
