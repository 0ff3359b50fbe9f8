"""同梱 (merge) end to end: the RMS emulator over HTTP, the warehouse emulator on the
folders, one simulated clock — the same engine steps as `unyo run`."""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from unyo.adapters.db import Store
from unyo.app.importing import import_orders
from unyo.app.outbox import deliver_effects
from unyo.app.shipping import report_shipping
from unyo.app.syncing import sync_orders
from unyo.app.views import order_view
from unyo.app.warehouse import hand_off_orders, import_results
from unyo.clock import JST, SimClock
from unyo.domain import EventType, GateKind, Order, Stage
from unyo.domain.rules import compile_rules
from unyo.flow import Config, ImportSettings, RmsSettings
from unyo.flow.warehouse import WarehouseSettings
from unyo.sandbox import RmsEmulator, RmsEmulatorServer, generate_orders
from unyo.sandbox.generator import GeneratedOrder, format_rms_datetime
from unyo.sandbox.warehouse_emulator import WarehouseEmulator
from unyo.wiring import build_context

DAY = datetime(2026, 11, 26, tzinfo=JST)  # a Thursday
ENV = {"RMS_SERVICE_SECRET": "SP-test", "RMS_LICENSE_KEY": "SL-test"}
RULES = [{"name": "同梱", "when": {"field": "other_open_orders", "op": "ge", "value": 1},
          "then": [{"merge": {"tag": "同梱"}}]}]
ADDRESS = {"zipCode1": "150", "zipCode2": "0001", "prefecture": "東京都", "city": "渋谷区",
           "subAddress": "神宮前1-2-3 コーポ101"}
PERSON = {"familyName": "山田", "firstName": "花子", "familyNameKana": "ヤマダ",
          "firstNameKana": "ハナコ", "phoneNumber1": "03", "phoneNumber2": "1234",
          "phoneNumber3": "5678"}
_TEMPLATE = generate_orders(1, seed=3, start=DAY, end=DAY + timedelta(hours=1))[0].model


def rms_order(n: int, at: datetime, *, person: dict[str, str] | None = None,
              address: dict[str, str] | None = None, item: str = "ric-001",
              price: int = 3000, units: int = 1) -> GeneratedOrder:
    """An RMS order of one item to one destination, paid 5 minutes after confirmation."""
    m = copy.deepcopy(_TEMPLATE)
    number = f"123456-20261126-{n:010d}"
    who = {**PERSON, **(person or {})}
    where = {**ADDRESS, **(address or {})}
    goods = price * units
    m.update(orderNumber=number, orderProgress=100, orderDatetime=format_rms_datetime(at),
             deliveryDate=None, shippingTerm=None, remarks="", giftCheckFlag=0,
             isolatedIslandFlag=0, rakutenMemberFlag=1, orderType=1, asurakuFlag=0,
             goodsPrice=goods, postagePrice=0, deliveryPrice=0, paymentCharge=0,
             totalPrice=goods, requestPrice=goods, couponAllTotalPrice=0)
    m["OrdererModel"].update(who, **where)
    m["SettlementModel"].update(settlementMethodCode=1, settlementMethod="クレジットカード",
                                rpaySettlementFlag=1)
    m["DeliveryModel"]["deliveryName"] = "宅配便"
    m["PointModel"]["usedPoint"] = 0
    (package,) = m["PackageModelList"][:1]
    item_model = copy.deepcopy(package["ItemModelList"][0])
    item_model.update(itemDetailId=n * 10, itemNumber=item, manageNumber=item,
                      itemName=f"商品 {item}", price=price, units=units, selectedChoice="",
                      SkuModelList=[])
    package.update(basketId=70000 + n, postagePrice=0, deliveryPrice=0, goodsPrice=goods,
                   totalPrice=goods, noshi=None, ItemModelList=[item_model],
                   ShippingModelList=[])
    package["SenderModel"].update(who, **where, isolatedIslandFlag=0)
    m["PackageModelList"] = [package]
    return GeneratedOrder(m, timedelta(minutes=5), None, False)


def number(n: int) -> str:
    return f"123456-20261126-{n:010d}"


class Rig:
    def __init__(self, store: Store, folder: Path, orders: list[GeneratedOrder]) -> None:
        self.clock = SimClock(DAY + timedelta(hours=9))
        self.rms = RmsEmulator(self.clock, service_secret="SP-test", license_key="SL-test",
                               orders=orders, seed=1)
        self.server = RmsEmulatorServer(self.rms).start()
        self.wms = WarehouseEmulator(folder, self.clock, seed=1, stockout_rate=0.0)
        config = Config(shop_id="shop",
                        rms=RmsSettings(base_url=self.server.base_url, min_interval=0.0,
                                        timeout=5.0),
                        import_=ImportSettings(lookback=2 * 86400.0),
                        warehouse=WarehouseSettings(enabled=True, folder=str(folder),
                                                    settle=0.0),
                        rules=compile_rules(RULES))
        self.ctx = build_context(config, clock=self.clock, store=store, env=ENV)
        self.folder = folder

    def at(self, when: datetime) -> None:
        self.clock.set(when)

    def cycle(self) -> None:
        """import → outbox → sync → hand-off, as one turn of `unyo run`."""
        import_orders(self.ctx)
        deliver_effects(self.ctx)
        sync_orders(self.ctx)
        hand_off_orders(self.ctx)

    def order(self, n: int) -> Order:
        with self.ctx.store.transaction() as conn:
            order = self.ctx.store.load_order(conn, "shop", number(n))
        assert order is not None
        return order

    def requested(self) -> dict[str, list[str]]:
        """Order number → item numbers, over every request file the warehouse took."""
        out: dict[str, list[str]] = {}
        for path in sorted((self.folder / "received").glob("unyo-*.csv")):
            if path.name.startswith("unyo-cancel"):
                continue
            rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("cp932"))))
            for r in rows:
                out.setdefault(r["受注番号"].lstrip("'"), []).append(r["商品コード"])
        return out

    def rms_parcels(self, n: int) -> list[tuple[str, str]]:
        return [(s["deliveryCompany"], s["shippingNumber"])
                for p in self.rms.order_model(number(n))["PackageModelList"]
                for s in p["ShippingModelList"]]

    def cancel_at_rms(self, n: int) -> None:
        client = self.ctx.channel.client  # type: ignore[attr-defined]
        client.cancel_order(number(n), reason_code=1)


@pytest.fixture
def orders() -> list[GeneratedOrder]:
    return [
        rms_order(1, DAY + timedelta(hours=8), item="ric-001"),
        # the same buyer and address, written another way (full width, other hyphens)
        rms_order(2, DAY + timedelta(hours=8, minutes=10), item="tea-002", units=2,
                  person={"familyName": "山田 ", "phoneNumber1": "０３"},
                  address={"subAddress": "神宮前１－２－３　コーポ１０１"}),
        # the same buyer to another address: not merged
        rms_order(3, DAY + timedelta(hours=8, minutes=5), item="swt-001",
                  address={"subAddress": "神宮前9-9-9"}),
    ]


@pytest.fixture
def rig(store: Store, tmp_path: Path, orders: list[GeneratedOrder]) -> Iterator[Rig]:
    r = Rig(store, tmp_path / "wh", orders)
    yield r
    r.server.stop()


def test_two_orders_of_a_buyer_to_one_address_ship_as_one_parcel_and_both_reach_500(rig: Rig):
    rig.at(DAY + timedelta(hours=9))
    import_orders(rig.ctx)
    survivor, merged, other = rig.order(1), rig.order(2), rig.order(3)
    assert merged.stage is Stage.cancelled and merged.merged_into == number(1)
    assert [m.order_number for m in survivor.merged] == [number(2)]
    assert other.stage is Stage.processing and not other.merged and not other.merged_into
    assert survivor.tags == ("同梱",)
    assert survivor.parcel_amounts.total == 3000 + 6000
    # the merged order was still unpaid: its payment gate came along
    assert sorted(g.reason for g in survivor.open_gates) == [
        "入金待ち（同梱 123456-20261126-0000000002）", "入金待ち（楽天処理中）"]
    # confirmed at RMS and paid; the sync reads the merged order too
    deliver_effects(rig.ctx)
    assert rig.rms.order_model(number(2))["orderProgress"] == 200  # confirmed, not cancelled
    rig.at(DAY + timedelta(hours=9, minutes=30))
    sync_orders(rig.ctx)
    survivor = rig.order(1)
    assert survivor.stage is Stage.ready, survivor.open_gates
    assert hand_off_orders(rig.ctx).handed_off == 2  # the survivor and order 3
    rig.wms.step()
    assert rig.requested() == {number(1): ["ric-001", "tea-002"], number(3): ["swt-001"]}
    rig.at(DAY + timedelta(hours=11, seconds=1))
    assert rig.wms.step() == 2
    import_results(rig.ctx)
    assert rig.order(1).stage is Stage.shipped
    result = report_shipping(rig.ctx)
    assert result.reported == 3 and result.failed == 0  # 1, 2 (merged) and 3
    assert rig.rms_parcels(1) == rig.rms_parcels(2) and len(rig.rms_parcels(1)) == 1
    assert rig.rms_parcels(3) != rig.rms_parcels(1)
    again = report_shipping(rig.ctx)  # nothing pending: nothing sent twice
    assert again.reported == 0 and len(rig.rms_parcels(2)) == 1
    rig.at(DAY + timedelta(days=1, minutes=1))
    assert [rig.rms.order_model(number(n))["orderProgress"] for n in (1, 2, 3)] == [500] * 3
    # the whole merge is recorded and shown on both orders
    with rig.ctx.store.transaction() as conn:
        shown = order_view(rig.ctx.store, conn, "shop", number(2))
        carrying = order_view(rig.ctx.store, conn, "shop", number(1))
    assert shown is not None and carrying is not None
    assert shown["merge"]["merged_into"] == number(1)
    assert [f["status"] for f in shown["merge"]["reports"]] == ["done"]
    assert [m["order_number"] for m in carrying["merge"]["merged"]] == [number(2)]
    assert any(e["type"] == "merged_into" for e in shown["events"])
    assert any(e["type"] == "merged_from" for e in carrying["events"])
    cancelled = next(e for e in shown["events"] if e["type"] == "order_cancelled")
    assert cancelled["data"]["reason"] == f"同梱: {number(1)} に統合"


@pytest.mark.parametrize("orders", [[
    rms_order(1, DAY + timedelta(hours=8)),
    rms_order(2, DAY + timedelta(hours=10)),  # arrives after 1 went to the warehouse
]])
def test_an_order_already_at_the_warehouse_is_not_merged(rig: Rig):
    rig.at(DAY + timedelta(hours=9))
    rig.cycle()
    rig.at(DAY + timedelta(hours=9, minutes=30))
    rig.cycle()
    assert rig.order(1).stage is Stage.at_warehouse
    rig.at(DAY + timedelta(hours=10, minutes=40))
    rig.cycle()
    assert not rig.order(1).merged and not rig.order(2).merged_into
    rig.at(DAY + timedelta(hours=11))
    rig.cycle()  # paid: it goes to the warehouse on its own
    assert rig.order(2).stage is Stage.at_warehouse
    rig.wms.step()
    assert rig.requested() == {number(1): ["ric-001"], number(2): ["ric-001"]}


def test_rms_cancelling_a_merged_order_takes_its_goods_out_and_asks_a_person(rig: Rig):
    rig.at(DAY + timedelta(hours=9))
    import_orders(rig.ctx)
    deliver_effects(rig.ctx)
    rig.cancel_at_rms(2)  # the buyer cancels the merged-away order at RMS
    rig.at(DAY + timedelta(hours=9, minutes=30))
    sync_orders(rig.ctx)
    survivor = rig.order(1)
    assert not survivor.merged  # its goods left the parcel before the warehouse had it
    (gate,) = survivor.open_gates
    assert gate.kind is GateKind.check and number(2) in gate.reason and "外しました" in gate.reason
    assert rig.order(2).rms_status in (800, 900) and rig.order(2).stage is Stage.cancelled
    sync_orders(rig.ctx)  # read again: nothing new, nothing twice
    assert len(rig.order(1).open_gates) == 1


def test_rms_cancelling_a_merged_order_at_the_warehouse_keeps_the_parcel_and_says_so(rig: Rig):
    rig.at(DAY + timedelta(hours=9))
    rig.cycle()
    rig.at(DAY + timedelta(hours=9, minutes=30))
    rig.cycle()
    assert rig.order(1).stage is Stage.at_warehouse
    rig.wms.step()  # the warehouse takes the request
    rig.cancel_at_rms(2)
    rig.at(DAY + timedelta(hours=9, minutes=40))
    sync_orders(rig.ctx)
    survivor = rig.order(1)
    assert [m.rms_status in (800, 900) for m in survivor.merged] == [True]
    (gate,) = survivor.open_gates
    assert "倉庫連携済み" in gate.reason and number(2) in gate.reason
    assert any(e.type is EventType.merged_order_cancelled for e in _events(rig, 1))
    rig.at(DAY + timedelta(hours=11, seconds=1))
    rig.wms.step()
    import_results(rig.ctx)
    report_shipping(rig.ctx)
    assert rig.rms_parcels(1) and not rig.rms_parcels(2)  # no report for the cancelled one


def _events(rig: Rig, n: int) -> list[Any]:
    with rig.ctx.store.transaction() as conn:
        return rig.ctx.store.events_of(conn, rig.order(n).id or 0)
