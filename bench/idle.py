"""Idle benchmark: what a step costs when it has nothing to do.

On a sale day the outbox and the shipping report run every 15 s (11,520 turns in 48
hours), the holds every minute, the warehouse steps every 5 minutes, and a worker's loop
ticks every second — and almost every one of those turns finds nothing to do. This
benchmark builds a store in the state such turns see: N generated orders (default
20,000) through the live engine — import with the ten `unyo init` rules, confirmation,
payment, hand-off to a CSV warehouse, the warehouse emulator shipping, results and the
shipping report (bench/flow.py's in-process RMS, no HTTP) — so the orders stand in
mixed stages (processing behind checks, holds and unpaid; at the warehouse; shipped;
cancelled) and the outbox is mostly done. Buyer mail is switched on; the mails the
build queued are marked done by SQL (not measured), except one in a hundred left
pending for tomorrow, as a delayed mail would be.

Then each step runs once to settle anything due and R times idle (default 2,000; the
simulated clock moves 1 ms between runs), and the CPU per idle run is printed for:
`deliver_effects`, `report_shipping`, `release_holds`, `hand_off_orders`,
`import_results`, `Worker.run_due` with no step due (a tick of `unyo run`'s loop: the
lease) and `Worker.renew` (the heartbeat's renewal, every third of the lease time). Every
timed run is checked to have done nothing. The floor, measured in the same run on the
same database: a bare `sqlite3` `SELECT 1`, and one `Store.transaction()` running
`SELECT 1` on its driver connection (the least an idle step that asks the database
anything can cost through the store). The last line adds the idle runs of a day up at
the default cadences.

    python bench/idle.py [--orders 20000] [--runs 2000] [--db PATH]

`--db PATH` keeps the built store there and reuses it on the next run (built again when
missing), so runs before and after a change measure the same database.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import row
from flow import InProcessRms, build_channel, pay, shop_config
from unyo.adapters.db.store import Store
from unyo.app.context import ShopContext
from unyo.app.importing import import_orders
from unyo.app.outbox import deliver_effects
from unyo.app.processing import release_holds
from unyo.app.shipping import ReportOutcome, ShippingUpdate, report_shipping
from unyo.app.syncing import sync_orders
from unyo.app.warehouse import hand_off_orders, import_results
from unyo.app.worker import Worker
from unyo.clock import JST, SimClock
from unyo.flow import Config
from unyo.sandbox.warehouse_emulator import WarehouseEmulator
from unyo.wiring import build_mailer, build_warehouse

SHOP = "bench"
START = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # a Friday, 12:00 JST
BUILT = "idle-built"  # cursor noting that the store was built completely, and when


class ReportingRms(InProcessRms):
    """bench/flow.py's in-process RMS, taking shipping reports too (every one accepted)."""

    def update_shipping(self, updates: Sequence[ShippingUpdate]) -> dict[str, ReportOutcome]:
        self.calls["updateOrderShippingAsync"] += 1
        return {u.order_number: ReportOutcome(True, False) for u in updates}


def idle_config(db: Path, tmp: Path, folder: Path) -> Config:
    """The `unyo init` shop file (ten rules) with mail and the CSV warehouse on."""
    config = shop_config(db, tmp)
    return dataclasses.replace(
        config,
        mail=dataclasses.replace(config.mail, enabled=True, host="127.0.0.1", port=9,
                                 starttls=False, auth=False,
                                 from_address="info@bench-shop.example"),
        warehouse=dataclasses.replace(config.warehouse, enabled=True, folder=str(folder),
                                      settle=0.0, batch=2000))


def context(config: Config, store: Store, channel: Any, clock: SimClock) -> ShopContext:
    return ShopContext(config=config, store=store, channel=channel, clock=clock,
                       mail=build_mailer(config, env={}),
                       warehouse=build_warehouse(config, clock))


def build(n: int, seed: int, config: Config, folder: Path) -> datetime:
    """Run N orders through the engine into mixed stages; returns the clock's time."""
    clock = SimClock(START)
    channel, paid = build_channel(n, seed, clock)
    rms = ReportingRms(clock)
    rms.__dict__.update(channel.__dict__)
    store = Store.open(config.database_url)
    ctx = context(config, store, rms, clock)
    mail, ctx.mail = ctx.mail, None  # the build sends nothing: mails are settled by SQL
    import_orders(ctx)
    deliver_effects(ctx)
    # four in five of the paying orders pay, are handed off and shipped; the rest pay
    # later and stay at the warehouse
    first = paid[: len(paid) * 4 // 5]
    clock.advance(600)
    pay(rms, first)
    sync_orders(ctx)
    hand_off_orders(ctx)
    wave = clock.now().astimezone(JST) + timedelta(minutes=1)
    wms_clock = SimClock(clock.now().astimezone(JST))
    wms = WarehouseEmulator(folder, wms_clock, seed=seed, stockout_rate=0.0,
                            waves=(wave.timetz().replace(tzinfo=None),),
                            calendar=lambda day: True)
    wms.step()
    wms_clock.set(wave + timedelta(seconds=1))
    wms.step()
    clock.advance(300)
    import_results(ctx)
    report_shipping(ctx)
    clock.advance(600)
    pay(rms, paid[len(first):])
    sync_orders(ctx)
    hand_off_orders(ctx)
    ctx.mail = mail
    now = clock.now()
    later = t_text(now + timedelta(days=1))
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE outbox SET status = 'done', attempts = 1, done_at = :now "
                          "WHERE kind = 'send_mail' AND status = 'pending' AND id % 100 <> 0"),
                     {"now": t_text(now)})
        conn.execute(text("UPDATE outbox SET next_attempt_at = :later "
                          "WHERE kind = 'send_mail' AND status = 'pending'"), {"later": later})
        store.set_cursor(conn, SHOP, BUILT, now.isoformat())
    store.close()
    return now


def t_text(at: datetime) -> str:
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def describe(store: Store) -> str:
    with store.transaction() as conn:
        stages = store.stage_counts(conn, SHOP)
        outbox = store.outbox_counts(conn, SHOP)
        gates = store.open_gate_counts(conn, SHOP)
    effects = sum(sum(v.values()) for v in outbox.values())
    pending = sum(v.get("pending", 0) for v in outbox.values())
    done = sum(v.get("done", 0) for v in outbox.values())
    return (f"{sum(stages.values()):,} orders {dict(sorted(stages.items()))}; open gates "
            f"{dict(sorted(gates.items()))}; {effects:,} effects: {done:,} done, "
            f"{pending:,} pending (not due)")


def per_run(runs: int, clock: SimClock, once: Callable[[], Any],
            idle: Callable[[Any], bool]) -> float:
    """CPU ms per run of `once` over `runs` runs, the clock moved 1 ms between runs;
    every run's result must be idle (the store is reused: nothing may change it)."""
    cpu0 = 0.0
    for i in range(runs + 1):  # the first run warms the statement caches, not timed
        clock.advance(0.001)
        if i == 1:
            cpu0 = time.process_time()
        out = once()
        if not idle(out):
            raise SystemExit(f"not idle: {out!r}")
    return (time.process_time() - cpu0) / runs * 1000


def measure(config: Config, runs: int, now: datetime) -> tuple[str, dict[str, float]]:
    clock = SimClock(now + timedelta(seconds=1))
    store = Store.open(config.database_url, migrate=False)
    try:
        return describe(store), measure_steps(config, store, clock, runs, now)
    finally:
        store.close()


def measure_steps(config: Config, store: Store, clock: SimClock, runs: int,
                  now: datetime) -> dict[str, float]:
    rms = ReportingRms(clock)
    ctx = context(config, store, rms, clock)
    out: dict[str, float] = {}

    db = config.database_url.removeprefix("sqlite:///")
    raw = sqlite3.connect(db)
    cpu0 = time.process_time()
    for _ in range(runs):
        raw.execute("SELECT 1").fetchone()
    out["floor: sqlite3 SELECT 1"] = (time.process_time() - cpu0) / runs * 1000
    raw.close()

    def store_select() -> int:
        with store.transaction() as conn:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                return int(cursor.execute("SELECT 1").fetchone()[0])
            finally:
                cursor.close()

    out["floor: Store.transaction() + SELECT 1"] = per_run(runs, clock, store_select,
                                                           lambda r: r == 1)
    out["deliver_effects (outbox)"] = per_run(
        runs, clock, lambda: deliver_effects(ctx),
        lambda r: not r.delivered and not (r.retried or r.failed or r.skipped))
    out["report_shipping (report)"] = per_run(
        runs, clock, lambda: report_shipping(ctx),
        lambda r: r.reported == r.retried == r.failed == r.superseded == 0)
    out["release_holds (holds)"] = per_run(runs, clock, lambda: release_holds(ctx),
                                           lambda r: r == 0)
    out["hand_off_orders (handoff)"] = per_run(
        runs, clock, lambda: hand_off_orders(ctx),
        lambda r: r.handed_off == r.refused == r.sent == r.cancels == r.retried == 0)
    out["import_results (results)"] = per_run(runs, clock, lambda: import_results(ctx),
                                              lambda r: r.files == 0)
    worker = Worker.for_shops(store, [ctx])
    for step in worker.slots[0].runner.steps:  # just run: none is due while the clock stands
        step.last_run = clock.now()
    out["Worker.run_due, no step due (lease)"] = per_run(runs, SimClock(now), worker.run_due,
                                                         lambda r: r == 0)
    out["Worker.renew (the heartbeat's renewal)"] = per_run(
        runs, SimClock(now), worker.renew, lambda r: worker.slots[0].lease is not None)
    worker.release()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=2_000, help="idle runs timed per step")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", type=Path, help="keep the built store here and reuse it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        db = args.db.resolve() if args.db else tmp / "idle.db"
        folder = db.parent / f"{db.stem}-warehouse"
        config = idle_config(db, tmp, folder)
        now = built_at(config) if db.exists() else None
        build_wall = 0.0
        if now is None:
            for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                stale.unlink(missing_ok=True)
            shutil.rmtree(folder, ignore_errors=True)
            wall0 = time.perf_counter()
            now = build(args.orders, args.seed, config, folder)
            build_wall = time.perf_counter() - wall0
        shown, figures = measure(config, args.runs, now)

    built = f"built in {build_wall:.0f} s, not counted" if build_wall else f"reused {db}"
    print(f"bench/idle.py — {args.runs:,} idle runs per step ({built})")
    print(f"  store: {shown}")
    floor = figures["floor: Store.transaction() + SELECT 1"]
    print(f"  {'step':<40} {'CPU ms per idle run':>20} {'÷ store floor':>14}")
    for name, ms in figures.items():
        print(f"  {name:<40} {ms:>20.3f} {ms / floor:>13.1f}×")
    per_day = (figures["deliver_effects (outbox)"] + figures["report_shipping (report)"]) \
        * 5_760 + figures["release_holds (holds)"] * 1_440 \
        + (figures["hand_off_orders (handoff)"] + figures["import_results (results)"]) * 288 \
        + figures["Worker.run_due, no step due (lease)"] * 86_400 \
        + figures["Worker.renew (the heartbeat's renewal)"] * 8_640
    row("idle CPU per day at the default cadences", f"{per_day / 1000:.1f} s",
        "(outbox, report 15 s; holds 1 min; warehouse 5 min; worker tick 1 s; "
        "heartbeat 10 s)")


def built_at(config: Config) -> datetime | None:
    """When a complete store at `config`'s database was built (None: build it again)."""
    try:
        store = Store.open(config.database_url, migrate=False)
    except Exception:
        return None
    try:
        with store.transaction() as conn:
            value = store.get_cursor(conn, SHOP, BUILT)
    except Exception:
        return None
    finally:
        store.close()
    return datetime.fromisoformat(value) if value else None


if __name__ == "__main__":
    main()
