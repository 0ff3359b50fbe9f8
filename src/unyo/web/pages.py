"""The pages that show: home, queue, order, report, flow, mails."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from unyo.adapters.db import dashboard as q
from unyo.app.dashboard import day_start
from unyo.app.report import build_report
from unyo.app.views import explain_view, order_view
from unyo.domain import GateKind, Stage
from unyo.domain.search import query_words
from unyo.web.app import Refused, lang_of, render, web_of
from unyo.web.charts import trend_svg
from unyo.web.i18n import translator
from unyo.wording import payment_method_codes

router = APIRouter()

TABS: dict[str, tuple[Stage | None, GateKind | None]] = {
    "payment": (None, GateKind.payment),  # 入金待ち
    "check": (None, GateKind.check),  # 確認待ち
    "hold": (None, GateKind.hold),  # 保留
    "confirm": (None, GateKind.confirm),  # 注文確認保留
    "ready": (Stage.ready, None),  # 出荷OK
    "at_warehouse": (Stage.at_warehouse, None),  # 倉庫連携済
    "shipped": (Stage.shipped, None),  # 出荷済
    "cancelled": (Stage.cancelled, None),  # キャンセル
    "all": (None, None),
}
"""The queue's tabs, as shop staff know them, and what each lists."""
RELEASABLE = {"payment", "check", "hold", "confirm"}
PROBLEMS = frozenset({"select_orders", "note_required", "err_too_long"})


# ---- home -------------------------------------------------------------------------------

def _counts(request: Request) -> dict[str, Any]:
    web = web_of(request)
    stages = web.dashboard.stage_counts()
    with web.store.transaction() as conn:
        gates = q.gate_counts(conn, web.shop)
    tabs = {name: (stages.get(stage.value, 0) if stage else gates.get(gate.value, 0)
                   if gate else sum(stages.values()))
            for name, (stage, gate) in TABS.items()}
    return {"stages": stages, "gates": gates, "tabs": tabs}


@router.get("/")
def home(request: Request) -> Response:
    web = web_of(request)
    auto = web.dashboard.automation()
    with web.store.transaction() as conn:
        reasons = q.open_gate_reasons(conn, web.shop, limit=10)
    t = translator(lang_of(request))
    return render(request, "home.j2", auto=auto, rates=[
        ("today", auto.over(1)), ("last_7", auto.over(7)), ("last_30", auto.over(30))],
        chart=trend_svg(auto.days, t("trend")), reasons=reasons,
        alerts=web.dashboard.alerts(), counts=_counts(request), stage_names=list(Stage))


@router.get("/home/counts")
def home_counts(request: Request) -> Response:
    return render(request, "_stage_counts.j2", counts=_counts(request), stage_names=list(Stage))


# ---- queue ------------------------------------------------------------------------------

@dataclass
class QueueQuery:
    tab: str
    text: str
    day: str
    after: str
    filter: q.QueueFilter
    cursor: q.Cursor | None
    error: str = ""
    error_params: dict[str, str] | None = None
    pay: str = ""  # the payment filter as given (a settlementMethodCode)
    tag: str = ""

    def params(self, **changes: str) -> str:
        """The queue's query string (tab, search, day, payment, tag), with `changes`."""
        from urllib.parse import urlencode

        params = {"tab": self.tab, "q": self.text, "date": self.day, "pay": self.pay,
                  "tag": self.tag} | changes
        return urlencode({k: v for k, v in params.items() if v})

    def link(self, **changes: str) -> str:
        return "/queue?" + self.params(**changes)

    @property
    def where(self) -> str:
        """Where in the queue a person is: its query string with the page's start, carried
        to an order's page and back (next / previous, 一覧へ戻る)."""
        return self.params(after=self.after)

    @property
    def searching(self) -> bool:
        return bool(self.text or self.day or self.pay or self.tag)


def parse_queue(request: Request) -> QueueQuery:
    return parse_queue_params(request.query_params)


def parse_queue_params(p: Any) -> QueueQuery:
    """A queue query from its parameters (a request's, or those an order page carries)."""
    tab = p.get("tab", "check")
    if tab not in TABS:
        tab = "check"
    stage, gate = TABS[tab]
    text = " ".join(p.get("q", "").split())[:64]  # as typed, for the form
    day_text = p.get("date", "").strip()[:10]
    after_text = p.get("after", "")[:80]
    pay_text = p.get("pay", "").strip()[:4]
    pay = int(pay_text) if pay_text.isdecimal() and int(pay_text) in payment_method_codes() \
        else None
    tag = " ".join(p.get("tag", "").split())[:64]
    since = until = None
    error, params = "", None
    if day_text:
        try:
            day = date.fromisoformat(day_text)
            since = day_start(day)
            until = since + timedelta(days=1)
        except ValueError:
            error, params = "err_bad_date", {"value": day_text}
    cursor = None
    if after_text:
        at, _, oid = after_text.rpartition("_")
        try:
            cursor = q.Cursor(datetime.fromisoformat(at), int(oid))
            if cursor.ordered_at.tzinfo is None:
                raise ValueError(after_text)
        except ValueError:
            cursor, after_text = None, ""
    return QueueQuery(tab, text, day_text, after_text,
                      q.QueueFilter(stage, gate, tuple(query_words(text)), since, until, pay,
                                    tag), cursor, error, params,
                      pay=str(pay) if pay is not None else "", tag=tag)


@router.get("/queue")
def queue(request: Request) -> Response:
    web = web_of(request)
    qq = parse_queue(request)
    with web.store.transaction() as conn:
        page = q.queue_page(conn, web.shop, qq.filter, qq.cursor)
    nxt = qq.link(after=f"{page.next.ordered_at.isoformat()}_{page.next.id}") \
        if page.next else ""
    p = request.query_params
    done = {k: int(p[k]) for k in ("released", "failed") if p.get(k, "").isdigit()}
    problem = p.get("problem", "")
    return render(request, "queue.j2", qq=qq, page=page, next_link=nxt, tabs=TABS,
                  first=page.start + 1, last=page.start + len(page.rows),
                  count_cap=q.COUNT_CAP,
                  counts=_counts(request), releasable=qq.tab in RELEASABLE, done=done,
                  problem=problem if problem in PROBLEMS else "",
                  payment_codes=payment_method_codes(), status=400 if qq.error else 200)


@router.get("/queue/counts")
def queue_counts(request: Request) -> Response:
    return render(request, "_tabs.j2", qq=parse_queue(request), tabs=TABS,
                  counts=_counts(request))


# ---- one order --------------------------------------------------------------------------

def queue_context(params: Any) -> QueueQuery | None:
    """The queue an order page was opened from (its `tab`, `q`, `date`, `after`), or None."""
    if not params.get("tab"):
        return None
    qq = parse_queue_params(params)
    return None if qq.error else qq


def order_page(request: Request, number: str, *, status: int = 200, error: str = "",
               error_params: dict[str, Any] | None = None,
               form: dict[str, str] | None = None, where: Any = None) -> Response:
    """One order. Opened from the queue (`where`, else the request's query), it links to
    the orders before and after it there and back to the queue where the person was."""
    web = web_of(request)
    qq = queue_context(where if where is not None else request.query_params)
    with web.store.transaction() as conn:
        doc = order_view(web.store, conn, web.shop, number, web.clock.now())
        if doc is None:
            raise Refused(404, "not_found")
        order = web.store.load_order(conn, web.shop, number)
        assert order is not None and order.id is not None
        effects = web.store.effects_of(conn, order.id)
        attempts = q.effect_attempts(conn, [e.id for e in effects])
        around = q.queue_neighbours(conn, web.shop, qq.filter, q.Cursor(
            order.channel.ordered_at, order.id)) if qq is not None else None
        why = explain_view(web.store, conn, web.config, number, web.clock.now())
    p = request.query_params
    return render(request, "order.j2", status=status, doc=doc, order=order, why=why,
                  effects=[(e, attempts[e.id]) for e in effects], error=error,
                  error_params=error_params or {}, form=form or {},
                  done=p.get("done") == "1", now=web.clock.now(), qq=qq, around=around)


@router.get("/orders/{number}")
def order(request: Request, number: str) -> Response:
    if len(number) > 64:
        raise Refused(404, "not_found")
    return order_page(request, number)


# ---- report, flow, mails ----------------------------------------------------------------

@router.get("/report")
def report(request: Request) -> Response:
    web = web_of(request)
    today = web.dashboard.today()
    p = request.query_params
    error, params = "", None
    try:
        until_day = date.fromisoformat(p["until"]) if p.get("until") else today
        since_day = date.fromisoformat(p["since"]) if p.get("since") else \
            until_day - timedelta(days=6)
    except ValueError:
        error, params = "err_bad_date", {"value": f"{p.get('since', '')} {p.get('until', '')}"}
        until_day, since_day = today, today - timedelta(days=6)
    if since_day > until_day:
        since_day, until_day = until_day, since_day
    rep = build_report(web.store, web.shop, day_start(since_day),
                       day_start(until_day) + timedelta(days=1))
    return render(request, "report.j2", rep=rep, since=since_day, until=until_day,
                  error=error, error_params=params or {}, status=400 if error else 200)


FLOW_DAYS = 30
"""The flow page's period: the last 30 days, the default of `unyo flow draw --counts`."""


def _flow_layout(request: Request) -> Any:
    """The swimlane drawing with the last 30 days' figures, as `unyo flow draw --counts`."""
    from unyo.clock import JST
    from unyo.diagram import build_diagram, diagram_counts, layout
    from unyo.diagram.counts import file_sha256

    web = web_of(request)
    now = web.clock.now()
    counts = diagram_counts(web.store, web.shop, now - timedelta(days=FLOW_DAYS), now)
    cfg = web.config
    diagram = build_diagram(cfg, counts, source_hash=file_sha256(cfg.path))
    return layout(diagram, title=f"{cfg.shop_name or cfg.shop_id} 運用フロー図",
                  made=now.astimezone(JST).strftime("%Y-%m-%d %H:%M"))


@router.get("/flow")
def flow(request: Request) -> Response:
    """The drawing as inline SVG, drawn on the server: no script, nothing to wait for."""
    from markupsafe import Markup

    from unyo.diagram.svg import inline_svgs

    svgs = [Markup(svg) for svg in inline_svgs(_flow_layout(request), styled=False)]
    return render(request, "flow.j2", svgs=svgs, days=FLOW_DAYS)


@router.get("/flow/diagram.css")
def flow_css(request: Request) -> Response:
    """The drawing's styles as a style sheet (the CSP allows no inline style)."""
    from unyo.diagram.svg import style_sheet

    return Response(style_sheet("svg.unyo-page"), media_type="text/css",
                    headers={"Cache-Control": "private, max-age=3600"})


@router.get("/flow/flow.svg")
def flow_svg(request: Request) -> Response:
    """The same drawing as a standalone SVG file, to download and hand over."""
    from unyo.diagram import to_svg

    return Response(to_svg(_flow_layout(request)), media_type="image/svg+xml",
                    headers={"Content-Disposition": 'attachment; filename="flow.svg"'})


MAILS_PAGE = 100
"""Mails per page of the sandbox's mail list (newest first)."""


@router.get("/mails")
def mails(request: Request) -> Response:
    sink = web_of(request).smtp_sink
    everything = list(reversed(sink.messages())) if sink is not None else []
    text = request.query_params.get("page", "1")
    pages = max(1, -(-len(everything) // MAILS_PAGE))
    page = min(max(int(text), 1), pages) if text.isdigit() and len(text) < 7 else 1
    start = (page - 1) * MAILS_PAGE
    received = everything[start:start + MAILS_PAGE]
    shown = []
    for m in received:
        msg = m.message
        try:
            body = m.text
        except (KeyError, LookupError, ValueError):
            body = m.data.decode("utf-8", "replace")
        shown.append({"at": m.received_at, "kind": m.kind, "to": ", ".join(m.rcpt_tos),
                      "subject": str(msg["Subject"] or ""), "from": m.mail_from, "body": body})
    return render(request, "mails.j2", mails=shown, has_sink=sink is not None, page=page,
                  pages=pages, total=len(everything), first=start + 1,
                  last=start + len(shown))
