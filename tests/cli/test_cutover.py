"""Cut-over from the CLI: `import.start_at` and `mode` in `unyo check` / `unyo doctor`,
`unyo run --shadow`, and the shadow section of `unyo report` (RMS emulator over HTTP)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import NOW, SHOP_FILE, Cli
from unyo.clock import JST
from unyo.sandbox.rms_emulator import RmsEmulatorServer

RMS_WRITES = ("confirmOrder", "updateOrderShipping", "updateOrderShippingAsync",
              "cancelOrder", "updateOrderMemo")


def write(cli: Cli, text: str) -> Path:
    cli.config.write_text(SHOP_FILE + text, encoding="utf-8")
    return cli.config


def test_check_shows_the_mode_and_start_at(cli: Cli) -> None:
    path = write(cli, "mode: shadow\nimport:\n  start_at: 2026-12-10 09:00\n")
    result = cli("check", str(path))
    assert result.exit_code == 0, result.stderr
    assert "シャドーモード" in result.stdout
    assert "2026-12-10 09:00:00 JST より前の注文は取り込みません" in result.stdout
    doc = cli.json("check", str(path))
    assert doc["mode"] == "shadow" and doc["start_at"] == "2026-12-10T09:00:00+09:00"
    write(cli, "import:\n  start_at: 2026-12-10T00:00:00Z\n")
    doc = cli.json("check", str(path))
    assert doc["mode"] == "live" and doc["start_at"] == "2026-12-10T00:00:00+00:00"
    assert "本番モード" in cli("check", str(path)).stdout


@pytest.mark.parametrize(("text", "said"), [
    ("import:\n  start_at: yesterday\n", "「yesterday」は日時として読めません"),
    ("import:\n  start_at: \"2026-02-30 10:00\"\n", "は日時として読めません"),
    ("import:\n  start_at: 2026-13-10\n", "日付として正しくない値があります"),
    ("import:\n  start_at: 20261210\n", "日時ではありません"),
    ("import:\n  start_at: 1999-12-31\n", "範囲外"),
    ("import:\n  start_at: [2026-12-10]\n", "日時ではありません"),
    ("mode: test\n", "live（本番）か shadow（シャドーモード"),
    ("mode: Shadow\n", "live（本番）か shadow"),
])
def test_a_bad_start_at_or_mode_is_refused_in_japanese_with_its_line(cli: Cli, text: str,
                                                                      said: str) -> None:
    path = write(cli, text)
    result = cli("check", str(path))
    assert result.exit_code != 0
    line = SHOP_FILE.count("\n") + 1 + (1 if text.startswith("import") else 0)
    assert f"unyo.yaml:{line}:" in result.stderr and said in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_doctor_shows_the_mode(cli: Cli) -> None:
    cli("db", "upgrade", "-c", str(cli.config))
    result = cli("doctor", "-c", str(cli.config), "--json")
    found = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    # live, no start_at, nothing imported yet: the first run would take the last 24 h
    assert found["mode"]["status"] == "warn" and "24 h" in found["mode"]["message"]
    write(cli, "mode: shadow\nimport:\n  start_at: 2026-11-27 09:00\n")
    text = cli("doctor", "-c", str(cli.config))
    assert "シャドーモード" in text.stdout and "2026-11-27 09:00:00 JST" in text.stdout
    write(cli, "import:\n  start_at: 2026-11-27 09:00\n")
    found = {c["check"]: c for c in json.loads(
        cli("doctor", "-c", str(cli.config), "--json").stdout)["checks"]}
    assert found["mode"]["status"] == "ok" and "live" in found["mode"]["message"]


def run_once(cli: Cli, *extra: str, at: datetime = NOW) -> dict[str, Any]:
    return cli.json("run", "-c", str(cli.config), "--once", "--now", at.isoformat(), *extra)


def test_run_shadow_confirms_nothing_and_report_shows_the_shadow_rate(
        cli: Cli, rms: RmsEmulatorServer) -> None:
    doc = run_once(cli, "--shadow")
    assert doc["steps"]["import"]["result"]["imported"] > 0
    assert "handoff" not in doc["steps"] and "results" not in doc["steps"]
    for method in RMS_WRITES:
        assert doc["api_calls"].get(method, 0) == 0
        assert rms.emulator.calls.get(method, 0) == 0
    assert doc["mode"] == "shadow"
    text = cli("run", "-c", str(cli.config), "--once", "--shadow", "--now",
               (NOW + timedelta(hours=1)).isoformat())
    assert text.exit_code == 0, text.stderr
    assert text.stdout.startswith("シャドーモード: ")
    assert rms.emulator.calls.get("confirmOrder", 0) == 0
    since = (NOW - timedelta(days=2)).isoformat()
    report = cli.json("report", "-c", str(cli.config), "--since", since)
    assert report["shadow"]["orders"] > 0
    assert report["shadow"]["automation_rate"] is not None
    text = cli("report", "-c", str(cli.config), "--since", since)
    assert text.exit_code == 0, text.stderr
    assert "シャドーモード" in text.stdout and "シャドーモードの自動化率" in text.stdout
    rate = f"{report['shadow']['automation_rate']:.1%}"
    assert rate in text.stdout


def test_start_at_from_the_shop_file_limits_the_run(cli: Cli,
                                                    rms: RmsEmulatorServer) -> None:
    start = NOW - timedelta(hours=6)
    write(cli, f"import:\n  start_at: {start.astimezone(JST):%Y-%m-%d %H:%M}\n")
    assert run_once(cli)["mode"] == "live"
    listed = cli.json("orders", "list", "-c", str(cli.config))
    orders = listed["orders"] if isinstance(listed, dict) else listed
    assert orders
    for o in orders:
        assert datetime.fromisoformat(o["ordered_at"]) >= start
    assert rms.emulator.calls.get("confirmOrder", 0) > 0  # live: it confirms
