"""Hand-off to the CSV warehouse and the import of its results, on a real SQLite store."""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import BUYER, T0, channel_order
from tests.warehouse.conftest import Shop
from unyo.adapters.db import Store
from unyo.app import warehouse as warehouse_app
from unyo.app.warehouse import hand_off_orders, import_results, shipment_requests
from unyo.domain import (
    EventType,
    HandOff,
    ImportOrder,
    Item,
    Package,
    Person,
    Stage,
    SyncOrder,
    decide,
)

DAY = "2026/11/27"


def read_csv(path: Path, encoding: str = "cp932") -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding), newline="")))


def events(shop: Shop, number: str) -> list[EventType]:
    with shop.ctx.store.transaction() as conn:
        return [e.type for e in shop.ctx.store.events_of(conn, shop.order(number).id or 0)]


@pytest.mark.parametrize("encoding", ["cp932", "utf-8"])
def test_ready_orders_go_out_in_one_file_and_come_back_shipped(store: Store, tmp_path: Path,
                                                               encoding: str):
    shop = Shop(store, tmp_path / "wh", encoding)
    numbers = shop.add_ready(3)
    result = hand_off_orders(shop.ctx)
    assert result.handed_off == 3 and result.sent == 3
    [file] = shop.request_files()
    rows = read_csv(file, encoding)
    assert rows[0][:3] == ["受注番号", "送付先ID", "注文日時"]
    assert [r[0] for r in rows[1:]] == numbers
    assert rows[1][3] == "髙橋 花子" and rows[1][5] == "150-0001"
    assert all(shop.order(n).stage is Stage.at_warehouse for n in numbers)
    assert all(shop.effects(n)["hand_off_to_warehouse"] == "done" for n in numbers)
    assert not [p for p in file.parent.iterdir() if p.name.startswith(".")]  # no temp left
    assert hand_off_orders(shop.ctx).sent == 0  # nothing twice

    shop.drop_result("r1.csv", [[n, "10001", "ヤマト運輸", f"1234567890{i:02d}", DAY, ""]
                                for i, n in enumerate(numbers)], encoding)
    imported = import_results(shop.ctx)
    assert imported.shipped_packages == 3 and imported.errors == 0
    order = shop.order(numbers[0])
    assert order.stage is Stage.shipped
    assert order.channel.packages[0].shipments[0].tracking_number == "123456789000"
    assert shop.effects(numbers[0])["report_shipping"] == "pending"
    assert shop.effects(numbers[0])["send_mail"] == "pending"
    assert (shop.folder / "done" / "r1.csv").exists()
    assert not (shop.folder / "results" / "r1.csv").exists()


def _data(shop: Shop, number: str, type_: EventType) -> list[dict]:
    with shop.ctx.store.transaction() as conn:
        return [e.data for e in shop.ctx.store.events_of(conn, shop.order(number).id or 0)
                if e.type is type_]


def test_a_name_cp932_cannot_hold_goes_with_its_substitute_recorded_on_the_order(shop: Shop):
    # given a recipient 𠮷田 on an em-dashed address, and a plain order
    odd = replace(BUYER, family_name="𠮷田", address=replace(BUYER.address,
                                                             sub_address="神宮前1—2—3"))
    [subst] = shop.add_ready(packages=(replace(channel_order().packages[0], recipient=odd),))
    [good] = shop.add_ready()
    # when they are handed off
    result = hand_off_orders(shop.ctx)
    # then both go; the file (cp932, read back) has the substitutes, the note says so
    assert result.refused == 0 and result.handed_off == 2
    [file] = shop.request_files()
    header, *rows = read_csv(file)
    row = dict(zip(header, rows[0], strict=True))
    assert row["受注番号"] == subst and row["送付先氏名"] == "吉田 花子"
    assert row["送付先住所"] == "東京都渋谷区神宮前1－2－3"
    assert row["倉庫備考"] == "文字置換: 送付先氏名 U+20BB7→吉、送付先住所 U+2014→－"
    assert dict(zip(header, rows[1], strict=True))["倉庫備考"] == ""
    # the order keeps the original and an event lists each substitution
    order = shop.order(subst)
    assert order.stage is Stage.at_warehouse
    assert order.channel.packages[0].recipient.family_name == "𠮷田"
    [data] = _data(shop, subst, EventType.characters_substituted)
    assert data["substitutions"] == [
        {"field": "送付先氏名", "char": "𠮷", "code": "U+20BB7", "replacement": "吉"},
        {"field": "送付先住所", "char": "—", "code": "U+2014", "replacement": "－"}]
    assert not _data(shop, good, EventType.characters_substituted)


def test_a_character_with_no_substitute_stops_once_and_goes_as_geta_once_seen(shop: Shop):
    from unyo.app.manual import release
    from unyo.domain import GateKind

    odd = replace(BUYER, family_name="😀田")
    [bad] = shop.add_ready(packages=(replace(channel_order().packages[0], recipient=odd),))
    [good] = shop.add_ready()
    result = hand_off_orders(shop.ctx)
    assert result.refused == 1 and result.handed_off == 1
    order = shop.order(bad)
    assert order.stage is Stage.processing
    assert [g.reason for g in order.open_gates] == ["送付先氏名に印字できない文字「😀」(U+1F600)"]
    [file] = shop.request_files()
    assert [r[0] for r in read_csv(file)[1:]] == [good]
    assert hand_off_orders(shop.ctx).refused == 0  # not ready: not looked at again
    # a person has seen it: it goes, the character as 〓, and is not stopped again
    release(shop.ctx.store, "shop", bad, GateKind.check, note="確認済", by="staff", now=T0)
    result = hand_off_orders(shop.ctx)
    assert result.refused == 0 and result.handed_off == 1
    assert shop.order(bad).stage is Stage.at_warehouse
    [second] = [f for f in shop.request_files() if f != file]
    header, *rows = read_csv(second)
    row = dict(zip(header, rows[0], strict=True))
    assert row["送付先氏名"] == "〓田 花子" and row["倉庫備考"] == "文字置換: 送付先氏名 U+1F600→〓"
    [data] = _data(shop, bad, EventType.characters_substituted)
    assert data["substitutions"] == [{"field": "送付先氏名", "char": "😀", "code": "U+1F600",
                                      "replacement": "〓", "seen": "person"}]


def test_utf8_exchange_takes_what_cp932_cannot(store: Store, tmp_path: Path):
    shop = Shop(store, tmp_path / "wh", "utf-8")
    odd = replace(BUYER, family_name="𠮷田")
    shop.add_ready(packages=(replace(channel_order().packages[0], recipient=odd),))
    hand_off_orders(shop.ctx)
    [file] = shop.request_files()
    assert read_csv(file, "utf-8")[1][3] == "𠮷田 花子"


def test_formula_injection_is_neutralised_in_every_cell(shop: Shop):
    hostile = replace(BUYER, family_name="=HYPERLINK(\"http://x\")", first_name="",
                      phone="+81-3-0000", address=replace(BUYER.address, city="@SUM(A1)",
                                                         sub_address="\tx"))
    item = Item(1, "-item", "-1+1", "=1+2", 100, 1, sku="@sku")
    package = replace(channel_order().packages[0], recipient=hostile, items=(item,),
                      noshi="\rのし")
    shop.add_ready(packages=(package,), delivery_name="=cmd|' /C calc'!A0")
    hand_off_orders(shop.ctx)
    [file] = shop.request_files()
    row = read_csv(file)[1]
    for cell in row:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert "'=HYPERLINK(\"http://x\")" in row and "'+81-3-0000" in row and "'@sku" in row


def test_each_batch_gets_its_own_file(shop: Shop):
    shop.add_ready(2)
    hand_off_orders(shop.ctx)
    shop.add_ready(1)
    hand_off_orders(shop.ctx)
    files = shop.request_files()
    assert len(files) == 2 and len({f.name for f in files}) == 2


def test_ready_orders_are_read_again_and_a_changed_one_is_not_handed_off(shop: Shop):
    changed, cancelled, same = shop.add_ready(3)
    rms = shop.channel.orders
    # at RMS since the last read: the shop changed an address, the buyer cancelled
    moved = replace(rms[changed].buyer, phone="090-0000-0000")
    rms[changed] = replace(rms[changed], packages=tuple(
        replace(p, recipient=moved) for p in rms[changed].packages))
    rms[cancelled] = replace(rms[cancelled], status=900)
    result = hand_off_orders(shop.ctx)
    assert result.handed_off == 1 and result.sent == 1
    assert shop.order(same).stage is Stage.at_warehouse
    assert shop.order(cancelled).stage is Stage.cancelled
    order = shop.order(changed)
    assert order.stage is Stage.processing
    assert "注文内容が変更されました" in [g.reason for g in order.open_gates]
    assert shop.channel.calls["getOrder"] == 1  # the three in one call


def test_with_rms_unreachable_ready_orders_go_as_last_read(shop: Shop):
    numbers = shop.add_ready(2)
    shop.channel.down = True
    result = hand_off_orders(shop.ctx)
    assert result.handed_off == 2
    assert all(shop.order(n).stage is Stage.at_warehouse for n in numbers)


BAD_ROWS = {
    "unknown order": (["999999-20261127-0000000999", "10001", "ヤマト運輸", "123456789012", DAY,
                       ""], "登録されていません"),
    "unknown package": (["{n}", "77777", "ヤマト運輸", "123456789012", DAY, ""],
                        "送付先ID '77777'"),
    "unknown carrier": (["{n}", "10001", "謎の運送", "123456789012", DAY, ""],
                        "配送会社 '謎の運送' が不明"),
    "implausible tracking": (["{n}", "10001", "佐川急便", "12345", DAY, ""], "12桁の数字"),
    "not a date": (["{n}", "10001", "ヤマト運輸", "123456789012", "来週", ""],
                   "日付ではありません"),
    "future date": (["{n}", "10001", "ヤマト運輸", "123456789012", "2026/12/24", ""], "未来"),
    "before the order": (["{n}", "10001", "ヤマト運輸", "123456789012", "2026/11/01", ""],
                         "注文日より前"),
    "empty order number": (["", "10001", "ヤマト運輸", "123456789012", DAY, ""], "受注番号が空"),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_a_bad_row_is_reported_with_file_and_line_and_good_rows_still_apply(shop: Shop,
                                                                          case: str):
    target, good = shop.add_ready(2)
    hand_off_orders(shop.ctx)
    cells, message = BAD_ROWS[case]
    bad_row = [c.format(n=target) for c in cells]
    shop.drop_result("r.csv", [[good, "10001", "1001", "123456789012", DAY, ""], bad_row])
    result = import_results(shop.ctx)
    assert result.shipped_packages == 1 and result.errors == 1
    assert shop.order(good).stage is Stage.shipped
    assert result.problems[0].startswith("r.csv:3: ") and message in result.problems[0]
    report = (shop.folder / "error" / "r.csv.errors.txt").read_text(encoding="utf-8")
    assert report.startswith("r.csv:3: ") and message in report
    assert (shop.folder / "error" / "r.csv").exists()
    order = shop.order(target)
    if bad_row[0] == target:  # the row concerns a known order: a person must look
        assert order.stage is Stage.at_warehouse
        assert any("r.csv:3" in g.reason and message in g.reason for g in order.open_gates)
    else:
        assert not order.open_gates


def test_a_large_result_file_is_applied_a_chunk_of_orders_at_a_time(
        shop: Shop, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(warehouse_app, "RESULTS_CHUNK", 2)
    numbers = shop.add_ready(5)
    hand_off_orders(shop.ctx)
    rows = [[n, "10001", "ヤマト運輸", f"12345678901{i}", DAY, ""]
            for i, n in enumerate(numbers)]
    rows[3][3] = "12345"  # the fourth order's row (in the second chunk) is bad
    shop.drop_result("wave.csv", rows)
    result = import_results(shop.ctx)
    assert result.files == 1 and result.rows == 5
    assert result.shipped_packages == 4 and result.errors == 1
    assert [shop.order(n).stage for n in numbers] == [
        Stage.shipped, Stage.shipped, Stage.shipped, Stage.at_warehouse, Stage.shipped]
    assert any("wave.csv:5" in g.reason for g in shop.order(numbers[3]).open_gates)
    assert (shop.folder / "error" / "wave.csv.errors.txt").exists()  # settled once
    assert import_results(shop.ctx).files == 0


def test_a_row_for_an_order_not_at_the_warehouse_is_refused(shop: Shop):
    [number] = shop.add_ready()
    shop.drop_result("r.csv", [[number, "10001", "ヤマト運輸", "123456789012", DAY, ""]])
    result = import_results(shop.ctx)
    assert "倉庫連携中ではありません" in result.problems[0]
    assert shop.order(number).stage is Stage.processing  # the check gate stops it


def test_a_file_without_the_needed_headers_or_in_another_encoding_goes_to_error(shop: Shop):
    (shop.folder / "results" / "a.csv").write_bytes("x,y\r\n1,2\r\n".encode("cp932"))
    (shop.folder / "results" / "b.csv").write_bytes("受注番号\r\n".encode("cp932")
                                                    + b"\x81\x20\r\n")  # not cp932
    result = import_results(shop.ctx)
    assert result.files == 2 and result.errors == 2
    assert "見出しに" in result.problems[0]
    assert "b.csv:2: cp932として読めません" in result.problems[1]
    assert sorted(p.name for p in (shop.folder / "error").iterdir()) == [
        "a.csv", "a.csv.errors.txt", "b.csv", "b.csv.errors.txt"]


def test_re_importing_the_same_file_changes_nothing(shop: Shop):
    numbers = shop.add_ready(2)
    hand_off_orders(shop.ctx)
    shop.drop_result("r.csv", [[numbers[0], "10001", "ヤマト運輸", "123456789012", DAY, ""],
                               [numbers[1], "10001", "ヤマト運輸", "12", DAY, ""]])
    import_results(shop.ctx)
    before = {n: (shop.order(n).version, events(shop, n)) for n in numbers}
    shutil.copy(shop.folder / "error" / "r.csv", shop.folder / "results" / "r.csv")
    again = import_results(shop.ctx)
    assert again.errors == 1
    assert {n: (shop.order(n).version, events(shop, n)) for n in numbers} == before
    assert (shop.folder / "error" / "r-2.csv").exists()


def test_stockout_row_surfaces_as_a_check_gate(shop: Shop):
    [number] = shop.add_ready()
    hand_off_orders(shop.ctx)
    shop.drop_result("r.csv", [[number, "10001", "", "", "", "出荷不可: 欠品"]])
    result = import_results(shop.ctx)
    assert result.rejected == 1 and result.errors == 0
    order = shop.order(number)
    assert order.stage is Stage.at_warehouse
    assert [g.reason for g in order.open_gates] == ["倉庫: 出荷不可: 欠品"]
    assert EventType.warehouse_rejected in events(shop, number)


def test_multi_package_order_is_shipped_when_every_package_is(shop: Shop):
    other = Person("山田", "太郎", "ヤマダ", "タロウ", "06-0000-0000", BUYER.address)
    first = channel_order().packages[0]
    second = Package(10002, other, first.items, 3980, 0, 0, 3980)
    [number] = shop.add_ready(packages=(first, second))
    hand_off_orders(shop.ctx)
    [file] = shop.request_files()
    assert [r[1] for r in read_csv(file)[1:]] == ["10001", "10002"]
    shop.drop_result("a.csv", [[number, "10001", "ヤマト運輸", "123456789012", DAY, ""]])
    import_results(shop.ctx)
    order = shop.order(number)
    assert order.stage is Stage.at_warehouse
    assert [bool(p.shipments) for p in order.channel.packages] == [True, False]
    shop.drop_result("b.csv", [[number, "10002", "日本郵便", "12345678901", DAY, ""],
                               [number, "10002", "日本郵便", "12345678902", DAY, ""]])
    import_results(shop.ctx)
    order = shop.order(number)
    assert order.stage is Stage.shipped
    assert len(order.channel.packages[1].shipments) == 2  # two parcels for one package


def test_cancel_after_hand_off_sends_a_cancel_request_and_waits_for_a_person(shop: Shop):
    [number] = shop.add_ready()
    hand_off_orders(shop.ctx)
    order = shop.order(number)
    with shop.ctx.store.transaction() as conn:
        shop.ctx.store.apply(conn, order, decide(order, SyncOrder(
            replace(order.channel, status=900), T0)), T0)
    result = hand_off_orders(shop.ctx)
    assert result.cancels == 1
    [cancel] = (shop.folder / "requests").glob("unyo-cancel-*.csv")
    assert read_csv(cancel)[1] == [number, "10001", "キャンセル"]
    order = shop.order(number)
    assert order.stage is Stage.at_warehouse and order.open_gates
    assert shop.effects(number)["cancel_at_warehouse"] == "done"


def test_fields_set_by_rules_go_to_the_warehouse(shop: Shop):
    [number] = shop.add_ready(delivery_name="宅配便")
    order = shop.order(number)
    request = shipment_requests(order.with_(settings=(("delivery_method", "ネコポス"),
                                                      ("warehouse_note", "のし: 御歳暮"))))[0]
    assert (request.delivery_method, request.note) == ("ネコポス", "のし: 御歳暮")
    assert shipment_requests(order)[0].delivery_method == "宅配便"


def test_an_order_cancelled_before_its_request_went_out_is_not_requested(shop: Shop):
    [number] = shop.add_ready()
    order = shop.order(number)
    with shop.ctx.store.transaction() as conn:  # handed off, but the file not written yet
        order = shop.ctx.store.apply(conn, order, decide(order, HandOff(T0)), T0)
        shop.ctx.store.apply(conn, order, decide(order, SyncOrder(
            replace(order.channel, status=900), T0)), T0)
    result = hand_off_orders(shop.ctx)
    assert result.sent == 0 and result.cancels == 1
    assert shop.request_files() == []
    assert shop.effects(number)["hand_off_to_warehouse"] == "done"


class Crash(Exception):
    """The process dies here."""


@pytest.mark.parametrize("dies", ["after staging", "after publishing"])
def test_a_worker_dying_mid_hand_off_never_sends_a_batch_twice(store: Store, tmp_path: Path,
                                                               dies: str):
    # given a worker that dies after staging the file (and noting its name), or right
    # after giving it to the WMS, before the hand-off is recorded
    shop = Shop(store, tmp_path / "wh")
    numbers = shop.add_ready(3)
    real_publish = shop.warehouse.publish

    def publish(name: str) -> bool:
        if dies == "after publishing":
            real_publish(name)
        raise Crash(dies)

    shop.warehouse.publish = publish  # type: ignore[method-assign]
    with pytest.raises(Crash):
        hand_off_orders(shop.ctx)
    assert all(shop.effects(n)["hand_off_to_warehouse"] == "pending" for n in numbers)
    staged = [p for p in (shop.folder / "requests").iterdir() if p.name.startswith(".")]
    assert len(staged) == (1 if dies == "after staging" else 0)
    # when it (or the worker taking its shop over) runs again
    shop.warehouse.publish = real_publish  # type: ignore[method-assign]
    result = hand_off_orders(shop.ctx)
    # then the WMS has exactly one request per order, and the hand-off is recorded
    [file] = shop.request_files()
    assert [r[0] for r in read_csv(file)[1:]] == numbers
    assert result.batches == [file.name] and result.sent == 0
    assert all(shop.effects(n)["hand_off_to_warehouse"] == "done" for n in numbers)
    assert not [p for p in (shop.folder / "requests").iterdir() if p.name.startswith(".")]
    assert hand_off_orders(shop.ctx).batches == []


def test_only_the_layout_s_columns_are_printed_and_the_note_only_where_it_has_one(
        store: Store, tmp_path: Path):
    from unyo.adapters.warehouse import CsvFolderWarehouse
    from unyo.flow.warehouse import WarehouseSettings

    shop = Shop(store, tmp_path / "wh")
    settings = WarehouseSettings(enabled=True, folder=str(tmp_path / "wh"), settle=0.0,
                                 columns={"order_number": "受注番号", "basket_id": "送付先ID",
                                          "recipient_name": "お届け先名"})
    shop.ctx.warehouse = shop.warehouse = CsvFolderWarehouse(settings, shop.clock, "shop")
    # an emoji in the kana, which this layout does not carry, and 𠮷 in the name
    odd = replace(BUYER, family_name="𠮷田", family_name_kana="😀")
    [number] = shop.add_ready(packages=(replace(channel_order().packages[0], recipient=odd),))
    result = hand_off_orders(shop.ctx)
    assert result.refused == 0 and result.handed_off == 1
    [file] = shop.request_files()
    assert read_csv(file) == [["受注番号", "送付先ID", "お届け先名"],
                              [number, "10001", "吉田 花子"]]
    [data] = _data(shop, number, EventType.characters_substituted)
    assert [s["char"] for s in data["substitutions"]] == ["𠮷"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20), st.text(max_size=20), st.text(max_size=10))
def test_a_printed_request_always_fits_the_encoding(name: str, address: str, item: str):
    from unyo.app.warehouse import print_request
    from unyo.domain.printing import PrintSpec

    person = replace(BUYER, family_name=name, address=replace(BUYER.address,
                                                              sub_address=address))
    package = replace(channel_order().packages[0], recipient=person,
                      items=(Item(1, "i", "i", item, 1, 1),))
    channel = channel_order(packages=(package,))
    order = decide(None, ImportOrder("shop", channel, channel.ordered_at)).order
    for request in shipment_requests(order):
        printed = print_request(request, PrintSpec())
        r = printed.request
        for text in (r.recipient_name, r.recipient_kana, r.address, r.note,
                     *(i.name for i in r.items)):
            text.encode("cp932")  # never raises: the file can always be written
        assert {u.char for u in printed.unsendable} <= set(name + address + item)
