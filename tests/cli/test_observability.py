"""Metrics for Prometheus and JSON log lines."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, generate_latest

from tests.cli.conftest import KEY, NOW, SECRET, Cli
from tests.factories import T0, channel_order, import_decision
from unyo.adapters.db import Store
from unyo.domain import ImportOrder
from unyo.metrics import RMS_SECONDS, StoreCollector, observe_rms, serve


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_metrics_count_orders_gates_and_effects(store: Store) -> None:
    with store.transaction() as conn:
        store.create_orders(conn, [import_decision(ImportOrder("shop", channel_order(f"A-{i}"),
                                                            T0)) for i in range(3)], T0)
    registry = CollectorRegistry()
    registry.register(StoreCollector(store, lambda: {"shop": True}))
    text = generate_latest(registry).decode()
    assert 'unyo_orders{shop="shop",stage="processing"} 3.0' in text
    assert 'unyo_effects{kind="confirm_order",shop="shop",status="pending"} 3.0' in text
    assert 'unyo_shop_lease_held{shop="shop"} 1.0' in text
    assert "unyo_open_gates" in text


def test_metrics_are_served_over_http(store: Store) -> None:
    observe_rms("searchOrder", 0.2, None)
    observe_rms("searchOrder", 1.5, "RmsUnavailableError")
    port = free_port()
    server = serve(store, port, registry=CollectorRegistry())
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        server.shutdown()
    assert "unyo_orders" in text  # the store's gauges, from this registry
    assert RMS_SECONDS.labels("searchOrder")._sum.get() >= 1.7  # the process's own


def test_log_json_gives_one_object_per_line_without_secrets(cli: Cli, tmp_path: Path) -> None:
    result = cli("-v", "--log-json", "run", "-c", str(cli.config), "--once",
                 "--now", NOW.isoformat())
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    docs = [json.loads(line) for line in lines]
    assert docs and all({"time", "level", "logger", "message"} <= set(d) for d in docs)
    assert any("import" in d["message"] for d in docs)
    assert SECRET not in result.stderr and KEY not in result.stderr
