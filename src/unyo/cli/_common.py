"""What every command shares: the consoles, the common options, errors and exit codes,
JSON output, the shop file, the store, the progress bar, and times given as options.

Must not import a command module (they import this one)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from unyo.app.context import Progress as ProgressFn
from unyo.app.context import no_progress
from unyo.clock import JST, parse_instant
from unyo.flow import Config, ConfigError, load_config

if TYPE_CHECKING:
    from unyo.adapters.db import Store

out = Console()
err = Console(stderr=True)

DEFAULT_CONFIG = Path("unyo.yaml")
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", help="The shop file (default: unyo.yaml).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def fail(message: str, code: int = 2) -> NoReturn:
    # The message may hold paths, RMS texts or buyer data: never Rich markup.
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2, default=_json_default) + "\n")


def shop_file(config: Path | None, required: bool = False) -> Config:
    """The shop file; without --config, ./unyo.yaml if present (or defaults if not required)."""
    try:
        if config is None and not required and not DEFAULT_CONFIG.exists():
            return load_config(None)
        return load_config(config or DEFAULT_CONFIG)
    except ConfigError as e:
        for p in e.problems:
            err.print(p, highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from None


def open_store(url: str, worker: str | None = None) -> Store:
    """The migrated store, or a clear error (the URL shown without its password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from unyo.adapters.db import Store

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        fail("the database URL is not a URL (database.url or UNYO_DATABASE_URL; "
              "e.g. sqlite:///unyo.db)")
    try:
        return Store.open(url, worker=worker)
    except (SQLAlchemyError, ImportError, OSError) as e:
        problem = _storage_problem(e, url, shown)
        if problem is not None:
            fail(f"データベースを開けません: {problem.japanese}")
        reason = getattr(e, "orig", None) or e
        fail(f"cannot open the database {shown}: {reason}")


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


def shop_files(config: Path | None) -> list[Config]:
    """The shop file, or every *.yaml / *.yml in a folder (one shop each): distinct shop
    ids, one database. Every file's mistakes are shown before exiting."""
    if config is None or not config.is_dir():
        return [shop_file(config, required=True)]
    files = sorted(p for p in config.iterdir()
                   if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        fail(f"{config}: no shop files (*.yaml) in this folder")
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


def instant(text: str, option: str = "--now") -> datetime:
    try:
        return parse_instant(text)
    except ValueError:
        fail(f"{option}: {text!r} is not an ISO-8601 instant "
              "(e.g. 2026-11-27T10:00:00+09:00; without an offset it is taken as JST)")


def checked_shop_file(path: Path | None, required: bool = True) -> Config:
    """The shop file validated as `unyo check` does; its errors on stderr and exit 2."""
    from unyo.adapters.mail import MailTemplateError, MailTemplates

    cfg = shop_file(path, required=required)
    try:  # the shop's own templates are compiled and tried even while mail is off
        MailTemplates.load(cfg.mail, cfg.shop_name or cfg.shop_id)
    except MailTemplateError as e:
        for problem in e.problems:
            err.print(problem, highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    return cfg


def period(since: str | None, until: str | None) -> tuple[datetime, datetime]:
    """--since / --until: days or instants; by default the 30 days up to now."""

    from unyo.clock import SystemClock

    end = _day_or_instant(until, "--until") if until else SystemClock().now()
    start = _day_or_instant(since, "--since") if since else end - timedelta(days=30)
    if start >= end:
        fail("--since must be before --until")
    return start, end


def _day_or_instant(text: str, option: str) -> datetime:
    """A day (2026-11-01: its 00:00 JST) or an instant."""
    if len(text.strip()) == 10:
        try:
            day = date.fromisoformat(text.strip())
        except ValueError:
            fail(f"{option}: {text!r} is not a date (2026-11-01) or an instant")
        return datetime(day.year, day.month, day.day, tzinfo=JST)
    return instant(text, option)


__all__ = [
    "DEFAULT_CONFIG",
    "ConfigOpt",
    "JsonOpt",
    "checked_shop_file",
    "err",
    "fail",
    "instant",
    "open_store",
    "out",
    "period",
    "print_json",
    "progress_bar",
    "shop_file",
    "shop_files",
]
