"""The mail benchmark's machinery at a tiny size, so it cannot rot (bench/mail.py)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def mail_bench() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module("mail")
    finally:
        sys.path.remove(str(BENCH))


def test_a_few_mails_are_composed_sent_and_measured_against_the_floor(
        mail_bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    # given 20 generated orders
    # when the mail bench composes and sends their thanks and shipping mails
    figures = mail_bench.run(20)
    mail_bench.print_figures(figures, 20)
    # then every mail reached the sink, the engine's and the floor's alike
    assert figures.mails >= 38  # an order the mapping refuses is left out
    assert figures.received == 2 * figures.mails
    # and compose, send and both floors were measured
    assert min(figures.compose_cpu, figures.send_cpu, figures.floor_compose_cpu,
               figures.floor_send_cpu) > 0
    out = capsys.readouterr().out
    assert "compose" in out and "send" in out and "÷ floor" in out
