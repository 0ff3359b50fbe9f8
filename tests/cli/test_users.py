"""`unyo user add / list / disable` and `unyo serve`'s refusals."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from unyo.adapters.db import Store
from unyo.adapters.db.accounts import Accounts
from unyo.app.users import Users
from unyo.cli import app


def shop_file(tmp_path: Path) -> Path:
    path = tmp_path / "unyo.yaml"
    path.write_text(f"shop:\n  id: s1\ndatabase:\n  url: sqlite:///{tmp_path / 'u.db'}\n",
                    encoding="utf-8")
    return path


def test_add_list_and_disable_users(tmp_path: Path):
    cfg = str(shop_file(tmp_path))
    run = CliRunner().invoke
    added = run(app, ["user", "add", "yamada", "--role", "admin", "--password-stdin", "-c", cfg],
                input="a long password\n")
    assert added.exit_code == 0, added.stderr
    prompted = run(app, ["user", "add", "sato", "-c", cfg],
                   input="another password\nanother password\n")
    assert prompted.exit_code == 0, prompted.stderr
    listed = json.loads(run(app, ["user", "list", "--json", "-c", cfg]).stdout)
    assert [(u["name"], u["role"], u["disabled"]) for u in listed] == [
        ("sato", "operator", False), ("yamada", "admin", False)]
    store = Store.open(f"sqlite:///{tmp_path / 'u.db'}")
    users = Users(Accounts(store.engine))
    assert users.check_password("yamada", "a long password") is not None
    assert run(app, ["user", "disable", "yamada", "-c", cfg]).exit_code == 0
    assert users.check_password("yamada", "a long password") is None
    store.close()


def test_bad_users_are_refused(tmp_path: Path):
    cfg = str(shop_file(tmp_path))
    run = CliRunner().invoke
    short = run(app, ["user", "add", "x", "--password-stdin", "-c", cfg], input="short\n")
    assert short.exit_code == 2 and "10文字以上" in short.stderr
    role = run(app, ["user", "add", "x", "--role", "root", "--password-stdin", "-c", cfg],
               input="long enough pw\n")
    assert role.exit_code == 2 and "は権限ではありません" in role.stderr
    run(app, ["user", "add", "x", "--password-stdin", "-c", cfg], input="long enough pw\n")
    again = run(app, ["user", "add", "x", "--password-stdin", "-c", cfg],
                input="long enough pw\n")
    assert again.exit_code == 2 and "はすでにあります" in again.stderr
    missing = run(app, ["user", "disable", "nobody", "-c", cfg])
    assert missing.exit_code == 1 and "ユーザー「nobody」はいません" in missing.stderr


def test_serve_refuses_an_insecure_cookie_off_loopback(tmp_path: Path):
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--insecure-cookie",
                                      "-c", str(shop_file(tmp_path))])
    assert result.exit_code == 2 and "only for a loopback" in result.stderr
