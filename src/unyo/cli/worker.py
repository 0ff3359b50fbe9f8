"""`unyo run`: the worker, on the shop file or a folder of shop files."""

from __future__ import annotations

import signal
import threading
from contextlib import suppress
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from unyo.cli._common import (
    JsonOpt,
    err,
    fail,
    instant,
    open_store,
    out,
    print_json,
    progress_bar,
    shop_files,
)
from unyo.clock import JST


def run(config: Annotated[Path | None, typer.Option(
            "--config", "-c", show_default=False,
            help="The shop file, or a folder of shop files (one per shop; default: "
                 "unyo.yaml).")] = None,
        once: Annotated[bool, typer.Option("--once", help="One cycle of every step.")] = False,
        now: Annotated[str | None, typer.Option(help="Set the clock (ISO-8601).")] = None,
        worker_id: Annotated[str | None, typer.Option(
            "--worker-id", help="This worker's name in leases and logs "
                                "(default: host:pid:random).")] = None,
        lease_ttl: Annotated[float, typer.Option(
            "--lease-ttl", min=1.0, help="Seconds a shop's lease lasts without renewal: a "
                                         "dead worker's shops are taken over after this.")
        ] = 30.0,
        metrics_port: Annotated[int, typer.Option(
            "--metrics-port", min=0, max=65535,
            help="Serve Prometheus metrics at http://HOST:PORT/metrics (0: off).")] = 0,
        metrics_host: Annotated[str, typer.Option(
            "--metrics-host", help="Address for --metrics-port (keep it private).")
        ] = "127.0.0.1",
        shadow: Annotated[bool, typer.Option(
            "--shadow", help="Shadow mode: import and run the rules, but confirm, mail, hand "
                             "off and report nothing (as `mode: shadow` in the shop file).")
        ] = False,
        as_json: JsonOpt = False) -> None:
    """Run the flow: import, confirm, payment sync... on their cadence (or --once).

    Any number of workers may run against one database: each shop is worked by one
    worker at a time (a lease in the database), and a dead worker's shops are taken
    over within a minute."""
    from unyo.app.worker import Worker
    from unyo.wiring import SetupError, build_context, credentials

    if as_json and not once:
        fail("--json prints the result of one cycle: use it with --once")
    configs = shop_files(config)
    if shadow:
        configs = [replace(c, mode="shadow") for c in configs]
    clock = _run_clock(now)
    try:
        for cfg in configs:
            credentials(cfg)  # before anything touches the database or RMS
    except SetupError as e:
        fail(f"{cfg.shop_id}: {e}" if len(configs) > 1 else str(e))
    store = open_store(configs[0].database_url, worker=worker_id)
    with progress_bar(not as_json) as report:
        try:
            contexts = [build_context(cfg, clock=clock, store=store, progress=report)
                        for cfg in configs]
        except SetupError as e:
            fail(str(e))
        worker = Worker.for_shops(store, contexts, lease_ttl=timedelta(seconds=lease_ttl))
        if metrics_port:
            from unyo.metrics import serve

            try:
                serve(store, metrics_port, metrics_host,
                      leases=lambda: {s.shop: s.lease is not None for s in worker.slots})
            except OSError as e:
                fail(f"--metrics-port {metrics_port}: {e.strerror or e}")
        if not once:
            shops = ", ".join(c.shop_id + (" (shadow mode: nothing leaves unyo)"
                                           if c.shadow else "") for c in configs)
            err.print(f"unyo worker {store.worker} running shop(s) {shops} "
                      "(Ctrl-C or SIGTERM stops after the current step)", highlight=False,
                      markup=False, soft_wrap=True)
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            with suppress(KeyboardInterrupt):
                worker.run_forever(stop)
            store.close()
            return
        busy = worker.run_once()
    docs: list[dict[str, Any]] = []
    shown_texts: list[dict[str, str]] = []
    for slot in worker.slots:
        ctx, runner = slot.runner.ctx, slot.runner
        steps = {s.name: {"result": _plain(s.last_result), "error": s.last_error}
                 for s in runner.steps}
        # Japanese for the text output where the failure is the operator's to fix
        texts = {s.name: s.last_problem.japanese for s in runner.steps if s.last_problem}
        if slot in busy:
            steps = {"lease": {"result": None, "error": slot.error or (
                f"shop {ctx.shop} is being worked by worker {slot.holder}" if slot.holder
                else f"shop {ctx.shop} is being worked by another worker")}}
            texts = ({"lease": f"ショップ {ctx.shop} のリースを取れません: "
                               f"{slot.problem.japanese}"} if slot.problem else {})
        try:
            with ctx.store.transaction() as conn:
                stages = ctx.store.stage_counts(conn, ctx.shop)
        except Exception as e:
            from unyo.adapters.db.trouble import location, storage_problem

            problem = storage_problem(e, location(ctx.store.engine))
            if problem is None:
                raise
            stages = {}
            steps["stages"] = {"result": None, "error": problem.english}
            texts["stages"] = problem.japanese
        docs.append({"shop": ctx.shop, "now": ctx.clock.now().astimezone(JST).isoformat(),
                     "mode": ctx.config.mode, "steps": steps, "stages": stages,
                     "api_calls": dict(ctx.channel.calls)})
        shown_texts.append(texts)
    failed = bool(busy) or any("stages" in t for t in shown_texts) or any(
        s.last_error for slot in worker.slots for s in slot.runner.steps)
    if as_json:
        print_json(docs[0] if len(docs) == 1 and not (config and config.is_dir())
                    else {"shops": docs})
    else:
        for doc, shown in zip(docs, shown_texts, strict=True):
            if len(docs) > 1:
                out.print(f"[bold]{escape(doc['shop'])}[/]", highlight=False)
            if doc["mode"] == "shadow":
                out.print("シャドーモード: 取り込みとルールだけ。注文確認・メール・倉庫連携・"
                          "発送完了報告は行っていません", highlight=False, markup=False)
            for name, st in doc["steps"].items():
                line = (f"{name}: {escape(str(st['result']))}" if not st["error"]
                        else f"{name}: [red]{escape(shown.get(name, st['error']))}[/]")
                out.print(line, highlight=False, soft_wrap=True)
            out.print(f"stages: {doc['stages']}", highlight=False, markup=False)
    store.close()
    if failed:
        raise typer.Exit(1)


def _run_clock(now: str | None) -> Any:
    """The runner's clock: real time; shifted by --now; or the sandbox's shared
    simulated clock (UNYO_SANDBOX_CLOCK, see ScaledClock)."""
    import os

    from unyo.clock import ScaledClock
    from unyo.wiring import OffsetClock

    spec = os.environ.get("UNYO_SANDBOX_CLOCK")
    if spec:
        if now:
            fail("--now and UNYO_SANDBOX_CLOCK both set the clock: use one")
        try:
            return ScaledClock.parse(spec)
        except ValueError as e:
            fail(f"UNYO_SANDBOX_CLOCK: {e}")
    return OffsetClock(instant(now)) if now else None


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict
        return asdict(value)
    return value
