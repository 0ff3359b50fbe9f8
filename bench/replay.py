"""Replay benchmark: N stored orders through a 20-rule flow with `unyo simulate`'s engine.

The store is built first (not timed, in a child process so its memory is not counted):
a day of generated orders goes through the live engine (import with the `unyo init`
rules, confirmation, payment; see bench/flow.py), then SQL copies those rows back in
time, one copy a day, with new numbers and ids, until there are N. A copy keeps the
order's data but moves its dates (order time, requested delivery date) by whole days;
older copies are shipped the day after they were placed; every buyer orders on two
days running. Gates and events are not copied (the replay reads neither).

Timed: `unyo.app.simulate.simulate` with the current flow = the ten rules of
`unyo init` and the proposed flow = those ten plus ten more (20 rules). The floor, in the
same run: the same rows read with bare `sqlite3`, decoded with orjson and the same 20
conditions hand-written over the decoded JSON, both flows' outcomes counted (its counts
must equal the engine's, which is checked).

    python bench/replay.py [--orders 200000] [--db PATH]
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import pstats
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb, row
from unyo.adapters.db.store import Store
from unyo.app.processing import postal_code_valid
from unyo.app.simulate import simulate
from unyo.domain.rules import customer_remarks, unprintable_chars
from unyo.flow.config import load_config, render_init

SHOP = "bench"
BASE = 5_000  # orders driven through the engine; the rest are copies of them
NOT_FIXED = -9999

MORE_RULES = """
  - name: 高額注文
    when: {field: total, op: ge, value: 100000}
    then:
      - check: 高額注文を確認

  - name: 複数送付先
    when: {field: multiple_destinations, op: is_true}
    then:
      - check: 送付先ごとの内容を確認

  - name: 大量注文
    when: {field: quantity, op: gt, value: 10}
    then:
      - check: 数量を確認

  - name: あす楽
    when: {field: next_day, op: is_true}
    then:
      - tag: あす楽

  - name: 定期購入
    when: {field: order_type, op: eq, value: subscription}
    then:
      - tag: 定期

  - name: 後払い
    when: {field: payment_code, op: eq, value: 21}
    then:
      - tag: 後払い

  - name: 沖縄便
    when: {field: destination_prefectures, op: contains, value: 沖縄県}
    then:
      - set: {delivery_method: 沖縄便}

  - name: ポイント全額
    when:
      all:
        - {field: points_used, op: gt, value: 0}
        - {field: request_amount, op: eq, value: 0}
    then:
      - tag: ポイント払い

  - name: 領収書
    when: {field: remarks, op: contains, value: 領収書}
    then:
      - check: 領収書の宛名を確認

  - name: 抹茶入荷待ち
    when: {field: item_numbers, op: contains, value: tea-002}
    then:
      - hold: {for: 1d, reason: 入荷待ち}
"""


def flows(tmp: Path) -> tuple[Any, Any]:
    """The current flow (the ten `unyo init` rules) and the proposed one (twenty), loaded
    through the shop-file loader as a consultant's files would be."""
    current, proposed = tmp / "unyo.yaml", tmp / "other.yaml"
    text = render_init(SHOP)
    current.write_text(text, encoding="utf-8")
    proposed.write_text(text + MORE_RULES, encoding="utf-8")
    return load_config(current, env={}).rules, load_config(proposed, env={}).rules


# ---- building the store (child process) ------------------------------------------------

def build(db: Path, n: int, seed: int) -> None:
    """A day of orders through the engine, then copies a day apart until there are n."""
    from flow import build_channel, run_engine, shop_config
    from unyo.app.context import ShopContext
    from unyo.clock import SimClock

    clock = SimClock(datetime(2026, 11, 27, 3, 0, tzinfo=UTC))
    channel, paid = build_channel(min(n, BASE), seed, clock)
    config = shop_config(db, db.parent)
    store = Store.open(config.database_url)
    run_engine(ShopContext(config=config, store=store, channel=channel, clock=clock),
               channel, paid, None)
    store.close()
    con = sqlite3.connect(db, isolation_level=None)
    base = con.execute("SELECT count(*), max(id) FROM orders").fetchone()
    cols = [r[1] for r in con.execute("PRAGMA table_info(orders)") if r[1] != "id"]

    def shifted(col: str) -> str:  # fixed-width UTC text moved back k days
        return f"strftime('%Y-%m-%d %H:%M:%S', {col}, '-' || k.n || ' days') || substr({col}, 20)"

    exprs = {c: c for c in cols} | {
        "order_number": "order_number || '-' || printf('%03d', k.n)",
        "stage": "'shipped'",
        "ordered_at": shifted("ordered_at"),
        "imported_at": shifted("imported_at"),
        "confirmed_at": f"CASE WHEN confirmed_at IS NULL THEN NULL ELSE {shifted('confirmed_at')}"
                        " END",
        "updated_at": "strftime('%Y-%m-%d %H:%M:%S', ordered_at, '-' || k.n || ' days', "
                      "'+1 day') || substr(ordered_at, 20)",
        "buyer_key": "substr(buyer_key, 1, 14) || printf('%06d', k.n / 2)",
        "data": ("json_set(data, '$.number', order_number || '-' || printf('%03d', k.n),"
                 " '$.ordered_at', strftime('%Y-%m-%dT%H:%M:%S', json_extract(data, "
                 "'$.ordered_at'), '-' || k.n || ' days') || substr(json_extract(data, "
                 "'$.ordered_at'), 20), '$.delivery_date', date(json_extract(data, "
                 "'$.delivery_date'), '-' || k.n || ' days'))"),
    }
    copies = -(-n // base[0])
    con.execute("BEGIN")
    con.execute(
        f"WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < ?) "
        f"INSERT INTO orders ({', '.join(cols)}) SELECT {', '.join(exprs[c] for c in cols)} "
        f"FROM k CROSS JOIN orders WHERE orders.id <= ? ORDER BY k.n, orders.id LIMIT ?",
        (copies, base[1], max(0, n - base[0])))
    con.execute("COMMIT")
    con.execute("ANALYZE")
    con.close()


def ensure_store(db: Path, n: int, seed: int) -> float:
    """The store at `db` with n orders (built by a child process unless it is there)."""
    if db.exists():
        con = sqlite3.connect(db)
        have = con.execute("SELECT count(*) FROM orders").fetchone()[0]
        con.close()
        if have == n:
            return 0.0
        raise SystemExit(f"{db} holds {have} orders, not {n}: remove it or pick another --db")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--build", str(db), "--orders", str(n),
                    "--seed", str(seed)], check=True)
    return time.perf_counter() - t0


# ---- the floor -------------------------------------------------------------------------

def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s)


_JST = timedelta(hours=9)
_ONE_DAY = timedelta(days=1)


_RELEASE = re.compile(r"(20\d\d)[-/年.](\d{1,2})[-/月.](\d{1,2})")
_SETTLED = (300, 500, 600, 700)
_EVENTS = ("order_imported", "payment_settled", "payment_reverted", "order_cancelled",
           "cancel_after_handoff")


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _release_end(items: list[Any]) -> datetime | None:
    """予約商品's hold end: 00:00 JST the day before the latest release date in 納期情報."""
    days = []
    for it in items:
        for m in _RELEASE.finditer(_nfkc(it[9])):
            try:
                days.append(date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
            except ValueError:
                continue
    if not days:
        return None
    return datetime.combine(max(days) - _ONE_DAY, datetime.min.time(),
                            timezone(_JST)).astimezone(UTC)


def _fate(checks: tuple[str, ...], paid_at: str | None, cancelled_at: str | None,
          hold_ends: list[datetime]) -> str:
    """ships / unpaid / cancelled, or cancelled_after_handoff when it was ready (paid, no
    check, its holds over) by the time it was cancelled."""
    if cancelled_at is not None:
        if checks or paid_at is None:
            return "cancelled"
        ready = max([_utc(paid_at), *hold_ends])
        return "cancelled_after_handoff" if ready <= _utc(cancelled_at) else "cancelled"
    return "ships" if paid_at is not None else "unpaid"


def floor(db: Path, since: str, until: str) -> dict[str, Any]:
    """The same replay hand-written: bare sqlite3, orjson, the 20 conditions as plain
    Python over the decoded JSON (times compared as the stored fixed-width text), with
    the same outside events read from the event log (payment and cancellation times)."""
    con = sqlite3.connect(db)
    history: dict[str, list[tuple[str, str | None]]] = {}
    for key, at, stage, updated in con.execute(
            "SELECT buyer_key, ordered_at, stage, updated_at FROM orders WHERE shop = ? AND"
            " ordered_at < ? ORDER BY ordered_at", (SHOP, until)):
        history.setdefault(key, []).append(
            (at, updated if stage in ("shipped", "cancelled") else None))
    starts = {k: [at for at, _ in v] for k, v in history.items()}
    cur_checks: Counter[str] = Counter()
    cur_holds: Counter[str] = Counter()
    new_checks: Counter[str] = Counter()
    new_holds: Counter[str] = Counter()
    orders = cur_auto = new_auto = differing = cancelled = unpaid = 0
    cur_late = new_late = 0  # cancelled after hand-off
    last = 0
    marks = ",".join("?" * len(_EVENTS))
    while True:
        rows = con.execute(
            "SELECT id, order_number, stage, rms_status, fingerprint, attrs, data, buyer_key,"
            " ordered_at, imported_at FROM orders WHERE shop = ? AND id > ? AND imported_at"
            " >= ? AND imported_at < ? ORDER BY id LIMIT 2000",
            (SHOP, last, since, until)).fetchall()
        if not rows:
            break
        last = rows[-1][0]
        logs: dict[int, list[tuple[str, str, str, str]]] = {}
        for oid, type_, actor, at, data in con.execute(
                f"SELECT order_id, type, actor, at, data FROM events WHERE order_id >= ? AND "
                f"order_id <= ? AND type IN ({marks}) ORDER BY order_id, id",
                (rows[0][0], last, *_EVENTS)):
            logs.setdefault(oid, []).append((type_, actor, at, data))
        for oid, _, stage, rms, _, _, data, buyer, ordered_at, imported_at in rows:
            log = logs.get(oid)
            paid_at = cancelled_at = None
            if not log:
                paid_at = imported_at if rms in _SETTLED else None
                cancelled_at = imported_at if stage == "cancelled" else None
            for type_, actor, at, extra in log or ():
                e = orjson.loads(extra)
                if type_ == "order_imported":
                    paid_at = at if e.get("rms_status", rms) in _SETTLED else None
                elif "merged" in e:
                    continue
                elif type_ == "payment_settled" and paid_at is None:
                    paid_at = at
                elif type_ == "payment_reverted":
                    paid_at = None
                elif cancelled_at is None and (type_ == "cancel_after_handoff" or (
                        type_ == "order_cancelled" and actor != "system")):
                    cancelled_at = at
            late = paid_at is not None and paid_at > imported_at
            d = orjson.loads(data)
            hist = history.get(buyer, [])
            before = bisect.bisect_left(starts.get(buyer, []), ordered_at)
            open_then = sum(1 for at, ended in hist[:before] if ended is None or ended > ordered_at)
            b = d["buyer"]
            a = d["amounts"]
            total = None if a[4] == NOT_FIXED else a[4]
            packages = d["packages"]
            remarks = _nfkc(customer_remarks(d["remarks"]))
            people = (b, *(pk["recipient"] for pk in packages))
            names = "".join(p[0] + p[1] + p[6] + p[7] + p[8] for p in people)
            delivery = d["delivery_date"]
            items = [it for pk in packages for it in pk["items"]]
            request = None if a[5] == NOT_FIXED else a[5]
            c_remarks = bool(remarks.strip())
            c_not_fixed = NOT_FIXED in a[:6]
            c_bundle = open_then >= 1
            c_island = d["island"] is True or any(pk["island"] for pk in packages)
            c_first = before == 0 and total is not None and total >= 50000
            c_cod = d["payment"][0] == 2 and total is not None and total > 300000
            c_reserve = d["type"] == "reservation"
            arrived = _utc(ordered_at)
            runs = [arrived, _utc(paid_at)] if late and paid_at else [arrived]
            wanted = date.fromisoformat(delivery) if delivery is not None else None
            # お届け日指定 holds from the first run it holds at (its end is always ahead)
            date_run = next((t for t in runs if wanted is not None
                             and (wanted - (t + _JST).date()).days > 5), None)
            c_date = date_run is not None
            date_end = (datetime.combine(wanted - 3 * _ONE_DAY, datetime.min.time(),
                                         timezone(_JST)).astimezone(UTC)
                        if date_run is not None and wanted is not None else None)
            release_end = _release_end([it for pk in packages for it in pk["items"]]
                                       ) if c_reserve else None
            reserve_run = next((t for t in runs if release_end is not None
                                and release_end > t), None)
            c_reserve = reserve_run is not None
            c_address = (not all(postal_code_valid(p[5], p[6]) for p in people)
                         or bool(unprintable_chars(names)))
            c_big = total is not None and total >= 100000
            c_several = len(packages) > 1
            c_many = sum(it[5] for it in items) > 10
            c_receipt = "領収書" in remarks
            c_matcha = any(_nfkc(it[1]) == "tea-002" for it in items)
            # Conditions of rules that only tag or set: evaluated, as the engine does.
            _ = (d["gift"] is True or any(pk["noshi"] for pk in packages),
                 d["next_day"] or d["next_day_cert"], d["type"] == "subscription",
                 d["payment"][0] == 21,
                 any(_nfkc(pk["recipient"][6]) == "沖縄県" for pk in packages),
                 a[7] > 0 and request == 0)
            now_c = tuple(name for name, hit in (
                ("備考欄あり", c_remarks), ("送料未確定", c_not_fixed), ("同梱候補", c_bundle),
                ("離島", c_island), ("初回高額", c_first), ("代引き上限", c_cod),
                ("住所確認", c_address)) if hit)
            now_h = tuple(name for name, hit in (("予約商品", c_reserve),
                                                  ("お届け日指定", c_date)) if hit)
            new_c = now_c + tuple(name for name, hit in (
                ("高額注文", c_big), ("複数送付先", c_several), ("大量注文", c_many),
                ("領収書", c_receipt)) if hit)
            new_h = now_h + (("抹茶入荷待ち",) if c_matcha else ())
            ends = [x for x, hit in ((release_end, c_reserve), (date_end, c_date))
                    if hit and x is not None]
            now_f = _fate(now_c, paid_at, cancelled_at, ends)
            new_f = _fate(new_c, paid_at, cancelled_at,
                          [*ends, arrived + _ONE_DAY] if c_matcha else ends)
            cur_checks.update(now_c)
            cur_holds.update(now_h)
            new_checks.update(new_c)
            new_holds.update(new_h)
            cur_auto += now_f == "ships" and not now_c
            new_auto += new_f == "ships" and not new_c
            cur_late += now_f == "cancelled_after_handoff"
            new_late += new_f == "cancelled_after_handoff"
            differing += (now_c, now_h, now_f) != (new_c, new_h, new_f)
            cancelled += cancelled_at is not None
            unpaid += cancelled_at is None and paid_at is None
            orders += 1
    con.close()
    return {"orders": orders, "current": (cur_auto, cur_checks, cur_holds, cur_late),
            "proposed": (new_auto, new_checks, new_holds, new_late), "differing": differing,
            "cancelled": cancelled, "unpaid": unpaid}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=200_000,
                        help="stored orders (the issue's figure is 1,000,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", metavar="PATH",
                        help="keep the store here and reuse it on the next run")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the replay into FILE")
    parser.add_argument("--build", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        build(Path(args.build), args.orders, args.seed)
        return
    n = args.orders
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        db = Path(args.db) if args.db else tmp / "replay.db"
        build_wall = ensure_store(db, n, args.seed)
        current, proposed = flows(tmp)
        store = Store.open(f"sqlite:///{db}", migrate=False)
        since = datetime(2000, 1, 1, tzinfo=UTC)
        until = datetime(2100, 1, 1, tzinfo=UTC)
        profile = cProfile.Profile() if args.profile else None
        rss0 = peak_rss_mb()
        if profile:
            profile.enable()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        sim = simulate(store, SHOP, current, proposed, since, until)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        if profile:
            profile.disable()
        rss = peak_rss_mb()
        store.close()
        fwall0, fcpu0 = time.perf_counter(), time.process_time()
        bare = floor(db, "2000-01-01 00:00:00.000000", "2100-01-01 00:00:00.000000")
        fwall, fcpu = time.perf_counter() - fwall0, time.process_time() - fcpu0
        size = db.stat().st_size / 2**20

    agrees = (bare["orders"] == sim.orders and bare["differing"] == sim.differing
              and (bare["cancelled"], bare["unpaid"]) == (sim.cancelled, sim.unpaid)
              and all((auto, checks, holds, late) == (flow.automated, flow.checks, flow.holds,
                                                      flow.cancelled_after_handoff)
                      for (auto, checks, holds, late), flow in (
                          (bare["current"], sim.current), (bare["proposed"], sim.proposed))))
    print(f"bench/replay.py — {n:,} stored orders ({size:,.0f} MB of SQLite"
          + (f", built in {build_wall:.0f} s, not counted" if build_wall else ", reused")
          + f"), {sim.orders:,} replayed through {len(current)} current and "
          f"{len(proposed)} proposed rules")
    print(f"  automation rate: current {sim.current.automation_rate}, proposed "
          f"{sim.proposed.automation_rate}; {sim.differing:,} orders differ")
    row("replay wall time", f"{wall:.1f} s", f"(≤ 60 s for 1,000,000; stretch 20 s → "
        f"{wall * 1_000_000 / n:.0f} s at this rate)")
    row("replay CPU", f"{cpu:.1f} s")
    row("replay orders/s (wall)", f"{sim.orders / wall:,.0f}", "≥ 16,667 (stretch 50,000)")
    row("floor: bare sqlite3 + orjson + 20 conditions", f"{fcpu:.1f} s CPU",
        f"(wall {fwall:.1f} s; {bare['orders'] / fwall:,.0f} orders/s)")
    row("replay ÷ floor (CPU)", f"{cpu / fcpu:.2f}×", "≤ 3×")
    row("peak RSS during the replay", f"{rss:.0f} MB", f"≤ 1 GB (before it: {rss0:.0f} MB)")
    row("floor counts equal the engine's", "yes" if agrees else "NO")
    if profile is not None:
        profile.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
