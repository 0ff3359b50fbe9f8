"""Sale day: one shop's スーパーSALE day, every order through the whole flow on the sandbox.

N orders (default 100,000) arrive over a simulated 24 hours from the sale's start
(Thursday 20:00 JST), a fifth of them in the first hour, with the order generator's mix
(cards, bank transfers paid later or never, COD, gifts, islands, あす楽, pre-orders,
-9999 postage, hostile text...). The shop runs the file `unyo init` writes — its ten
example rules on top of the built-in flow — with mail and the warehouse switched on.
The engine runs every step at its configured cadence (import 1m, outbox 15s, sync 5m,
hand-off and results 5m) on a simulated clock moved in 15 s steps through the day and
on until nothing more moves: import, confirm, payment, the rules, hand-off, the
warehouse's waves (11:00 and 15:00, Monday to Saturday), results, shipping mail and the
shipping report. Shop staff (the demo's operator: weekdays 09:00–18:00, a rule's check
looked at after 20 minutes) release the 確認待ち gates.

The sandbox (RMS emulator over real HTTP, SMTP sink over real SMTP, warehouse emulator
on a CSV folder) runs in a child process on a clock the engine moves
(`bench/_emulators.py`), so this process's CPU time and peak RSS are the engine's.

Prints wall time, the engine's CPU (total, per step, ms per order), the sandbox's CPU,
peak RSS of the engine, RMS calls per method against the minimum for the batches the
steps made, the worst and p99 import latency (importable → imported) and mail latency
(condition → mail accepted by the SMTP server) in simulated time, and the automation
rate (`unyo report`).

    python bench/sale_day.py [--orders 100000] [--hours 24] [--tail-hours 24]
                             [--profile FILE.html|FILE.txt] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb, row
from _emulators import KEY, SECRET, EmulatorProcess, LinkedClock, SandboxPlan
from unyo.adapters.db import schema as t
from unyo.adapters.db.store import Store
from unyo.app.context import ShopContext
from unyo.app.report import build_report
from unyo.app.runner import Runner
from unyo.clock import JST
from unyo.demo import DemoOperator
from unyo.flow import Config
from unyo.flow.config import parse_config, render_init
from unyo.wiring import build_context

SALE_START = datetime(2026, 12, 3, 20, 0, tzinfo=JST)  # a Thursday, 20:00: the sale opens
DAY = timedelta(hours=24)
STEP = timedelta(seconds=15)  # the outbox's cadence: the finest any step needs
QUIET = timedelta(hours=3)  # after the day: stop once nothing moved for this long...
TAIL_MAX = timedelta(days=1)  # ...and nothing is at the warehouse or waiting for RMS's 500
SHOP = "bench"
STEPS = ("import", "outbox", "sync", "holds", "reminders", "handoff", "results", "report", "money")
# RMS methods, and how many items one call carries at most (reference/rakuten-rms.md)
PER_CALL = {"searchOrder": 1000, "getOrder": 100, "confirmOrder": 100,
            "updateOrderShippingAsync": 100}


def sale_config(tmp: Path, base_url: str, smtp_port: int, folder: str) -> Config:
    """The shop file `unyo init` writes, pointed at the sandbox, mail and warehouse on."""
    config = parse_config(render_init(SHOP, "ベンチ店"))
    return dataclasses.replace(
        config, database_url=f"sqlite:///{tmp / 'sale.db'}",
        # no pacing: the simulated clock does not wait; the calls per simulated minute
        # are counted instead and compared with Rakuten's ~1 request/s (in production
        # rms.min_interval, 1 s by default, spaces them)
        rms=dataclasses.replace(config.rms, base_url=base_url, min_interval=0.0, timeout=120.0),
        mail=dataclasses.replace(config.mail, enabled=True, host="127.0.0.1", port=smtp_port,
                                 starttls=False, auth=False,
                                 from_address="info@bench-shop.example"),
        warehouse=dataclasses.replace(config.warehouse, enabled=True, folder=folder,
                                      settle=0.0))


@dataclasses.dataclass
class Meter:
    """Engine CPU and wall per step, and the items each step handed to RMS per method."""

    cpu: dict[str, float] = dataclasses.field(default_factory=lambda: defaultdict(float))
    wall_max: dict[str, float] = dataclasses.field(default_factory=lambda: defaultdict(float))
    runs: Counter[str] = dataclasses.field(default_factory=Counter)
    minimum: Counter[str] = dataclasses.field(default_factory=Counter)  # RMS calls, per method
    current: str = ""
    _items: Counter[str] = dataclasses.field(default_factory=Counter)

    def step(self, name: str, run: Callable[[ShopContext], Any]) -> Callable[[ShopContext], Any]:
        def timed(ctx: ShopContext) -> Any:
            self.current, self._items = name, Counter()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            try:
                return run(ctx)
            finally:
                self.cpu[name] += time.process_time() - cpu0
                self.wall_max[name] = max(self.wall_max[name], time.perf_counter() - wall0)
                self.runs[name] += 1
                for method, items in self._items.items():  # one step run's batches, best packed
                    self.minimum[method] += math.ceil(items / PER_CALL[method])
                self.current = ""
        return timed

    def count(self, method: str, items: int) -> None:
        self._items[method] += items

    def watch(self, channel: Any) -> None:
        """Note the items every RMS call of the channel adapter carries."""
        search, fetch, confirm, update = (channel.search, channel.fetch, channel.confirm,
                                          channel.update_shipping)
        searches = {name: getattr(channel, name) for name in ("search_changes",
                                                              "search_settled")}

        def watched_search(start: datetime, end: datetime) -> list[str]:
            found: list[str] = search(start, end)
            self.minimum["searchOrder"] += max(1, math.ceil(len(found) / 1000))
            return found

        def watched(name: str) -> Callable[[datetime, datetime], list[str]]:
            search_by = searches[name]

            def watched_sync_search(start: datetime, end: datetime) -> list[str]:
                # the sync's searches at each turn (a page per 1,000 hits)
                found: list[str] = search_by(start, end)
                self.minimum["searchOrder"] += max(1, math.ceil(len(found) / 1000))
                return found
            return watched_sync_search

        def watched_fetch(numbers: Sequence[str]) -> Any:
            self.count("getOrder", len(numbers))
            return fetch(numbers)

        fetch_changed = channel.fetch_changed

        def watched_fetch_changed(numbers: Sequence[str], known: Any) -> Any:
            self.count("getOrder", len(numbers))
            return fetch_changed(numbers, known)

        def watched_confirm(numbers: Sequence[str]) -> Any:
            self.count("confirmOrder", len(numbers))
            return confirm(numbers)

        def watched_update(updates: Sequence[Any]) -> Any:
            self.count("updateOrderShippingAsync", len(updates))
            self.minimum["getResultUpdateOrderShippingAsync"] += math.ceil(len(updates) / 100)
            return update(updates)

        channel.search, channel.fetch = watched_search, watched_fetch
        channel.fetch_changed = watched_fetch_changed
        channel.search_changes = watched("search_changes")
        channel.search_settled = watched("search_settled")
        channel.confirm, channel.update_shipping = watched_confirm, watched_update


def _state(store: Store) -> tuple[Any, ...]:
    with store.transaction() as conn:
        return (sorted(store.stage_counts(conn, SHOP).items()),
                sorted(store.open_gate_counts(conn, SHOP).items()),
                sorted((k, sorted(v.items())) for k, v in store.outbox_counts(conn, SHOP).items()),
                len(store.pending_imports(conn, SHOP)))


def _in_flight(store: Store, sandbox: EmulatorProcess) -> bool:
    """Packages still at the warehouse, or reports RMS has not moved to 500 yet."""
    packages, at_500 = sandbox.in_flight()
    with store.transaction() as conn:
        reports = store.outbox_counts(conn, SHOP).get("report_shipping", {})
    return bool(packages or reports.get("pending", 0)) or at_500 < reports.get("done", 0)


def _quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"max": None, "p99": None, "p50": None, "count": 0}
    ordered = sorted(values)
    return {"max": ordered[-1], "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "p50": ordered[len(ordered) // 2], "count": len(ordered)}


def latencies(store: Store, mails: list[tuple[str, str, datetime]],
              wait: timedelta) -> dict[str, dict[str, float | None]]:
    """Seconds of simulated time: importable → imported (ordered + the 30-minute wait for
    orders a member may cancel by themselves, else ordered), imported → thanks mail
    accepted, shipped → shipping mail accepted."""
    with store.transaction() as conn:
        rows = conn.execute(select(t.orders.c.id, t.orders.c.order_number,
                                   t.orders.c.ordered_at, t.orders.c.imported_at).where(
            t.orders.c.shop == SHOP)).all()
        numbers = [r.order_number for r in rows]
        cancellable: set[str] = set()
        for i in range(0, len(numbers), 1000):
            loaded = store.load_orders(conn, SHOP, numbers[i:i + 1000])
            cancellable.update(n for n, o in loaded.items() if o.channel.self_cancellable)
        shipped_at: dict[int, datetime] = {}
        for order_id, at in conn.execute(
                select(t.events.c.order_id, t.events.c.at).where(
                    t.events.c.type == "stage_changed",
                    t.events.c.data.like('%"to":"shipped"%'))):
            shipped_at.setdefault(order_id, at)
    imported = {r.order_number: r.imported_at for r in rows}
    shipped = {r.order_number: shipped_at[r.id] for r in rows if r.id in shipped_at}
    import_lat = [(r.imported_at - (r.ordered_at + wait if r.order_number in cancellable
                                    else r.ordered_at)).total_seconds() for r in rows]
    thanks, shipping = [], []
    for kind, number, at in mails:
        if kind == "thanks" and number in imported:
            thanks.append((at - imported[number]).total_seconds())
        elif kind == "shipping" and number in shipped:
            shipping.append((at - shipped[number]).total_seconds())
    return {"import": _quantiles(import_lat), "thanks_mail": _quantiles(thanks),
            "shipping_mail": _quantiles(shipping)}


def run_sale_day(orders: int, seed: int = 1, *, start: datetime = SALE_START,
                 day: timedelta = DAY, tail_max: timedelta = TAIL_MAX, profile: str | None = None,
                 progress: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Run the day (`day` long, then until quiet or `tail_max` more); returns every figure
    the bench prints."""
    wall_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="unyo-sale-") as tmp_name:
        tmp = Path(tmp_name)
        folder = str(tmp / "warehouse")
        with EmulatorProcess(SandboxPlan(orders, seed, start, folder, day)) as sandbox:
            setup_wall = time.perf_counter() - wall_start
            progress(f"sandbox ready: {sandbox.orders} orders generated ({setup_wall:.0f} s)")
            config = sale_config(tmp, sandbox.base_url, sandbox.smtp_port, folder)
            clock = LinkedClock(start, sandbox)
            store = Store.open(config.database_url)
            ctx = build_context(config, clock=clock, store=store,
                                env={"RMS_SERVICE_SECRET": SECRET, "RMS_LICENSE_KEY": KEY})
            runner = Runner.for_shop(ctx)
            meter = Meter()
            for step in runner.steps:
                step.run = meter.step(step.name, step.run)
            meter.watch(ctx.channel)
            operator = DemoOperator(store, SHOP)
            profiler = _profiler(profile)
            day_end = start + day
            calls_per_minute: list[int] = []
            last_calls, minute = Counter[str](), start
            busiest: tuple[int, datetime, dict[str, int]] = (0, start, {})
            last_state: tuple[Any, ...] | None = None
            quiet_since = day_end
            operator_cpu = watch_cpu = 0.0
            cpu0, wall0 = time.process_time(), time.perf_counter()
            t = start
            while True:
                clock.set(t)
                runner.run_due()
                c = time.process_time()
                operator.work(t)
                operator_cpu += time.process_time() - c
                if t - minute >= timedelta(minutes=1):
                    now_calls = Counter(ctx.channel.calls)
                    in_minute = now_calls - last_calls
                    calls_per_minute.append(in_minute.total())
                    if in_minute.total() > busiest[0]:
                        busiest = (in_minute.total(), minute, dict(in_minute.most_common()))
                    last_calls, minute = now_calls, t
                if (t - start) % timedelta(hours=1) == timedelta(0):
                    progress(f"{t.astimezone(JST):%a %H:%M}  wall "
                             f"{time.perf_counter() - wall0:6.0f} s  engine CPU "
                             f"{time.process_time() - cpu0:6.1f} s")
                if t >= day_end and (t - day_end) % timedelta(minutes=30) == timedelta(0):
                    c = time.process_time()
                    state = _state(store)
                    if state != last_state:
                        last_state, quiet_since = state, t
                    elif t - quiet_since >= QUIET and not _in_flight(store, sandbox):
                        break
                    if t - day_end >= tail_max:
                        break
                    watch_cpu += time.process_time() - c
                t += STEP
            engine_cpu = time.process_time() - cpu0
            engine_wall = time.perf_counter() - wall0
            rss = peak_rss_mb()
            if profiler is not None:
                profiler.stop()
                out = Path(profile or "")
                out.write_text(profiler.output_text(unicode=True, show_all=False)
                               if out.suffix == ".txt" else profiler.output_html(),
                               encoding="utf-8")
            c = time.process_time()
            report = build_report(store, SHOP, start, t + STEP)
            report_cpu = time.process_time() - c
            stats = sandbox.stats()
            with store.transaction() as conn:
                stages = store.stage_counts(conn, SHOP)
                gates = store.open_gate_counts(conn, SHOP)
                outbox = store.outbox_counts(conn, SHOP)
            lat = latencies(store, stats["mails"],
                            timedelta(seconds=config.import_.self_cancel_wait))
            store.close()
    imported = sum(stages.values())
    calls = dict(ctx.channel.calls)
    mails = Counter(kind for kind, _, _ in stats["mails"])
    return {
        "orders": orders, "day_hours": day / timedelta(hours=1), "generated": sandbox.orders,
        "imported": imported,
        "stages": stages, "gates_open": gates, "outbox": outbox,
        "simulated": {"from": start.isoformat(), "to": t.isoformat()},
        "wall": {"total": time.perf_counter() - wall_start, "setup": setup_wall,
                 "engine_loop": engine_wall, "clock_sync": clock.sync_seconds},
        "engine_cpu": {"total": engine_cpu, "steps": dict(meter.cpu), "operator": operator_cpu,
                       "watch": watch_cpu, "report": report_cpu},
        "step_errors": {s.name: (s.failures, s.last_error) for s in runner.steps if s.failures},
        "step_runs": dict(meter.runs), "step_wall_max": dict(meter.wall_max),
        "sandbox_cpu": stats["cpu"], "sandbox_rss_mb": stats["rss_mb"],
        "engine_rss_mb": rss,
        "rms_calls": calls, "rms_minimum": dict(meter.minimum),
        "rms_calls_per_minute_max": max(calls_per_minute, default=0),
        "rms_busiest_minute": {"at": busiest[1].astimezone(JST).isoformat(),
                               "calls": busiest[2]},
        "latency_seconds": lat,
        "mails": dict(mails), "warehouse": stats["warehouse"],
        "rms_progress": stats["progress"],
        "automation_rate": report.automation_rate, "shipped": report.orders,
        "automated": report.automated,
        "manual_touches": [(m.reason, m.count) for m in report.manual_touches[:5]],
    }


def _profiler(path: str | None) -> Any:
    if not path:
        return None
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.002)
    profiler.start()
    return profiler


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} s"


def print_figures(f: dict[str, Any]) -> None:
    n = f["imported"] or 1
    cpu = f["engine_cpu"]
    print(f"bench/sale_day.py — {f['generated']:,} orders over {f['day_hours']:g} h from "
          f"{f['simulated']['from']} (a fifth in the first hour), simulated to "
          f"{f['simulated']['to']}; {f['imported']:,} imported, "
          f"{f['stages'].get('shipped', 0):,} shipped")
    row("wall time (sandbox start / engine loop)", f"{f['wall']['total']:,.0f} s",
        f"({f['wall']['setup']:,.0f} s / {f['wall']['engine_loop']:,.0f} s)")
    row("engine CPU, whole flow", f"{cpu['total']:,.1f} s",
        f"{cpu['total'] * 1000 / n:.2f} ms per order   (target ≤ 2 ms)")
    for step in STEPS:
        if step in cpu["steps"]:
            row(f"  {step} ({f['step_runs'][step]:,} runs, slowest {f['step_wall_max'][step]:.2f} s"
                " wall)", f"{cpu['steps'][step]:,.1f} s",
                f"{cpu['steps'][step] * 1000 / n:.3f} ms per order")
    rest = cpu["total"] - sum(cpu["steps"].values())
    row("  operator (releasing checks)", f"{cpu['operator']:,.1f} s",
        f"{cpu['operator'] * 1000 / n:.3f} ms per order")
    row("  loop, clock, quiet checks", f"{rest - cpu['operator']:,.1f} s", "")
    row("report (automation rate, after the day)", f"{cpu['report']:,.1f} s", "")
    row("sandbox CPU (RMS, SMTP, warehouse: child)", f"{f['sandbox_cpu']:,.1f} s",
        f"peak RSS {f['sandbox_rss_mb']:,.0f} MB")
    row("peak RSS (engine process)", f"{f['engine_rss_mb']:,.0f} MB", "≤ 300 MB")
    for method in ("searchOrder", "getOrder", "confirmOrder", "updateOrderShippingAsync",
                   "getResultUpdateOrderShippingAsync", "updateOrderShipping"):
        got = f["rms_calls"].get(method, 0)
        low = f["rms_minimum"].get(method, 0)
        row(f"RMS {method} (minimum)", f"{got:,} ({low:,})",
            "polls" if method.startswith(("search", "getResult")) else "= minimum")
    busiest = f["rms_calls_per_minute_max"]
    row("RMS calls in the busiest simulated minute", f"{busiest:,}",
        "≤ 60 (about 1 request/s)" if busiest <= 60 else
        f"over 60: rms.min_interval (1 s) spreads them over {busiest} s")
    busy = f["rms_busiest_minute"]
    print(f"    the minute from {busy['at'][:16]}: "
          + ", ".join(f"{m} {n}" for m, n in busy["calls"].items()))
    lat = f["latency_seconds"]
    row("import latency max / p99 (simulated)",
        f"{_seconds(lat['import']['max'])} / {_seconds(lat['import']['p99'])}",
        "≤ 60 s after the wait (NE: ~15 min)")
    row("thanks mail latency max / p99", f"{_seconds(lat['thanks_mail']['max'])} / "
        f"{_seconds(lat['thanks_mail']['p99'])}", "≤ 60 s (NE: ~1 hour)")
    row("shipping mail latency max / p99", f"{_seconds(lat['shipping_mail']['max'])} / "
        f"{_seconds(lat['shipping_mail']['p99'])}", "≤ 60 s (NE: ~1 hour)")
    row("mails accepted (thanks / shipping)",
        f"{f['mails'].get('thanks', 0):,} / {f['mails'].get('shipping', 0):,}", "")
    rate = f["automation_rate"]
    row("automation rate (shipped with no manual touch)",
        "—" if rate is None else f"{rate:.1%}", f"{f['automated']:,} of {f['shipped']:,}")
    print(f"  busiest manual touches: {f['manual_touches']}")
    if f["step_errors"]:
        print(f"  step failures: {f['step_errors']}")
    print(f"  outbox: {f['outbox']}")
    print(f"  still open: stages {f['stages']}, gates {f['gates_open']}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hours", type=float, default=24.0,
                        help="length of the sale day (orders arrive over it; a fifth in the "
                        "first hour)")
    parser.add_argument("--tail-hours", type=float, default=TAIL_MAX / timedelta(hours=1),
                        help="after the day, run on until quiet, at most this long")
    parser.add_argument("--profile", metavar="FILE.html|FILE.txt",
                        help="profile the engine loop with pyinstrument (HTML, or text for .txt)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    figures = run_sale_day(args.orders, args.seed, day=timedelta(hours=args.hours),
                           tail_max=timedelta(hours=args.tail_hours), profile=args.profile,
                           progress=(lambda line: None) if args.quiet else
                           (lambda line: print(line, file=sys.stderr, flush=True)))
    print_figures(figures)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
