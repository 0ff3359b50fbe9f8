"""Import benchmark: N orders imported and confirmed from the RMS emulator over HTTP.

Prints engine-side orders/s (CPU of this process: client, mapping, decide, store),
RMS calls against the minimum, peak RSS, and a floor measured in the same run:
the same getOrder bodies parsed and the same rows inserted with bare `sqlite3`.

    python bench/import.py [--orders 10000]
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KEY, SECRET, emulator_process, peak_rss_mb, row
from unyo.app.importing import import_orders
from unyo.app.outbox import deliver_effects
from unyo.clock import SystemClock
from unyo.flow import Config, ImportSettings, RmsSettings
from unyo.wiring import build_context


def floor(bodies: list[bytes], db: Path) -> tuple[float, float]:
    """Bare sqlite3 doing the same database work as the engine, CPU seconds: parse the
    getOrder bodies, insert each order with its gate, events and two outbox rows, then
    record the confirmations (order status, event, outbox row, attempt row)."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.executescript("""
        CREATE TABLE orders (id INTEGER PRIMARY KEY, shop TEXT, order_number TEXT, stage TEXT,
          version INT, rms_status INT, ordered_at TEXT, imported_at TEXT, updated_at TEXT,
          total INT, payment_method INT, buyer_name TEXT, fingerprint TEXT, data TEXT,
          UNIQUE (shop, order_number));
        CREATE TABLE gates (id INTEGER PRIMARY KEY, order_id INT, kind TEXT, reason TEXT,
          opened_at TEXT, opened_by TEXT);
        CREATE TABLE events (id INTEGER PRIMARY KEY, order_id INT, at TEXT, type TEXT,
          actor TEXT, data TEXT);
        CREATE TABLE outbox (id INTEGER PRIMARY KEY, order_id INT, kind TEXT,
          dedupe_key TEXT UNIQUE, payload TEXT, status TEXT, attempts INT DEFAULT 0);
        CREATE TABLE effect_attempts (id INTEGER PRIMARY KEY, effect_id INT, at TEXT,
          ok INT, error TEXT);
    """)
    cpu0 = time.process_time()
    now = "2026-11-27 00:00:00"
    for body in bodies:
        models = orjson.loads(body)["OrderModelList"]
        with con:
            for m in models:
                number = m["orderNumber"]
                cur = con.execute(
                    "INSERT INTO orders (shop, order_number, stage, version, rms_status,"
                    " ordered_at, imported_at, updated_at, total, payment_method, buyer_name,"
                    " fingerprint, data) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    ("bench", number, "processing", 1, m["orderProgress"], m["orderDatetime"],
                     now, now, m["totalPrice"], m["SettlementModel"]["settlementMethodCode"],
                     m["OrdererModel"]["familyName"], "", orjson.dumps(m).decode()))
                oid = cur.lastrowid
                con.execute("INSERT INTO gates (order_id, kind, reason, opened_at, opened_by)"
                            " VALUES (?,?,?,?,?)", (oid, "payment", "入金待ち", now, "system"))
                con.executemany("INSERT INTO events (order_id, at, type, actor, data)"
                                " VALUES (?,?,?,?,?)",
                                [(oid, now, "order_imported", "system", "{}"),
                                 (oid, now, "gate_opened", "system", "{}")])
                con.executemany("INSERT INTO outbox (order_id, kind, dedupe_key, payload,"
                                " status) VALUES (?,?,?,?,?)",
                                [(oid, "confirm_order", f"c:{number}", "{}", "pending"),
                                 (oid, "send_mail", f"m:{number}", "{}", "pending")])
    cpu_import = time.process_time() - cpu0
    batch = 100
    while True:
        due = con.execute("SELECT id, order_id FROM outbox WHERE kind = 'confirm_order' AND "
                          "status = 'pending' ORDER BY id LIMIT ?", (batch,)).fetchall()
        if not due:
            break
        with con:
            con.executemany("UPDATE orders SET rms_status = 200, version = version + 1, "
                            "updated_at = ? WHERE id = ?", [(now, oid) for _, oid in due])
            con.executemany("INSERT INTO events (order_id, at, type, actor, data)"
                            " VALUES (?,?,?,?,?)",
                            [(oid, now, "order_confirmed", "system", "{}") for _, oid in due])
            con.executemany("UPDATE outbox SET status = 'done', attempts = attempts + 1 "
                            "WHERE id = ?", [(eid,) for eid, _ in due])
            con.executemany("INSERT INTO effect_attempts (effect_id, at, ok) VALUES (?,?,1)",
                            [(eid, now) for eid, _ in due])
    con.close()
    return cpu_import, time.process_time() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n = args.orders
    with emulator_process() as base, tempfile.TemporaryDirectory() as tmp:
        now = SystemClock().now()
        httpx.post(f"{base}/_sandbox/orders", timeout=120, json={
            "count": n, "seed": args.seed, "start": (now - timedelta(hours=25)).isoformat(),
            "end": (now - timedelta(hours=1)).isoformat()}).raise_for_status()
        config = Config(shop_id="bench", database_url=f"sqlite:///{tmp}/bench.db",
                        rms=RmsSettings(base_url=base, min_interval=0.0, timeout=60.0),
                        import_=ImportSettings(lookback=2 * 86400.0))
        ctx = build_context(config, env={"RMS_SERVICE_SECRET": SECRET, "RMS_LICENSE_KEY": KEY})
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = import_orders(ctx)
        wall_import, cpu_import = time.perf_counter() - wall0, time.process_time() - cpu0
        delivered = deliver_effects(ctx)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        rss = peak_rss_mb()
        calls = dict(ctx.channel.calls)
        confirmed = delivered.delivered.get("confirm_order", 0) + delivered.failed
        minimum = {"searchOrder": math.ceil(result.searched / 1000),
                   "getOrder": math.ceil(result.imported / 100),
                   "confirmOrder": math.ceil(confirmed / 100)}
        # The floor: the same getOrder bodies, fetched raw, parsed and inserted bare.
        numbers = ctx.channel.client.search_order(  # type: ignore[attr-defined]
            start=now - timedelta(days=2), end=SystemClock().now(), progress=[100, 200, 300])
        auth = ctx.channel.client._headers  # type: ignore[attr-defined]
        bodies = [httpx.post(f"{base}/es/2.0/order/getOrder/", headers=auth, timeout=60,
                             json={"orderNumberList": numbers[i:i + 100], "version": 10}).content
                  for i in range(0, len(numbers), 100)]
        floor_import, floor_cpu = floor(bodies, Path(tmp) / "floor.db")

    print(f"bench/import.py — {n} orders generated, {result.imported} imported, "
          f"{confirmed} confirmed")
    row("wall time, import + confirm", f"{wall:.2f} s")
    row("engine CPU, import + confirm", f"{cpu:.2f} s")
    row("engine CPU, import only", f"{cpu_import:.2f} s", f"(wall {wall_import:.2f} s)")
    row("engine orders/s (CPU, import only)", f"{result.imported / cpu_import:,.0f}",
        "≥ 2,000")
    row("engine orders/s (CPU, import + confirm)", f"{result.imported / cpu:,.0f}", "≥ 2,000")
    row("floor: bare sqlite3, same rows, CPU", f"{floor_cpu:.2f} s",
        f"(import rows only {floor_import:.2f} s)")
    row("engine ÷ floor, import only", f"{cpu_import / floor_import:.2f}×", "≤ 3×")
    row("engine ÷ floor, import + confirm", f"{cpu / floor_cpu:.2f}×", "≤ 3×")
    row("peak RSS (engine process)", f"{rss:.0f} MB", "≤ 300 MB")
    for method in ("searchOrder", "getOrder", "confirmOrder"):
        row(f"RMS {method} calls (minimum)", f"{calls.get(method, 0)} ({minimum[method]})",
            "= minimum")


if __name__ == "__main__":
    main()
