"""Hand-off, warehouse results and the shipping report, end to end: the RMS emulator over
HTTP and the warehouse emulator on the folders, on one simulated clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from unyo.adapters.db import Store
from unyo.adapters.db import schema as t
from unyo.adapters.rakuten.errors import RmsRequestError
from unyo.app import shipping
from unyo.app.importing import import_orders
from unyo.app.outbox import deliver_effects
from unyo.app.shipping import plan_rows, report_shipping
from unyo.app.syncing import sync_orders
from unyo.app.warehouse import hand_off_orders, import_results
from unyo.clock import JST, SimClock
from unyo.domain import GateKind, Order, Shipment, Stage
from unyo.flow import Config, ImportSettings, RmsSettings
from unyo.flow.warehouse import WarehouseSettings
from unyo.sandbox import RmsEmulator, RmsEmulatorServer, generate_orders
from unyo.sandbox.warehouse_emulator import WarehouseEmulator, shipping_day
from unyo.wiring import build_context

DAY = datetime(2026, 11, 26, tzinfo=JST)  # a Thursday; the 27th ships
ENV = {"RMS_SERVICE_SECRET": "SP-test", "RMS_LICENSE_KEY": "SL-test"}


class Rig:
    def __init__(self, store: Store, folder: Path, n: int, seed: int = 11,
                 timeout: float = 5.0) -> None:
        self.clock = SimClock(DAY)
        self.generated = generate_orders(n, seed=seed, start=DAY, end=DAY + timedelta(days=1))
        self.rms = RmsEmulator(self.clock, service_secret="SP-test", license_key="SL-test",
                               orders=self.generated, seed=seed)
        self.server = RmsEmulatorServer(self.rms).start()
        self.wms = WarehouseEmulator(folder, self.clock, seed=seed, stockout_rate=0.05)
        config = Config(shop_id="shop",
                        rms=RmsSettings(base_url=self.server.base_url, min_interval=0.0,
                                        timeout=timeout),
                        import_=ImportSettings(lookback=2 * 86400.0),
                        warehouse=WarehouseSettings(enabled=True, folder=str(folder),
                                                    settle=0.0))
        self.ctx = build_context(config, clock=self.clock, store=store, env=ENV)

    def at(self, when: datetime) -> None:
        self.clock.set(when)

    def orders(self, stage: Stage | None = None) -> dict[str, Order]:
        store = self.ctx.store
        with store.transaction() as conn:
            numbers = store.order_numbers_in_stages(conn, "shop", [stage] if stage
                                                    else list(Stage))
            return store.load_orders(conn, "shop", numbers)

    def rows(self, number: str) -> list[dict[str, Any]]:
        return [s for p in self.rms.order_model(number)["PackageModelList"]
                for s in p["ShippingModelList"]]

    def to_ready(self) -> None:
        self.at(DAY + timedelta(days=1, hours=1))
        import_orders(self.ctx)
        deliver_effects(self.ctx)
        self.at(DAY + timedelta(days=1, hours=6))
        sync_orders(self.ctx)

    def ship(self) -> None:
        """Hand off, let the 11:00 wave ship, import the results."""
        hand_off_orders(self.ctx)
        self.wms.step()
        self.at(DAY + timedelta(days=1, hours=11, seconds=1))
        assert self.wms.step() > 0
        import_results(self.ctx)

    def parcels_at_rms(self, number: str) -> dict[int, list[tuple[str, str, str]]]:
        return {p["basketId"]: sorted((s["deliveryCompany"], s["shippingNumber"] or "",
                                       s["shippingDate"]) for s in p["ShippingModelList"])
                for p in self.rms.order_model(number)["PackageModelList"]}

    def calls(self) -> dict[str, int]:
        return dict(self.ctx.channel.calls)


def unyo_parcels(order: Order) -> dict[int, list[tuple[str, str, str]]]:
    return {p.basket_id: sorted((s.carrier_code, s.tracking_number,
                                 s.ship_date.isoformat() if s.ship_date else "")
                                for s in p.shipments) for p in order.channel.packages}


@pytest.fixture
def rig(store: Store, tmp_path: Path) -> Iterator[Rig]:
    r = Rig(store, tmp_path / "wh", 250)
    yield r
    r.server.stop()


def test_a_wave_s_report_yields_to_the_other_steps_after_its_turn_budget(
        rig: Rig, monkeypatch: pytest.MonkeyPatch):
    # rounds of 50 orders; each waits 10 s (simulated) for RMS's asynchronous results
    monkeypatch.setattr(shipping, "BATCH", 50)
    rig.to_ready()
    rig.ship()
    shipped = rig.orders(Stage.shipped)
    assert len(shipped) > 150
    first = report_shipping(rig.ctx)
    assert first.reported == 150  # three rounds: 0, 10 and 20 s into the 30 s budget
    turns = 1
    while report_shipping(rig.ctx).reported and turns < 50:  # the next turns: the rest
        turns += 1
    with rig.ctx.store.transaction() as conn:
        counts = rig.ctx.store.outbox_counts(conn, "shop")["report_shipping"]
    assert counts == {"done": len(shipped)} and turns == -(-len(shipped) // 150)


def test_shipped_orders_are_reported_at_the_minimum_of_calls_and_reach_500(rig: Rig):
    rig.to_ready()
    ready = rig.orders(Stage.ready)
    assert len(ready) > 100
    rig.ship()
    shipped = rig.orders(Stage.shipped)
    waiting = rig.orders(Stage.at_warehouse)
    refused = {n: o for n, o in rig.orders(Stage.processing).items() if n in ready}
    assert len(shipped) + len(waiting) + len(refused) == len(ready) and len(shipped) > 100
    assert all("印字できない文字" in o.open_gates[0].reason for o in refused.values())
    assert all(any(g.reason == "倉庫: 出荷不可: 欠品" for g in o.open_gates)
               for o in waiting.values())
    before = rig.calls()
    result = report_shipping(rig.ctx)
    assert result.reported == len(shipped) and result.failed == 0
    calls = {k: v - before.get(k, 0) for k, v in rig.calls().items()}
    hundreds = -(-len(shipped) // 100)
    assert calls["getOrder"] == hundreds
    assert calls["updateOrderShippingAsync"] == hundreds
    assert calls["getResultUpdateOrderShippingAsync"] == hundreds  # one poll each
    assert any(len(o.channel.packages) > 1 for o in shipped.values())
    for number, order in shipped.items():
        assert rig.parcels_at_rms(number) == unyo_parcels(order)
    rig.at(DAY + timedelta(days=2, minutes=1))  # the next JST day
    assert all(rig.rms.order_model(n)["orderProgress"] == 500 for n in shipped)
    assert all(rig.rms.order_model(n)["orderProgress"] == 300 for n in waiting)


def test_a_report_sent_again_adds_no_row_and_a_new_tracking_number_updates_the_row(rig: Rig):
    rig.to_ready()
    rig.ship()
    report_shipping(rig.ctx)
    number, order = next((n, o) for n, o in rig.orders(Stage.shipped).items()
                         if len(o.channel.packages) == 1)
    [row] = rig.rows(number)
    with rig.ctx.store.transaction() as conn:  # as if the answer had been lost: retry
        conn.execute(update(t.outbox).where(t.outbox.c.kind == "report_shipping")
                     .values(status="pending"))
    before = rig.calls()
    again = report_shipping(rig.ctx)
    assert again.unchanged == again.reported > 100
    assert rig.calls().get("updateOrderShippingAsync") == before.get("updateOrderShippingAsync")
    assert rig.rows(number) == [row]

    parcel = order.channel.packages[0].shipments[0]
    fixed = "999988887777" if parcel.carrier_code != "1003" else "99998888777"
    (rig.wms.folder / "results" / "fix.csv").write_bytes(
        ("受注番号,送付先ID,配送会社,追跡番号,出荷日\r\n"
         f"{number},{order.channel.packages[0].basket_id},{parcel.carrier_code},{fixed},"
         f"{parcel.ship_date:%Y/%m/%d}\r\n").encode("cp932"))
    assert import_results(rig.ctx).shipped_packages == 1
    changed = report_shipping(rig.ctx)
    assert changed.rows_updated == 1 and changed.rows_added == 0
    [updated] = rig.rows(number)
    assert updated["shippingDetailId"] == row["shippingDetailId"]
    assert updated["shippingNumber"] == fixed


def test_rms_errors_fail_only_their_orders_with_a_check_gate(rig: Rig):
    rig.to_ready()
    rig.ship()
    shipped = sorted(rig.orders(Stage.shipped))
    client = rig.ctx.channel.client  # type: ignore[attr-defined]
    victims = shipped[:2]
    for number in victims:
        client.cancel_order(number, reason_code=10)
    rig.at(rig.clock.now() + timedelta(minutes=10))
    result = report_shipping(rig.ctx)
    assert set(result.errors) == set(victims)
    assert result.reported == len(shipped) - 2
    orders = rig.orders(Stage.shipped)
    for number in victims:
        [gate] = orders[number].open_gates
        assert gate.kind is GateKind.check and "発送完了報告に失敗" in gate.reason
        assert not rig.rows(number)
    assert not orders[shipped[2]].open_gates and rig.rows(shipped[2])


def test_sync_update_order_shipping_is_the_fallback(rig: Rig, monkeypatch: pytest.MonkeyPatch):
    rig.to_ready()
    rig.ship()
    client = rig.ctx.channel.client  # type: ignore[attr-defined]

    def refused(*args: Any, **kwargs: Any) -> str:
        raise RmsRequestError(method="updateOrderShippingAsync", status_code=400, messages=[])

    monkeypatch.setattr(client, "update_order_shipping_async", refused)
    shipped = rig.orders(Stage.shipped)
    result = report_shipping(rig.ctx)
    assert result.reported == len(shipped)
    assert rig.calls()["updateOrderShipping"] == len(shipped)
    assert all(rig.parcels_at_rms(n) == unyo_parcels(o) for n, o in shipped.items())


def test_cancel_after_hand_off_reaches_the_warehouse_before_it_ships(rig: Rig):
    rig.to_ready()
    hand_off_orders(rig.ctx)
    rig.wms.step()
    number = sorted(rig.orders(Stage.at_warehouse))[0]
    client = rig.ctx.channel.client  # type: ignore[attr-defined]
    client.cancel_order(number, reason_code=1)
    rig.at(DAY + timedelta(days=1, hours=7))
    sync_orders(rig.ctx)
    order = rig.orders()[number]
    assert order.stage is Stage.at_warehouse
    assert any(g.reason == "倉庫連携後にキャンセルされました" for g in order.open_gates)
    assert hand_off_orders(rig.ctx).cancels == 1
    rig.at(DAY + timedelta(days=1, hours=11, seconds=1))
    rig.wms.step()
    assert rig.wms.stats.cancelled == 1
    import_results(rig.ctx)
    assert rig.orders()[number].stage is Stage.at_warehouse  # never shipped


def test_the_warehouse_rests_on_sundays_and_holidays():
    assert not shipping_day(date(2026, 11, 29))  # Sunday
    assert not shipping_day(date(2026, 11, 23))  # 勤労感謝の日
    assert shipping_day(date(2026, 11, 28))  # Saturday


def test_plan_rows_never_adds_a_row_twice_and_updates_a_changed_one():
    day = date(2026, 11, 27)
    have = (Shipment(7, "1001", "123456789012", day),)
    same = (Shipment(None, "1001", "123456789012", day),)
    assert plan_rows(same, have) == ()
    moved = (Shipment(None, "1001", "123456789012", day + timedelta(days=1)),)
    assert plan_rows(moved, have) == (Shipment(7, "1001", "123456789012",
                                               day + timedelta(days=1)),)
    fixed = (Shipment(None, "1001", "999999999999", day),)
    assert plan_rows(fixed, have) == (Shipment(7, "1001", "999999999999", day),)
    two = (*same, Shipment(None, "1001", "111111111111", day))
    assert plan_rows(two, have) == (Shipment(None, "1001", "111111111111", day),)


def test_async_results_with_errors_for_some_orders_fail_only_those(
        rig: Rig, monkeypatch: pytest.MonkeyPatch):
    rig.to_ready()
    rig.ship()
    shipped = sorted(rig.orders(Stage.shipped))
    victims = shipped[3:5]
    channel = rig.ctx.channel
    client = channel.client  # type: ignore[attr-defined]
    read = channel.fetch

    def read_then_cancel(numbers: Any) -> Any:  # cancelled after the rows were read
        result = read(numbers)
        for number in victims:
            if number in numbers:
                client.cancel_order(number, reason_code=10)
        return result

    monkeypatch.setattr(channel, "fetch", read_then_cancel)
    result = report_shipping(rig.ctx)
    assert set(result.errors) == set(victims)
    assert all("UPDATE_ORDERSHIPPING_ERROR_102" in result.errors[n] for n in victims)
    assert result.reported == len(shipped) - 2
    orders = rig.orders(Stage.shipped)
    assert all("発送完了報告に失敗" in orders[n].open_gates[0].reason for n in victims)
