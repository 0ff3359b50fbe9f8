"""Shipping results as warehouses write them (issue 17 item 4): a default carrier per
delivery method (`warehouse.default_carrier`, for files without a carrier column such
as B2クラウド's export), rows without a tracking number where the delivery method has
none (`warehouse.untracked_methods`), reported to RMS without shippingNumber."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from tests.factories import T0, channel_order
from tests.warehouse.conftest import Shop
from tests.warehouse.test_shipping_rms import DAY, ENV, Rig, unyo_parcels
from unyo.adapters.db import Store
from unyo.adapters.db import schema as t
from unyo.adapters.mail.templates import MailTemplates
from unyo.adapters.warehouse import CsvFolderWarehouse
from unyo.app.outbox import deliver_effects
from unyo.app.shipping import report_shipping
from unyo.app.warehouse import hand_off_orders, import_results
from unyo.clock import SimClock
from unyo.domain import ImportOrder, MailKind, Shipment, Stage, decide
from unyo.flow import Config, ConfigError, ImportSettings, RmsSettings
from unyo.flow.config import parse_config
from unyo.flow.mail import MailSettings
from unyo.flow.warehouse import WarehouseSettings
from unyo.sandbox import RmsEmulator, RmsEmulatorServer, generate_orders
from unyo.sandbox.warehouse_emulator import WarehouseEmulator
from unyo.wiring import build_context

SHIPPED = "2026/11/27"
B2_HEADER = ["受注番号", "送付先ID", "追跡番号", "出荷日", "出荷ステータス"]  # no 配送会社


def configure(shop: Shop, **changes: object) -> None:
    shop.settings = replace(shop.settings, **changes)  # type: ignore[arg-type]
    shop.warehouse = CsvFolderWarehouse(shop.settings, shop.clock, "shop")
    shop.ctx.warehouse = shop.warehouse
    shop.ctx.config = replace(shop.ctx.config, warehouse=shop.settings)


def drop(shop: Shop, header: list[str], rows: list[list[str]]) -> None:
    text = "\r\n".join(",".join(r) for r in [header, *rows]) + "\r\n"
    (shop.folder / "results" / "r.csv").write_bytes(text.encode("cp932"))


def parcels(shop: Shop, number: str) -> list[tuple[str, str, date | None]]:
    return [(s.carrier_code, s.tracking_number, s.ship_date)
            for p in shop.order(number).channel.packages for s in p.shipments]


# ---- configuration ------------------------------------------------------------------------


def test_default_carrier_takes_codes_and_names_and_untracked_methods_a_list():
    w = parse_config("warehouse:\n  default_carrier:\n    宅配便: ヤマト\n    ゆうパケット: 1003\n"
                     "    \"*\": 佐川急便\n  untracked_methods: [定形外, ゆうメール]\n").warehouse
    assert w.default_carrier == {"宅配便": "1001", "ゆうパケット": "1003", "*": "1002"}
    assert w.carrier_for("宅配便") == "1001" and w.carrier_for("ゆうパケット") == "1003"
    assert w.carrier_for("メール便") == "1002"  # anything else: *
    assert w.untracked_methods == ("定形外", "ゆうメール")
    assert w.untracked("定形外郵便（追跡なし）") and not w.untracked("宅配便")
    assert w.required_result_keys == ("order_number", "tracking_number", "ship_date")
    # the defaults: no default carrier (the column is needed), Japan Post's letter post
    d = WarehouseSettings()
    assert d.carrier_for("宅配便") is None and "carrier" in d.required_result_keys
    assert d.untracked("定形外郵便") and d.untracked("ゆうメール") and not d.untracked("")
    assert d.untracked("スマートレター") and d.untracked("普通郵便（定形）")
    assert not any(d.untracked(m) for m in ("ゆうパケット", "宅配便", "クリックポスト",
                                            "ネコポス", "ゆうパック"))


@pytest.mark.parametrize(("text", "message"), [
    ("warehouse:\n  default_carrier:\n    宅配便: 黒猫便\n",
     r":2: warehouse\.default_carrier: 宅配便: '黒猫便' is not a carrier unyo knows"),
    ("warehouse:\n  default_carrier:\n    宅配便: 9999\n",
     r":2: warehouse\.default_carrier: 宅配便: 9999 is not a carrier"),
    ("warehouse:\n  default_carrier: ヤマト運輸\n",
     r":2: warehouse\.default_carrier: expected a mapping of delivery methods"),
    ("warehouse:\n  default_carrier:\n    DM便: ヤマト\n    ＤＭ便: 佐川\n",
     r":2: warehouse\.default_carrier: ＤＭ便: given twice"),
    ("warehouse:\n  untracked_methods: 定形外\n",
     r":2: warehouse\.untracked_methods: expected a list of delivery method names"),
])
def test_mistakes_in_the_new_keys_are_reported_with_their_line(text: str, message: str):
    with pytest.raises(ConfigError) as e:
        parse_config(text)
    assert re.search(message, str(e.value)), str(e.value)


def test_the_schema_knows_the_new_keys():
    from unyo.flow.schema import build_schema

    props = build_schema()["properties"]["warehouse"]["properties"]
    assert props["default_carrier"]["additionalProperties"]["type"] == ["string", "integer"]
    assert props["untracked_methods"]["default"] == list(WarehouseSettings().untracked_methods)


# ---- the reader and the import ------------------------------------------------------------


def test_a_file_without_a_carrier_column_takes_the_default_of_the_delivery_method(shop: Shop):
    # given B2クラウド-like results (no carrier column) and defaults per delivery method
    configure(shop, default_carrier={"宅配便": "1001", "*": "1003"})
    [home] = shop.add_ready(delivery_name="宅配便")
    [mail] = shop.add_ready(delivery_name="ゆうパケット")
    hand_off_orders(shop.ctx)
    drop(shop, B2_HEADER, [[home, "10001", "123456789012", SHIPPED, ""],
                           [mail, "10001", "12345678901", SHIPPED, ""]])
    # when they are imported
    result = import_results(shop.ctx)
    # then each order shipped with its method's carrier, and the file is done
    assert result.problems == [] and result.shipped_packages == 2
    assert parcels(shop, home) == [("1001", "123456789012", date(2026, 11, 27))]
    assert parcels(shop, mail) == [("1003", "12345678901", date(2026, 11, 27))]
    assert (shop.folder / "done" / "r.csv").exists()


def test_without_a_default_the_missing_column_and_an_empty_carrier_are_refused(shop: Shop):
    [number] = shop.add_ready(delivery_name="メール便")
    hand_off_orders(shop.ctx)
    drop(shop, B2_HEADER, [[number, "10001", "123456789012", SHIPPED, ""]])
    result = import_results(shop.ctx)
    assert result.problems == ["r.csv:1: 見出しに 配送会社 がありません"]
    # an empty carrier cell: the row's line, naming the method that has no default
    configure(shop, default_carrier={"宅配便": "1001"})
    drop(shop, ["受注番号", "送付先ID", "配送会社", "追跡番号", "出荷日", "出荷ステータス"],
         [[number, "10001", "", "123456789012", SHIPPED, ""]])
    result = import_results(shop.ctx)
    assert result.problems == ["r.csv:2: 配送会社が空です（配送方法「メール便」の既定の配送会社が "
                               "warehouse.default_carrier にありません）"]
    assert shop.order(number).stage is Stage.at_warehouse


def test_rows_without_tracking_ship_where_the_method_has_none_and_are_refused_elsewhere(
        shop: Shop):
    # given a 定形外 order, a rule-set delivery method, and a 宅配便 order, all shipped
    # by the warehouse without a tracking number
    [letter] = shop.add_ready(delivery_name="定形外郵便")
    [home] = shop.add_ready(delivery_name="宅配便")
    hand_off_orders(shop.ctx)
    drop(shop, ["受注番号", "送付先ID", "配送会社", "追跡番号", "出荷日", "出荷ステータス"],
         [[letter, "10001", "日本郵便", "", SHIPPED, ""],
          [home, "10001", "ヤマト運輸", "", SHIPPED, ""]])
    # when they are imported
    result = import_results(shop.ctx)
    # then the 定形外 parcel is shipped without a number and will be reported and mailed
    assert parcels(shop, letter) == [("1003", "", date(2026, 11, 27))]
    assert shop.order(letter).stage is Stage.shipped
    assert shop.effects(letter).keys() >= {"report_shipping", "send_mail"}
    # and the 宅配便 row is refused at its line, the order held with a check gate
    assert result.problems == ["r.csv:3: 追跡番号が空です（配送方法「宅配便」は追跡番号が"
                               "必要です: warehouse.untracked_methods）"]
    assert shop.order(home).stage is Stage.at_warehouse and shop.order(home).open_gates
    # the same file again changes nothing (idempotence)
    drop(shop, ["受注番号", "送付先ID", "配送会社", "追跡番号", "出荷日", "出荷ステータス"],
         [[letter, "10001", "日本郵便", "", SHIPPED, ""]])
    again = import_results(shop.ctx)
    assert again.problems == [] and parcels(shop, letter) == [("1003", "", date(2026, 11, 27))]


def test_an_empty_untracked_list_makes_every_row_need_its_number(shop: Shop):
    configure(shop, untracked_methods=())
    [letter] = shop.add_ready(delivery_name="定形外郵便")
    hand_off_orders(shop.ctx)
    drop(shop, ["受注番号", "送付先ID", "配送会社", "追跡番号", "出荷日", "出荷ステータス"],
         [[letter, "10001", "日本郵便", "", SHIPPED, ""]])
    result = import_results(shop.ctx)
    assert [p.split(":")[1] for p in result.problems] == ["2"]
    assert shop.order(letter).stage is Stage.at_warehouse


METHODS = ["宅配便", "定形外郵便", "メール便"]
CARRIERS = ["", "ヤマト運輸", "日本郵便", "1002", "黒猫便"]
TRACKING = ["", "123456789012", "12345678901", "abc", "１２３４５６７８９０１２"]
_EXAMPLES = itertools.count(1)
DEFAULTS = {"宅配便": "1001", "定形外郵便": "1003"}  # メール便 has none


def expected_ok(method: str, carrier: str, tracking: str) -> bool:
    """The oracle: whether a row of an order of `method` is applied."""
    from unyo.domain.carriers import carrier_code, normalise_tracking, tracking_problem

    code = carrier_code(carrier) if carrier else DEFAULTS.get(method)
    if code is None:
        return False
    number = normalise_tracking(tracking)
    if not number:
        return method == "定形外郵便"
    return tracking_problem(code, number) is None


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.sampled_from(METHODS), st.sampled_from(CARRIERS),
                               st.sampled_from(TRACKING)), min_size=1, max_size=6),
       carrier_column=st.booleans())
def test_any_row_is_applied_or_reported_at_its_line_never_both(
        store: Store, tmp_path_factory: pytest.TempPathFactory,
        rows: list[tuple[str, str, str]], carrier_column: bool):
    shop = Shop(store, tmp_path_factory.mktemp("wh"))
    configure(shop, default_carrier=DEFAULTS)
    shop._n = next(_EXAMPLES) * 100  # one store for every example: fresh order numbers
    numbers = [shop.add_ready(delivery_name=m)[0] for m, _, _ in rows]
    hand_off_orders(shop.ctx)
    if not carrier_column:  # B2クラウド-like: no column, every row takes the default
        rows = [(m, "", t) for m, _, t in rows]
    header = ["受注番号", "送付先ID", "配送会社", "追跡番号", "出荷日", "出荷ステータス"]
    cells = [[n, "10001", c, t, SHIPPED, ""] for n, (_, c, t) in zip(numbers, rows, strict=True)]
    if not carrier_column:
        header, cells = B2_HEADER, [[r[0], r[1], *r[3:]] for r in cells]
    drop(shop, header, cells)
    result = import_results(shop.ctx)  # never raises
    bad_lines = {int(p.split(":")[1]) for p in result.problems}
    for line, (number, (method, carrier, tracking)) in enumerate(
            zip(numbers, rows, strict=True), start=2):
        applied = shop.order(number).stage is Stage.shipped
        assert applied != (line in bad_lines), (line, method, carrier, tracking)
        assert applied == expected_ok(method, carrier, tracking), (method, carrier, tracking)
    assert result.shipped_packages + len(bad_lines) == len(rows)
    # the same file again: nothing changes, nothing more is queued
    before = {n: (shop.order(n).stage, parcels(shop, n)) for n in numbers}
    with store.transaction() as conn:
        effects = store.outbox_counts(conn, "shop")
    drop(shop, header, cells)
    import_results(shop.ctx)
    assert {n: (shop.order(n).stage, parcels(shop, n)) for n in numbers} == before
    with store.transaction() as conn:
        assert store.outbox_counts(conn, "shop") == effects


# ---- the shipping mail ----------------------------------------------------------------------


def test_the_shipping_mail_shows_no_empty_tracking_line_or_link():
    base = channel_order(status=300, confirmed_at=T0, delivery_name="定形外郵便")
    shipped = replace(base, packages=(replace(base.packages[0], shipments=(
        Shipment(None, "1003", "", date(2026, 11, 28)),)),))
    order = decide(None, ImportOrder("shop", shipped, T0, confirm=False,
                                     thanks_mail=False)).order
    mail = MailTemplates.load(MailSettings(), "お茶の店").render(MailKind.shipping, order)
    assert ("配送会社：日本郵便\n追跡番号：なし（追跡番号のない配送方法でお送りしました）\n"
            in mail.body)
    assert "配送状況：" not in mail.body and "追跡番号で各配送会社" not in mail.body
    # a parcel with a number keeps its line, link and hint
    tracked = replace(base, packages=(replace(base.packages[0], shipments=(
        Shipment(None, "1003", "123456789012", date(2026, 11, 28)),)),))
    order = decide(None, ImportOrder("shop", tracked, T0, confirm=False,
                                     thanks_mail=False)).order
    body = MailTemplates.load(MailSettings(), "お茶の店").render(MailKind.shipping, order).body
    assert "追跡番号：123456789012" in body and "配送状況：https://" in body
    assert "追跡番号で各配送会社" in body


# ---- end to end: warehouse emulator, RMS emulator over HTTP ---------------------------------


class B2Rig(Rig):
    """Rig whose warehouse writes B2クラウド-like files (no carrier column) and ships
    定形外 orders without a tracking number; some generated orders are 定形外郵便."""

    def __init__(self, store: Store, folder: Path, n: int, seed: int = 11,
                 timeout: float = 5.0) -> None:
        self.clock = SimClock(DAY)
        self.generated = generate_orders(n, seed=seed, start=DAY, end=DAY + timedelta(days=1))
        for i, g in enumerate(self.generated):
            if i % 3 == 0:
                g.model["DeliveryModel"]["deliveryName"] = "定形外郵便"
        self.letters = {g.order_number for g in self.generated
                        if g.model["DeliveryModel"]["deliveryName"] == "定形外郵便"}
        self.rms = RmsEmulator(self.clock, service_secret="SP-test", license_key="SL-test",
                               orders=self.generated, seed=seed)
        self.server = RmsEmulatorServer(self.rms).start()
        self.wms = WarehouseEmulator(folder, self.clock, seed=seed, stockout_rate=0.0,
                                     carrier_column=False, untracked=("定形外",))
        config = Config(shop_id="shop",
                        rms=RmsSettings(base_url=self.server.base_url, min_interval=0.0,
                                        timeout=timeout),
                        import_=ImportSettings(lookback=2 * 86400.0),
                        warehouse=WarehouseSettings(
                            enabled=True, folder=str(folder), settle=0.0,
                            default_carrier={"宅配便": "1001", "定形外郵便": "1003"}))
        self.ctx = build_context(config, clock=self.clock, store=store, env=ENV)


@pytest.fixture
def b2(store: Store, tmp_path: Path) -> Iterator[B2Rig]:
    r = B2Rig(store, tmp_path / "wh", 60)
    yield r
    r.server.stop()


def test_shipped_without_a_tracking_number_is_reported_and_rms_shows_it_shipped(b2: B2Rig):
    # given orders handed off to a warehouse writing files without a carrier column
    b2.to_ready()
    b2.ship()
    shipped = b2.orders(Stage.shipped)
    letters = [n for n in shipped if n in b2.letters]
    homes = [n for n in shipped if n not in b2.letters]
    assert len(letters) >= 5 and len(homes) >= 5
    # when the shipping report goes out
    result = report_shipping(b2.ctx)
    assert result.reported == len(shipped) and result.failed == 0
    # then RMS holds 定形外 rows with carrier and date but no shippingNumber at all
    for n in letters:
        rows = b2.rows(n)
        assert rows and all(r["deliveryCompany"] == "1003" and r["shippingNumber"] is None
                            and r["shippingDate"] == "2026-11-27" for r in rows), rows
    # and 宅配便 rows with the default carrier and their number
    for n in homes:
        assert all(r["deliveryCompany"] == "1001" and r["shippingNumber"]
                   for r in b2.rows(n))
    # the same result files dropped again change nothing and queue no report
    done = sorted((b2.wms.folder / "done").glob("*.csv"))
    assert done
    for path in done:
        (b2.wms.folder / "results" / f"again-{path.name}").write_bytes(path.read_bytes())
    with b2.ctx.store.transaction() as conn:
        effects = b2.ctx.store.outbox_counts(conn, "shop")
    reread = import_results(b2.ctx)
    assert reread.errors == 0 and reread.rows >= len(shipped)
    with b2.ctx.store.transaction() as conn:
        assert b2.ctx.store.outbox_counts(conn, "shop") == effects
    assert {n: unyo_parcels(o) for n, o in b2.orders(Stage.shipped).items()} == {
        n: unyo_parcels(o) for n, o in shipped.items()}
    assert report_shipping(b2.ctx).reported == 0
    # a report sent again (its answer lost) sends nothing: the rows without a number
    # are recognised as there, by carrier, (no) number and date
    with b2.ctx.store.transaction() as conn:
        conn.execute(update(t.outbox).where(t.outbox.c.kind == "report_shipping")
                     .values(status="pending"))
    before = b2.calls()
    again = report_shipping(b2.ctx)
    assert again.reported == again.unchanged == len(shipped) and again.rows_added == 0
    assert b2.calls().get("updateOrderShippingAsync", 0) == before.get(
        "updateOrderShippingAsync", 0)
    assert all(len(b2.rows(n)) == sum(len(p.shipments) for p in o.channel.packages)
               for n, o in shipped.items())
    deliver_effects(b2.ctx)  # mails and the rest go out without an error


def test_the_shipment_event_names_the_tracking_number_or_says_there_is_none():
    from unyo.wording import event_text

    data = {"parcels": [["1001", "123456789012", "2026-11-27"], ["1003", "", "2026-11-27"]],
            "shipped_packages": 1, "packages": 1}
    assert event_text("shipment_recorded", data) == (
        "倉庫から出荷実績（1/1個口）、伝票番号 123456789012、なし")
    assert event_text("shipment_recorded", data, "en").endswith(
        "tracking 123456789012, none")
