"""Survival scenarios: workers killed with SIGKILL while a sandbox day runs.

Several `unyo run` worker processes work several shops against one database,
each shop with its own RMS emulator (real HTTP) and warehouse folder, one SMTP
sink for all mail, everything on one simulated clock shared across processes
(`ScaledClock`, passed to the workers as UNYO_SANDBOX_CLOCK). A killer kills a
random worker with SIGKILL every few seconds and starts a new one. At the end
the outcome of every order (unyo's stage and open gates, the RMS status, the
shipping rows RMS holds, the warehouse request rows, the mails) is compared
with a run of one worker that nobody kills.

Used by `bench/survival.py` (full size) and by the test suite and CI (sized to
fit). Nothing here is used by unyo itself.
"""

from __future__ import annotations

import csv
import io
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from unyo.adapters.db.store import Store
from unyo.clock import JST, ScaledClock, SimClock
from unyo.flow.warehouse import REQUEST_COLUMNS
from unyo.sandbox.generator import generate_orders
from unyo.sandbox.rms_emulator import FaultConfig, RawJson, RmsEmulator, RmsEmulatorServer
from unyo.sandbox.smtp_sink import SmtpSink
from unyo.sandbox.warehouse_emulator import WarehouseEmulator

DAY = datetime(2026, 11, 25, tzinfo=JST)  # a Wednesday
PAID_WITHIN = timedelta(hours=3)
"""Payments come at most this long after the confirmation (the generator's bank transfers
and konbini can take two days): a payment that lands after the run would make the outcome
depend on when the engine confirmed, not on whether it survived."""
TAIL = timedelta(hours=18)  # the last orders are paid by 03:00 and ship in the 11:00 wave

SHOP_FILE = """\
shop:
  id: {shop}
  name: サバイバル店{i}
database:
  url: {database_url}
rms:
  base_url: {base_url}
  service_secret_env: SHOP{i}_RMS_SERVICE_SECRET
  license_key_env: SHOP{i}_RMS_LICENSE_KEY
  min_interval: 0s
  timeout: {timeout}
  max_retries: 3
import:
  interval: 2m
  lookback: 48h
sync:
  interval: 10m
outbox:
  interval: 1m
mail:
  enabled: true
  host: 127.0.0.1
  port: {smtp_port}
  starttls: false
  auth: false
  from_address: shop{i}@example.jp
  timeout: 10s
warehouse:
  enabled: true
  folder: {folder}
  encoding: cp932
  interval: 10m
  results_interval: {results_interval}
  settle: 0s
rules:
  - name: 高額注文タグ
    when: {{field: total, op: ge, value: 20000}}
    then:
      - tag: 高額
"""


@dataclass
class Scenario:
    backend: str  # "postgresql" or "sqlite"
    database_url: str
    shops: int = 5
    orders: int = 10_000  # in all shops together
    workers: int = 3
    kill_every: float = 3.0  # wall seconds between kills; 0: nobody is killed
    max_kills: int | None = None
    speed: float = 1440.0  # simulated seconds per wall second
    lease_ttl: float = 2.0  # wall seconds
    seed: int = 1
    faults: bool = False  # the emulators misbehave (see FAULTS and the fault schedule)
    poison: int = 0  # orders of the first shop RMS serves broken (POISONS, in turn)


FAULTS = FaultConfig(error_rate=0.10, timeout_rate=0.05, timeout_seconds=1.5,
                     malformed_rate=0.01)
"""10 % HTTP 500/503, 5 % timeouts (the shop's rms.timeout is 1 s), 1 % cut bodies."""

FAULT_SCHEDULE = ((timedelta(hours=9), timedelta(hours=10), "throttle"),
                  (timedelta(hours=13), timedelta(hours=15), "auth_expired"))
"""Simulated hours of the day with a throttling burst (half the calls refused) and with
the license key expired (every call 401 ES01-01) until the shop renews it."""


POISONS: tuple[dict[str, Any], ...] = (
    {"goodsPrice": "--5"},
    {"WrappingModel2": RawJson("[" * 5000 + "]" * 5000)},  # past every JSON decoder
    {"couponAllTotalPrice": 2**70},
    {"shopOrderCfmDatetime": "0001-01-01T00:00:00+14:00"},
)
"""What a poisoned order carries at RMS: each makes it unreadable for good."""


@dataclass
class Outcome:
    """What a run ended with, per order, and how it went."""

    orders: dict[tuple[str, str], tuple[Any, ...]]  # (shop, number) → compared state
    kills: int
    restarts: int
    wall_seconds: float
    warehouse_duplicates: int  # request rows beyond the first per package
    shipping_duplicates: int  # RMS shipping rows beyond one per package
    mail_duplicates: int  # mails beyond the first per Message-ID
    mails: int
    stages: Counter[str] = field(default_factory=Counter)
    log_tail: str = ""
    auth_alert_seen: bool = False  # the RMS authentication alert was up at some point
    auth_alert_at_end: bool = False  # ... and still up at the end (it must clear)
    poisoned: frozenset[tuple[str, str]] = frozenset()  # orders RMS served broken
    poison_recorded: int = 0  # ... of which unyo keeps failed in import_pending


class _Workers:
    """The worker processes, restarted after every kill."""

    def __init__(self, root: Path, n: int, env: dict[str, str], lease_ttl: float) -> None:
        self.root, self.env, self.lease_ttl = root, env, lease_ttl
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * n
        self.started = 0
        (root / "logs").mkdir(exist_ok=True)

    def start(self, slot: int) -> None:
        self.started += 1
        log = open(self.root / "logs" / f"worker-{slot}-{self.started}.log", "wb")  # noqa: SIM115
        self.procs[slot] = subprocess.Popen(
            [sys.executable, "-m", "unyo", "run", "-c", str(self.root / "shops"),
             "--lease-ttl", str(self.lease_ttl), "--worker-id", f"w{slot}-{self.started}"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def kill(self, slot: int) -> None:
        proc = self.procs[slot]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            if proc is not None:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def log_tail(self) -> str:
        logs = sorted((self.root / "logs").glob("*.log"), key=lambda p: p.stat().st_mtime)
        return "".join(p.read_text(errors="replace")[-1500:] for p in logs[-2:])


def run(sc: Scenario, root: Path, progress: Any = None) -> Outcome:
    """Run the scenario in `root` (a fresh folder); returns the outcome."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "shops").mkdir()
    Store.open(sc.database_url).close()  # migrate once, before the workers race to
    rng = random.Random(sc.seed)
    clock = ScaledClock(DAY, time.time() + 3.0, sc.speed)  # the workers start meanwhile
    env = {**os.environ, "UNYO_SANDBOX_CLOCK": clock.spec(),
           "UNYO_DATABASE_URL": sc.database_url, "PYTHONUNBUFFERED": "1"}
    env.pop("UNYO_RMS_BASE_URL", None)
    emulators: dict[str, RmsEmulator] = {}
    servers: list[RmsEmulatorServer] = []
    warehouses: dict[str, WarehouseEmulator] = {}
    per_shop = [sc.orders // sc.shops + (1 if i < sc.orders % sc.shops else 0)
                for i in range(sc.shops)]
    sink = SmtpSink().start()
    workers: _Workers | None = None
    stop = threading.Event()
    kills = 0
    poisoned: set[tuple[str, str]] = set()
    try:
        for i in range(sc.shops):
            shop = f"shop{i}"
            secret, key = f"SP-survival-{i}", f"SL-survival-{i}"
            orders = generate_orders(per_shop[i], seed=sc.seed * 100 + i, start=DAY,
                                     end=DAY + timedelta(days=1), shop_number=str(200000 + i))
            for o in orders:
                if o.payment_delay is not None:
                    o.payment_delay = min(o.payment_delay, PAID_WITHIN)
            emulators[shop] = RmsEmulator(clock, service_secret=secret, license_key=key,
                                          orders=orders, seed=i)
            if i == 0 and sc.poison:
                plain = [o for o in orders if o.self_cancel_after is None
                         and o.ordered_at < DAY + timedelta(hours=20)]  # imported in a clean run
                for n, o in enumerate(rng.sample(plain, sc.poison)):
                    emulators[shop].corrupt(o.order_number, **POISONS[n % len(POISONS)])
                    poisoned.add((shop, o.order_number))
            server = RmsEmulatorServer(emulators[shop]).start()
            servers.append(server)
            # The poison scenario's warehouse writes its result files in place, in parts
            # (to the middle of a tracking number, to that line's end, then the rest).
            warehouses[shop] = WarehouseEmulator(root / f"warehouse{i}", clock, seed=i,
                                                 stockout_rate=0.0, calendar=lambda d: True,
                                                 in_place=sc.poison > 0)
            env[f"SHOP{i}_RMS_SERVICE_SECRET"], env[f"SHOP{i}_RMS_LICENSE_KEY"] = secret, key
            (root / "shops" / f"{shop}.yaml").write_text(SHOP_FILE.format(
                shop=shop, i=i, database_url=sc.database_url, base_url=server.base_url,
                timeout="1s" if sc.faults else "10s",
                # the poison scenario's reader looks often, to meet files half-written
                results_interval="1m" if sc.poison else "10m",
                smtp_port=sink.port, folder=root / f"warehouse{i}"), encoding="utf-8")

        def step_warehouses() -> None:
            while not stop.wait(0.05):
                for w in warehouses.values():
                    w.step()
                if sc.faults:
                    at = clock.now() - DAY
                    on = {what for start, end, what in FAULT_SCHEDULE if start <= at < end}
                    for e in emulators.values():
                        e.faults = replace(FAULTS, throttle=0.5 if "throttle" in on else False,
                                           auth_expired="auth_expired" in on)

        stepper = threading.Thread(target=step_warehouses, daemon=True)
        stepper.start()
        workers = _Workers(root, sc.workers, env, sc.lease_ttl)
        for slot in range(sc.workers):
            workers.start(slot)
        wall0 = time.monotonic()
        next_kill = wall0 + sc.kill_every if sc.kill_every else float("inf")
        watcher = Store.open(sc.database_url, migrate=False)
        alert_seen, next_look = False, wall0
        end = DAY + timedelta(days=1) + TAIL
        while clock.now() < end:
            if time.monotonic() >= next_kill and (sc.max_kills is None or kills < sc.max_kills):
                slot = rng.randrange(sc.workers)
                workers.kill(slot)
                kills += 1
                workers.start(slot)
                next_kill = time.monotonic() + sc.kill_every * rng.uniform(0.5, 1.5)
            for slot, proc in enumerate(workers.procs):  # a worker that died by itself
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"worker {slot} exited with {proc.returncode}:\n"
                                       f"{workers.log_tail()}")
            if progress is not None:
                progress(min(1.0, (clock.now() - DAY) / (end - DAY)), kills)
            if time.monotonic() >= next_look:
                alert_seen = alert_seen or _auth_alert(watcher, emulators)
                next_look = time.monotonic() + 0.5
            time.sleep(0.1)
        # the day is over: let what is in flight land (results read, effects delivered)
        quiet, deadline = 0, time.monotonic() + 120
        while quiet < 3 and time.monotonic() < deadline:
            time.sleep(1.0)
            quiet = quiet + 1 if _settled(watcher, warehouses, clock) else 0
        workers.stop()
        wall = time.monotonic() - wall0
        stop.set()
        stepper.join(5)
        for w in warehouses.values():
            w.step()
        outcome = _outcome(sc, root, emulators, sink, kills, workers, wall)
        outcome.poisoned = frozenset(poisoned)
        outcome.poison_recorded = _failed_imports(watcher, poisoned)
        outcome.auth_alert_seen = alert_seen
        outcome.auth_alert_at_end = _auth_alert(watcher, emulators)
        watcher.close()
        return outcome
    finally:
        stop.set()
        if workers is not None:
            workers.stop()
        for server in servers:
            server.stop()
        sink.stop()


def _failed_imports(store: Store, poisoned: set[tuple[str, str]]) -> int:
    """How many of the poisoned orders unyo keeps as failed imports, with a reason."""
    with store.transaction() as conn:
        return sum(1 for shop in {s for s, _ in poisoned}
                   for p in store.failed_imports(conn, shop)
                   if (shop, p.order_number) in poisoned and p.last_error)


def _auth_alert(store: Store, emulators: dict[str, RmsEmulator]) -> bool:
    """Whether any shop shows the RMS authentication alert (as the dashboard does)."""
    from unyo.adapters.db.accounts import Accounts
    from unyo.app.dashboard import RMS_AUTH_ALERT

    accounts = Accounts(store.engine)
    return any(accounts.setting(shop, RMS_AUTH_ALERT) for shop in emulators)


def _settled(store: Store, warehouses: dict[str, WarehouseEmulator],
             clock: ScaledClock) -> bool:
    """Nothing in flight: the warehouses hold no package and no unread result, and no
    effect is due."""
    from sqlalchemy import func, select

    from unyo.adapters.db import schema as t

    if any(w.pending() or any((w.folder / "results").glob("*.csv"))
           or any((w.folder / "requests").glob("*.csv")) for w in warehouses.values()):
        return False
    with store.transaction() as conn:
        due = conn.execute(select(func.count()).select_from(t.outbox).where(
            t.outbox.c.status == "pending",
            t.outbox.c.next_attempt_at <= clock.now())).scalar_one()
    return due == 0


def _outcome(sc: Scenario, root: Path, emulators: dict[str, RmsEmulator], sink: SmtpSink,
             kills: int, workers: _Workers, wall: float) -> Outcome:
    from sqlalchemy import select

    from unyo.adapters.db import schema as t

    store = Store.open(sc.database_url, migrate=False)
    state: dict[tuple[str, str], dict[str, Any]] = {}
    stages: Counter[str] = Counter()
    with store.transaction() as conn:
        for shop, number, stage in conn.execute(
                select(t.orders.c.shop, t.orders.c.order_number, t.orders.c.stage)):
            state[(shop, number)] = {"stage": stage, "gates": []}
            stages[stage] += 1
        j = t.gates.join(t.orders, t.gates.c.order_id == t.orders.c.id)
        for shop, number, kind in conn.execute(
                select(t.orders.c.shop, t.orders.c.order_number, t.gates.c.kind)
                .select_from(j).where(t.gates.c.closed_at.is_(None))):
            state[(shop, number)]["gates"].append(kind)
    store.close()
    # the warehouse: request rows per package, over every file it received
    # (a package has one row per item: count the files that ask for it)
    requests: Counter[tuple[str, str, str]] = Counter()
    for i in range(sc.shops):
        for path in sorted((root / f"warehouse{i}" / "received").glob("*.csv")):
            if path.name.startswith("unyo-cancel"):
                continue
            rows = list(csv.reader(io.StringIO(path.read_bytes().decode("cp932"), newline="")))
            at = {h.lstrip("'"): n for n, h in enumerate(rows[0])}
            number, basket = at[REQUEST_COLUMNS["order_number"]], at[REQUEST_COLUMNS["basket_id"]]
            requests.update({(f"shop{i}", row[number].lstrip("'"), row[basket])
                             for row in rows[1:]})
    packages_requested = Counter(key[:2] for key in requests)
    # RMS: status and shipping rows per order, read days later (the workers are gone), so
    # that a report sent after midnight in one run and before in the other reads the same
    shipping_dup = 0
    for emulator in emulators.values():
        emulator.clock = SimClock(DAY + timedelta(days=6))
    for shop, emulator in emulators.items():
        for (s, number), st in state.items():
            if s != shop:
                continue
            model = emulator.order_model(number)
            per_package = [len(p.get("ShippingModelList") or [])
                           for p in model["PackageModelList"]]
            shipping_dup += sum(max(0, r - 1) for r in per_package)
            st["rms"] = int(model["orderProgress"])
            st["shipping_rows"] = tuple(per_package)
            st["warehouse_requests"] = packages_requested.get((shop, number), 0)
    # mails: by Message-ID (the same for a mail sent again)
    by_id: Counter[str] = Counter()
    per_order: dict[tuple[str, str], Counter[str]] = {}
    numbers = {number: key for key in state for number in [key[1]]}
    for mail in sink.messages():
        msg = mail.message
        by_id[str(msg["Message-ID"])] += 1
        text = mail.text
        number = next((n for n in _numbers_in(text) if n in numbers), None)
        if number is not None:
            per_order.setdefault(numbers[number], Counter())[mail.kind] += 1
    orders = {}
    for key, st in state.items():
        mails = per_order.get(key, Counter())
        orders[key] = (st["stage"], tuple(sorted(st["gates"])), st.get("rms"),
                       st.get("shipping_rows"), st.get("warehouse_requests", 0),
                       tuple(sorted(k for k in mails)))
    return Outcome(
        orders=orders, kills=kills, restarts=workers.started - sc.workers,
        wall_seconds=round(wall, 1),
        warehouse_duplicates=sum(max(0, n - 1) for n in requests.values()),
        shipping_duplicates=shipping_dup,
        mail_duplicates=sum(n - 1 for n in by_id.values()), mails=sum(by_id.values()),
        stages=stages, log_tail=workers.log_tail())


def _numbers_in(text: str) -> list[str]:
    import re

    return re.findall(r"\d{6}-\d{8}-\d{10}", text)


def compare(killed: Outcome, clean: Outcome) -> list[str]:
    """Orders whose outcome differs between the two runs, as readable lines (the orders one
    run had poisoned are not compared: their outcome is the poison's)."""
    out = []
    skip = killed.poisoned | clean.poisoned
    for key in sorted((set(killed.orders) | set(clean.orders)) - skip):
        a, b = killed.orders.get(key), clean.orders.get(key)
        if a != b:
            out.append(f"{key[0]} {key[1]}: {a} / clean run {b}")
    return out


def summary(name: str, killed: Outcome, clean: Outcome, differences: list[str]) -> dict[str, Any]:
    return {
        "scenario": name,
        "orders": len(killed.orders), "orders_clean_run": len(clean.orders),
        "kills": killed.kills, "stages": dict(killed.stages),
        "stages_clean_run": dict(clean.stages),
        "differences": len(differences), "first_differences": differences[:10],
        "warehouse_duplicates": killed.warehouse_duplicates,
        "rms_shipping_duplicates": killed.shipping_duplicates,
        "mail_duplicates": killed.mail_duplicates, "mails": killed.mails,
        "mails_clean_run": clean.mails,
        "wall_seconds": killed.wall_seconds, "wall_seconds_clean_run": clean.wall_seconds,
        "auth_alert_seen": killed.auth_alert_seen, "auth_alert_at_end": killed.auth_alert_at_end,
        "poisoned": len(killed.poisoned), "poison_recorded": killed.poison_recorded,
        "orders_compared": len(set(killed.orders) - killed.poisoned - clean.poisoned),
    }
