"""Run every benchmark at a size that fits in about ten minutes, then print a summary.

Each benchmark runs in its own process, one after the other (they measure CPU: never in
parallel), with its own floor as usual; the sizes here are small, so read the figures
for their ratios and for what changed since the last run, not against the targets of
bench/README.md, which are stated at full size. `bench/web.py` runs only where it exists;
`bench/survival.py` is not run here (CI runs it: `python bench/survival.py --ci`).

    python bench/run_all.py [--only sale_day,import] [--full]

`--full` runs each benchmark at its own default size instead (hours).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name, arguments at the ten-minute size
SUITE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("import", ("--orders", "5000")),
    ("ship", ("--orders", "3000")),
    ("flow", ("--orders", "5000")),
    ("replay", ("--orders", "50000")),
    ("web", ("--orders", "20000", "--repeat", "10")),
    ("mail", ("--orders", "500")),
    ("idle", ("--orders", "5000", "--runs", "500")),
    ("sale_day", ("--orders", "3000", "--hours", "6", "--tail-hours", "2", "--quiet")),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated names (import, ship, flow, replay, "
                        "web, mail, idle, sale_day)")
    parser.add_argument("--full", action="store_true", help="each benchmark's default size")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    results: list[tuple[str, str, float, int]] = []
    for name, sized in SUITE:
        script = HERE / f"{name}.py"
        if (only and name not in only) or not script.exists():
            continue
        command = [sys.executable, str(script), *(() if args.full else sized)]
        shown = " ".join(["python", f"bench/{name}.py", *command[2:]])
        print(f"\n=== {shown}", flush=True)
        wall0 = time.perf_counter()
        status = subprocess.call(command)
        results.append((name, shown, time.perf_counter() - wall0, status))
    print("\n| benchmark | command | wall | status |\n|---|---|---|---|")
    for name, shown, wall, status in results:
        print(f"| {name} | `{shown}` | {wall:,.0f} s | {'ok' if status == 0 else status} |")
    print(f"\ntotal {sum(r[2] for r in results):,.0f} s")
    return max((r[3] for r in results), default=0)


if __name__ == "__main__":
    sys.exit(main())
