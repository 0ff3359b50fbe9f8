"""`unyo sandbox warehouse` as a real process: it takes a request file, ships at the wave,
writes a cp932 result file the engine can read, and stops on SIGTERM."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time
from pathlib import Path


def test_sandbox_warehouse_ships_a_request_at_the_wave(tmp_path: Path):
    folder = tmp_path / "wh"
    (folder / "requests").mkdir(parents=True)
    (folder / "requests" / "unyo-shop-1.csv").write_bytes(
        "受注番号,送付先ID,送付先氏名\r\n123456-20261127-0000000001,10001,髙橋 花子\r\n"
        .encode("cp932"))
    # a Friday, two seconds before the 11:00 wave
    proc = subprocess.Popen([sys.executable, "-c", "from unyo.cli import main; main()",
                             "sandbox", "warehouse", "--dir", str(folder), "--now",
                             "2026-11-27T10:59:58+09:00", "--stockout-rate", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        results: list[Path] = []
        while time.monotonic() < deadline and not results:
            assert proc.poll() is None, proc.communicate()[1]
            results = list((folder / "results").glob("*.csv"))
            time.sleep(0.2)
        [result] = results
        rows = list(csv.reader(io.StringIO(result.read_bytes().decode("cp932"), newline="")))
        assert rows[0][:5] == ["受注番号", "送付先ID", "配送会社", "追跡番号", "出荷日"]
        number, basket, carrier, tracking, shipped, status = rows[1]
        assert (number, basket, shipped, status) == ("123456-20261127-0000000001", "10001",
                                                     "2026/11/27", "")
        assert carrier in ("ヤマト運輸", "佐川急便", "日本郵便") and len(tracking) == 12
        assert (folder / "received" / "unyo-shop-1.csv").exists()
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert "wrote results/" in stderr


def test_unyo_run_hands_ready_orders_to_the_warehouse_folder(tmp_path: Path):
    from datetime import timedelta

    from tests.cli.conftest import KEY, NOW, SECRET, SHOP_FILE, Cli
    from unyo.clock import SimClock
    from unyo.sandbox.generator import generate_orders
    from unyo.sandbox.rms_emulator import RmsEmulator, RmsEmulatorServer

    emulator = RmsEmulator(SimClock(NOW), service_secret=SECRET, license_key=KEY,
                           orders=generate_orders(40, seed=7, start=NOW - timedelta(days=1),
                                                  end=NOW), seed=7)
    config = tmp_path / "unyo.yaml"
    config.write_text(SHOP_FILE + "warehouse:\n  enabled: true\n  folder: wh\n",
                      encoding="utf-8")
    with RmsEmulatorServer(emulator) as server:
        cli = Cli(env={"UNYO_RMS_BASE_URL": server.base_url, "RMS_SERVICE_SECRET": SECRET,
                       "RMS_LICENSE_KEY": KEY,
                       "UNYO_DATABASE_URL": f"sqlite:///{tmp_path / 'unyo.db'}"},
                  config=config, db=tmp_path / "unyo.db")
        doc = cli.json("run", "-c", str(config), "--once", "--now", NOW.isoformat())
    steps = doc["steps"]
    names = list(steps)
    assert names.index("handoff") + 1 == names.index("results") < names.index("report")
    assert all(s["error"] is None for s in steps.values())
    handed = steps["handoff"]["result"]["handed_off"]
    assert handed > 0 and doc["stages"]["at_warehouse"] == handed
    [request] = (tmp_path / "wh" / "requests").glob("unyo-clitest-*.csv")
    assert request.read_bytes().decode("cp932").startswith("受注番号,送付先ID")
    assert {p.name for p in (tmp_path / "wh").iterdir()} >= {"requests", "results", "done",
                                                              "error"}
