"""`unyo demo`: the whole Rakuten flow on the sandbox, on a simulated clock.

Starts the RMS emulator on 127.0.0.1 (real HTTP) and the SMTP sink (real SMTP),
generates a day of orders, and drives the same engine that runs in production
through the day and on until nothing more moves, then summarises what happened.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from unyo.adapters.db.store import Store
from unyo.app.batches import Printing
from unyo.app.context import Progress, no_progress
from unyo.app.manual import release_gate
from unyo.app.report import build_report
from unyo.app.runner import Runner
from unyo.clock import JST, SimClock, SystemClock
from unyo.domain import ChannelOrder, GateKind
from unyo.flow import Config, ImportSettings, OutboxSettings, RmsSettings, SyncSettings
from unyo.flow.config import parse_config, render_init
from unyo.flow.mail import MailSettings
from unyo.flow.warehouse import WarehouseSettings
from unyo.sandbox.generator import generate_orders
from unyo.sandbox.packer import SelfPacker
from unyo.sandbox.rms_emulator import RmsEmulator, RmsEmulatorServer
from unyo.sandbox.smtp_sink import SmtpSink
from unyo.sandbox.warehouse_emulator import WarehouseEmulator
from unyo.wiring import build_context, build_printer

# Demo credentials for the emulator only; they open nothing real.
DEMO_SERVICE_SECRET = "SP000000_demo-secret"
DEMO_LICENSE_KEY = "SL000000_demo-license"

STEP = timedelta(minutes=1)
TAIL_STEP = timedelta(minutes=5)  # after the day no order arrives: coarser steps suffice
QUIET = timedelta(hours=3)  # after the day: stop once nothing moved for this long
TAIL_MAX = timedelta(days=4)  # a weekend or holiday at the warehouse, then RMS's next day


DEMO_FROM = "info@demo-shop.example"


class DemoOperator:
    """Shop staff in the demo: on weekdays 09:00–18:00 JST they look at the orders the
    shop's rules sent to 確認待ち once they have waited 20 minutes, and release them —
    manual touches, so the report has a bottleneck ranking to show. Gates that are not
    a rule's (a warehouse stock-out, postage to fix in RMS) are left for real people."""

    def __init__(self, store: Store, shop: str) -> None:
        self.store, self.shop = store, shop

    def work(self, now: datetime) -> int:
        local = now.astimezone(JST)
        if local.weekday() >= 5 or not 9 <= local.hour < 18:
            return 0
        with self.store.transaction() as conn:
            waiting = self.store.open_rule_gates(conn, self.shop, GateKind.check,
                                                 now - timedelta(minutes=20))
        for number, seq in waiting:
            release_gate(self.store, self.shop, number, seq, note="デモ: 確認済",
                         by="demo-operator", now=now)
        return len(waiting)


def demo_config(base_url: str, database_url: str, smtp_port: int = 0,
                warehouse_dir: str = "", warehouse_type: str = "csv") -> Config:
    return Config(
        shop_id="demo", shop_name="unyo デモ店", database_url=database_url,
        rms=RmsSettings(base_url=base_url, min_interval=0.0, timeout=10.0, max_retries=3),
        import_=ImportSettings(interval=60.0),
        sync=SyncSettings(interval=300.0),
        outbox=OutboxSettings(interval=60.0),
        mail=MailSettings(enabled=smtp_port > 0, host="127.0.0.1", port=smtp_port or 25,
                          starttls=False, auth=False, from_address=DEMO_FROM, timeout=10.0),
        warehouse=WarehouseSettings(enabled=bool(warehouse_dir), type=warehouse_type,
                                    folder=warehouse_dir, settle=0.0,
                                    interval=300.0, results_interval=300.0),
        rules=parse_config(render_init("demo")).rules,  # the example rules of `unyo init`
    )


def _shipping_in_flight(store: Store, shop: str, emulator: RmsEmulator,
                        wms: WarehouseEmulator | SelfPacker) -> bool:
    """Packages still at the warehouse, or reports RMS has not moved to 500 yet."""
    if wms.pending():
        return True
    with store.transaction() as conn:
        reports = store.outbox_counts(conn, shop).get("report_shipping", {})
    return bool(reports.get("pending", 0)) or \
        emulator.progress_counts().get(500, 0) < reports.get("done", 0)


ORDER_TYPES: dict[str, Callable[[ChannelOrder], bool]] = {
    "store_pickup": lambda c: any(p.pickup_store for p in c.packages),  # コンビニ受取
    "drop_off": lambda c: any(p.drop_off for p in c.packages),  # 置き配
    "social_gift": lambda c: c.social_gift,  # ソーシャルギフト
    "same_day": lambda c: c.same_day,  # 当日出荷
    "next_day_cert": lambda c: c.next_day_cert,  # 最強翌日配送
    "caution": lambda c: bool(c.caution or c.caution_detail),  # 楽天の注意表示
}
"""The order types the summary counts (`order_types`), as unyo read them."""


def _order_types(store: Store, conn: Any, shop: str, numbers: list[str]) -> dict[str, Any]:
    """Per order type: its orders in unyo, their stages, the gates still open (kind →
    reason → orders) and the outside effects that failed for good."""
    orders = store.load_orders(conn, shop, numbers)
    out: dict[str, Any] = {}
    for name, test in ORDER_TYPES.items():
        typed = [o for o in orders.values() if test(o.channel)]
        stages: dict[str, int] = {}
        waiting: dict[str, dict[str, int]] = {}
        for o in typed:
            stages[o.stage.value] = stages.get(o.stage.value, 0) + 1
            for g in o.open_gates:
                by_reason = waiting.setdefault(g.kind.value, {})
                by_reason[g.reason] = by_reason.get(g.reason, 0) + 1
        failed = sum(1 for o in typed if o.id is not None
                     for e in store.effects_of(conn, o.id) if e.status == "failed")
        out[name] = {"orders": len(typed), "stages": dict(sorted(stages.items())),
                     "waiting_for": waiting, "failed_effects": failed,
                     "tags": sorted({t for o in typed for t in o.tags})}
    return out


def _warehouse_counts(wms: WarehouseEmulator | SelfPacker) -> dict[str, int]:
    """Requests the sandbox warehouse took, result rows it wrote, rows unyo reported bad
    (for a self-shipping shop: batches and orders printed, packages brought back)."""
    error_dir = wms.folder / "error"
    errors = sum(len(p.read_text(encoding="utf-8").splitlines())
                 for p in error_dir.glob("*.errors.txt")) if error_dir.is_dir() else 0
    if isinstance(wms, SelfPacker):
        return {"requests": 0, "batches": wms.stats.batches, "printed": wms.stats.printed,
                "results": wms.stats.shipped, "errors": errors,
                "print_errors": wms.stats.print_errors}
    return {"requests": wms.stats.packages, "results": wms.stats.shipped + wms.stats.stockouts,
            "errors": errors, "stockouts": wms.stats.stockouts}


def _mail_counts(smtp: SmtpSink, outbox: dict[str, dict[str, int]]) -> dict[str, int]:
    """Mails the sandbox SMTP server accepted, per kind, and mails that failed for good."""
    kinds = smtp.counts()
    return {"thanks": kinds.get("thanks", 0), "shipping": kinds.get("shipping", 0),
            "failed": outbox.get("send_mail", {}).get("failed", 0)}


def _state(store: Store, shop: str) -> tuple[Any, ...]:
    with store.transaction() as conn:
        return (sorted(store.stage_counts(conn, shop).items()),
                sorted(store.open_gate_counts(conn, shop).items()),
                sorted((k, sorted(v.items())) for k, v in store.outbox_counts(conn, shop).items()),
                len(store.pending_imports(conn, shop)))


@dataclass
class DemoDashboard:
    """Serve the dashboard while the demo runs: `started(url, user, password)` is told
    where (a free loopback port, a demo admin with a generated password); `finished
    (summary)` is called at the end, still serving, and returns when serving should stop."""

    started: Callable[[str, str, str], None]
    finished: Callable[[dict[str, Any]], None]


def _serve_dashboard(store: Store, config: Config, clock: SimClock, smtp: SmtpSink,
                     dashboard: DemoDashboard) -> Any:
    from unyo.adapters.db.accounts import Accounts
    from unyo.app.users import Users
    from unyo.web import create_app
    from unyo.web.server import BackgroundServer

    password = secrets.token_urlsafe(12)
    Users(Accounts(store.engine)).add("demo", "admin", password, SystemClock().now())
    # Plain http on loopback, sandbox data only: the cookie goes without Secure here.
    server = BackgroundServer(create_app(store, config, clock, smtp_sink=smtp,
                                         secure_cookies=False)).start()
    dashboard.started(server.url, "demo", password)
    return server


def run_demo(*, orders: int = 300, seed: int = 1, speed: float = 1440.0,
             database_url: str | None = None, progress: Progress = no_progress,
             day_start: datetime | None = None,
             dashboard: DemoDashboard | None = None,
             warehouse: str = "csv") -> dict[str, Any]:
    """Run the sandbox day; returns the summary printed by `unyo demo --json`. With
    `dashboard`, the dashboard is served during the day and until `finished` returns."""
    if day_start is None:
        today = SystemClock().now().astimezone(JST).date()
        day_start = datetime(today.year, today.month, today.day, tzinfo=JST) - timedelta(days=1)
    day_end = day_start + timedelta(days=1)
    clock = SimClock(day_start)
    emulator = RmsEmulator(clock, service_secret=DEMO_SERVICE_SECRET,
                           license_key=DEMO_LICENSE_KEY,
                           orders=(generated := generate_orders(
                               orders, seed=seed, start=day_start, end=day_end)),
                           seed=seed)
    with tempfile.TemporaryDirectory(prefix="unyo-demo-") as tmp, \
            RmsEmulatorServer(emulator) as server, SmtpSink() as smtp:
        url = database_url or f"sqlite:///{Path(tmp) / 'demo.db'}"
        folder = Path(tmp) / "warehouse"
        config = demo_config(server.base_url, url, smtp.port, str(folder), warehouse)
        store = Store.open(url)
        ctx = build_context(config, clock=clock, store=store, progress=no_progress,
                            env={"RMS_SERVICE_SECRET": DEMO_SERVICE_SECRET,
                                 "RMS_LICENSE_KEY": DEMO_LICENSE_KEY})
        # the sandbox warehouse (csv), or the shop's own staff printing and packing (self)
        wms: WarehouseEmulator | SelfPacker = (
            SelfPacker(Printing.of(ctx), build_printer(config), folder, seed=seed)
            if config.warehouse.self_shipping else
            WarehouseEmulator(folder, clock, seed=seed))
        runner = Runner.for_shop(ctx)
        operator = DemoOperator(store, config.shop_id)
        web = _serve_dashboard(store, config, clock, smtp, dashboard) if dashboard else None
        wall0 = time.perf_counter()
        day_minutes = int((day_end - day_start) / STEP)
        t = day_start
        last_state: tuple[Any, ...] | None = None
        quiet_since = day_end
        while True:
            clock.set(t)
            wms.step()
            runner.run_due()
            if t <= day_end:
                progress("simulated day", int((t - day_start) / STEP), day_minutes)
            operator.work(t)
            if speed > 0 and t <= day_end:  # the day is paced; the tail runs as fast as it can
                lag = wall0 + (t - day_start).total_seconds() / speed - time.perf_counter()
                if lag > 0:
                    time.sleep(lag)
            if t >= day_end and (t - day_end) % timedelta(minutes=30) == timedelta(0):
                state = _state(store, config.shop_id)
                if state != last_state:
                    last_state, quiet_since = state, t
                elif (t - quiet_since >= QUIET and not _shipping_in_flight(
                        store, config.shop_id, emulator, wms)) or t - day_end >= TAIL_MAX:
                    break
            t += STEP if t < day_end else TAIL_STEP
        wall = time.perf_counter() - wall0
        with store.transaction() as conn:
            shop = config.shop_id
            summary = {
                "orders": orders,
                "imported": sum(store.stage_counts(conn, shop).values()),
                "stages": store.stage_counts(conn, shop),
                "gates_open": store.open_gate_counts(conn, shop),
                "rms_progress": {str(k): v for k, v in sorted(emulator.progress_counts().items())},
                "events": store.event_counts(conn, shop),
                "waiting_for": store.open_gate_reasons(conn, shop),
                "api_calls": dict(sorted(ctx.channel.calls.items())),
                "outbox": store.outbox_counts(conn, shop),
                "mails": _mail_counts(smtp, store.outbox_counts(conn, shop)),
                "warehouse": _warehouse_counts(wms),
                "waiting_import": len(store.pending_imports(conn, shop)),
                "order_types": _order_types(store, conn, shop,
                                            [g.order_number for g in generated]),
                "steps": {s.name: {"failures": s.failures, "last_error": s.last_error}
                          for s in runner.steps},
                "simulated": {"from": day_start.isoformat(), "to": t.isoformat()},
                "wall_seconds": round(wall, 2),
            }
        rep = build_report(store, config.shop_id, day_start, t + STEP)
        summary["automation_rate"] = rep.automation_rate
        summary["manual_touches"] = sum(tch.count for tch in rep.manual_touches)
        if dashboard is not None and web is not None:
            try:
                dashboard.finished(summary)
            finally:
                web.stop()
        store.close()
        return summary
