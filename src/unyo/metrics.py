"""Prometheus metrics: `unyo run --metrics-port PORT` serves them at /metrics.

From the database, at each scrape (GROUP BY on indexed columns, all shops):
    unyo_orders{shop,stage}                 orders per stage
    unyo_open_gates{shop,kind}              open gates per kind (入金待ち, 確認待ち, 保留)
    unyo_effects{shop,kind,status}          outbox effects (pending, done, failed)
    unyo_import_failed{shop}                orders the import cannot read (kept, retried)
    unyo_money_alerts{shop,kind,level}      the money watch's open alerts (payout, auto_cancel,
                                            payment_due, cancel_due, license)
    unyo_shop_lease_held{shop}              1 when this worker holds the shop's lease
From this process:
    unyo_rms_request_seconds{method}        RMS API latency per attempt (histogram)
    unyo_rms_errors_total{method,error}     RMS attempts that failed, by error class
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

RMS_SECONDS = Histogram("unyo_rms_request_seconds", "RMS API latency per attempt",
                        ["method"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
RMS_ERRORS = Counter("unyo_rms_errors", "RMS API attempts that failed", ["method", "error"])


def observe_rms(method: str, seconds: float, error: str | None) -> None:
    """Called by the RMS client after every attempt (never raises)."""
    try:
        RMS_SECONDS.labels(method).observe(seconds)
        if error is not None:
            RMS_ERRORS.labels(method, error).inc()
    except Exception:  # metrics must never break a request
        pass


class StoreCollector(Collector):
    """Gauges read from the database at scrape time."""

    def __init__(self, store: Any, leases: Callable[[], dict[str, bool]] | None = None) -> None:
        self.store = store
        self.leases = leases

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from sqlalchemy import func, select

        from unyo.adapters.db import schema as t

        orders = GaugeMetricFamily("unyo_orders", "Orders per stage", labels=["shop", "stage"])
        gates = GaugeMetricFamily("unyo_open_gates", "Open gates per kind",
                                  labels=["shop", "kind"])
        effects = GaugeMetricFamily("unyo_effects", "Outbox effects per kind and status",
                                    labels=["shop", "kind", "status"])
        failed = GaugeMetricFamily("unyo_import_failed",
                                   "Orders the import cannot read (kept and retried)",
                                   labels=["shop"])
        money = GaugeMetricFamily("unyo_money_alerts", "The money watch's open alerts",
                                  labels=["shop", "kind", "level"])
        with self.store.engine.connect() as conn:
            for shop, kind, level, n in self.store.watch.open_counts(conn):
                money.add_metric([shop, kind, level], n)
            for shop, n in conn.execute(
                    select(t.import_pending.c.shop, func.count())
                    .where(t.import_pending.c.reason == "failed")
                    .group_by(t.import_pending.c.shop)):
                failed.add_metric([shop], n)
            for shop, stage, n in conn.execute(
                    select(t.orders.c.shop, t.orders.c.stage, func.count())
                    .group_by(t.orders.c.shop, t.orders.c.stage)):
                orders.add_metric([shop, stage], n)
            j = t.gates.join(t.orders, t.gates.c.order_id == t.orders.c.id)
            for shop, kind, n in conn.execute(
                    select(t.orders.c.shop, t.gates.c.kind, func.count()).select_from(j)
                    .where(t.gates.c.closed_at.is_(None))
                    .group_by(t.orders.c.shop, t.gates.c.kind)):
                gates.add_metric([shop, kind], n)
            for shop, kind, status, n in conn.execute(
                    select(t.outbox.c.shop, t.outbox.c.kind, t.outbox.c.status, func.count())
                    .group_by(t.outbox.c.shop, t.outbox.c.kind, t.outbox.c.status)):
                effects.add_metric([shop, kind, status], n)
        yield orders
        yield gates
        yield effects
        yield failed
        yield money
        if self.leases is not None:
            held = GaugeMetricFamily("unyo_shop_lease_held",
                                     "1 when this worker holds the shop's lease",
                                     labels=["shop"])
            for shop, yes in self.leases().items():
                held.add_metric([shop], 1.0 if yes else 0.0)
            yield held


def serve(store: Any, port: int, host: str = "127.0.0.1",
          leases: Callable[[], dict[str, bool]] | None = None,
          registry: CollectorRegistry = REGISTRY) -> Any:
    """Serve /metrics on host:port in a daemon thread; returns the server."""
    from prometheus_client import start_http_server

    registry.register(StoreCollector(store, leases))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server
