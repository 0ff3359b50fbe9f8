"""A shop file with a mistake: file:line and key on stderr, exit 2, nothing runs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import KEY, NOW, SECRET, Cli
from unyo.flow import ConfigError, load_config

BAD_FILES = {
    "yaml_syntax": ("shop:\n  id: [shop\n", r":3: YAML error: .*flow sequence.* line 2"),
    "tab_indent": ("shop:\n\tid: x\n", r":2: YAML error: .*'\\t'"),
    "duplicate_key": ("shop:\n  id: a\n  id: b\n", r":3: YAML error: .*duplicate key \"id\""),
    "unknown_top_key": ("shop:\n  id: x\nwarehous:\n  url: x\n",
                        r":3: warehous: unknown key \(known: shop, database, rms, import"),
    "unknown_section_key": ("shop:\n  id: x\nimport:\n  interval: 1m\n  intervall: 2m\n",
                            r":5: import\.intervall: unknown key \(known: confirm, interval"),
    "unknown_shop_key": ("shop:\n  id: x\n  url: y\n", r":3: shop\.url: unknown key"),
    "unknown_database_key": ("database:\n  url: sqlite:///x.db\n  password: x\n",
                             r":3: database\.password: unknown key \(known: url\)"),
    "bad_duration": ("sync:\n  interval: soon\n",
                     r":2: sync\.interval: 'soon' is not a duration \(use e\.g\. 30s"),
    "negative_duration": ("import:\n  overlap: -5\n", r":2: import\.overlap: -5 is not a duration"),
    "infinite_duration": ("rms:\n  timeout: .inf\n", r":2: rms\.timeout: inf is not a duration"),
    "bad_bool": ("import:\n  confirm: \"yes\"\n",
                 r":2: import\.confirm: expected true or false, got 'yes'"),
    "bad_whole_number": ("outbox:\n  max_attempts: 2.5\n",
                         r":2: outbox\.max_attempts: expected a whole number"),
    "section_not_mapping": ("rms: https://api.rms.rakuten.co.jp\n",
                            r":1: rms: expected a mapping of settings"),
    "shop_id_bad_chars": ("shop:\n  id: \"my shop/1\"\n",
                          r":2: shop\.id: 'my shop/1' is not a shop id; use 1–64 letters"),
    "shop_id_number": ("shop:\n  id: 123\n", r":2: shop\.id: 123 is not a shop id"),
    "shop_name_not_text": ("shop:\n  id: x\n  name: [a]\n", r":3: shop\.name: expected text"),
    "base_url_with_path": ("rms:\n  base_url: https://api.rms.rakuten.co.jp/es/2.0\n",
                           r":2: rms\.base_url: .* has a path"),
    "base_url_no_scheme": ("rms:\n  base_url: api.rms.rakuten.co.jp\n",
                           r":2: rms\.base_url: .* is not an http\(s\) URL"),
    "not_a_mapping": ("- shop\n- rms\n", r":1: the file must be a mapping"),
}


@pytest.mark.parametrize("text,expected", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_shop_file_is_reported_with_line_and_key_and_nothing_runs(
        cli: Cli, tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    result = cli("run", "-c", str(path), "--once", "--now", NOW.isoformat(), "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"{path}:")
    with pytest.raises(ConfigError, match=expected):
        load_config(path, env={})
    assert not cli.db.exists()  # nothing ran: no database, no RMS call
    assert httpx.get(f"{cli.env['UNYO_RMS_BASE_URL']}/_sandbox/stats").json()["calls"] == {}


def test_every_problem_is_reported_at_once(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("shop:\n  id: a b\nimport:\n  confirm: 1\nsync:\n  interval: x\n",
                    encoding="utf-8")
    result = cli("run", "-c", str(path), "--once")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert [line.split(": ")[0:2] for line in lines] == [
        [f"{path}:2", "shop.id"], [f"{path}:4", "import.confirm"], [f"{path}:6", "sync.interval"]]


def test_missing_file(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    result = cli("run", "-c", str(path), "--once")
    assert result.exit_code == 2
    assert f"{path}: file not found (create one with `unyo init`)" in result.stderr
    assert not cli.db.exists()


def test_missing_default_file_for_run(cli: Cli, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    result = cli("run", "--once")
    assert result.exit_code == 2
    assert "unyo.yaml: file not found" in result.stderr


def test_non_utf8_file_names_the_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "sjis.yaml"
    path.write_bytes("shop:\n  id: x\n  name: 楽天ショップ\n".encode("shift_jis"))
    result = cli("run", "-c", str(path), "--once")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}:3: not UTF-8 text")
    assert "save the file as UTF-8" in result.stderr


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + "shop:\n  id: bom\n  name: 店\n".encode())
    assert load_config(path, env={}).shop_name == "店"


def test_a_folder_without_shop_files(cli: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "shops"
    empty.mkdir()
    result = cli("run", "-c", str(empty), "--once")
    assert result.exit_code == 2
    assert f"{empty}: no shop files (*.yaml) in this folder" in result.stderr


def test_a_folder_of_shops_needs_distinct_ids_and_one_database(cli: Cli,
                                                                tmp_path: Path) -> None:
    shops = tmp_path / "shops"
    shops.mkdir()
    (shops / "a.yaml").write_text("shop:\n  id: same\n", encoding="utf-8")
    (shops / "b.yaml").write_text("shop:\n  id: same\ndatabase:\n  url: sqlite:///other.db\n",
                                  encoding="utf-8")
    (shops / "c.yaml").write_text("shop:\n  id: [broken\n", encoding="utf-8")
    result = cli("run", "-c", str(shops), "--once", env={"UNYO_DATABASE_URL": None})
    assert result.exit_code == 2
    assert f"{shops / 'c.yaml'}:3: YAML error" in result.stderr  # every file's mistakes are shown
    assert "'same' is also the id of" in result.stderr
    assert "name different databases" in result.stderr


def test_a_secret_where_a_variable_name_belongs_is_refused_and_not_echoed(
        cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "leak.yaml"
    path.write_text(f"rms:\n  service_secret_env: {SECRET}\n  license_key_env: {KEY}\n",
                    encoding="utf-8")
    result = cli("run", "-c", str(path), "--once")
    assert result.exit_code == 2
    assert f"{path}:2: rms.service_secret_env: this looks like an RMS secret" in result.stderr
    assert f"{path}:3: rms.license_key_env:" in result.stderr
    assert SECRET not in result.output and KEY not in result.output


def test_bad_base_url_in_the_environment(cli: Cli) -> None:
    result = cli("run", "-c", str(cli.config), "--once",
                 env={"UNYO_RMS_BASE_URL": "127.0.0.1:8790"})
    assert result.exit_code == 2
    assert "UNYO_RMS_BASE_URL (environment): '127.0.0.1:8790' is not an http(s) URL" in (
        result.stderr)


def test_empty_sections_take_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("shop:\n  id: x\nsync:\n# interval: 1m\nrms:\n", encoding="utf-8")
    cfg = load_config(path, env={})
    assert (cfg.sync.interval, cfg.rms.min_interval) == (300.0, 1.0)


def test_durations_in_every_unit(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text("rms:\n  min_interval: 500ms\n  timeout: 45\nimport:\n  interval: 2m\n"
                    "  lookback: 2d\n  overlap: 1.5h\n", encoding="utf-8")
    cfg = load_config(path, env={})
    assert (cfg.rms.min_interval, cfg.rms.timeout) == (0.5, 45.0)
    assert (cfg.import_.interval, cfg.import_.lookback, cfg.import_.overlap) == (
        120.0, 172800.0, 5400.0)
