"""`unyo flow draw`: Mermaid on stdout, HTML to a file, and nothing drawn from a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from unyo.cli import app
from unyo.flow.config import render_init

runner = CliRunner()
BAD = """\
shop: {id: bad}
import: {interval: soon}
rules:
  - name: 高額
    when: {field: totl, op: gt, value: 1}
    then: [{check: 確認}]
"""


@pytest.fixture
def shop_file(tmp_path: Path) -> Path:
    path = tmp_path / "unyo.yaml"
    path.write_text(render_init("tea", "お茶の店"), encoding="utf-8")
    return path


def test_without_a_shop_file_the_default_flow_is_drawn_in_mermaid(tmp_path: Path,
                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./unyo.yaml
    result = runner.invoke(app, ["flow", "draw"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("%% unyo") and "flowchart LR" in result.stdout
    assert "ルールなし" in result.stdout and result.stderr == ""


def test_the_shop_file_drawn_to_stdout_and_to_files(shop_file: Path, tmp_path: Path):
    text = runner.invoke(app, ["flow", "draw", "-c", str(shop_file)])
    assert text.exit_code == 0 and text.stdout.count('u_rule') >= 10
    out = tmp_path / "flow.html"
    html = runner.invoke(app, ["flow", "draw", "-c", str(shop_file), "-o", str(out)])
    assert html.exit_code == 0, html.stderr
    assert html.stdout == "" and f"wrote {out} (html: 16 rules)" in html.stderr
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "お茶の店 運用フロー図" in page
    mmd = tmp_path / "flow.md"
    forced = runner.invoke(app, ["flow", "draw", "-c", str(shop_file), "-o", str(mmd),
                                 "--format", "mermaid"])
    assert forced.exit_code == 0 and mmd.read_text(encoding="utf-8") == text.stdout
    to_stdout = runner.invoke(app, ["flow", "draw", "-c", str(shop_file), "--format", "html"])
    assert to_stdout.exit_code == 0 and to_stdout.stdout.startswith("<!doctype html>")


def test_an_invalid_file_draws_nothing_and_shows_the_check_errors(tmp_path: Path):
    path = tmp_path / "unyo.yaml"
    path.write_text(BAD, encoding="utf-8")
    out = tmp_path / "flow.html"
    drawn = runner.invoke(app, ["flow", "draw", "-c", str(path), "-o", str(out)])
    checked = runner.invoke(app, ["check", str(path)])
    assert (drawn.exit_code, checked.exit_code) == (2, 2)
    assert drawn.stderr == checked.stderr
    assert f"{path}:2: import.interval:" in drawn.stderr
    assert f"{path}:5: rules[0].when.field: unknown field 'totl'" in drawn.stderr
    assert drawn.stdout == "" and not out.exists()


def test_a_missing_shop_file_is_an_error_not_the_defaults(tmp_path: Path):
    result = runner.invoke(app, ["flow", "draw", "-c", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "file not found" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--format", "png"], "--format: 'png' is not a format"),
    (["--since", "2026-11-01"], "--since and --until give the period of --counts"),
])
def test_wrong_options_are_refused(shop_file: Path, args: list[str], message: str):
    result = runner.invoke(app, ["flow", "draw", "-c", str(shop_file), *args])
    assert result.exit_code == 2 and message in result.stderr and result.stdout == ""
