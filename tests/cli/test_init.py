"""`unyo init`: a starter shop file that loads, never written over by accident."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from unyo.cli import app
from unyo.flow import load_config
from unyo.flow.config import PRODUCTION_RMS


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), env={"UNYO_RMS_BASE_URL": None,
                                                   "UNYO_DATABASE_URL": None})


def test_init_writes_a_file_that_loads(tmp_path: Path) -> None:
    path = tmp_path / "unyo.yaml"
    result = invoke("init", str(path), "--shop-id", "my-shop_1", "--shop-name", 'A "店" [b]')
    assert result.exit_code == 0, result.stderr
    assert "wrote" in result.stdout
    cfg = load_config(path, env={})
    assert (cfg.shop_id, cfg.shop_name) == ("my-shop_1", 'A "店" [b]')
    assert cfg.rms.base_url == PRODUCTION_RMS
    assert cfg.import_.self_cancel_wait == 1800.0


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "unyo.yaml"
    path.write_text("shop:\n  id: mine\n", encoding="utf-8")
    result = invoke("init", str(path))
    assert result.exit_code == 2
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert path.read_text(encoding="utf-8") == "shop:\n  id: mine\n"


def test_init_force_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "unyo.yaml"
    path.write_text("shop:\n  id: mine\n", encoding="utf-8")
    result = invoke("init", str(path), "--force", "--shop-id", "other")
    assert result.exit_code == 0, result.stderr
    assert load_config(path, env={}).shop_id == "other"


def test_init_in_current_directory_by_default(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke("init").exit_code == 0
    assert load_config(tmp_path / "unyo.yaml", env={}).shop_id == "myshop"


def test_init_rejects_a_bad_shop_id_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "unyo.yaml"
    result = invoke("init", str(path), "--shop-id", "a b/c")
    assert result.exit_code == 2
    assert "--shop-id" in result.stderr and "'a b/c'" in result.stderr
    assert not path.exists()


def test_init_into_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    result = invoke("init", str(tmp_path / "nope" / "unyo.yaml"))
    assert result.exit_code == 2
    assert "cannot write" in result.stderr

