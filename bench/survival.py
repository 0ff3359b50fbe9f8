"""Survival: workers killed with SIGKILL during a sandbox day end where a clean run ends.

Four scenarios (issues 8 and 14):
  postgresql — 3 workers, 5 shops, 10,000 orders; a random worker killed every few
               seconds and restarted;
  sqlite     — 1 worker killed 20 times during a 5,000-order day;
  faults     — 1 worker, the RMS emulators answering 10 % HTTP 500/503, 5 % timeouts,
               1 % cut bodies, a throttling burst (09:00–10:00) and an expired license
               key (13:00–15:00, then renewed);
  poison     — 1 worker, a few orders RMS serves broken for good (an amount "--5", nesting
               past every JSON decoder, an integer past 64 bits, a datetime in year 1) among
               a day's orders, and a warehouse that writes its result files in place, slowly:
               every other order must end as in the clean run, the poisoned ones recorded
               as failed imports with their reason.
Each is run twice, with kills / faults and without (one worker, nobody killed), and the
outcome of every order is compared: unyo's stage and open gates, the RMS status and
shipping rows, whether the warehouse got the request, which mails went out. Prints
the differences and the duplicates (warehouse request rows, RMS shipping rows, mails;
mails may repeat only within the documented crash window, docs/operations.md).

    python bench/survival.py                   # full size (about 15 minutes)
    python bench/survival.py --ci              # sized for CI (about 13 minutes)
    python bench/survival.py --scenario sqlite --orders 2000

Exit status 1 when an outcome differs or a warehouse request or RMS shipping row is
duplicated.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from unyo.sandbox.postgres import PostgresServer
from unyo.sandbox.survival import Scenario, compare, run, summary

FULL = {"postgresql": {"shops": 5, "orders": 10_000, "workers": 3, "kill_every": 3.0},
        "sqlite": {"shops": 1, "orders": 5_000, "workers": 1, "kill_every": 3.0,
                   "max_kills": 20},
        "faults": {"shops": 1, "orders": 3_000, "workers": 1, "kill_every": 0.0,
                   "faults": True},
        "poison": {"shops": 1, "orders": 3_000, "workers": 1, "kill_every": 0.0,
                   "poison": 4}}
CI = {"postgresql": {"shops": 5, "orders": 2_000, "workers": 3, "kill_every": 3.0},
      "sqlite": {"shops": 1, "orders": 1_000, "workers": 1, "kill_every": 2.5,
                 "max_kills": 20},
      "faults": {"shops": 1, "orders": 600, "workers": 1, "kill_every": 0.0,
                 "faults": True},
      "poison": {"shops": 1, "orders": 600, "workers": 1, "kill_every": 0.0,
                 "poison": 4}}


def scenario(name: str, sizes: dict[str, Any], tmp: Path, pg: PostgresServer | None,
             speed: float) -> dict[str, Any]:
    outcomes = []
    first = {"faults": "faulty", "poison": "poisoned"}.get(name, "killed")
    for label, kills in ((first, True), ("clean", False)):
        if name == "postgresql":
            assert pg is not None
            url = pg.create_database(f"survival_{label}")
        else:
            url = f"sqlite:///{tmp / f'{name}-{label}.db'}"
        sc = Scenario(backend="postgresql" if name == "postgresql" else "sqlite",
                      database_url=url, speed=speed, **{
                          **sizes, **({} if kills else {"workers": 1, "kill_every": 0.0,
                                                        "faults": False, "poison": 0})})
        print(f"{name}: {label} run — {sc.shops} shop(s), {sc.orders} orders, "
              f"{sc.workers} worker(s){'' if kills else ', nobody killed'} ...",
              file=sys.stderr, flush=True)
        outcomes.append(run(sc, tmp / f"{name}-{label}"))
    killed, clean = outcomes
    diffs = compare(killed, clean)
    return summary(name, killed, clean, diffs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario",
                        choices=["postgresql", "sqlite", "faults", "poison", "all"],
                        default="all")
    parser.add_argument("--ci", action="store_true", help="sizes that fit in CI")
    parser.add_argument("--orders", type=int, help="override the number of orders")
    parser.add_argument("--speed", type=float, default=1440.0,
                        help="simulated seconds per wall second (default 1440: a day a minute)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = CI if args.ci else FULL
    names = (["postgresql", "sqlite", "faults", "poison"] if args.scenario == "all"
             else [args.scenario])
    results = []
    with tempfile.TemporaryDirectory(prefix="unyo-survival-") as tmp:
        pg = PostgresServer().start() if "postgresql" in names else None
        try:
            for name in names:
                s = dict(sizes[name])
                if args.orders:
                    s["orders"] = args.orders
                results.append(scenario(name, s, Path(tmp), pg, args.speed))
        finally:
            if pg is not None:
                pg.stop()
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for r in results:
            print(f"\n== {r['scenario']}: {r['orders']} orders, {r['kills']} kills, "
                  f"{r['wall_seconds']} s (clean run {r['wall_seconds_clean_run']} s)")
            print(f"stages            {r['stages']}")
            print(f"stages, clean run {r['stages_clean_run']}")
            print(f"orders whose outcome differs from the clean run: {r['differences']}")
            for line in r["first_differences"]:
                print(f"  {line}")
            print(f"duplicated warehouse request rows: {r['warehouse_duplicates']}")
            print(f"duplicated RMS shipping rows:      {r['rms_shipping_duplicates']}")
            print(f"mails sent again (crash window):   {r['mail_duplicates']} of {r['mails']} "
                  f"(clean run: {r['mails_clean_run']} mails)")
            if r["scenario"] == "poison":
                print(f"poisoned orders: {r['poisoned']}, recorded as failed imports with "
                      f"their reason: {r['poison_recorded']}; other orders compared: "
                      f"{r['orders_compared']}")
            if r["scenario"] == "faults":
                print(f"RMS authentication alert: raised {r['auth_alert_seen']}, "
                      f"still up at the end {r['auth_alert_at_end']}")
    bad = [r for r in results if r["differences"] or r["warehouse_duplicates"]
           or r["rms_shipping_duplicates"]
           or r["orders"] != r["orders_clean_run"] - r["poisoned"]
           or r["poison_recorded"] != r["poisoned"]
           or (r["scenario"] == "faults" and (not r["auth_alert_seen"]
                                              or r["auth_alert_at_end"]))]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
