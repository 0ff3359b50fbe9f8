"""納品書 benchmark: N ready orders of a self-shipping shop printed as one batch.

Generated orders (the sandbox generator's mix: gifts, several destinations, COD,
reduced-rate items, hostile text...) are stored ready in a SQLite file, then
`unyo.app.batches.print_batch` prints them all as one batch with the shipped template:
the orders moved to 印刷済 through `move()` and their slips recorded (one transaction),
then the HTML rendered and printed to one A4 PDF by Chromium (Playwright,
/usr/bin/chromium), and the PDF stored with the batch. The PDF is read back with pypdf
for its page count.

Prints the wall time of each part and slips per minute, and a floor measured in the
same run: Chromium printing a document with the same number of pages holding one line
of text each (browser start, layout and PDF writing of that many pages, no table).

    python bench/print.py [--orders 1000] [--seed 1] [--keep FILE.pdf]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pypdf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb, row
from unyo.adapters.db import Store
from unyo.adapters.rakuten.mapping import MappingError, channel_order_from_rms
from unyo.adapters.warehouse.slips import SlipPrinter
from unyo.app.batches import Printing, print_batch
from unyo.clock import JST, SimClock
from unyo.diagram.pdf import html_to_pdf
from unyo.domain import ImportOrder, decide
from unyo.domain.slips import BatchOutput
from unyo.flow import Config
from unyo.flow.invoice import InvoiceSettings
from unyo.flow.warehouse import WarehouseSettings
from unyo.sandbox.generator import generate_orders

NOW = datetime(2026, 12, 4, 10, 30, tzinfo=JST)


class Timed:
    """The real printer, its two halves timed: HTML rendering and Chromium's PDF."""

    def __init__(self, printer: SlipPrinter) -> None:
        self.printer = printer
        self.html_s = self.pdf_s = 0.0
        self.pages = 0

    def outputs(self, slips: list[dict[str, Any]], *, batch: int, reissue: bool,
                printed_at: datetime) -> list[BatchOutput]:
        t0 = time.perf_counter()
        html = self.printer.html(slips, batch=batch, reissue=reissue, printed_at=printed_at)
        t1 = time.perf_counter()
        pdf = html_to_pdf(html)
        t2 = time.perf_counter()
        self.html_s, self.pdf_s = t1 - t0, t2 - t1
        self.pages = len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
        return [BatchOutput(f"納品書-{batch}.pdf", "application/pdf", pdf)]


def ready_orders(store: Store, n: int, seed: int) -> int:
    decisions = []
    for g in generate_orders(n, seed=seed, start=NOW - timedelta(days=1), end=NOW):
        try:
            channel = channel_order_from_rms(g.model)
        except MappingError:
            continue
        # settled and confirmed: ready straight away (the bench is about printing)
        channel = replace(channel, status=300, confirmed_at=channel.ordered_at)
        d = decide(None, ImportOrder("bench", channel, NOW, confirm=False, thanks_mail=False))
        if d.order.stage.value == "ready":
            decisions.append(d)
    with store.transaction() as conn:
        store.create_orders(conn, decisions, NOW)
    return len(decisions)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="write the batch's PDF here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/bench.db")
        ready = ready_orders(store, args.orders, args.seed)
        config = Config(shop_id="bench", shop_name="ベンチ茶舗",
                        shop_address="静岡県静岡市葵区1-2-3", shop_phone="054-000-0000",
                        warehouse=WarehouseSettings(enabled=True, type="self", folder=tmp),
                        invoice=InvoiceSettings(registration_number="T1234567890123"))
        printer = Timed(SlipPrinter.load(config))
        t0 = time.perf_counter()
        result = print_batch(Printing(store, config, SimClock(NOW)), printer, by="bench")
        total = time.perf_counter() - t0
        if result.error:
            raise SystemExit(f"printing failed: {result.error}")
        if args.keep:
            args.keep.write_bytes(result.outputs[0].content)
        size = len(result.outputs[0].content)
        # floor: the same number of pages, one line each, printed by the same browser
        floor_doc = ("<!doctype html><html><head><meta charset='utf-8'><style>@page{size:A4;"
                     "margin:12mm}body{font-family:IPAexGothic}.p{break-after:page}</style>"
                     "</head><body>" + "".join(f"<div class='p'>納品書 {i}</div>"
                                               for i in range(printer.pages))
                     + "</body></html>")
        t1 = time.perf_counter()
        html_to_pdf(floor_doc)
        floor = time.perf_counter() - t1
        store.close()
    record = total - printer.html_s - printer.pdf_s
    print(f"print batch: {ready} ready orders ({args.orders} generated, seed {args.seed})")
    row("orders printed / slips / PDF pages",
        f"{len(result.orders)} / {result.slips} / {printer.pages}")
    row("moves + slips recorded (one transaction)", f"{record:.2f} s")
    row("HTML rendered (Jinja2, sandboxed, autoescaped)", f"{printer.html_s:.2f} s")
    row("PDF printed by Chromium", f"{printer.pdf_s:.2f} s")
    row("whole batch (wall)", f"{total:.2f} s", "target ≤ 60 s for 1,000 slips")
    row("slips per minute", f"{result.slips / total * 60:,.0f}", "≥ 1,000")
    row("PDF size", f"{size / 1024 / 1024:.1f} MiB ({size / max(1, printer.pages) / 1024:.1f} "
        "KiB/page)")
    row("floor: Chromium, same page count, one line each", f"{floor:.2f} s")
    row("peak RSS (this process)", f"{peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
