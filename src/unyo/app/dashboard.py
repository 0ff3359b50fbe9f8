"""What the dashboard's home shows: the automation rate over time and the alerts.

The automation rate follows `app.report` (DESIGN.md §3): orders that reached `shipped`
in a period with no person's touch before, over all that reached it; while no order has
ever shipped, "reached ready" is the basis. It is counted per JST day. A day that is over
never changes (a later touch comes after the order was done), so closed days are kept
in memory and only today is counted on each request.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from unyo.adapters.db import dashboard as q
from unyo.adapters.db.accounts import Accounts
from unyo.adapters.db.store import Store
from unyo.clock import JST, Clock
from unyo.domain import Stage
from unyo.domain.money import AlertKind
from unyo.flow import Config

LICENSE_ISSUED = "rms_license_key_issued_on"
"""Setting: the day the shop's RMS license key was issued (ISO date), set by an admin."""
RMS_AUTH_ALERT = "alert.rms_auth"
"""Setting the runner writes while RMS refuses the credentials (value: its message)."""
RUN_MODE = "run.mode"
"""Setting the runner writes when it starts: "shadow" while a worker runs the shop in
shadow mode (`unyo run --shadow` or `mode: shadow`), removed when one runs it live."""
LICENSE_DAYS = 90  # RMS license keys expire 90 days after issue (reference/rakuten-rms.md)
LICENSE_WARN_DAYS = 14
TREND_DAYS = 30
MONEY_SHOWN = 5  # money alerts of a kind listed on the home page (the rest counted)
STAGE_COUNTS_TTL = 5.0
"""Seconds the orders-per-stage counts are reused: counting a million stored orders takes
a scan of the (shop, stage, ordered_at) index (~150 ms); the queue polls every 5 s."""


@dataclass(frozen=True, slots=True)
class DayRate:
    day: date
    orders: int
    automated: int

    @property
    def rate(self) -> float | None:
        return self.automated / self.orders if self.orders else None


@dataclass(frozen=True, slots=True)
class Automation:
    basis: str  # "shipped", or "ready" while no order has shipped
    days: tuple[DayRate, ...]  # oldest first, today last

    def over(self, n: int) -> tuple[int, int, float | None]:
        """(orders, automated, rate) over the last n days, today included."""
        days = self.days[-n:]
        orders = sum(d.orders for d in days)
        automated = sum(d.automated for d in days)
        return orders, automated, (automated / orders if orders else None)


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # failed_effects, rms_auth, license_expiry, warehouse_errors, mail, money_*
    level: str  # error | warning
    params: dict[str, object] = field(default_factory=dict)


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=JST)


class Dashboard:
    def __init__(self, store: Store, config: Config, clock: Clock) -> None:
        self.store, self.config, self.clock = store, config, clock
        self.accounts = Accounts(store.engine)
        self._days: dict[tuple[str, str, date], DayRate] = {}
        self._lock = threading.Lock()
        self._stages: tuple[float, dict[str, int]] | None = None

    @property
    def shop(self) -> str:
        return self.config.shop_id

    @property
    def shadow(self) -> bool:
        """The shop runs in shadow mode: its shop file says so, or its worker does."""
        if self.config.shadow:
            return True
        try:
            return self.accounts.setting(self.shop, RUN_MODE) == "shadow"
        except Exception:  # the banner must never break a page
            return False

    def today(self) -> date:
        return self.clock.now().astimezone(JST).date()

    def stage_counts(self) -> dict[str, int]:
        """Orders per stage, at most `STAGE_COUNTS_TTL` seconds old (real time)."""
        now = time.monotonic()
        with self._lock:
            cached = self._stages
        if cached is not None and now - cached[0] < STAGE_COUNTS_TTL:
            return cached[1]
        with self.store.transaction() as conn:
            counts = q.stage_counts(conn, self.shop)
        with self._lock:
            self._stages = (now, counts)
        return counts

    def forget_counts(self) -> None:
        """After a person's action: the next page counts again."""
        with self._lock:
            self._stages = None

    def automation(self, days: int = TREND_DAYS) -> Automation:
        today = self.today()
        with self.store.transaction() as conn:
            basis = Stage.shipped if q.any_in_stage(conn, self.shop, Stage.shipped) \
                else Stage.ready
            out = []
            for i in range(days - 1, -1, -1):
                day = today - timedelta(days=i)
                key = (self.shop, basis.value, day)
                with self._lock:
                    known = self._days.get(key)
                if known is None:
                    since = day_start(day)
                    done = q.reached(conn, self.shop, basis, since, since + timedelta(days=1))
                    manual = q.touched(conn, done)
                    known = DayRate(day, len(done), len(done) - len(manual))
                    if day < today:
                        with self._lock:
                            self._days[key] = known
                out.append(known)
        return Automation(basis.value, tuple(out))

    def alerts(self) -> list[Alert]:
        alerts: list[Alert] = []
        with self.store.transaction() as conn:
            failed = q.failed_effects(conn, self.shop)
            waiting, mail_error = q.waiting_mails(conn, self.shop)
            unread, unread_number, unread_error = q.failed_imports(conn, self.shop)
        for f in failed:
            kind = "mail_failed" if f["kind"] == "send_mail" else "failed_effects"
            alerts.append(Alert(kind, "error", f))
        if waiting:
            alerts.append(Alert("mail_waiting", "warning",
                                {"count": waiting, "last_error": mail_error or ""}))
        if unread:
            alerts.append(Alert("import_failed", "error",
                                {"count": unread, "order_number": unread_number or "",
                                 "last_error": unread_error or ""}))
        alerts.extend(self.money_alerts())
        money_license = any(a.kind == "money_license" for a in alerts)
        auth = self.accounts.setting(self.shop, RMS_AUTH_ALERT)
        if auth:
            alerts.append(Alert("rms_auth", "error", {"message": auth}))
        issued = self.accounts.setting(self.shop, LICENSE_ISSUED)
        if issued and not money_license:  # the money watch's (RMS's own date) comes first
            try:
                expires = date.fromisoformat(issued) + timedelta(days=LICENSE_DAYS)
            except ValueError:
                expires = None
            if expires is not None:
                left = (expires - self.today()).days
                if left <= LICENSE_WARN_DAYS:
                    alerts.append(Alert("license_expiry", "error" if left <= 3 else "warning",
                                        {"expires": expires.isoformat(), "days_left": left}))
        files = self.warehouse_error_files()
        if files:
            alerts.append(Alert("warehouse_errors", "error",
                                {"count": len(files), "files": ", ".join(files[:3])}))
        return alerts

    def money_alerts(self, shown: int = MONEY_SHOWN) -> list[Alert]:
        """The money watch's open alerts (`app.watch`), one per kind: how many, and the
        first `shown` of them in words (Japanese)."""
        with self.store.transaction() as conn:
            stored = self.store.watch.open_alerts(conn, self.shop)
        out = []
        for kind in AlertKind:
            of_kind = [s.alert for s in stored if s.alert.kind is kind]
            if of_kind:
                level = "error" if any(a.level == "error" for a in of_kind) else "warning"
                out.append(Alert(f"money_{kind.value}", level, {
                    "count": len(of_kind), "items": [a.text for a in of_kind[:shown]],
                    "more": max(0, len(of_kind) - shown)}))
        return out

    def warehouse_error_files(self) -> list[str]:
        """Result files the warehouse import set aside (bad rows, refused files), newest
        first — with or without their `.errors.txt` (it may not have been writable)."""
        wh = self.config.warehouse
        if not wh.enabled:
            return []
        folder = Path(wh.path("error"))
        try:
            files = sorted((p for p in folder.iterdir() if not p.name.startswith(".")
                            and not p.name.endswith(".errors.txt")),
                           key=lambda p: p.lstat().st_mtime, reverse=True)
        except OSError:
            return []
        return [os.fsencode(p.name).decode("utf-8", "backslashreplace") for p in files]
