"""The order types end to end (issue 17 item 3): RMS's emulator over HTTP, the `unyo init`
rules, the warehouse's request file — each type reaches the file with its columns, or
waits with a reason that names it; a social gift goes on by itself once its recipient
gives the address, read by the sync."""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.warehouse.test_merge_rms import DAY, ENV, rms_order
from unyo.adapters.db import Store
from unyo.app.importing import import_orders
from unyo.app.outbox import deliver_effects
from unyo.app.syncing import sync_orders
from unyo.app.warehouse import hand_off_orders
from unyo.clock import SimClock
from unyo.domain import EventType, GateKind, Order, Stage
from unyo.domain.rules import compile_rules
from unyo.flow import Config, ImportSettings, RmsSettings
from unyo.flow.config import render_init
from unyo.flow.patterns import compile_pattern
from unyo.flow.warehouse import REQUEST_COLUMNS, WarehouseSettings
from unyo.sandbox import RmsEmulator, RmsEmulatorServer
from unyo.sandbox.generator import GeneratedOrder

INIT_RULES = YAML(typ="safe").load(render_init("shop"))["rules"]
STORE = {"cvsCode": 1, "storeGenreCode": None, "storeCode": "012345",
         "storeName": "ファミリーマート 新宿西口店", "storeZip": "160-0023",
         "storePrefecture": "東京都", "storeAddress": "新宿区西新宿1-1-3", "areaCode": None,
         "depo": None, "openTime": "00:00", "closeTime": "24:00", "cvsRemarks": None}
PLACEHOLDER = {"zipCode1": "999", "zipCode2": "9999", "prefecture": "入力待ち",
               "city": "入力待ち", "subAddress": "入力待ち", "familyName": "入力待ち",
               "firstName": "入力待ち", "familyNameKana": "ニュウリョクマチ",
               "firstNameKana": "ニュウリョクマチ", "phoneNumber1": "999",
               "phoneNumber2": "9999", "phoneNumber3": "9999", "isolatedIslandFlag": 0}


def typed(n: int, package: dict[str, Any] | None = None, **order: Any) -> GeneratedOrder:
    """An order of its own buyer (no 同梱候補), with the type's keys set."""
    g = rms_order(n, DAY + timedelta(hours=8, minutes=n),
                  person={"familyName": f"山田{'一二三四五六七八九'[n % 9]}",
                          "phoneNumber3": f"{5600 + n:04d}"})
    g.model.update(order)
    g.model["PackageModelList"][0].update(package or {})
    return g


def social_gift(n: int, after: timedelta | None) -> GeneratedOrder:
    g = typed(n, {"SocialGiftModel": {
        "sgMngNumber": f"123456-20261126-{n:010d}-sg", "inputDueDate": "2026-12-03",
        "inputFlag": 0, "inputCompDatetime": None, "receiverEmailAddress": None}},
        socialGiftFlag=1)
    package = g.model["PackageModelList"][0]
    recipient = copy.deepcopy(package["SenderModel"])
    recipient.update(familyName="佐藤", firstName="一郎")
    package["SenderModel"] = dict(PLACEHOLDER)
    g.gift_address_after, g.gift_recipient = after, recipient
    return g


class Rig:
    def __init__(self, store: Store, folder: Path, orders: list[GeneratedOrder],
                 columns: dict[str, str] | None = None) -> None:
        self.clock = SimClock(DAY + timedelta(hours=9))
        self.rms = RmsEmulator(self.clock, service_secret="SP-test", license_key="SL-test",
                               orders=orders, seed=1)
        self.server = RmsEmulatorServer(self.rms).start()
        warehouse = WarehouseSettings(enabled=True, folder=str(folder), settle=0.0,
                                      columns=columns or dict(REQUEST_COLUMNS))
        config = Config(shop_id="shop",
                        rms=RmsSettings(base_url=self.server.base_url, min_interval=0.0,
                                        timeout=5.0),
                        import_=ImportSettings(lookback=2 * 86400.0),
                        warehouse=warehouse,
                        rules=compile_rules(INIT_RULES, patterns=compile_pattern,
                                            printing=warehouse.printing))
        self.ctx = build(config, self.clock, store)
        self.folder = folder

    def turn(self, at: datetime) -> None:
        """import → outbox → sync → hand-off, as one turn of `unyo run`."""
        self.clock.set(at)
        import_orders(self.ctx)
        deliver_effects(self.ctx)
        sync_orders(self.ctx)
        hand_off_orders(self.ctx)

    def order(self, n: int) -> Order:
        with self.ctx.store.transaction() as conn:
            order = self.ctx.store.load_order(conn, "shop", f"123456-20261126-{n:010d}")
        assert order is not None
        return order

    def rows(self) -> dict[str, dict[str, str]]:
        """Order number → its (first) row, over every request file written."""
        out: dict[str, dict[str, str]] = {}
        for path in sorted(self.folder.rglob("unyo-*.csv")):
            if path.name.startswith("unyo-cancel"):
                continue
            for r in csv.DictReader(io.StringIO(path.read_bytes().decode("cp932"))):
                out.setdefault(r["受注番号"], r)
        return out


def build(config: Config, clock: SimClock, store: Store) -> Any:
    from unyo.wiring import build_context
    return build_context(config, clock=clock, store=store, env=ENV)


@pytest.fixture
def rigs(store: Store, tmp_path: Path) -> Iterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for r in made:
        r.server.stop()


def test_each_type_reaches_the_warehouse_file_with_its_columns_or_waits_naming_it(
        store: Store, tmp_path: Path, rigs: list[Rig]) -> None:
    orders = [typed(1, {"DeliveryCvsModel": STORE}, DeliveryModel={
                  "deliveryName": "コンビニ受取", "deliveryClass": 0}),
              typed(2, {"dropOffFlag": 1, "dropOffLocation": "宅配ボックス"}),
              typed(3, oneDayOperationFlag=1, deliveryCertPrgFlag=1),
              typed(4, cautionDisplayType=1, cautionDisplayDetailType=102),
              social_gift(5, timedelta(hours=3)),
              typed(6)]
    rig = Rig(store, tmp_path / "wh", orders)
    rigs.append(rig)
    rig.turn(DAY + timedelta(hours=9))  # imported and confirmed
    rig.turn(DAY + timedelta(hours=9, minutes=30))  # paid, handed off
    rows = rig.rows()
    number = "123456-20261126-{:010d}".format
    assert set(rows) == {number(n) for n in (1, 2, 3, 6)}
    store_row = rows[number(1)]
    assert (store_row["受取店舗コード"], store_row["受取店舗名"]) == (
        "ファミリーマート 012345", "ファミリーマート 新宿西口店")
    assert store_row["受取店舗住所"] == "〒160-0023 東京都新宿区西新宿1-1-3"
    assert rows[number(2)]["置き配場所"] == "宅配ボックス" and rows[number(1)]["置き配場所"] == ""
    assert rows[number(3)]["出荷優先"] == "当日出荷・最強翌日配送"
    assert all(rows[number(6)][h] == "" for h in ("受取店舗コード", "置き配場所", "出荷優先",
                                                  "ソーシャルギフト管理番号"))
    assert rig.order(1).tags == ("コンビニ受取",) and set(rig.order(3).tags) == {
        "当日出荷", "最強翌日配送"}
    caution = rig.order(4)
    assert caution.stage is Stage.processing
    assert [g.reason for g in caution.open_gates] == ["楽天の注意表示: 受取拒否に注意"]
    gift = rig.order(5)
    assert [(g.kind, g.reason) for g in gift.open_gates] == [
        (GateKind.hold, "ソーシャルギフトの受取人の住所入力待ち")]
    # the recipient gives the address at 11:05; the sync's rotation (every open order in
    # an hour, turns 5 minutes apart) reads it and the order goes on by itself: no
    # change to look at, no person
    for minutes in range(35, 4 * 60 + 1, 5):
        rig.turn(DAY + timedelta(hours=9, minutes=minutes))
    gift = rig.order(5)
    assert not gift.open_gates and gift.stage is Stage.at_warehouse, gift.open_gates
    row = rig.rows()[number(5)]
    assert row["ソーシャルギフト管理番号"] == f"{number(5)}-sg"
    assert row["送付先氏名"] == "佐藤 一郎" and "入力待ち" not in row["送付先住所"]
    assert gift.id is not None
    with rig.ctx.store.transaction() as conn:
        events = rig.ctx.store.events_of(conn, gift.id)
    assert [e.data.get("gift_address") for e in events
            if e.type is EventType.order_changed] == [True]
    assert not [e for e in events if e.type is EventType.gate_opened
                and e.data.get("kind") == "check"]


def test_a_store_pickup_waits_when_the_layout_has_no_store_columns(
        store: Store, tmp_path: Path, rigs: list[Rig]) -> None:
    columns = {k: REQUEST_COLUMNS[k] for k in ("order_number", "basket_id", "recipient_name",
                                               "address", "sku", "units")}
    rig = Rig(store, tmp_path / "wh", [typed(1, {"DeliveryCvsModel": STORE}), typed(2)],
              columns)
    rigs.append(rig)
    rig.turn(DAY + timedelta(hours=9))
    rig.turn(DAY + timedelta(hours=9, minutes=30))
    assert set(rig.rows()) == {"123456-20261126-0000000002"}
    waiting = rig.order(1)
    assert [g.reason for g in waiting.open_gates] == [
        "コンビニ受取: 倉庫への依頼に受取店舗の列がありません"
        "（ファミリーマート 新宿西口店（東京都新宿区西新宿1-1-3））"]


def test_a_social_gift_nobody_answers_keeps_waiting(store: Store, tmp_path: Path,
                                                    rigs: list[Rig]) -> None:
    rig = Rig(store, tmp_path / "wh", [social_gift(1, None)])
    rigs.append(rig)
    for minutes in range(0, 3 * 60 + 1, 5):
        rig.turn(DAY + timedelta(hours=9, minutes=minutes))
    gift = rig.order(1)
    assert [g.reason for g in gift.open_gates] == ["ソーシャルギフトの受取人の住所入力待ち"]
    assert gift.stage is not Stage.at_warehouse and not rig.rows()
