"""`unyo user`: dashboard users."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from unyo.cli._common import ConfigOpt, JsonOpt, fail, open_store, out, print_json, shop_file

app = typer.Typer(help="Dashboard users (operator, admin).", no_args_is_help=True)
ROLE_NAMES = {"operator": "担当者", "admin": "管理者"}


def _users(config: Path | None) -> tuple[Any, Any]:
    from unyo.adapters.db.accounts import Accounts
    from unyo.app.users import Users

    cfg = shop_file(config)
    store = open_store(cfg.database_url)
    return Users(Accounts(store.engine)), store


@app.command("add")
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
        fail(e.ja)
    finally:
        store.close()
    out.print(f"{ROLE_NAMES.get(role, role)}「{name}」を追加しました", highlight=False,
              markup=False)


@app.command("list")
def user_list(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Dashboard users."""
    users, store = _users(config)
    users_rows = users.list()
    rows = [{"name": u.name, "role": u.role, "created_at": u.created_at.isoformat(),
             "disabled": u.disabled} for u in users_rows]
    store.close()
    if as_json:
        print_json(rows)
        return
    from unyo.clock import JST

    table = Table("ユーザー名", "権限", "作成日時", "状態")
    for u, r in zip(users_rows, rows, strict=True):
        table.add_row(escape(r["name"]), ROLE_NAMES.get(r["role"], r["role"]),
                      u.created_at.astimezone(JST).strftime("%Y-%m-%d %H:%M"),
                      "無効" if r["disabled"] else "有効")
    out.print(table)


@app.command("disable")
def user_disable(name: str, config: ConfigOpt = None) -> None:
    """Disable a dashboard user and end their sessions."""
    from unyo.app.users import UserError

    users, store = _users(config)
    try:
        users.disable(name)
    except UserError as e:
        fail(e.ja, 1)
    finally:
        store.close()
    out.print(f"ユーザー「{name}」を無効にしました（ログイン中のセッションも終了）",
              highlight=False, markup=False)
