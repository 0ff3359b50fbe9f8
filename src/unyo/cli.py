"""The `unyo` command line.

Human output goes through Rich; `--json` prints exactly one JSON document on
stdout and nothing else there (progress, logs and errors go to stderr). The
keys of those documents are the product's interface: add, never rename.

Exit codes: 0 done; 1 the work ran and something failed (a step error, an
unknown order); 2 nothing ran because the input is wrong (shop file, options,
credentials, database URL).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from unyo.app.context import Progress as ProgressFn
from unyo.app.context import no_progress
from unyo.clock import JST, SimClock, parse_instant
from unyo.domain import GateKind, MailKind, Stage
from unyo.flow import Config, ConfigError, load_config
from unyo.flow.config import parse_config, render_init

if TYPE_CHECKING:
    from unyo.adapters.db import Store

app = typer.Typer(help="unyo: order operations for Rakuten Ichiba shops.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
orders_app = typer.Typer(help="Look at orders.", no_args_is_help=True)
sandbox_app = typer.Typer(help="Sandbox servers that speak the real protocols.",
                          no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
mail_app = typer.Typer(help="Buyer mail (サンクスメール, 発送連絡メール).", no_args_is_help=True)
flow_app = typer.Typer(help="The flow diagram (運用フロー図) of the shop file.",
                       no_args_is_help=True)
app.add_typer(orders_app, name="orders")
app.add_typer(mail_app, name="mail")
app.add_typer(flow_app, name="flow")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(db_app, name="db")
user_app = typer.Typer(help="Dashboard users (operator, admin).", no_args_is_help=True)
app.add_typer(user_app, name="user")

out = Console()
err = Console(stderr=True)

DEFAULT_CONFIG = Path("unyo.yaml")
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", help="The shop file (default: unyo.yaml).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _fail(message: str, code: int = 2) -> NoReturn:
    # The message may hold paths, RMS texts or buyer data: never Rich markup.
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2, default=_json_default) + "\n")


def _load(config: Path | None, required: bool = False) -> Config:
    """The shop file; without --config, ./unyo.yaml if present (or defaults if not required)."""
    try:
        if config is None and not required and not DEFAULT_CONFIG.exists():
            return load_config(None)
        return load_config(config or DEFAULT_CONFIG)
    except ConfigError as e:
        for p in e.problems:
            err.print(p, highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _open_store(url: str, worker: str | None = None) -> Store:
    """The migrated store, or a clear error (the URL shown without its password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from unyo.adapters.db import Store

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        _fail("the database URL is not a URL (database.url or UNYO_DATABASE_URL; "
              "e.g. sqlite:///unyo.db)")
    try:
        return Store.open(url, worker=worker)
    except (SQLAlchemyError, ImportError, OSError) as e:
        problem = _storage_problem(e, url, shown)
        if problem is not None:
            _fail(f"データベースを開けません: {problem.japanese}")
        reason = getattr(e, "orig", None) or e
        _fail(f"cannot open the database {shown}: {reason}")


def _storage_problem(e: BaseException, url: str, shown: str) -> Any:
    """A locked database, a full disk or a read-only folder behind `e` (or None)."""
    from sqlalchemy.engine import make_url

    from unyo.adapters.db.trouble import storage_problem

    parsed = make_url(url)
    where = parsed.database or shown if parsed.get_backend_name() == "sqlite" else shown
    return storage_problem(e, where)


@contextmanager
def progress_bar(enabled: bool) -> Iterator[ProgressFn]:
    """A Rich progress bar on a terminal (stderr); nothing otherwise."""
    if not enabled or not err.is_terminal:
        yield no_progress
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def report(task: str, done: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = bar.add_task(task, total=total)
            bar.update(tasks[task], completed=done, total=total)

        yield report


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
          log_json: Annotated[bool, typer.Option(
              "--log-json", envvar="UNYO_LOG_JSON",
              help="Logs as one JSON object per line (stderr).")] = False) -> None:
    from unyo.logs import setup

    setup(verbose=verbose, json_lines=log_json)


@app.command()
def init(path: Annotated[Path, typer.Argument()] = Path("unyo.yaml"),
         shop_id: Annotated[str, typer.Option(help="Short id of the shop.")] = "myshop",
         shop_name: Annotated[str, typer.Option(help="The shop's name.")] = "",
         force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False
         ) -> None:
    """Write a commented shop file (unyo.yaml) to start from."""
    if path.exists() and not force:
        _fail(f"{path} already exists (use --force to overwrite)")
    if path.is_dir():
        _fail(f"{path} is a directory")
    try:
        text = render_init(shop_id, shop_name)
    except ValueError as e:
        _fail(f"--shop-id: {e}")
    parse_config(text, str(path), env={})  # the template must always be valid
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        from unyo.adapters.db.trouble import storage_problem

        problem = storage_problem(e, str(path))
        _fail(f"{path} を書けません: {problem.japanese}" if problem
              else f"cannot write {path}: {e.strerror}")
    out.print(f"wrote {path}; set RMS_SERVICE_SECRET and RMS_LICENSE_KEY, then `unyo run`",
              highlight=False, markup=False, soft_wrap=True)


@app.command()
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
        as_json: JsonOpt = False) -> None:
    """Run the flow: import, confirm, payment sync... on their cadence (or --once).

    Any number of workers may run against one database: each shop is worked by one
    worker at a time (a lease in the database), and a dead worker's shops are taken
    over within a minute."""
    from unyo.app.worker import Worker
    from unyo.wiring import SetupError, build_context, credentials

    if as_json and not once:
        _fail("--json prints the result of one cycle: use it with --once")
    configs = _load_shops(config)
    clock = _run_clock(now)
    try:
        for cfg in configs:
            credentials(cfg)  # before anything touches the database or RMS
    except SetupError as e:
        _fail(f"{cfg.shop_id}: {e}" if len(configs) > 1 else str(e))
    store = _open_store(configs[0].database_url, worker=worker_id)
    with progress_bar(not as_json) as report:
        try:
            contexts = [build_context(cfg, clock=clock, store=store, progress=report)
                        for cfg in configs]
        except SetupError as e:
            _fail(str(e))
        worker = Worker.for_shops(store, contexts, lease_ttl=timedelta(seconds=lease_ttl))
        if metrics_port:
            from unyo.metrics import serve

            try:
                serve(store, metrics_port, metrics_host,
                      leases=lambda: {s.shop: s.lease is not None for s in worker.slots})
            except OSError as e:
                _fail(f"--metrics-port {metrics_port}: {e.strerror or e}")
        if not once:
            shops = ", ".join(c.shop_id for c in configs)
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
                     "steps": steps, "stages": stages, "api_calls": dict(ctx.channel.calls)})
        shown_texts.append(texts)
    failed = bool(busy) or any("stages" in t for t in shown_texts) or any(
        s.last_error for slot in worker.slots for s in slot.runner.steps)
    if as_json:
        _print_json(docs[0] if len(docs) == 1 and not (config and config.is_dir())
                    else {"shops": docs})
    else:
        for doc, shown in zip(docs, shown_texts, strict=True):
            if len(docs) > 1:
                out.print(f"[bold]{escape(doc['shop'])}[/]", highlight=False)
            for name, st in doc["steps"].items():
                line = (f"{name}: {escape(str(st['result']))}" if not st["error"]
                        else f"{name}: [red]{escape(shown.get(name, st['error']))}[/]")
                out.print(line, highlight=False, soft_wrap=True)
            out.print(f"stages: {doc['stages']}", highlight=False, markup=False)
    store.close()
    if failed:
        raise typer.Exit(1)


def _load_shops(config: Path | None) -> list[Config]:
    """The shop file, or every *.yaml / *.yml in a folder (one shop each): distinct shop
    ids, one database. Every file's mistakes are shown before exiting."""
    if config is None or not config.is_dir():
        return [_load(config, required=True)]
    files = sorted(p for p in config.iterdir()
                   if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        _fail(f"{config}: no shop files (*.yaml) in this folder")
    configs: list[Config] = []
    problems: list[str] = []
    for path in files:
        try:
            configs.append(load_config(path))
        except ConfigError as e:
            problems.extend(e.problems)
    seen: dict[str, str] = {}
    for cfg in configs:
        if cfg.shop_id in seen:
            problems.append(f"{cfg.path}: shop.id: {cfg.shop_id!r} is also the id of "
                            f"{seen[cfg.shop_id]} (each shop needs its own id)")
        seen.setdefault(cfg.shop_id, str(cfg.path))
    if len({c.database_url for c in configs}) > 1:
        problems.append(f"{config}: the shop files name different databases; one "
                        "installation keeps all its shops in one database (database.url "
                        "or UNYO_DATABASE_URL)")
    if problems:
        for p in problems:
            err.print(p, highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2)
    return configs


def _run_clock(now: str | None) -> Any:
    """The runner's clock: real time; shifted by --now; or the sandbox's shared
    simulated clock (UNYO_SANDBOX_CLOCK, see ScaledClock)."""
    import os

    from unyo.clock import ScaledClock
    from unyo.wiring import OffsetClock

    spec = os.environ.get("UNYO_SANDBOX_CLOCK")
    if spec:
        if now:
            _fail("--now and UNYO_SANDBOX_CLOCK both set the clock: use one")
        try:
            return ScaledClock.parse(spec)
        except ValueError as e:
            _fail(f"UNYO_SANDBOX_CLOCK: {e}")
    return OffsetClock(_instant(now)) if now else None


def _instant(text: str, option: str = "--now") -> datetime:
    try:
        return parse_instant(text)
    except ValueError:
        _fail(f"{option}: {text!r} is not an ISO-8601 instant "
              "(e.g. 2026-11-27T10:00:00+09:00; without an offset it is taken as JST)")


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict
        return asdict(value)
    return value


@orders_app.command("list")
def orders_list(config: ConfigOpt = None,
                stage: Annotated[Stage | None, typer.Option(help="Only this stage.")] = None,
                gate: Annotated[GateKind | None, typer.Option(help="Only orders with an open gate of this kind.")] = None,  # noqa: E501
                limit: Annotated[int, typer.Option(min=1)] = 100,
                failed: Annotated[bool, typer.Option("--failed", help="Orders the import cannot read (kept and retried), with the reason.")] = False,  # noqa: E501
                as_json: JsonOpt = False) -> None:
    """Orders, newest first."""
    cfg = _load(config)
    store = _open_store(cfg.database_url)
    if failed:
        _failed_imports(store, cfg.shop_id, limit, as_json)
        return
    with store.transaction() as conn:
        rows = store.list_orders(conn, cfg.shop_id, stage=stage, gate=gate, limit=limit)
    store.close()
    if as_json:
        _print_json(rows)
        return
    table = Table("注文番号", "stage", "RMS", "注文日時", "合計", "注文者", "gates")
    for r in rows:  # buyer text is hostile until shown otherwise: escape it
        table.add_row(r["order_number"], r["stage"], str(r["rms_status"]), r["ordered_at"],
                      f"{r['total']:,}", escape(r["buyer_name"] or ""),
                      escape(", ".join(f"{g['kind']}: {g['reason']}" for g in r["open_gates"])))
    out.print(table)


def _failed_imports(store: Any, shop: str, limit: int, as_json: bool) -> None:
    from unyo.clock import JST

    with store.transaction() as conn:
        rows = store.failed_imports(conn, shop, limit)
    store.close()
    docs = [{"order_number": p.order_number,
             "first_seen_at": p.first_seen_at.astimezone(JST).isoformat(),
             "next_try_at": p.recheck_at.astimezone(JST).isoformat(),
             "attempts": p.attempts, "reason": p.last_error or ""} for p in rows]
    if as_json:
        _print_json(docs)
        return
    if not docs:
        out.print("取り込めない注文はありません。")
        return
    table = Table()
    table.add_column("注文番号", no_wrap=True)  # copied from here into RMS: never cut
    for name in ("最初の検出", "次の再試行", "試行"):
        table.add_column(name)
    table.add_column("理由", overflow="fold")
    for d in docs:  # the reason may quote RMS's data: escape it
        table.add_row(d["order_number"], _jst(d["first_seen_at"]), _jst(d["next_try_at"]),
                      str(d["attempts"]), escape(d["reason"]))
    out.print(table)


def _jst(iso: str) -> str:
    return iso[:16].replace("T", " ")


NoteOpt = Annotated[str, typer.Option("--note", help="Why (kept on the order).")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who acts (default: $USER).")]


def _manual(config: Path | None, number: str, as_json: bool, action: Any) -> None:
    """Run a manual action and show the order's stage and open gates after it."""
    import os

    from unyo.app.manual import ManualActionError
    from unyo.clock import SystemClock

    cfg = _load(config)
    store = _open_store(cfg.database_url)
    try:
        order = action(store, cfg.shop_id, SystemClock().now(),
                       os.environ.get("USER") or "cli")
    except ManualActionError as e:
        _fail(str(e), 1)
    finally:
        store.close()
    doc = {"order_number": number, "stage": order.stage.value,
           "open_gates": [{"kind": g.kind.value, "reason": g.reason, "rule": g.rule}
                          for g in order.open_gates]}
    if as_json:
        _print_json(doc)
    else:
        gates = ", ".join(f"{g['kind']}: {g['reason']}" for g in doc["open_gates"]) or "none"
        out.print(f"{number}: {order.stage.value}; open gates: {gates}", highlight=False,
                  markup=False, soft_wrap=True)


@orders_app.command("release")
def orders_release(number: str,
                   gate: Annotated[GateKind, typer.Option(help="Which gates to close.")],
                   note: NoteOpt = "", by: ByOpt = None, config: ConfigOpt = None,
                   as_json: JsonOpt = False) -> None:
    """Close the order's open gates of a kind (確認OK, 保留解除, 入金確認) — a manual touch."""
    from unyo.app.manual import release

    _manual(config, number, as_json, lambda store, shop, now, user: release(
        store, shop, number, gate, note=note, by=by or user, now=now))


@orders_app.command("hold")
def orders_hold(number: str,
                until: Annotated[str | None, typer.Option(
                    help="Release by itself at this time (ISO-8601; JST if no offset).")] = None,
                release_date: Annotated[str | None, typer.Option(
                    help="A pre-order's release date (発売日, YYYY-MM-DD): kept on the order, "
                         "held until then (answers 発売日不明).")] = None,
                note: NoteOpt = "", by: ByOpt = None, config: ConfigOpt = None,
                as_json: JsonOpt = False) -> None:
    """Hold the order (保留) until a time or until released — a manual touch."""
    from unyo.app.manual import hold

    end = _instant(until, "--until") if until else None
    day = _release_day(release_date) if release_date else None
    _manual(config, number, as_json, lambda store, shop, now, user: hold(
        store, shop, number, until=end, note=note, by=by or user, now=now, release_date=day))


def _release_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        _fail(f"--release-date: 発売日「{text}」を読み取れません（例: 2026-12-11）")


@orders_app.command("cancel")
def orders_cancel(number: str, note: NoteOpt = "", by: ByOpt = None,
                  config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Cancel the order in unyo before hand-off (RMS is not told: cancel there too)."""
    from unyo.app.manual import cancel

    _manual(config, number, as_json, lambda store, shop, now, user: cancel(
        store, shop, number, note=note, by=by or user, now=now))


@app.command()
def schema() -> None:
    """Print the JSON Schema of the shop file (for editors: yaml-language-server)."""
    from unyo.flow.schema import build_schema

    _print_json(build_schema())


def _load_checked(path: Path | None, required: bool = True) -> Config:
    """The shop file validated as `unyo check` does; its errors on stderr and exit 2."""
    from unyo.adapters.mail import MailTemplateError, MailTemplates

    cfg = _load(path, required=required)
    try:  # the shop's own templates are compiled and tried even while mail is off
        MailTemplates.load(cfg.mail, cfg.shop_name or cfg.shop_id)
    except MailTemplateError as e:
        for problem in e.problems:
            err.print(problem, highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    return cfg


@app.command()
def doctor(config: Annotated[Path | None, typer.Option(
               "--config", "-c", show_default=False,
               help="The shop file, or a folder of shop files (default: unyo.yaml).")] = None,
           as_json: JsonOpt = False) -> None:
    """Check the installation: shop file, database, RMS login, SMTP login, warehouse
    folders, the license key's expiry. Sends nothing; exits 1 if a check fails."""
    from unyo.doctor import FAIL, WARN, check_database, check_shop

    configs = _load_shops(config)
    db = check_database(configs[0].database_url)
    checks = [db]
    store = None
    if db.status != FAIL:
        from unyo.adapters.db import Store

        store = Store.open(configs[0].database_url, migrate=False)
    try:
        for cfg in configs:
            checks.extend(check_shop(cfg, store=store if db.status == "ok" else None))
    finally:
        if store is not None:
            store.close()
    failed = any(c.status == FAIL for c in checks)
    if as_json:
        _print_json({"ok": not failed, "checks": [c.as_dict() for c in checks]})
    else:
        style = {"ok": "green", WARN: "yellow", FAIL: "bold red"}
        for c in checks:
            where = f"{c.shop} " if c.shop else ""
            out.print(f"[{style[c.status]}]{c.status:>4}[/] {escape(where + c.name)}: "
                      f"{escape(c.text or c.message)}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@app.command()
def check(path: Annotated[Path, typer.Argument(help="The shop file.")] = Path("unyo.yaml"),
          as_json: JsonOpt = False) -> None:
    """Validate the shop file: YAML, settings, rules and templates, with file:line errors."""
    cfg = _load_checked(path)
    doc = {"file": str(path), "ok": True, "shop": cfg.shop_id, "rules": len(cfg.rules),
           "mail": cfg.mail.enabled, "warehouse": cfg.warehouse.enabled}
    if as_json:
        _print_json(doc)
        return
    out.print(f"{path}: ok — shop {cfg.shop_id}, {len(cfg.rules)} rules, "
              f"mail {'on' if cfg.mail.enabled else 'off'}, "
              f"warehouse {'on' if cfg.warehouse.enabled else 'off'}",
              highlight=False, markup=False, soft_wrap=True)


@app.command()
def simulate(flow: Annotated[Path, typer.Option("--flow", help="The flow file to try.")],
             since: Annotated[str | None, typer.Option(
                 help="Orders imported from this day or instant; default 30 days ago.")] = None,
             until: Annotated[str | None, typer.Option(
                 help="... up to this day or instant (exclusive); default now.")] = None,
             config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Replay stored orders through another flow's rules; nothing real is touched."""
    from unyo.app.simulate import NOTES
    from unyo.app.simulate import simulate as replay

    cfg = _load(config)
    other = _load(flow, required=True)
    start, end = _period(since, until)
    store = _open_store(cfg.database_url)
    try:
        with progress_bar(not as_json) as report_progress:
            sim = replay(store, cfg.shop_id, cfg.rules, other.rules, start, end,
                         report_progress)
    finally:
        store.close()
    if as_json:
        _print_json(sim.as_dict())
        return

    def rate(value: float | None) -> str:
        return "—" if value is None else f"{value:.1%}"

    out.print(f"replayed {sim.orders} orders imported {start.astimezone(JST):%Y-%m-%d %H:%M}"
              f" → {end.astimezone(JST):%Y-%m-%d %H:%M} (JST) through {flow}", highlight=False,
              markup=False, soft_wrap=True)
    out.print(f"  {sim.shipping} would ship, {sim.cancelled} cancelled, {sim.unpaid} never "
              "paid (payment and cancellation times as they happened)", highlight=False,
              markup=False)
    out.print(f"  自動化率 current {rate(sim.current.automation_rate)} → proposed "
              f"{rate(sim.proposed.automation_rate)} (orders that would ship and no rule "
              "sends to 確認待ち)", highlight=False, markup=False)
    out.print(f"  cancelled after hand-off (a person stops them at the warehouse): current "
              f"{sim.current.cancelled_after_handoff} → proposed "
              f"{sim.proposed.cancelled_after_handoff}", highlight=False, markup=False)
    table = Table(title="orders per rule (確認待ち / 保留)", title_justify="left")
    for col in ("rule", "current", "proposed"):
        table.add_column(col, justify="left" if col == "rule" else "right")
    names = dict.fromkeys([*sim.current.checks, *sim.current.holds, *sim.proposed.checks,
                           *sim.proposed.holds])
    for name in names:
        table.add_row(escape(name),
                      f"{sim.current.checks[name]} / {sim.current.holds[name]}",
                      f"{sim.proposed.checks[name]} / {sim.proposed.holds[name]}")
    out.print(table)
    out.print(f"  {sim.differing} orders would be handled differently", highlight=False)
    for note in NOTES:
        out.print(f"  note: {note}", highlight=False, markup=False, soft_wrap=True)
    for d in sim.differences:
        out.print(f"    {d['order_number']}: {d['current']} → {d['proposed']}",
                  highlight=False, markup=False, soft_wrap=True)


@app.command()
def report(since: Annotated[str | None, typer.Option(
               help="From this day or instant (JST if no offset); default 30 days ago.")] = None,
           until: Annotated[str | None, typer.Option(
               help="Up to this day or instant (exclusive); default now.")] = None,
           config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Automation rate (自動化率), manual touches ranked by reason, dwell times, waiting now."""
    from unyo.app.report import build_report

    cfg = _load(config)
    start, end = _period(since, until)
    store = _open_store(cfg.database_url)
    try:
        rep = build_report(store, cfg.shop_id, start, end)
    finally:
        store.close()
    if as_json:
        _print_json(rep.as_dict())
        return
    basis = "出荷済 shipped" if rep.basis == "shipped" else \
        "出荷OK ready (no order has shipped yet: no warehouse connected)"
    rate = "—" if rep.automation_rate is None else f"{rep.automation_rate:.1%}"
    out.print(f"[bold]{cfg.shop_id}[/] {rep.since.astimezone(JST):%Y-%m-%d %H:%M} → "
              f"{rep.until.astimezone(JST):%Y-%m-%d %H:%M} (JST)", highlight=False)
    out.print(f"  自動化率 automation rate  {rate}  ({rep.automated} of {rep.orders} orders "
              f"that reached {basis} with no manual touch)", highlight=False, markup=False)
    touches = Table(title="manual touches by reason (bottlenecks)", title_justify="left")
    for col in ("reason", "touches", "share"):
        touches.add_column(col, justify="left" if col == "reason" else "right")
    for t in rep.manual_touches:
        touches.add_row(escape(t.reason), str(t.count), f"{t.share:.0%}")
    out.print(touches)
    dwell = Table(title="dwell time (minutes)", title_justify="left")
    for col in ("stage / gate", "orders", "p50", "p90"):
        dwell.add_column(col, justify="left" if col == "stage / gate" else "right")
    for d in [*rep.stage_dwell, *rep.gate_dwell]:
        dwell.add_row(d.name, str(d.count), _num(d.p50_minutes), _num(d.p90_minutes))
    out.print(dwell)
    if rep.rule_orders:
        rules = Table(title="rules: orders acted on, their gates' dwell (minutes)",
                      title_justify="left")
        for col in ("rule", "orders", "gates", "p50", "p90"):
            rules.add_column(col, justify="left" if col == "rule" else "right")
        by_rule = {x.name: x for x in rep.rule_dwell}
        for name, n in rep.rule_orders.items():
            g = by_rule.get(name)
            rules.add_row(escape(name), str(n), str(g.count if g else 0),
                          _num(g.p50_minutes if g else None), _num(g.p90_minutes if g else None))
        out.print(rules)
    waiting = Table(title="waiting now", title_justify="left")
    for col in ("gate", "reason", "orders"):
        waiting.add_column(col, justify="right" if col == "orders" else "left")
    for kind, reasons in rep.waiting_now.items():
        for reason, n in reasons.items():
            waiting.add_row(kind, escape(reason), str(n))
    out.print(waiting)


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def _period(since: str | None, until: str | None) -> tuple[datetime, datetime]:
    """--since / --until: days or instants; by default the 30 days up to now."""
    from datetime import timedelta

    from unyo.clock import SystemClock

    end = _day_or_instant(until, "--until") if until else SystemClock().now()
    start = _day_or_instant(since, "--since") if since else end - timedelta(days=30)
    if start >= end:
        _fail("--since must be before --until")
    return start, end


def _day_or_instant(text: str, option: str) -> datetime:
    """A day (2026-11-01: its 00:00 JST) or an instant."""
    if len(text.strip()) == 10:
        try:
            day = date.fromisoformat(text.strip())
        except ValueError:
            _fail(f"{option}: {text!r} is not a date (2026-11-01) or an instant")
        return datetime(day.year, day.month, day.day, tzinfo=JST)
    return _instant(text, option)


@flow_app.command("draw")
def flow_draw(
        config: ConfigOpt = None,
        output: Annotated[Path | None, typer.Option(
            "--output", "-o", help="Write to this file (default: stdout).")] = None,
        fmt: Annotated[str | None, typer.Option(
            "--format", help="mermaid or html (default: html when -o ends in .html, "
                             "else mermaid).", show_default=False)] = None,
        counts: Annotated[bool, typer.Option(
            "--counts", help="Put the period's figures on the nodes (from the database).")
        ] = False,
        since: Annotated[str | None, typer.Option(
            help="With --counts: from this day or instant; default 30 days ago.")] = None,
        until: Annotated[str | None, typer.Option(
            help="With --counts: up to this day or instant (exclusive); default now.")] = None,
        ) -> None:
    """Draw the flow diagram (運用フロー図) from the shop file, as Mermaid or one HTML file."""
    from unyo.diagram import build_diagram, diagram_counts, to_html, to_mermaid

    if fmt not in (None, "mermaid", "html"):
        _fail(f"--format: {fmt!r} is not a format (use mermaid or html)")
    if (since or until) and not counts:
        _fail("--since and --until give the period of --counts: add --counts")
    cfg = _load_checked(config, required=False)  # an invalid file draws nothing
    figures = None
    if counts:
        start, end = _period(since, until)
        store = _open_store(cfg.database_url)
        try:
            figures = diagram_counts(store, cfg.shop_id, start, end)
        finally:
            store.close()
    diagram = build_diagram(cfg, figures)
    as_html = fmt == "html" or (fmt is None and output is not None
                                and output.suffix.lower() in (".html", ".htm"))
    text = (to_html(diagram, title=f"{cfg.shop_name or cfg.shop_id} 運用フロー図")
            if as_html else to_mermaid(diagram))
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as e:
        _fail(f"cannot write {output}: {e.strerror or e}")
    err.print(f"wrote {output} ({'html' if as_html else 'mermaid'}: {len(cfg.rules)} rules"
              f"{', with counts' if counts else ''})", highlight=False, markup=False,
              soft_wrap=True)


@orders_app.command("show")
def orders_show(number: str, config: ConfigOpt = None,
                as_json: JsonOpt = False) -> None:
    """One order with its gates, events and effects."""
    from unyo.app.views import order_view

    cfg = _load(config)
    store = _open_store(cfg.database_url)
    with store.transaction() as conn:
        doc = order_view(store, conn, cfg.shop_id, number)
    store.close()
    if doc is None:
        _fail(f"no order {number} in shop {cfg.shop_id}", 1)
    if as_json:
        _print_json(doc)
        return
    o = doc["order"]
    out.print(f"[bold]{o['order_number']}[/] stage={o['stage']} RMS={o['rms_status']} "
              f"合計={o['amounts']['total']:,}円", highlight=False)
    merge = doc.get("merge")
    if merge and merge.get("merged_into"):
        out.print(f"  同梱: merged into {merge['merged_into']} (cancelled in unyo, not at RMS; "
                  f"its parcel is {merge['merged_into']}'s, now {merge['survivor_stage']})",
                  highlight=False, markup=False, soft_wrap=True)
        for f in merge["reports"]:
            out.print(f"  report via {merge['merged_into']}: {f['kind']} {f['status']} "
                      f"attempts={f['attempts']} {f['last_error'] or ''}", highlight=False,
                      markup=False)
    elif merge:
        for m in merge["merged"]:
            items = ", ".join(f"{i['name']} × {i['units']}" for i in m["items"])
            out.print(f"  同梱: carries {m['order_number']} (合計={m['total']:,}円, "
                      f"RMS={m['rms_status']}): {items}", highlight=False, markup=False,
                      soft_wrap=True)
        out.print(f"  同梱: parcel 合計={merge['parcel_total']:,}円", highlight=False,
                  markup=False)
    for g in doc["gates"]:
        state = "open" if g["closed_at"] is None else f"closed {g['closed_at']} by {g['closed_by']}"
        out.print(f"  gate {g['kind']}: {g['reason']} ({state})", highlight=False, markup=False)
    for e in doc["events"]:
        out.print(f"  {e['at']} {e['type']} {e['actor']} {e['data']}", highlight=False,
                  markup=False)
    for f in doc["effects"]:
        out.print(f"  effect {f['kind']} {f['status']} attempts={f['attempts']} "
                  f"{f['last_error'] or ''}", highlight=False, markup=False)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Apply database migrations (also done automatically on start)."""
    cfg = _load(config)
    _open_store(cfg.database_url).close()  # opening migrates
    out.print("database is up to date")


@sandbox_app.command("rms")
def sandbox_rms(port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8790,
                orders: Annotated[int, typer.Option(min=0, help="Orders to generate.")] = 200,
                seed: Annotated[int, typer.Option()] = 1) -> None:
    """The RMS order API emulator on 127.0.0.1 (real clock, orders of the last day).

    Accepts the credentials in RMS_SERVICE_SECRET / RMS_LICENSE_KEY, or the demo
    values it prints when those are unset. Stops on Ctrl-C or SIGTERM.
    """
    import os
    import signal
    import threading
    from datetime import timedelta

    from unyo.clock import SystemClock
    from unyo.demo import DEMO_LICENSE_KEY, DEMO_SERVICE_SECRET
    from unyo.sandbox.generator import generate_orders
    from unyo.sandbox.rms_emulator import RmsEmulator, RmsEmulatorServer

    clock = SystemClock()
    secret = os.environ.get("RMS_SERVICE_SECRET") or DEMO_SERVICE_SECRET
    key = os.environ.get("RMS_LICENSE_KEY") or DEMO_LICENSE_KEY
    now = clock.now()
    emulator = RmsEmulator(clock, service_secret=secret, license_key=key,
                           orders=generate_orders(orders, seed=seed,
                                                  start=now - timedelta(days=1), end=now),
                           seed=seed)
    server = RmsEmulatorServer(emulator, port=port)
    try:
        server.start()
    except OSError as e:
        _fail(f"cannot listen on 127.0.0.1:{port}: {e.strerror}")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        err.print(f"RMS emulator on {server.base_url} with {orders} orders "
                  f"(UNYO_RMS_BASE_URL={server.base_url})", highlight=False, markup=False,
                  soft_wrap=True)
        # Only demo values are ever printed, never credentials from the environment.
        demo_values = [f"{name}={value}" for name, value, demo in (
            ("RMS_SERVICE_SECRET", secret, DEMO_SERVICE_SECRET),
            ("RMS_LICENSE_KEY", key, DEMO_LICENSE_KEY)) if value == demo]
        if demo_values:
            err.print(f"credentials: {' '.join(demo_values)}", highlight=False, markup=False,
                      soft_wrap=True)
        with suppress(KeyboardInterrupt):
            while not stopped.wait(0.5):
                pass
    finally:
        server.stop()


@app.command()
def demo(orders: Annotated[int, typer.Option(min=1, help="Orders in the day.")] = 300,
         seed: Annotated[int, typer.Option(help="Seed of the order generator.")] = 1,
         speed: Annotated[float, typer.Option(min=0, help="Simulated seconds per wall second "
                                              "(0 = as fast as possible).")] = 1440.0,
         headless: Annotated[bool, typer.Option(help="Exit at the end, serve nothing.")] = False,
         database: Annotated[str | None, typer.Option(help="Database URL (default: a temporary "
                                                     "SQLite file).")] = None,
         as_json: JsonOpt = False) -> None:
    """The whole Rakuten flow on the sandbox: a day of orders on a simulated clock, with
    the dashboard served on 127.0.0.1 until Ctrl-C (--headless: exit after the summary)."""
    from unyo.demo import DemoDashboard, run_demo

    def show(summary: dict[str, Any]) -> None:
        _print_json(summary) if as_json else _print_summary(summary)

    def started(url: str, user: str, password: str) -> None:
        err.print(f"dashboard: {url}  (user {user}, password {password})", highlight=False,
                  markup=False, soft_wrap=True)

    def finished(summary: dict[str, Any]) -> None:
        show(summary)
        sys.stdout.flush()
        err.print("the dashboard keeps serving; Ctrl-C stops", highlight=False, markup=False)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with suppress(KeyboardInterrupt):
            while not stop.wait(0.5):
                pass

    served = None if headless else DemoDashboard(started, finished)
    with progress_bar(not as_json) as report:
        summary = run_demo(orders=orders, seed=seed, speed=speed, database_url=database,
                           progress=report, dashboard=served)
    if headless:
        show(summary)


STAGE_LABELS = {"processing": "受注処理", "ready": "出荷OK", "at_warehouse": "倉庫連携済",
                "shipped": "出荷済", "cancelled": "キャンセル"}
GATE_LABELS = {"payment": "入金待ち", "check": "確認待ち", "hold": "保留"}


def _print_summary(s: dict[str, Any]) -> None:
    events = s.get("events", {})
    out.print(f"[bold]unyo demo[/] — simulated {s['simulated']['from']} → "
              f"{s['simulated']['to']} in {s['wall_seconds']:.1f} s", highlight=False)
    out.print(f"  注文 orders at RMS      {s['orders']:>6}", highlight=False)
    out.print(f"  受注取込 imported        {s['imported']:>6}", highlight=False)
    out.print(f"  注文確認 confirmed       {events.get('order_confirmed', 0):>6}",
              highlight=False)
    out.print(f"  入金確認 payment settled {events.get('payment_settled', 0):>6}",
              highlight=False)
    out.print(f"  キャンセル cancelled      {events.get('order_cancelled', 0):>6}",
              highlight=False)
    wh = s.get("warehouse", {})
    out.print(f"  倉庫 warehouse           {wh.get('requests', 0):>6} 出荷依頼 / "
              f"{wh.get('results', 0)} 実績 / {wh.get('errors', 0)} errors", highlight=False)
    mails = s.get("mails", {})
    out.print(f"  メール mails sent        {mails.get('thanks', 0):>6} サンクス / "
              f"{mails.get('shipping', 0)} 発送連絡 / {mails.get('failed', 0)} failed",
              highlight=False)
    table = Table(title="stages", title_justify="left")
    table.add_column("stage")
    table.add_column("count", justify="right")
    for k, v in s["stages"].items():
        table.add_row(f"{STAGE_LABELS.get(k, k)} ({k})", str(v))
    out.print(table)
    waiting = Table(title="open gates: what orders wait for", title_justify="left")
    waiting.add_column("gate")
    waiting.add_column("reason")
    waiting.add_column("orders", justify="right")
    for kind, reasons in s.get("waiting_for", {}).items():
        for reason, n in reasons.items():
            # a reason may quote the buyer's remarks: never Rich markup
            waiting.add_row(f"{GATE_LABELS.get(kind, kind)} ({kind})", escape(reason), str(n))
    out.print(waiting)
    for title, key in (("RMS status (orderProgress)", "rms_progress"),
                       ("RMS API calls", "api_calls")):
        table = Table(title=title, title_justify="left")
        table.add_column("")
        table.add_column("count", justify="right")
        for k, v in s[key].items():
            table.add_row(str(k), str(v))
        out.print(table)


@mail_app.command("preview")
def mail_preview(kind: Annotated[MailKind, typer.Argument(help="thanks or shipping.")],
                 number: Annotated[str | None, typer.Argument(
                     help="Order number (default: a sample order).")] = None,
                 config: ConfigOpt = None,
                 raw: Annotated[bool, typer.Option(
                     "--raw", help="Print the mail as sent over SMTP (encoded).")] = False,
                 ) -> None:
    """Print the mail unyo would send for an order, rendered with the shop's templates."""
    from dataclasses import replace

    from unyo.adapters.mail import MailTemplateError, MailTemplates, build_message
    from unyo.adapters.mail.templates import sample_orders
    from unyo.clock import SystemClock

    cfg = _load(config)
    try:
        templates = MailTemplates.load(cfg.mail, cfg.shop_name or cfg.shop_id)
    except MailTemplateError as e:
        for p in e.problems:
            err.print(p, highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if number is None:
        order = sample_orders(kind)[0]
    else:
        store = _open_store(cfg.database_url)
        with store.transaction() as conn:
            found = store.load_order(conn, cfg.shop_id, number)
        store.close()
        if found is None:
            _fail(f"no order {number} in shop {cfg.shop_id}", 1)
        order = found
    try:
        mail = templates.render(kind, order)
        settings = cfg.mail if cfg.mail.from_address else replace(
            cfg.mail, from_address="from-address-not-set@example.invalid")
        msg = build_message(settings, templates.shop_name, kind, order, mail,
                            SystemClock().now().astimezone(JST))
    except Exception as e:  # the template failed on this order's data, or no address
        _fail(f"cannot render the {kind.value} mail for {order.number}: {e}", 1)
    if raw:
        sys.stdout.write(msg.as_bytes().decode("ascii", "replace").replace("\r\n", "\n"))
        return
    for name in ("From", "To", "Reply-To", "Subject", "Date", "Message-ID"):
        if msg[name] is not None:
            out.print(f"{name}: {msg[name]}", highlight=False, markup=False, soft_wrap=True)
    out.print("", highlight=False)
    out.print(mail.body, highlight=False, markup=False, soft_wrap=True, end="")


@sandbox_app.command("smtp")
def sandbox_smtp(port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8025,
                 quiet: Annotated[bool, typer.Option(
                     help="Do not print a line per mail.")] = False) -> None:
    """An SMTP server on 127.0.0.1 that keeps every mail (no TLS, no AUTH).

    Point the shop file at it (mail.host 127.0.0.1, mail.port P, starttls and auth
    false). Prints one line per accepted mail on stderr. Stops on Ctrl-C or SIGTERM.
    """
    from unyo.sandbox.smtp_sink import SmtpSink

    try:
        sink = SmtpSink(port=port).start()
    except (OSError, RuntimeError) as e:
        _fail(f"cannot listen on 127.0.0.1:{port}: {e}")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    err.print(f"SMTP sink on 127.0.0.1:{sink.port} (mail.host: 127.0.0.1, mail.port: "
              f"{sink.port}, mail.starttls: false, mail.auth: false)", highlight=False,
              markup=False, soft_wrap=True)
    shown = 0
    try:
        with suppress(KeyboardInterrupt):
            while True:
                stop = stopped.wait(0.5)
                received = sink.messages()
                for m in received[shown:] if not quiet else ():
                    err.print(f"{m.received_at.astimezone(JST):%H:%M:%S} {m.kind or 'mail'} "
                              f"{m.mail_from} → {', '.join(m.rcpt_tos)}: "
                              f"{m.message['Subject']}", highlight=False, markup=False,
                              soft_wrap=True)
                shown = len(received)
                if stop:
                    break
    finally:
        sink.stop()


@sandbox_app.command("warehouse")
def sandbox_warehouse(
        directory: Annotated[Path, typer.Option(
            "--dir", help="The exchange folder (warehouse.folder of the shop file).")],
        now: Annotated[str | None, typer.Option(
            help="Start the warehouse's clock at this instant (e.g. 2026-11-27T10:55), "
                 "then run in real time; default: the real clock.")] = None,
        stockout_rate: Annotated[float, typer.Option(
            min=0.0, max=1.0, help="Share of packages answered 出荷不可: 欠品.")] = 0.02,
        seed: Annotated[int, typer.Option()] = 1) -> None:
    """A warehouse system on the CSV folder exchange: takes requests/, ships at the
    11:00 and 15:00 JST waves (not on Sundays and holidays), writes results/ in cp932.

    Stops on Ctrl-C or SIGTERM.
    """
    from unyo.clock import Clock, SystemClock
    from unyo.sandbox.warehouse_emulator import WarehouseEmulator
    from unyo.wiring import OffsetClock

    clock: Clock = OffsetClock(_instant(now)) if now else SystemClock()
    try:
        wms = WarehouseEmulator(directory, clock, seed=seed, stockout_rate=stockout_rate)
    except OSError as e:
        _fail(f"cannot use {directory}: {e.strerror or e}")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    err.print(f"warehouse on {directory.resolve()} (requests/ → results/, waves 11:00 and "
              "15:00 JST)", highlight=False, markup=False, soft_wrap=True)
    shown = 0
    with suppress(KeyboardInterrupt):
        while True:
            stop = stopped.wait(1.0)
            wms.step()
            for name in wms.stats.result_files[shown:]:
                err.print(f"{clock.now().astimezone(JST):%Y-%m-%d %H:%M} wrote results/{name}",
                          highlight=False, markup=False, soft_wrap=True)
            shown = len(wms.stats.result_files)
            if stop:
                break


@app.command()
def serve(config: ConfigOpt = None,
          host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(min=1, max=65535)] = 8080,
          insecure_cookie: Annotated[bool, typer.Option(
              help="Session cookie without Secure, for plain http on a loopback host only "
                   "(browsers keep Secure cookies on http://127.0.0.1 anyway).")] = False,
          ) -> None:
    """The dashboard (FastAPI). Put it behind a TLS reverse proxy: docs/dashboard.md."""
    import uvicorn

    from unyo.web import create_app
    from unyo.web.server import LOOPBACK, uvicorn_config

    if insecure_cookie and host not in LOOPBACK:
        _fail("--insecure-cookie is only for a loopback --host (127.0.0.1); serve other "
              "hosts through TLS")
    cfg = _load(config)
    store = _open_store(cfg.database_url)
    from unyo.adapters.db.accounts import Accounts
    from unyo.app.users import Users

    if not Users(Accounts(store.engine)).list():
        err.print("no dashboard users yet: add one with `unyo user add NAME --role admin`",
                  highlight=False, markup=False, soft_wrap=True)
    err.print(f"unyo dashboard for shop {cfg.shop_id} on http://{host}:{port} (Ctrl-C stops)",
              highlight=False, markup=False, soft_wrap=True)
    server = uvicorn.Server(uvicorn_config(create_app(store, cfg,
                                                      secure_cookies=not insecure_cookie),
                                           host, port))
    try:
        server.run()
    finally:
        store.close()


def _users(config: Path | None) -> tuple[Any, Any]:
    from unyo.adapters.db.accounts import Accounts
    from unyo.app.users import Users

    cfg = _load(config)
    store = _open_store(cfg.database_url)
    return Users(Accounts(store.engine)), store


@user_app.command("add")
def user_add(name: str,
             role: Annotated[str, typer.Option(help="operator or admin.")] = "operator",
             password_stdin: Annotated[bool, typer.Option(
                 "--password-stdin", help="Read the password from stdin (one line).")] = False,
             config: ConfigOpt = None) -> None:
    """Add a dashboard user; the password is asked twice (or read from stdin)."""
    from unyo.app.users import UserError
    from unyo.clock import SystemClock

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    users, store = _users(config)
    try:
        users.add(name, role, password, SystemClock().now())
    except UserError as e:
        _fail(str(e))
    finally:
        store.close()
    out.print(f"added {role} {name}", highlight=False, markup=False)


@user_app.command("list")
def user_list(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Dashboard users."""
    users, store = _users(config)
    rows = [{"name": u.name, "role": u.role, "created_at": u.created_at.isoformat(),
             "disabled": u.disabled} for u in users.list()]
    store.close()
    if as_json:
        _print_json(rows)
        return
    table = Table("name", "role", "created", "disabled")
    for r in rows:
        table.add_row(escape(r["name"]), r["role"], r["created_at"], "yes" if r["disabled"]
                      else "")
    out.print(table)


@user_app.command("disable")
def user_disable(name: str, config: ConfigOpt = None) -> None:
    """Disable a dashboard user and end their sessions."""
    from unyo.app.users import UserError

    users, store = _users(config)
    try:
        users.disable(name)
    except UserError as e:
        _fail(str(e), 1)
    finally:
        store.close()
    out.print(f"disabled {name}", highlight=False, markup=False)


def main() -> None:
    app()


__all__ = ["SimClock", "app", "main"]
