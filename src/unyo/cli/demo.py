"""`unyo demo`: the whole flow on the sandbox, and its summary."""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import suppress
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from unyo.cli._common import JsonOpt, err, fail, out, print_json, progress_bar


def demo(orders: Annotated[int, typer.Option(min=1, help="Orders in the day.")] = 300,
         seed: Annotated[int, typer.Option(help="Seed of the order generator.")] = 1,
         speed: Annotated[float, typer.Option(min=0, help="Simulated seconds per wall second "
                                              "(0 = as fast as possible).")] = 1440.0,
         headless: Annotated[bool, typer.Option(help="Exit at the end, serve nothing.")] = False,
         database: Annotated[str | None, typer.Option(help="Database URL (default: a temporary "
                                                     "SQLite file).")] = None,
         warehouse: Annotated[str, typer.Option(
             help="csv: the sandbox WMS takes request files; self: the shop's staff print "
                  "納品書 batches at the waves and bring tracking numbers back.")] = "csv",
         as_json: JsonOpt = False) -> None:
    """The whole Rakuten flow on the sandbox: a day of orders on a simulated clock, with
    the dashboard served on 127.0.0.1 until Ctrl-C (--headless: exit after the summary)."""
    from unyo.demo import DemoDashboard, run_demo

    def show(summary: dict[str, Any]) -> None:
        print_json(summary) if as_json else _print_summary(summary)

    def started(url: str, user: str, password: str) -> None:
        err.print(f"dashboard: {url}  (user {user}, password {password})", highlight=False,
                  markup=False, soft_wrap=True)

    def finished(summary: dict[str, Any]) -> None:
        show(summary)
        sys.stdout.flush()
        err.print("the dashboard keeps serving; Ctrl-C stops", highlight=False, markup=False)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with suppress(KeyboardInterrupt):
            while not stop.wait(0.5):
                pass

    if warehouse not in ("csv", "self"):
        fail(f"--warehouse {warehouse!r}: use csv or self")
    served = None if headless else DemoDashboard(started, finished)
    with progress_bar(not as_json) as report:
        summary = run_demo(orders=orders, seed=seed, speed=speed, database_url=database,
                           progress=report, dashboard=served, warehouse=warehouse)
    if headless:
        show(summary)


STAGE_LABELS = {"processing": "受注処理", "ready": "出荷OK", "at_warehouse": "倉庫連携済",
                "shipped": "出荷済", "cancelled": "キャンセル"}
TYPE_LABELS = {"store_pickup": "コンビニ受取", "drop_off": "置き配",
               "social_gift": "ソーシャルギフト", "same_day": "当日出荷",
               "next_day_cert": "最強翌日配送", "caution": "楽天の注意表示"}
GATE_LABELS = {"payment": "入金待ち", "check": "確認待ち", "hold": "保留",
               "confirm": "注文確認保留"}


def _print_summary(s: dict[str, Any]) -> None:
    events = s.get("events", {})
    out.print(f"[bold]unyo demo[/] — simulated {s['simulated']['from']} → "
              f"{s['simulated']['to']} in {s['wall_seconds']:.1f} s", highlight=False)
    out.print(f"  注文 orders at RMS      {s['orders']:>6}", highlight=False)
    out.print(f"  受注取込 imported        {s['imported']:>6}", highlight=False)
    out.print(f"  注文確認 confirmed       {events.get('order_confirmed', 0):>6}",
              highlight=False)
    out.print(f"  入金確認 payment settled {events.get('payment_settled', 0):>6}",
              highlight=False)
    out.print(f"  キャンセル cancelled      {events.get('order_cancelled', 0):>6}",
              highlight=False)
    wh = s.get("warehouse", {})
    if "batches" in wh:  # a self-shipping shop: printed batches, no request
        out.print(f"  自社出荷 self-shipping   {wh.get('printed', 0):>6} 印刷 / "
                  f"{wh.get('batches', 0)} バッチ / {wh.get('results', 0)} 実績 / "
                  f"{wh.get('errors', 0)} errors", highlight=False)
    else:
        out.print(f"  倉庫 warehouse           {wh.get('requests', 0):>6} 出荷依頼 / "
                  f"{wh.get('results', 0)} 実績 / {wh.get('errors', 0)} errors",
                  highlight=False)
    mails = s.get("mails", {})
    out.print(f"  メール mails sent        {mails.get('thanks', 0):>6} サンクス / "
              f"{mails.get('shipping', 0)} 発送連絡 / {mails.get('failed', 0)} failed",
              highlight=False)
    table = Table(title="stages", title_justify="left")
    table.add_column("stage")
    table.add_column("count", justify="right")
    for k, v in s["stages"].items():
        table.add_row(f"{STAGE_LABELS.get(k, k)} ({k})", str(v))
    out.print(table)
    waiting = Table(title="open gates: what orders wait for", title_justify="left")
    waiting.add_column("gate")
    waiting.add_column("reason")
    waiting.add_column("orders", justify="right")
    for kind, reasons in s.get("waiting_for", {}).items():
        for reason, n in reasons.items():
            # a reason may quote the buyer's remarks: never Rich markup
            waiting.add_row(f"{GATE_LABELS.get(kind, kind)} ({kind})", escape(reason), str(n))
    out.print(waiting)
    types = Table(title="order types: how they went", title_justify="left")
    types.add_column("type")
    types.add_column("orders", justify="right")
    types.add_column("stages")
    types.add_column("waiting for")
    types.add_column("failed", justify="right")
    for name, t in s.get("order_types", {}).items():
        stages = "、".join(f"{STAGE_LABELS.get(k, k)} {v}" for k, v in t["stages"].items())
        waits = "、".join(f"{escape(r)} {n}" for reasons in t["waiting_for"].values()
                         for r, n in reasons.items())
        types.add_row(f"{TYPE_LABELS.get(name, name)} ({name})", str(t["orders"]), stages,
                      waits, str(t["failed_effects"]))
    out.print(types)
    for title, key in (("RMS status (orderProgress)", "rms_progress"),
                       ("RMS API calls", "api_calls")):
        table = Table(title=title, title_justify="left")
        table.add_column("")
        table.add_column("count", justify="right")
        for k, v in s[key].items():
            table.add_row(str(k), str(v))
        out.print(table)
