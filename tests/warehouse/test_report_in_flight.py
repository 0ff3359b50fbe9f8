"""A shipping report whose answer was lost while RMS was still working on it: the next
attempt must not read the rows before that request lands, or the rows go to RMS twice
(re-sending a row adds a duplicate: reference/rakuten-rms.md, updateOrderShipping). The
survival benchmark's faults scenario found it (`bench/survival.py --scenario faults`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.warehouse.test_shipping_rms import Rig, unyo_parcels
from tests.warehouse.test_untracked_results import B2Rig
from unyo.adapters.db import Store
from unyo.adapters.rakuten.errors import RmsRequestError
from unyo.app.shipping import IN_FLIGHT_SETTLE, report_shipping
from unyo.domain import Stage
from unyo.sandbox.rms_emulator import FaultConfig

CLIENT_TIMEOUT = 0.3
SERVER_DELAY = 1.0  # RMS answers (and applies) after the client gave up


@pytest.fixture(params=["tracked", "untracked"])
def rig(store: Store, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Rig]:
    # untracked: a B2クラウド-like file without a carrier column, a third of the orders
    # 定形外郵便 shipped without a tracking number (rows RMS holds without shippingNumber)
    kind = B2Rig if request.param == "untracked" else Rig
    r = kind(store, tmp_path / "wh", 40, timeout=CLIENT_TIMEOUT)
    yield r
    r.server.stop()


def duplicates(rig: Rig, numbers: list[str]) -> int:
    return sum(max(0, len(p["ShippingModelList"]) - 1) for n in numbers
               for p in rig.rms.order_model(n)["PackageModelList"])


@pytest.mark.parametrize("method", ["updateOrderShippingAsync", "updateOrderShipping"])
def test_a_report_rms_may_still_be_applying_is_not_sent_again_before_it_lands(
        rig: Rig, method: str, monkeypatch: pytest.MonkeyPatch):
    rig.to_ready()
    rig.ship()
    shipped = rig.orders(Stage.shipped)
    assert len(shipped) > 10
    if method == "updateOrderShipping":  # the one-order fallback, too
        client = rig.ctx.channel.client  # type: ignore[attr-defined]

        def refused(*args: object, **kwargs: object) -> str:
            raise RmsRequestError(method="updateOrderShippingAsync", status_code=400,
                                  messages=[])

        monkeypatch.setattr(client, "update_order_shipping_async", refused)
    rig.rms.faults = FaultConfig(timeout_rate=1.0, timeout_seconds=SERVER_DELAY,
                                 methods=(method,))
    first = report_shipping(rig.ctx)
    sent = time.monotonic()  # every first request has reached RMS by now
    assert first.reported == 0 and first.retried == len(shipped)
    rig.rms.faults = FaultConfig()
    # the ordinary backoff has passed; RMS is still working on the first request
    rig.at(rig.clock.now() + timedelta(minutes=5))
    second = report_shipping(rig.ctx)
    assert second.reported == 0 and second.rows_added == 0
    time.sleep(max(0.0, sent + SERVER_DELAY + 0.3 - time.monotonic()))  # they land
    rig.at(rig.clock.now() + IN_FLIGHT_SETTLE)
    third = report_shipping(rig.ctx)
    assert third.reported == len(shipped)
    numbers = list(shipped)
    assert duplicates(rig, numbers) == 0
    for number, order in shipped.items():
        assert rig.parcels_at_rms(number) == unyo_parcels(order)
    if isinstance(rig, B2Rig):
        letters = [n for n in shipped if n in rig.letters]
        assert letters and all(r["shippingNumber"] is None for n in letters
                               for r in rig.rows(n))


def test_a_report_whose_worker_died_while_sending_waits_before_it_is_read_again(rig: Rig):
    from sqlalchemy import update

    from unyo.adapters.db import schema as t
    from unyo.app.shipping import SENDING

    rig.to_ready()
    rig.ship()
    shipped = rig.orders(Stage.shipped)
    # as a worker killed after sending leaves them: claimed by nobody, noted as sending
    with rig.ctx.store.transaction() as conn:
        conn.execute(update(t.outbox).where(t.outbox.c.kind == "report_shipping")
                     .values(last_error=SENDING))
    before = rig.calls().get("getOrder", 0)
    first = report_shipping(rig.ctx)
    assert first.reported == 0 and first.retried == len(shipped)
    assert rig.calls().get("getOrder", 0) == before  # nothing read, nothing sent
    rig.at(rig.clock.now() + timedelta(minutes=5))
    assert report_shipping(rig.ctx).reported == 0
    rig.at(rig.clock.now() + IN_FLIGHT_SETTLE)
    assert report_shipping(rig.ctx).reported == len(shipped)
    assert duplicates(rig, list(shipped)) == 0
    with rig.ctx.store.transaction() as conn:
        notes = {r[0] for r in conn.execute(
            t.outbox.select().with_only_columns(t.outbox.c.last_error)
            .where(t.outbox.c.kind == "report_shipping"))}
    assert SENDING not in notes
