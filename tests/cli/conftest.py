"""The CLI end to end: a real RMS emulator on loopback HTTP and a temporary SQLite file.

`unyo run --now` shifts the real clock to an instant; the emulator runs on a
SimClock set to that same instant, holding orders placed in the day before it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from unyo.cli import app
from unyo.clock import JST, SimClock
from unyo.sandbox.generator import generate_orders
from unyo.sandbox.rms_emulator import RmsEmulator, RmsEmulatorServer

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=JST)
SECRET = "SP123456_cli-test-secret-4f9a"
KEY = "SL123456_cli-test-key-77c1"
ORDERS = 40

SHOP_FILE = """\
shop:
  id: clitest
  name: CLI テスト店
rms:
  min_interval: 0
  timeout: 5s
  max_retries: 1
"""


@dataclass
class Cli:
    """Runs `unyo` in-process with the environment a shop would have."""

    env: dict[str, str | None]
    config: Path
    db: Path

    def __call__(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        return CliRunner().invoke(app, list(args), env={**self.env, **(env or {})})

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)  # one document, nothing else on stdout


@pytest.fixture
def rms() -> Iterator[RmsEmulatorServer]:
    emulator = RmsEmulator(SimClock(NOW), service_secret=SECRET, license_key=KEY,
                           orders=generate_orders(ORDERS, seed=7, start=NOW - timedelta(days=1),
                                                  end=NOW),
                           seed=7)
    with RmsEmulatorServer(emulator) as server:
        yield server


@pytest.fixture
def cli(tmp_path: Path, rms: RmsEmulatorServer, database_url: str) -> Cli:
    config = tmp_path / "unyo.yaml"
    config.write_text(SHOP_FILE, encoding="utf-8")
    db = tmp_path / "unyo.db"
    return Cli(env={"UNYO_RMS_BASE_URL": rms.base_url, "RMS_SERVICE_SECRET": SECRET,
                    "RMS_LICENSE_KEY": KEY, "UNYO_DATABASE_URL": database_url},
               config=config, db=db)


@pytest.fixture
def imported(cli: Cli) -> dict[str, Any]:
    """The document of one `unyo run --once` that imported the emulator's orders."""
    doc: dict[str, Any] = cli.json("run", "-c", str(cli.config), "--once",
                                   "--now", NOW.isoformat())
    assert doc["steps"]["import"]["result"]["imported"] > 0
    return doc
