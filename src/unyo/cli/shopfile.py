"""The shop file and the installation: `unyo init`, `schema`, `check`, `doctor`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from unyo.cli._common import JsonOpt, checked_shop_file, fail, out, print_json, shop_files
from unyo.flow.config import parse_config, render_init


def init(path: Annotated[Path, typer.Argument()] = Path("unyo.yaml"),
         shop_id: Annotated[str, typer.Option(help="Short id of the shop.")] = "myshop",
         shop_name: Annotated[str, typer.Option(help="The shop's name.")] = "",
         force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False
         ) -> None:
    """Write a commented shop file (unyo.yaml) to start from."""
    if path.exists() and not force:
        fail(f"{path} already exists (use --force to overwrite)")
    if path.is_dir():
        fail(f"{path} is a directory")
    try:
        text = render_init(shop_id, shop_name)
    except ValueError as e:
        fail(f"--shop-id: {e}")
    parse_config(text, str(path), env={})  # the template must always be valid
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        from unyo.adapters.db.trouble import storage_problem

        problem = storage_problem(e, str(path))
        fail(f"{path} を書けません: {problem.japanese}" if problem
              else f"cannot write {path}: {e.strerror}")
    out.print(f"wrote {path}; set RMS_SERVICE_SECRET and RMS_LICENSE_KEY, then `unyo run`",
              highlight=False, markup=False, soft_wrap=True)


def schema() -> None:
    """Print the JSON Schema of the shop file (for editors: yaml-language-server)."""
    from unyo.flow.schema import build_schema

    print_json(build_schema())


def doctor(config: Annotated[Path | None, typer.Option(
               "--config", "-c", show_default=False,
               help="The shop file, or a folder of shop files (default: unyo.yaml).")] = None,
           as_json: JsonOpt = False) -> None:
    """Check the installation: shop file, database, RMS login, SMTP login, warehouse
    folders, the license key's expiry. Sends nothing; exits 1 if a check fails."""
    from unyo.doctor import FAIL, WARN, check_database, check_shop

    configs = shop_files(config)
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
        print_json({"ok": not failed, "checks": [c.as_dict() for c in checks]})
    else:
        style = {"ok": "green", WARN: "yellow", FAIL: "bold red"}
        for c in checks:
            where = f"{c.shop} " if c.shop else ""
            out.print(f"[{style[c.status]}]{c.status:>4}[/] {escape(where + c.name)}: "
                      f"{escape(c.text or c.message)}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


def check(path: Annotated[Path, typer.Argument(help="The shop file.")] = Path("unyo.yaml"),
          as_json: JsonOpt = False) -> None:
    """Validate the shop file: YAML, settings, rules and templates, with file:line errors."""
    from unyo.doctor import cutover_text

    cfg = checked_shop_file(path)
    start = cfg.import_.start_at
    doc = {"file": str(path), "ok": True, "shop": cfg.shop_id, "rules": len(cfg.rules),
           "mail": cfg.mail.enabled, "warehouse": cfg.warehouse.enabled, "mode": cfg.mode,
           "start_at": start.isoformat() if start else None}
    if as_json:
        print_json(doc)
        return
    out.print(f"{path}: ok — shop {cfg.shop_id}, {len(cfg.rules)} rules, "
              f"mail {'on' if cfg.mail.enabled else 'off'}, "
              f"warehouse {'on' if cfg.warehouse.enabled else 'off'}",
              highlight=False, markup=False, soft_wrap=True)
    out.print(f"  {cutover_text(cfg)[1]}", highlight=False, markup=False, soft_wrap=True)
