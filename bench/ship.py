"""Shipping benchmark: ready orders through hand-off, results import and the shipping report.

Orders are generated in the RMS emulator (its own process, real HTTP), imported,
confirmed and synced until ready (not measured). Then, measured one by one:

1. hand-off: ready → at_warehouse, the cp932 request files written;
2. results: the warehouse emulator (in process, not measured) ships every package
   in one wave, and the engine imports its cp932 result file;
3. report: updateOrderShippingAsync per 100 orders after reading the rows first
   (getOrder per 100), and the result polls (the emulator answers after 10 s of
   real time, which is wall time, not CPU).

Prints engine-side orders/s (CPU of this process) per step, RMS calls against the
minimum, peak RSS, and a floor measured in the same run: bare sqlite3 and the csv
module doing the same rows and files.

    python bench/ship.py [--orders 10000]
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KEY, SECRET, emulator_process, peak_rss_mb, row
from unyo.app.importing import import_orders
from unyo.app.outbox import deliver_effects
from unyo.app.shipping import report_shipping
from unyo.app.syncing import sync_orders
from unyo.app.warehouse import hand_off_orders, import_results
from unyo.clock import JST, SimClock, SystemClock
from unyo.domain import GateKind, OpenGate, Stage, decide
from unyo.flow import Config, ImportSettings, RmsSettings
from unyo.flow.warehouse import WarehouseSettings
from unyo.sandbox.warehouse_emulator import WarehouseEmulator
from unyo.wiring import build_context


class LinkedClock(SimClock):
    """A simulated clock that moves the emulator's clock with it (over its control API),
    so a day of payments passes at once and result polls see RMS's 10 s go by."""

    def __init__(self, start: datetime, base: str) -> None:
        super().__init__(start)
        self.base = base
        httpx.post(f"{base}/_sandbox/clock", json={"now": start.isoformat()}).raise_for_status()

    def advance(self, seconds: float) -> datetime:
        now = super().advance(seconds)
        httpx.post(f"{self.base}/_sandbox/clock",
                   json={"now": now.isoformat()}).raise_for_status()
        return now


def floor(n: int, request_file: Path, result_file: Path, db: Path) -> dict[str, float]:
    """CPU seconds of bare sqlite3 + csv for the rows the three steps write: per order an
    UPDATE, events and an outbox row (hand-off; results with two effects), the request
    and result files encoded in cp932, and the report's attempt rows."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.executescript("""
        CREATE TABLE orders (id INTEGER PRIMARY KEY, stage TEXT, version INT, data TEXT);
        CREATE TABLE events (id INTEGER PRIMARY KEY, order_id INT, type TEXT, data TEXT);
        CREATE TABLE outbox (id INTEGER PRIMARY KEY, order_id INT, kind TEXT,
          dedupe_key TEXT UNIQUE, payload TEXT, status TEXT, attempts INT DEFAULT 0);
        CREATE TABLE effect_attempts (id INTEGER PRIMARY KEY, effect_id INT, ok INT);
    """)
    snapshot = "x" * 2500  # an order's snapshot is rewritten when shipments are recorded
    with con:
        con.executemany("INSERT INTO orders (id, stage, version, data) VALUES (?,?,?,?)",
                        [(i, "ready", 1, snapshot) for i in range(n)])
    out: dict[str, float] = {}
    cpu0 = time.process_time()
    rows = list(csv.reader(io.StringIO(request_file.read_bytes().decode("cp932"))))
    with con:
        con.executemany("UPDATE orders SET stage = 'at_warehouse', version = version + 1 "
                        "WHERE id = ? AND version = 1", [(i,) for i in range(n)])
        con.executemany("INSERT INTO events (order_id, type, data) VALUES (?,?,?)",
                        [(i, t, "{}") for i in range(n) for t in ("stage_changed",
                                                                   "handed_off")])
        con.executemany("INSERT INTO outbox (order_id, kind, dedupe_key, payload, status) "
                        "VALUES (?,?,?,?,?)", [(i, "hand_off", f"h:{i}", "{}", "done")
                                               for i in range(n)])
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    (db.parent / "floor-request.csv").write_bytes(buffer.getvalue().encode("cp932"))
    out["handoff"] = time.process_time() - cpu0
    cpu0 = time.process_time()
    results = list(csv.reader(io.StringIO(result_file.read_bytes().decode("cp932"))))
    with con:
        con.executemany("UPDATE orders SET stage = 'shipped', version = version + 1, data = ? "
                        "WHERE id = ? AND version = 2", [(snapshot, i) for i in range(n)])
        con.executemany("INSERT INTO events (order_id, type, data) VALUES (?,?,?)",
                        [(i, t, "{}") for i in range(n) for t in ("shipment_recorded",
                                                                   "stage_changed")])
        con.executemany("INSERT INTO outbox (order_id, kind, dedupe_key, payload, status) "
                        "VALUES (?,?,?,?,?)", [(i, k, f"{k}:{i}", "{}", "pending")
                                               for i in range(n) for k in ("report", "mail")])
    out["results"] = time.process_time() - cpu0
    cpu0 = time.process_time()
    with con:
        ids = [r[0] for r in con.execute("SELECT id FROM outbox WHERE kind = 'report'")]
        con.executemany("UPDATE outbox SET status = 'done', attempts = attempts + 1 "
                        "WHERE id = ?", [(i,) for i in ids])
        con.executemany("INSERT INTO effect_attempts (effect_id, ok) VALUES (?, 1)",
                        [(i,) for i in ids])
    out["report"] = time.process_time() - cpu0
    con.close()
    assert len(results) > 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with emulator_process() as base, tempfile.TemporaryDirectory() as tmp:
        now = SystemClock().now()
        # more than asked for: some are cancelled by their buyers or not paid yet
        generated = int(args.orders * 1.35)
        httpx.post(f"{base}/_sandbox/orders", timeout=300, json={
            "count": generated, "seed": args.seed,
            "start": (now - timedelta(hours=25)).isoformat(),
            "end": (now - timedelta(hours=1)).isoformat()}).raise_for_status()
        folder = Path(tmp) / "warehouse"
        config = Config(shop_id="bench", database_url=f"sqlite:///{tmp}/bench.db",
                        rms=RmsSettings(base_url=base, min_interval=0.0, timeout=60.0),
                        import_=ImportSettings(lookback=2 * 86400.0, thanks_mail=False),
                        warehouse=WarehouseSettings(enabled=True, folder=str(folder), settle=0.0,
                                                    batch=2000))
        clock = LinkedClock(now, base)
        ctx = build_context(config, clock=clock,
                            env={"RMS_SERVICE_SECRET": SECRET, "RMS_LICENSE_KEY": KEY})
        import_orders(ctx)
        deliver_effects(ctx)
        clock.advance(86400)  # Rakuten settles the payments
        now = clock.now()
        sync_orders(ctx)
        with ctx.store.transaction() as conn:
            ready = ctx.store.order_numbers_in_stages(conn, "bench", [Stage.ready])
            extra = ctx.store.load_orders(conn, "bench", ready[args.orders:])
            # keep exactly --orders ready: park the rest with a hold
            ctx.store.apply_many(conn, [(o, decide(o, OpenGate(GateKind.hold, "bench", now)))
                                        for o in extra.values()], now)
        n = min(len(ready), args.orders)

        figures: dict[str, tuple[float, float]] = {}
        calls0 = dict(ctx.channel.calls)

        wall0, cpu0 = time.perf_counter(), time.process_time()
        handed = hand_off_orders(ctx)
        figures["handoff"] = (time.perf_counter() - wall0, time.process_time() - cpu0)

        wave = now.astimezone(JST) - timedelta(minutes=1)
        wms_clock = SimClock(wave - timedelta(minutes=1))
        wms = WarehouseEmulator(folder, wms_clock, seed=args.seed, stockout_rate=0.0,
                                waves=(wave.timetz().replace(tzinfo=None),),
                                calendar=lambda day: True)
        wms.step()
        wms_clock.set(wave + timedelta(seconds=1))
        wms.step()
        result_file = folder / "results" / wms.stats.result_files[0]
        result_copy = Path(tmp) / "result-copy.csv"
        result_copy.write_bytes(result_file.read_bytes())
        request_file = next((folder / "received").glob("unyo-bench-*.csv"))

        wall0, cpu0 = time.perf_counter(), time.process_time()
        imported = import_results(ctx)
        figures["results"] = (time.perf_counter() - wall0, time.process_time() - cpu0)

        wall0, cpu0 = time.perf_counter(), time.process_time()
        reported = report_shipping(ctx)
        while True:  # a turn stops after TURN_BUDGET of (simulated) time: the next turns
            more = report_shipping(ctx)
            if not (more.reported or more.failed or more.retried or more.superseded):
                break
            reported.reported += more.reported
            reported.failed += more.failed
        figures["report"] = (time.perf_counter() - wall0, time.process_time() - cpu0)
        rss = peak_rss_mb()
        calls = {k: v - calls0.get(k, 0) for k, v in ctx.channel.calls.items()}
        floors = floor(n, request_file, result_copy, Path(tmp) / "floor.db")

    hundreds = math.ceil(reported.reported / 100)
    print(f"bench/ship.py — {n} ready orders, {handed.handed_off} handed off "
          f"({handed.refused} refused: cp932), {handed.sent} packages requested, "
          f"{imported.shipped_packages} packages shipped, {reported.reported} reported")
    counts = {"handoff": handed.handed_off, "results": imported.shipped_packages,
              "report": reported.reported}
    for step, (wall, cpu) in figures.items():
        row(f"{step}: engine orders/s (CPU)", f"{counts[step] / cpu:,.0f}",
            f"≥ 2,000   (CPU {cpu:.2f} s, wall {wall:.2f} s)")
        row(f"{step}: floor CPU, engine ÷ floor", f"{floors[step]:.2f} s",
            f"{cpu / floors[step]:.1f}×")
    row("peak RSS (engine process)", f"{rss:.0f} MB", "≤ 300 MB")
    row("RMS getOrder calls (minimum)", f"{calls.get('getOrder', 0)} ({hundreds})",
        "read rows first")
    row("RMS updateOrderShippingAsync calls (minimum)",
        f"{calls.get('updateOrderShippingAsync', 0)} ({hundreds})", "= minimum")
    row("RMS getResultUpdateOrderShippingAsync polls",
        f"{calls.get('getResultUpdateOrderShippingAsync', 0)}", f"≥ {hundreds}")
    row("RMS updateOrderShipping (sync fallback)", f"{calls.get('updateOrderShipping', 0)}",
        "0")


if __name__ == "__main__":
    main()
