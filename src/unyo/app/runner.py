"""The runner: every step on its cadence, on an injected clock.

Steps run in flow order (import → outbox → sync) so a cycle can carry an order
from the channel to confirmation. A failing step is logged and retried at its
next turn; it never stops the other steps. An authentication failure is kept
as `last_error` so the CLI and the dashboard can say what to do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from unyo.adapters.db.accounts import Accounts
from unyo.adapters.db.trouble import StorageProblem, location, storage_problem
from unyo.app.context import ShopContext, log
from unyo.app.dashboard import RMS_AUTH_ALERT, RUN_MODE
from unyo.app.importing import import_orders
from unyo.app.outbox import deliver_effects
from unyo.app.ports import ChannelAuthError, ChannelError
from unyo.app.processing import release_holds, remind_payments
from unyo.app.shipping import report_shipping
from unyo.app.syncing import sync_orders
from unyo.app.warehouse import hand_off_orders, import_results
from unyo.app.watch import watch_money

RMS_STEPS = frozenset({"import"})
"""Steps that always call RMS (searchOrder): their success means RMS takes the credentials.
(A sync with no open order calls nothing.)"""


@dataclass
class Step:
    name: str
    interval: float
    run: Callable[[ShopContext], Any]
    last_run: datetime | None = None
    last_result: Any = None
    last_error: str | None = None
    last_problem: StorageProblem | None = None  # a locked database, a full disk...
    failures: int = 0

    def due(self, now: datetime) -> bool:
        return self.last_run is None or now >= self.last_run + timedelta(seconds=self.interval)


@dataclass
class Runner:
    ctx: ShopContext
    steps: list[Step] = field(default_factory=list)
    _auth_noted: bool | None = field(default=None, repr=False)  # None: not known yet
    _mode_noted: bool = field(default=False, repr=False)

    @classmethod
    def for_shop(cls, ctx: ShopContext) -> Runner:
        cfg = ctx.config
        # Shadow mode reads the warehouse's folder neither: its result files are the old
        # system's (and reading one moves it to done/). Nothing is handed off either way:
        # the outbox hands out no effect (Store.due_effects).
        warehouse = ctx.warehouse is not None and not ctx.shadow
        return cls(ctx, [
            Step("import", cfg.import_.interval, import_orders),
            Step("outbox", cfg.outbox.interval, deliver_effects),
            Step("sync", cfg.sync.interval, sync_orders),
            Step("holds", cfg.import_.interval, release_holds),
            Step("reminders", cfg.import_.interval, remind_payments),
            *([Step("handoff", cfg.warehouse.interval, hand_off_orders),
               Step("results", cfg.warehouse.results_interval, import_results)]
              if warehouse else []),
            Step("report", cfg.outbox.interval, report_shipping),
            Step("money", cfg.alerts.interval, watch_money),
        ])

    def _note_mode(self) -> None:
        """Tell the dashboard (another process, maybe) whether the shop runs in shadow
        mode, once, before the first step."""
        if self._mode_noted:
            return
        try:
            Accounts(self.ctx.store.engine).set_setting(
                self.ctx.shop, RUN_MODE, "shadow" if self.ctx.shadow else None,
                by="runner", now=self.ctx.clock.now())
            self._mode_noted = True
        except Exception:  # the banner must never stop a step
            log.exception("cannot record the run mode")

    def run_step(self, step: Step) -> None:
        self._note_mode()
        now = self.ctx.clock.now()
        step.last_run = now
        step.last_problem = None
        try:
            step.last_result = step.run(self.ctx)
            step.last_error = None
            if step.name in RMS_STEPS:
                self._note_auth(None)
        except ChannelAuthError as e:
            step.failures += 1
            step.last_error = str(e)
            log.error("%s: %s", step.name, e)
            self._note_auth(str(e))
        except ChannelError as e:
            step.failures += 1
            step.last_error = str(e)
            log.warning("%s failed, will retry next turn: %s", step.name, e)
        except Exception as e:  # a bug or a locked database must not stop the other steps
            step.failures += 1
            problem = storage_problem(e, location(self.ctx.store.engine))
            if problem is not None:  # the operator's to fix: no traceback, the remedy
                step.last_problem, step.last_error = problem, problem.english
                log.error("%s failed, will retry next turn: %s", step.name, problem.english)
                return
            step.last_error = f"{type(e).__name__}: {e}"
            log.exception("%s failed, will retry next turn", step.name)

    def _note_auth(self, message: str | None) -> None:
        """Keep RMS's refusal of the credentials where the dashboard shows it (another
        process, maybe), and clear it once RMS answers again."""
        if message is None and self._auth_noted is False:
            return
        try:
            Accounts(self.ctx.store.engine).set_setting(
                self.ctx.shop, RMS_AUTH_ALERT, message[:200] if message else None,
                by="runner", now=self.ctx.clock.now())
            self._auth_noted = message is not None
        except Exception:  # the alert must never stop a step
            log.exception("cannot record the RMS authentication alert")

    def run_once(self) -> None:
        """One cycle of every step, whatever their cadence."""
        for step in self.steps:
            self.run_step(step)

    def run_due(self, stop: threading.Event | None = None) -> int:
        """Run the steps whose turn has come; returns how many ran. A set `stop` (SIGTERM)
        ends the round after the current step."""
        now = self.ctx.clock.now()
        ran = 0
        for step in self.steps:
            if stop is not None and stop.is_set():
                break
            if step.due(now):
                self.run_step(step)
                ran += 1
        return ran

    def run_forever(self, stop: threading.Event | None = None, tick: float = 1.0) -> None:
        stop = stop or threading.Event()
        while not stop.is_set():
            self.run_due()
            now = self.ctx.clock.now()
            nxt = min((s.last_run + timedelta(seconds=s.interval) for s in self.steps
                       if s.last_run is not None), default=now)
            wait = max(0.0, min(tick, (nxt - now).total_seconds()))
            if wait and stop.wait(wait):
                break
