"""`unyo run --once` against the RMS emulator over HTTP, on a temporary SQLite file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx

from tests.cli.conftest import NOW, SECRET, Cli
from unyo.sandbox.rms_emulator import RmsEmulatorServer

EXPIRED_KEY = "SL123456_expired-key-0b3d"


def run_once(cli: Cli, *extra: str, env: dict[str, str | None] | None = None):  # type: ignore[no-untyped-def]
    return cli("run", "-c", str(cli.config), "--once", "--now", NOW.isoformat(), *extra,
               env=env)


def test_run_once_imports_and_confirms(cli: Cli, rms: RmsEmulatorServer,
                                       imported: dict[str, Any]) -> None:
    doc = imported
    assert set(doc) >= {"shop", "now", "steps", "stages", "api_calls"}
    assert doc["shop"] == "clitest"
    assert doc["now"].startswith("2026-11-27T12:00") and doc["now"].endswith("+09:00")
    assert list(doc["steps"])[:3] == ["import", "outbox", "sync"]  # flow order
    assert "holds" in doc["steps"]
    assert all(step["error"] is None for step in doc["steps"].values())
    result = doc["steps"]["import"]["result"]
    assert set(result) >= {"searched", "imported", "waiting", "failed"}
    assert sum(doc["stages"].values()) == result["imported"]
    assert set(doc["stages"]) <= {"processing", "ready"}
    # Every call the emulator answered is counted, by RMS method.
    assert doc["api_calls"] == dict(rms.emulator.calls)
    assert doc["api_calls"]["searchOrder"] >= 1 and doc["api_calls"]["confirmOrder"] >= 1
    # Confirmed at RMS: nothing imported is still waiting at 100 注文確認待ち.
    confirmed = doc["steps"]["outbox"]["result"]
    assert confirmed["delivered"].get("confirm_order", 0) >= 1
    assert rms.emulator.progress_counts().get(200, 0) >= 1


def test_run_twice_duplicates_nothing(cli: Cli, imported: dict[str, Any]) -> None:
    again = cli.json("run", "-c", str(cli.config), "--once", "--now", NOW.isoformat())
    assert again["steps"]["import"]["result"]["imported"] == 0
    assert sum(again["stages"].values()) == sum(imported["stages"].values())


def test_missing_credentials_name_the_variables_and_nothing_runs(
        cli: Cli, rms: RmsEmulatorServer) -> None:
    result = run_once(cli, "--json", env={"RMS_LICENSE_KEY": None})
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "set RMS_LICENSE_KEY in the environment" in result.stderr
    assert SECRET not in result.output
    assert not cli.db.exists() and sum(rms.emulator.calls.values()) == 0


def test_both_credentials_missing_are_both_named(cli: Cli) -> None:
    result = run_once(cli, env={"RMS_LICENSE_KEY": "", "RMS_SERVICE_SECRET": None})
    assert result.exit_code == 2
    assert "set RMS_SERVICE_SECRET and RMS_LICENSE_KEY in the environment" in result.stderr


def test_credentials_come_from_the_variables_the_file_names(cli: Cli) -> None:
    cli.config.write_text(cli.config.read_text(encoding="utf-8")
                          + "  service_secret_env: SHOP_A_SECRET\n", encoding="utf-8")
    result = run_once(cli, "--json", env={"RMS_SERVICE_SECRET": None})
    assert result.exit_code == 2
    assert "set SHOP_A_SECRET in the environment" in result.stderr
    ok = run_once(cli, "--json", env={"RMS_SERVICE_SECRET": None, "SHOP_A_SECRET": SECRET})
    assert ok.exit_code == 0, ok.stderr


def test_rejected_key_explains_the_90_day_expiry_and_never_prints_it(
        cli: Cli, rms: RmsEmulatorServer) -> None:
    result = run_once(cli, "--json", env={"RMS_LICENSE_KEY": EXPIRED_KEY})
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    error = doc["steps"]["import"]["error"]
    assert "license key" in error and "90 days" in error and "ES01-01" in error
    assert EXPIRED_KEY not in result.output and SECRET not in result.output
    assert doc["stages"] == {}


def test_rejected_key_in_human_output(cli: Cli) -> None:
    result = run_once(cli, env={"RMS_LICENSE_KEY": EXPIRED_KEY})
    assert result.exit_code == 1
    assert "import: RMS rejected the license key" in result.stdout
    assert "90 days" in result.stdout
    assert EXPIRED_KEY not in result.output and SECRET not in result.output


def test_human_output_lists_steps_and_stages(cli: Cli) -> None:
    result = run_once(cli)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["import", "outbox", "sync"]
    assert lines[-1].startswith("stages: {")


def test_bad_now_is_a_clear_error(cli: Cli, rms: RmsEmulatorServer) -> None:
    result = cli("run", "-c", str(cli.config), "--once", "--now", "27/11/2026 12:00", "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--now: '27/11/2026 12:00' is not an ISO-8601 instant" in result.stderr
    assert sum(rms.emulator.calls.values()) == 0


def test_now_without_offset_is_jst(cli: Cli) -> None:
    doc = cli.json("run", "-c", str(cli.config), "--once", "--now", "2026-11-27T12:00:00")
    assert doc["now"].startswith("2026-11-27T12:00") and doc["now"].endswith("+09:00")


def test_json_needs_once(cli: Cli) -> None:
    result = cli("run", "-c", str(cli.config), "--json")
    assert result.exit_code == 2
    assert "--json" in result.stderr and "--once" in result.stderr


def test_unreachable_database_is_a_clear_error(cli: Cli) -> None:
    result = run_once(cli, env={"UNYO_DATABASE_URL": "sqlite:////nonexistent-dir/x/unyo.db"})
    assert result.exit_code == 2
    assert "cannot open the database sqlite:////nonexistent-dir/x/unyo.db" in result.stderr


def test_database_password_is_never_shown(cli: Cli) -> None:
    url = "postgresql+nosuchdriver://unyo:hunter2@127.0.0.1:1/unyo"
    result = run_once(cli, env={"UNYO_DATABASE_URL": url})
    assert result.exit_code == 2
    assert "cannot open the database" in result.stderr
    assert "hunter2" not in result.output


def test_json_stdout_is_clean_in_a_real_process_with_a_terminal_and_logs(cli: Cli) -> None:
    # given a real process that believes it has a terminal, verbose logging on
    env = {**os.environ, **{k: v for k, v in cli.env.items() if v is not None},
           "TTY_COMPATIBLE": "1", "COLUMNS": "120"}
    cmd = [sys.executable, "-c", "from unyo.cli import main; main()", "-v", "run", "-c",
           str(cli.config), "--once", "--now", NOW.isoformat()]
    # when it runs with --json
    done = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    # then stdout is exactly one JSON document; the logs went to stderr
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["steps"]["import"]["result"]["imported"] > 0
    assert done.stdout.strip().startswith("{") and done.stdout.count("\n{") == 0
    assert "INFO unyo: import clitest:" in done.stderr
    assert "\x1b[" not in done.stdout
    # and without --json, progress and logs still stay off stdout
    human = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60,
                           check=False)
    assert human.returncode == 0, human.stderr
    assert "INFO" not in human.stdout and "━" not in human.stdout
    assert "━" in human.stderr  # the Rich progress bar, drawn on the terminal's stderr
    assert human.stdout.splitlines()[0].startswith("import: {")


def test_emulator_stats_agree_with_the_api_calls(cli: Cli, imported: dict[str, Any]) -> None:
    stats = httpx.get(f"{cli.env['UNYO_RMS_BASE_URL']}/_sandbox/stats").json()
    assert stats["calls"] == imported["api_calls"]


def test_run_loops_until_sigterm_and_stops_cleanly(cli: Cli, rms: RmsEmulatorServer) -> None:
    # given `unyo run` (the loop) as a real process against the emulator
    env = {k: v for k, v in {**os.environ, **cli.env}.items() if v is not None}
    proc = subprocess.Popen([sys.executable, "-m", "unyo", "run", "-c", str(cli.config),
                             "--now", NOW.isoformat()], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        # when it has imported the day's orders
        deadline = time.monotonic() + 30
        while rms.emulator.calls["confirmOrder"] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rms.emulator.calls["confirmOrder"] >= 1
        # and is told to stop
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # then it exits 0 and what it imported is stored
    assert proc.returncode == 0, stderr
    doc = cli.json("orders", "list", "-c", str(cli.config), "--json", "--limit", "1000")["orders"]
    assert len(doc) > 0
