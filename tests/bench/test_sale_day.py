"""The sale-day benchmark's machinery at a tiny size, so it cannot rot (bench/sale_day.py)."""

from __future__ import annotations

import importlib
import sys
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from unyo.clock import JST

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def sale_day() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module("sale_day")
    finally:
        sys.path.remove(str(BENCH))


def test_a_small_sale_day_goes_through_the_whole_flow_and_is_measured(
        sale_day: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    # given 200 orders from 09:00 on a Thursday, so the 11:00 warehouse wave ships some
    start = datetime(2026, 12, 3, 9, 0, tzinfo=JST)
    # when the sale-day bench runs them for two simulated hours and one more
    figures = sale_day.run_sale_day(200, start=start, day=timedelta(hours=2),
                                    tail_max=timedelta(hours=1))
    sale_day.print_figures(figures)
    # then orders were imported, confirmed, mailed, handed off, shipped and reported
    assert figures["imported"] > 150
    assert figures["stages"].get("shipped", 0) > 10
    assert figures["mails"]["thanks"] >= 0.9 * figures["imported"]
    assert figures["mails"]["shipping"] > 10
    calls, minimum = figures["rms_calls"], figures["rms_minimum"]
    for method in ("searchOrder", "getOrder", "confirmOrder", "updateOrderShippingAsync"):
        assert calls[method] == minimum[method] > 0, method
    # and every step was measured on the engine's side, the sandbox's CPU apart
    assert set(figures["engine_cpu"]["steps"]) == set(sale_day.STEPS)
    assert figures["sandbox_cpu"] > 0
    # and the latencies are within their targets on the simulated clock
    latency = figures["latency_seconds"]
    assert latency["import"]["max"] <= 60
    assert latency["thanks_mail"]["max"] <= 60
    assert latency["shipping_mail"]["max"] <= 60
    assert figures["automation_rate"] is not None
    assert "engine CPU, whole flow" in capsys.readouterr().out
