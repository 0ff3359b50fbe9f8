"""The idle benchmark's machinery at a tiny size, so it cannot rot (bench/idle.py)."""

from __future__ import annotations

import importlib
import sqlite3
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def idle() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module("idle")
    finally:
        sys.path.remove(str(BENCH))


def test_a_small_store_is_built_and_every_idle_step_is_measured(
        idle: ModuleType, tmp_path: Path) -> None:
    # given 300 orders through the engine into mixed stages
    db, folder = tmp_path / "idle.db", tmp_path / "warehouse"
    config = idle.idle_config(db, tmp_path, folder)
    now = idle.build(300, 1, config, folder)
    assert idle.built_at(config) == now
    # when every step runs idle a few times
    shown, figures = idle.measure(config, 3, now)
    # then the store is in mixed stages and every step was measured (and found nothing to
    # do: a run that does something stops the bench); the hold index is the schema's
    assert "shipped" in shown and "processing" in shown
    assert len(figures) == 9 and all(ms >= 0 for ms in figures.values())
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT 1 FROM sqlite_master WHERE name = "
                           "'ix_gates_kind_closed_at_until'").fetchall()
