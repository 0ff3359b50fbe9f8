"""Flow benchmark: N generated orders through the live engine — import with the shop's
rules, confirmation, payment (a sync that sees RMS 300), ready.

The channel adapter runs in this process (no HTTP): RMS OrderModels as the generator
writes them, kept as getOrder's JSON and parsed and mapped with `channel_order_from_rms`
on every read, so parsing and mapping count as engine time. Every state change, event,
gate and outbox row is written to SQLite (WAL) as in production. The shop's rules are the
ten examples `unyo init` writes.

Prints orders/s (engine CPU and wall) per step and in all, peak RSS, and a floor measured
in the same run: bare `sqlite3` writing the same rows (orders, gates, events, outbox, then
the confirmations and the payment updates), read back from the engine's database and
written in the same batches of 100 orders.

    python bench/flow.py [--orders 20000] [--profile FILE(.txt|.html for pyinstrument)]
"""

from __future__ import annotations

import argparse
import cProfile
import math
import pstats
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb, row
from unyo.adapters.db.store import Store
from unyo.adapters.rakuten.mapping import MappingError, channel_order_from_rms
from unyo.app.context import ShopContext
from unyo.app.importing import import_orders
from unyo.app.outbox import deliver_effects
from unyo.app.ports import ConfirmOutcome, FetchResult
from unyo.app.syncing import sync_orders
from unyo.clock import SimClock
from unyo.flow import Config, ImportSettings
from unyo.flow.config import load_config, render_init
from unyo.sandbox.generator import format_rms_datetime, generate_orders

BATCH = 100
CHUNK = 10_000  # orders generated at a time (keeps the generator's own memory small)


class InProcessRms:
    """The `OrderChannel` port over generated OrderModels held in memory as getOrder JSON.

    Reads parse and map every model, as the HTTP adapter does with getOrder's body;
    confirmOrder follows the RMS emulator (100 → 200, postage not fixed = ERROR_105).
    """

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.bodies: dict[str, bytes] = {}
        self.placed: dict[str, datetime] = {}
        self.status: dict[str, int] = {}
        self.calls: Counter[str] = Counter()
        self.rms_cpu = 0.0  # RMS's own side (search, confirm bookkeeping), not the engine's

    def add(self, model: dict[str, Any], placed: datetime) -> None:
        number = model["orderNumber"]
        self.bodies[number] = orjson.dumps(model)
        self.placed[number] = placed
        self.status[number] = model["orderProgress"]

    def change(self, number: str, **values: Any) -> None:
        model = orjson.loads(self.bodies[number])
        model.update(values)
        self.bodies[number] = orjson.dumps(model)
        self.status[number] = model["orderProgress"]

    def search(self, start: datetime, end: datetime) -> list[str]:
        cpu0 = time.process_time()
        found = [n for n, at in self.placed.items()
                 if start <= at <= end and self.status[n] in (100, 200, 300, 400)]
        self.calls["searchOrder"] += max(1, math.ceil(len(found) / 1000))
        found.sort(key=self.placed.__getitem__)
        self.rms_cpu += time.process_time() - cpu0
        return found

    def fetch(self, numbers: Sequence[str]) -> FetchResult:
        self.calls["getOrder"] += 1
        result = FetchResult()
        for number in numbers:
            body = self.bodies.get(number)
            if body is None:
                result.missing.append(number)
                continue
            try:
                result.orders.append(channel_order_from_rms(orjson.loads(body)))
            except MappingError as e:
                result.failed[number] = e.reason
        return result

    def confirm(self, numbers: Sequence[str]) -> dict[str, ConfirmOutcome]:
        self.calls["confirmOrder"] += 1
        cpu0 = time.process_time()
        out = {}
        now = format_rms_datetime(self.clock.now())
        for number in numbers:
            m = orjson.loads(self.bodies[number])
            if m["orderProgress"] != 100 and not (m["orderProgress"] == 300
                                                  and m["shopOrderCfmDatetime"] is None):
                out[number] = ConfirmOutcome(True, False, "ERROR_103")
            elif -9999 in (m["postagePrice"], m["totalPrice"]):
                out[number] = ConfirmOutcome(False, True, "送料が未確定 (ERROR_105)")
            else:
                self.change(number, orderProgress=200 if m["orderProgress"] == 100 else 300,
                            shopOrderCfmDatetime=now)
                out[number] = ConfirmOutcome(True, False, "INFO_101")
        self.rms_cpu += time.process_time() - cpu0
        return out


def shop_config(db: Path, tmp: Path) -> Config:
    """The shop file `unyo init` writes (its ten example rules), on a bench database."""
    path = tmp / "unyo.yaml"
    path.write_text(render_init("bench", "ベンチ店"), encoding="utf-8")
    config = load_config(path, env={})
    return Config(shop_id=config.shop_id, shop_name=config.shop_name,
                  database_url=f"sqlite:///{db}", rms=config.rms,
                  import_=ImportSettings(lookback=2 * 86400.0), rules=config.rules)


def build_channel(n: int, seed: int, clock: SimClock) -> tuple[InProcessRms, list[str]]:
    """n orders placed over the last day; buyer self-cancellations already happened.
    Returns the channel and the numbers Rakuten will move to 300 (paid)."""
    channel = InProcessRms(clock)
    now = clock.now()
    paid: list[str] = []
    made = 0
    part = 0
    while made < n:
        for g in generate_orders(min(CHUNK, n - made), seed=seed * 1000 + part,
                                 start=now - timedelta(hours=25), end=now - timedelta(hours=1)):
            if g.order_number in channel.bodies:
                continue  # the same random number drawn by two chunks
            if g.self_cancel_after is not None:
                g.model["orderProgress"] = 900
            channel.add(g.model, g.ordered_at)
            if g.payment_delay is not None and not g.auth_fails and g.model[
                    "orderProgress"] != 900:
                paid.append(g.order_number)
            made += 1
        part += 1
    return channel, paid


def pay(channel: InProcessRms, paid: Sequence[str]) -> int:
    """Rakuten's side: authorisation or transfer done, 200 → 300."""
    moved = 0
    for number in paid:
        if channel.status[number] == 200:
            channel.change(number, orderProgress=300)
            moved += 1
    return moved


class Phase:
    def __init__(self) -> None:
        self.cpu = 0.0
        self.wall = 0.0
        self.marks: dict[str, int] = {}


class _Sampler:
    """pyinstrument over the engine steps only, with cProfile's enable / disable."""

    def __init__(self) -> None:
        from pyinstrument import Profiler

        self.profiler = Profiler(interval=0.001)

    def enable(self) -> None:
        self.profiler.start()

    def disable(self) -> None:
        self.profiler.stop()

    def dump(self, path: str) -> None:
        text = (self.profiler.output_html() if path.endswith(".html")
                else self.profiler.output_text(show_all=True))
        Path(path).write_text(text, encoding="utf-8")


def run_engine(ctx: ShopContext, channel: InProcessRms, paid: Sequence[str],
               profile: cProfile.Profile | _Sampler | None
               ) -> tuple[dict[str, Phase], dict[str, Any]]:
    def marks() -> dict[str, int]:
        con = ctx.store.engine.raw_connection()
        try:
            return {tbl: con.execute(f"SELECT coalesce(max(id), 0) FROM {tbl}").fetchone()[0]
                    for tbl in ("orders", "gates", "events", "outbox", "effect_attempts")}
        finally:
            con.close()

    phases: dict[str, Phase] = {}
    info: dict[str, Any] = {}

    def timed(name: str, fn: Any) -> Any:
        p = phases[name] = Phase()
        if profile:
            profile.enable()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        out = fn(ctx)
        p.wall, p.cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        if profile:
            profile.disable()
        p.marks = marks()
        return out

    phases["start"] = Phase()
    phases["start"].marks = marks()
    info["import"] = timed("import", import_orders)
    info["confirm"] = timed("confirm", deliver_effects)
    ctx.clock.advance(600)  # type: ignore[attr-defined]
    info["paid"] = pay(channel, paid)
    info["sync"] = timed("payment", sync_orders)
    return phases, info


# ---- the floor ---------------------------------------------------------------------------

def floor(engine_db: Path, floor_db: Path, phases: dict[str, Phase]) -> dict[str, float]:
    """Bare sqlite3 writing the rows the engine wrote, step by step and in the engine's
    batches (100 orders or effects per transaction), on the same schema and indexes: CPU
    seconds per step.

    The rows are read back from the engine's database first (not timed). Import: the
    order rows with their snapshot, their gates as opened, their events and outbox rows.
    Confirmation: the order updates, events, attempt rows and outbox updates. Payment:
    the order updates with the new snapshot, the gates closed, the events."""
    src = sqlite3.connect(engine_db)
    ddl = [r[0] for r in src.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
                                     "AND name NOT LIKE 'sqlite_%' AND type IN ('table', "
                                     "'index') ORDER BY type DESC")]
    col = {tbl: {r[1]: r[0] for r in src.execute(f"PRAGMA table_info({tbl})")}
           for tbl in ("orders", "gates", "events", "outbox", "effect_attempts")}
    insert = {tbl: f"INSERT INTO {tbl} VALUES ({', '.join('?' * len(c))})"
              for tbl, c in col.items()}

    def between(table: str, a: str, b: str) -> list[tuple[Any, ...]]:
        lo, hi = phases[a].marks[table], phases[b].marks[table]
        return src.execute(f"SELECT * FROM {table} WHERE id > ? AND id <= ? ORDER BY id",
                           (lo, hi)).fetchall()

    def by_order(rows: list[tuple[Any, ...]], i: int) -> dict[int, list[tuple[Any, ...]]]:
        d: dict[int, list[tuple[Any, ...]]] = {}
        for r in rows:
            d.setdefault(r[i], []).append(r)
        return d

    g = col["gates"]
    orders = between("orders", "start", "import")
    gates = between("gates", "start", "payment")
    opened = by_order([tuple(None if k in ("closed_at", "closed_by") else
                             "" if k == "close_note" else r[i] for k, i in g.items())
                       for r in gates], g["order_id"])
    closed = by_order([r for r in gates if r[g["closed_at"]] is not None], g["order_id"])
    ev_order = col["events"]["order_id"]
    ev_import = by_order(between("events", "start", "import"), ev_order)
    ev_confirm = by_order(between("events", "import", "confirm"), ev_order)
    ev_pay = by_order(between("events", "confirm", "payment"), ev_order)
    outbox = between("outbox", "start", "import")
    ob_import = by_order(outbox, col["outbox"]["order_id"])
    effect_order = {r[0]: r[col["outbox"]["order_id"]] for r in outbox}
    attempts = between("effect_attempts", "import", "confirm")
    paid = src.execute(
        "SELECT rms_status, version, updated_at, fingerprint, data, stage, id FROM orders"
        " WHERE id IN (SELECT order_id FROM events WHERE id > ?) ORDER BY id",
        (phases["confirm"].marks["events"],)).fetchall()
    src.close()

    con = sqlite3.connect(floor_db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    for sql in ddl:
        con.execute(sql)
    out: dict[str, float] = {}

    cpu0 = time.process_time()
    for i in range(0, len(orders), BATCH):
        ids = [r[0] for r in orders[i : i + BATCH]]
        con.execute("BEGIN")
        con.executemany(insert["orders"], orders[i : i + BATCH])
        con.executemany(insert["gates"], [r for o in ids for r in opened.get(o, ())])
        con.executemany(insert["events"], [r for o in ids for r in ev_import.get(o, ())])
        con.executemany(insert["outbox"], [r for o in ids for r in ob_import.get(o, ())])
        con.execute("COMMIT")
    out["import"] = time.process_time() - cpu0

    cpu0 = time.process_time()
    at = col["effect_attempts"]["at"]
    for i in range(0, len(attempts), BATCH):
        chunk = attempts[i : i + BATCH]
        ids = [effect_order[a[1]] for a in chunk]
        con.execute("BEGIN")
        con.executemany(insert["effect_attempts"], chunk)
        con.executemany("UPDATE outbox SET status = 'done', attempts = attempts + 1,"
                        " done_at = ? WHERE id = ?", [(a[at], a[1]) for a in chunk])
        con.executemany("UPDATE orders SET rms_status = 200, confirmed_at = ?, updated_at = ?,"
                        " version = version + 1 WHERE id = ?",
                        [(a[at], a[at], o) for a, o in zip(chunk, ids, strict=True)])
        con.executemany(insert["events"], [r for o in ids for r in ev_confirm.get(o, ())])
        con.execute("COMMIT")
    out["confirm"] = time.process_time() - cpu0

    cpu0 = time.process_time()
    for i in range(0, len(paid), BATCH):
        chunk = paid[i : i + BATCH]
        con.execute("BEGIN")
        con.executemany("UPDATE orders SET rms_status = ?, version = ?, updated_at = ?,"
                        " fingerprint = ?, data = ?, stage = ? WHERE id = ?", chunk)
        con.executemany("UPDATE gates SET closed_at = ?, closed_by = ?, close_note = ?"
                        " WHERE order_id = ? AND seq = ?",
                        [(r[g["closed_at"]], r[g["closed_by"]], r[g["close_note"]],
                          r[g["order_id"]], r[g["seq"]])
                         for o in chunk for r in closed.get(o[-1], ())])
        con.executemany(insert["events"], [r for o in chunk for r in ev_pay.get(o[-1], ())])
        con.execute("COMMIT")
    out["payment"] = time.process_time() - cpu0
    con.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=20_000,
                        help="orders to generate (the issue's figure is 100,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", metavar="FILE",
                        help="profile the engine steps: pyinstrument for FILE.txt or "
                        "FILE.html (a sampling profiler: shares of time as they are); "
                        "otherwise cProfile stats to FILE, top 25 printed")
    args = parser.parse_args()
    n = args.orders
    clock = SimClock(datetime(2026, 11, 27, 3, 0, tzinfo=UTC))
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        gen0 = time.perf_counter()
        channel, paid = build_channel(n, args.seed, clock)
        gen_wall = time.perf_counter() - gen0
        rss_channel = peak_rss_mb()
        config = shop_config(tmp / "bench.db", tmp)
        store = Store.open(config.database_url)
        ctx = ShopContext(config=config, store=store, channel=channel, clock=clock)
        profile: cProfile.Profile | _Sampler | None = None
        if args.profile:
            profile = (_Sampler() if args.profile.endswith((".txt", ".html"))
                       else cProfile.Profile())
        phases, info = run_engine(ctx, channel, paid, profile)
        rss = peak_rss_mb()
        with store.transaction() as conn:
            stages = store.stage_counts(conn, "bench")
            gates = store.open_gate_counts(conn, "bench")
        store.close()
        floors = floor(tmp / "bench.db", tmp / "floor.db", phases)

    imported = info["import"].imported
    steps = ("import", "confirm", "payment")
    cpu = sum(phases[s].cpu for s in steps)
    wall = sum(phases[s].wall for s in steps)
    floor_cpu = sum(floors.values())
    print(f"bench/flow.py — {n:,} orders generated ({gen_wall:.1f} s, not counted), "
          f"{imported:,} imported, {info['import'].waiting:,} waiting, "
          f"{info['import'].dropped:,} cancelled before import; "
          f"{info['confirm'].delivered.get('confirm_order', 0):,} confirmed, "
          f"{info['paid']:,} paid at RMS, {info['sync'].changed:,} moved by the sync")
    print(f"  stages: {dict(sorted(stages.items()))}; open gates: {dict(sorted(gates.items()))}")
    print(f"  {'step':<10} {'engine CPU':>11} {'orders/s':>10} {'wall':>8} {'orders/s':>10}"
          f" {'floor CPU':>10} {'÷ floor':>8}")
    for s in steps:
        p = phases[s]
        print(f"  {s:<10} {p.cpu:>9.2f} s {imported / p.cpu:>10,.0f} {p.wall:>6.2f} s "
              f"{imported / p.wall:>10,.0f} {floors[s]:>8.2f} s {p.cpu / floors[s]:>7.1f}×")
    print(f"  {'all':<10} {cpu:>9.2f} s {imported / cpu:>10,.0f} {wall:>6.2f} s "
          f"{imported / wall:>10,.0f} {floor_cpu:>8.2f} s {cpu / floor_cpu:>7.1f}×")
    row("engine orders/s, all steps (CPU)", f"{imported / cpu:,.0f}", "≥ 5,000")
    row("engine orders/s, all steps (wall)", f"{imported / wall:,.0f}", "≥ 5,000")
    row("engine µs per order (CPU)", f"{cpu / imported * 1e6:,.0f}")
    row("  of which RMS's own side (search, confirm)", f"{channel.rms_cpu:.2f} s CPU")
    row("floor orders/s (bare sqlite3, same rows)", f"{imported / floor_cpu:,.0f}")
    row("peak RSS", f"{rss:.0f} MB", f"(before the engine ran: {rss_channel:.0f} MB, the "
        f"generator and the in-process RMS; engine +{rss - rss_channel:.0f} MB)")
    row("channel calls", ", ".join(f"{k} {v}" for k, v in sorted(channel.calls.items())))
    if isinstance(profile, _Sampler):
        profile.dump(args.profile)
    elif profile is not None:
        profile.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
