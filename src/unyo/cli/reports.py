"""`unyo report` (what happened) and `unyo simulate` (what another flow would have done)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from unyo.cli._common import (
    ConfigOpt,
    JsonOpt,
    open_store,
    out,
    period,
    print_json,
    progress_bar,
    shop_file,
)
from unyo.clock import JST

if TYPE_CHECKING:
    from unyo.app.report import ShadowRate


def simulate(flow: Annotated[Path, typer.Option("--flow", help="The flow file to try.")],
             since: Annotated[str | None, typer.Option(
                 help="Orders imported from this day or instant; default 30 days ago.")] = None,
             until: Annotated[str | None, typer.Option(
                 help="... up to this day or instant (exclusive); default now.")] = None,
             config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Replay stored orders through another flow's rules; nothing real is touched."""
    from unyo.app.simulate import NOTES
    from unyo.app.simulate import simulate as replay

    cfg = shop_file(config)
    other = shop_file(flow, required=True)
    start, end = period(since, until)
    store = open_store(cfg.database_url)
    try:
        with progress_bar(not as_json) as report_progress:
            sim = replay(store, cfg.shop_id, cfg.rules, other.rules, start, end,
                         report_progress)
    finally:
        store.close()
    if as_json:
        print_json(sim.as_dict())
        return

    def rate(value: float | None) -> str:
        return "—" if value is None else f"{value:.1%}"

    out.print(f"replayed {sim.orders} orders imported {start.astimezone(JST):%Y-%m-%d %H:%M}"
              f" → {end.astimezone(JST):%Y-%m-%d %H:%M} (JST) through {flow}", highlight=False,
              markup=False, soft_wrap=True)
    out.print(f"  {sim.shipping} would ship, {sim.cancelled} cancelled, {sim.unpaid} never "
              "paid (payment and cancellation times as they happened)", highlight=False,
              markup=False)
    out.print(f"  自動化率 current {rate(sim.current.automation_rate)} → proposed "
              f"{rate(sim.proposed.automation_rate)} (orders that would ship and no rule "
              "sends to 確認待ち)", highlight=False, markup=False)
    out.print(f"  cancelled after hand-off (a person stops them at the warehouse): current "
              f"{sim.current.cancelled_after_handoff} → proposed "
              f"{sim.proposed.cancelled_after_handoff}", highlight=False, markup=False)
    table = Table(title="orders per rule (確認待ち / 保留)", title_justify="left")
    for col in ("rule", "current", "proposed"):
        table.add_column(col, justify="left" if col == "rule" else "right")
    names = dict.fromkeys([*sim.current.checks, *sim.current.holds, *sim.proposed.checks,
                           *sim.proposed.holds])
    for name in names:
        table.add_row(escape(name),
                      f"{sim.current.checks[name]} / {sim.current.holds[name]}",
                      f"{sim.proposed.checks[name]} / {sim.proposed.holds[name]}")
    out.print(table)
    out.print(f"  {sim.differing} orders would be handled differently", highlight=False)
    for note in NOTES:
        out.print(f"  note: {note}", highlight=False, markup=False, soft_wrap=True)
    for d in sim.differences:
        out.print(f"    {d['order_number']}: {d['current']} → {d['proposed']}",
                  highlight=False, markup=False, soft_wrap=True)


def report(since: Annotated[str | None, typer.Option(
               help="From this day or instant (JST if no offset); default 30 days ago.")] = None,
           until: Annotated[str | None, typer.Option(
               help="Up to this day or instant (exclusive); default now.")] = None,
           config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Automation rate (自動化率), manual touches ranked by reason, dwell times, waiting now."""
    from unyo.app.report import build_report

    cfg = shop_file(config)
    start, end = period(since, until)
    store = open_store(cfg.database_url)
    try:
        rep = build_report(store, cfg.shop_id, start, end)
    finally:
        store.close()
    if as_json:
        print_json(rep.as_dict())
        return
    basis = "出荷済 shipped" if rep.basis == "shipped" else \
        "出荷OK ready (no order has shipped yet: no warehouse connected)"
    rate = "—" if rep.automation_rate is None else f"{rep.automation_rate:.1%}"
    out.print(f"[bold]{cfg.shop_id}[/] {rep.since.astimezone(JST):%Y-%m-%d %H:%M} → "
              f"{rep.until.astimezone(JST):%Y-%m-%d %H:%M} (JST)", highlight=False)
    if cfg.shadow or rep.shadow is not None:
        _shadow(rep.shadow, live=not cfg.shadow)
    out.print(f"  自動化率 automation rate  {rate}  ({rep.automated} of {rep.orders} orders "
              f"that reached {basis} with no manual touch)", highlight=False, markup=False)
    touches = Table(title="manual touches by reason (bottlenecks)", title_justify="left")
    for col in ("reason", "touches", "share"):
        touches.add_column(col, justify="left" if col == "reason" else "right")
    for t in rep.manual_touches:
        touches.add_row(escape(t.reason), str(t.count), f"{t.share:.0%}")
    out.print(touches)
    dwell = Table(title="dwell time (minutes)", title_justify="left")
    for col in ("stage / gate", "orders", "p50", "p90"):
        dwell.add_column(col, justify="left" if col == "stage / gate" else "right")
    for d in [*rep.stage_dwell, *rep.gate_dwell]:
        dwell.add_row(d.name, str(d.count), _num(d.p50_minutes), _num(d.p90_minutes))
    out.print(dwell)
    if rep.rule_orders:
        rules = Table(title="rules: orders acted on, their gates' dwell (minutes)",
                      title_justify="left")
        for col in ("rule", "orders", "gates", "p50", "p90"):
            rules.add_column(col, justify="left" if col == "rule" else "right")
        by_rule = {x.name: x for x in rep.rule_dwell}
        for name, n in rep.rule_orders.items():
            g = by_rule.get(name)
            rules.add_row(escape(name), str(n), str(g.count if g else 0),
                          _num(g.p50_minutes if g else None), _num(g.p90_minutes if g else None))
        out.print(rules)
    waiting = Table(title="waiting now", title_justify="left")
    for col in ("gate", "reason", "orders"):
        waiting.add_column(col, justify="right" if col == "orders" else "left")
    for kind, reasons in rep.waiting_now.items():
        for reason, n in reasons.items():
            waiting.add_row(kind, escape(reason), str(n))
    out.print(waiting)


def _shadow(sh: ShadowRate | None, *, live: bool) -> None:
    """The shadow run's section: its own rate, labelled, before the live figures."""
    out.print("[bold reverse] シャドーモード [/] 取り込みとルールだけの試行です。楽天・お客様・"
              "倉庫には何もしていません。", highlight=False)
    if sh is None:
        out.print("  シャドーモードで取り込んだ注文はこの期間にありません", highlight=False,
                  markup=False)
        return
    rate = "—" if sh.automation_rate is None else f"{sh.automation_rate:.1%}"
    out.print(f"  シャドーモードの自動化率（本番なら）  {rate}  （シャドーモードで取り込んだ"
              f"{sh.orders}件のうち{sh.automated}件は確認待ち・注文確認保留なしで進むはずでした。"
              f"キャンセル{sh.cancelled}件は含みません）", highlight=False, markup=False,
              soft_wrap=True)
    if sh.checks:
        table = Table(title="シャドーモード: 人の確認が必要だった理由", title_justify="left")
        for col in ("理由", "件数", "割合"):
            table.add_column(col, justify="left" if col == "理由" else "right")
        for c in sh.checks:
            table.add_row(escape(c.reason), str(c.count), f"{c.share:.0%}")
        out.print(table)
    if live:
        out.print("  （以下は本番の数字です。シャドーモードの注文は含みません）", highlight=False,
                  markup=False)


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"
