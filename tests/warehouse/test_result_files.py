"""Result files only when whole: half-written files, long names, unwritable reports,
symbolic links — one file never stops the folder, and no row is lost or cut short."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests.factories import T0
from tests.warehouse.conftest import Shop
from unyo.adapters.db import Store
from unyo.adapters.warehouse import CsvFolderWarehouse
from unyo.app.dashboard import Dashboard
from unyo.app.warehouse import hand_off_orders, import_results
from unyo.domain import Stage
from unyo.sandbox.warehouse_emulator import WarehouseEmulator

DAY = "2026/11/27"
HEADER = "受注番号,送付先ID,配送会社,追跡番号,出荷日,出荷ステータス\r\n"


def row(number: str, tracking: str = "123456789012", carrier: str = "ヤマト運輸") -> str:
    return f"{number},10001,{carrier},{tracking},{DAY},\r\n"


def tracking(shop: Shop, number: str) -> list[str]:
    return [s.tracking_number for p in shop.order(number).channel.packages
            for s in p.shipments]


def with_settings(shop: Shop, **changes: object) -> CsvFolderWarehouse:
    shop.settings = replace(shop.settings, **changes)  # type: ignore[arg-type]
    shop.warehouse = CsvFolderWarehouse(shop.settings, shop.clock, "shop")
    shop.ctx.warehouse = shop.warehouse
    return shop.warehouse


# ---- half-written files -------------------------------------------------------------------


def test_a_file_cut_mid_line_is_not_read_until_its_line_ends(shop: Shop):
    # given a warehouse that writes in place and pauses in the middle of a tracking number
    # (Japan Post: 11 of its 13 digits are a plausible number too)
    [number] = shop.add_ready()
    hand_off_orders(shop.ctx)
    path = shop.folder / "results" / "r.csv"
    with open(path, "wb") as f:
        f.write((HEADER + f"{number},10001,日本郵便,12345678901").encode("cp932"))
        f.flush()
        # when unyo looks, long after `settle`
        shop.clock.advance(600)
        result = import_results(shop.ctx)
        # then nothing was read and the file is left alone
        assert result.files == 0 and path.exists()
        assert shop.order(number).stage is Stage.at_warehouse
        # and once the line is finished, the whole number is recorded
        f.write(f"23,{DAY},\r\n".encode("cp932"))
    assert import_results(shop.ctx).shipped_packages == 1
    assert tracking(shop, number) == ["1234567890123"]


def test_a_last_line_left_unfinished_for_long_is_reported_never_applied(shop: Shop):
    # given a file whose writer stopped mid-line and never came back
    first, last = shop.add_ready(2)
    hand_off_orders(shop.ctx)
    path = shop.folder / "results" / "r.csv"
    path.write_bytes((HEADER + row(first) + row(last, "12345678901", "日本郵便")[:-2])
                     .encode("cp932"))
    assert import_results(shop.ctx).files == 0
    # when it has not changed for `incomplete_after`
    shop.clock.advance(shop.settings.incomplete_after)
    result = import_results(shop.ctx)
    # then the whole lines apply, and the last one is reported with its line
    assert result.files == 1 and result.shipped_packages == 1
    assert shop.order(first).stage is Stage.shipped
    assert result.problems == [f"r.csv:3: {'最終行が改行で終わっていません'}"
                               "（書き込みが途中で止まったかもしれないため、この行は取り込んでいません）"]
    assert shop.order(last).stage is Stage.at_warehouse and not tracking(shop, last)
    assert any("r.csv:3" in g.reason for g in shop.order(last).open_gates)
    assert "r.csv:3: 最終行が改行で終わっていません" in (
        shop.folder / "error" / "r.csv.errors.txt").read_text(encoding="utf-8")


def test_a_file_ending_inside_a_quoted_cell_waits_too(shop: Shop):
    [number] = shop.add_ready()
    hand_off_orders(shop.ctx)
    path = shop.folder / "results" / "r.csv"
    path.write_bytes((HEADER + row(number)[:-2] + '"出荷不可:\r\n').encode("cp932"))
    shop.clock.advance(600)
    assert import_results(shop.ctx).files == 0 and path.exists()


def test_a_file_is_read_once_seen_unchanged_for_settle_whatever_its_mtime_says(shop: Shop):
    # given a settle time longer than one poll's look, and a file server whose clock is
    # an hour behind (the file's mtime looks old the moment it is written)
    with_settings(shop, settle=30.0)
    [number] = shop.add_ready()
    hand_off_orders(shop.ctx)
    path = shop.drop_result("r.csv", [[number, "10001", "ヤマト運輸", "123456789012", DAY, ""]])
    old = time.time() - 3600
    os.utime(path, (old, old))
    # when unyo first sees it, it is left alone
    assert import_results(shop.ctx).files == 0 and path.exists()
    # and when it changed since (the writer is still at it), it is left alone again
    shop.clock.advance(31)
    with open(path, "ab") as f:
        f.write(b"\r\n")
    os.utime(path, (old, old))
    assert import_results(shop.ctx).files == 0
    # then, seen unchanged for `settle`, it is read
    shop.clock.advance(31)
    assert import_results(shop.ctx).shipped_packages == 1


def test_a_short_settle_time_is_waited_for_within_the_poll(shop: Shop):
    with_settings(shop, settle=2.0)
    [number] = shop.add_ready()
    hand_off_orders(shop.ctx)
    shop.drop_result("r.csv", [[number, "10001", "ヤマト運輸", "123456789012", DAY, ""]])
    before = shop.clock.now()
    assert import_results(shop.ctx).shipped_packages == 1
    assert shop.clock.now() - before == timedelta(seconds=2)


def test_a_file_that_changes_after_it_was_read_is_not_moved_and_is_read_again(shop: Shop):
    # given a writer that appends between unyo's read and its move
    first, second = shop.add_ready(2)
    hand_off_orders(shop.ctx)
    path = shop.folder / "results" / "r.csv"
    path.write_bytes((HEADER + row(first)).encode("cp932"))
    [batch] = shop.warehouse.results()
    with open(path, "ab") as f:
        f.write(row(second, "123456789013").encode("cp932"))
    # when unyo settles what it read, the file stays
    shop.warehouse.settle(batch, [])
    assert path.exists() and not (shop.folder / "done" / "r.csv").exists()
    # then the next import reads it whole: the second row is not lost
    result = import_results(shop.ctx)
    assert result.files == 1 and result.errors == 0
    assert [shop.order(n).stage for n in (first, second)] == [Stage.shipped] * 2
    assert (shop.folder / "done" / "r.csv").exists()


def test_rows_written_after_the_move_are_not_lost(shop: Shop):
    # given a writer that keeps the file open and pauses between lines longer than
    # `settle`: unyo reads what is there and moves it to done/
    first, second = shop.add_ready(2)
    hand_off_orders(shop.ctx)
    with open(shop.folder / "results" / "r.csv", "wb") as f:
        f.write((HEADER + row(first)).encode("cp932"))
        f.flush()
        assert import_results(shop.ctx).shipped_packages == 1
        assert (shop.folder / "done" / "r.csv").exists()
        # when it writes on, into the moved file
        f.write(row(second, "123456789013").encode("cp932"))
    # then the next import sees the file grew, takes it back and applies the new row
    result = import_results(shop.ctx)
    assert result.files == 1 and result.errors == 0
    assert shop.order(second).stage is Stage.shipped
    assert tracking(shop, second) == ["123456789013"]
    assert (shop.folder / "done" / "r.csv").exists()
    assert not (shop.folder / "results" / "r.csv").exists()


def test_a_line_the_csv_reader_refuses_is_reported_and_the_lines_before_it_apply(
        shop: Shop):
    # given a file whose third line holds a cell beyond the csv module's field limit
    good, other = shop.add_ready(2)
    hand_off_orders(shop.ctx)
    path = shop.folder / "results" / "r.csv"
    path.write_bytes((HEADER + row(good) + row(other, "1" * 200_000)).encode("cp932"))
    # when the results are imported
    result = import_results(shop.ctx)
    # then the good row applied and the bad line is reported by its number
    assert shop.order(good).stage is Stage.shipped
    assert result.problems[0].startswith("r.csv:3: CSVとして読めません")
    assert (shop.folder / "error" / "r.csv").exists()


# ---- names and reports that cannot be written ---------------------------------------------


def test_a_name_too_long_for_its_report_neither_blocks_the_folder_nor_loses_the_report(
        shop: Shop):
    # given a result file whose name leaves no room for ".errors.txt", with a bad row,
    # and a file after it
    bad, later = shop.add_ready(2)
    hand_off_orders(shop.ctx)
    long = "結果" * 40 + "r" * 9 + ".csv"  # 253 bytes
    assert len(os.fsencode(long)) == 253
    shop.drop_result(long, [[bad, "10001", "ヤマト運輸", "12", DAY, ""]])
    shop.drop_result("zz.csv", [[later, "10001", "ヤマト運輸", "123456789012", DAY, ""]])
    # when the results are imported
    result = import_results(shop.ctx)
    # then both files were read, and the report sits beside a shortened copy of the name
    assert result.files == 2
    assert shop.order(later).stage is Stage.shipped
    [report] = (shop.folder / "error").glob("*.errors.txt")
    moved = report.with_name(report.name.removesuffix(".errors.txt"))
    assert moved.exists() and moved.name.startswith("結果結果") and moved.suffix == ".csv"
    text = report.read_text(encoding="utf-8")
    assert text.startswith(f"# 元のファイル名: {long}\n") and f"{long}:2: " in text
    assert not list((shop.folder / "results").iterdir())


def test_a_report_that_cannot_be_written_is_logged_and_the_file_still_moves(
        shop: Shop, store: Store, caplog: pytest.LogCaptureFixture):
    # given an error folder where the report cannot be written (here: a folder has its
    # name; a full disk or a missing permission fail the same way)
    bad, later = shop.add_ready(2)
    hand_off_orders(shop.ctx)
    (shop.folder / "error" / "r.csv.errors.txt").mkdir()
    shop.drop_result("r.csv", [[bad, "10001", "ヤマト運輸", "12", DAY, ""]])
    shop.drop_result("s.csv", [[later, "10001", "ヤマト運輸", "123456789012", DAY, ""]])
    # when the results are imported
    with caplog.at_level(logging.ERROR):
        result = import_results(shop.ctx)
    # then the file is set aside, its problems logged, and the next file is read
    assert result.files == 2 and shop.order(later).stage is Stage.shipped
    assert (shop.folder / "error" / "r.csv").is_file()
    assert any("cannot write the error report" in r.message and "r.csv:2: " in r.message
               for r in caplog.records)
    assert any("r.csv:2" in g.reason for g in shop.order(bad).open_gates)
    # and the dashboard still shows the file set aside
    board = Dashboard(store, shop.ctx.config, shop.clock)
    assert "r.csv" in board.warehouse_error_files()


def test_a_file_that_cannot_be_moved_stays_and_the_others_are_still_read(shop: Shop):
    # given a done folder that cannot be created (a file holds its name)
    first, second = shop.add_ready(2)
    hand_off_orders(shop.ctx)
    (shop.folder / "done").rmdir()
    (shop.folder / "done").write_text("not a folder")
    shop.drop_result("a.csv", [[first, "10001", "ヤマト運輸", "123456789012", DAY, ""]])
    shop.drop_result("b.csv", [[second, "10001", "ヤマト運輸", "123456789013", DAY, ""]])
    # when the results are imported, every file is applied and says why it stays
    result = import_results(shop.ctx)
    assert result.files == 2 and result.shipped_packages == 2
    assert [p.split(":")[0] for p in result.problems] == ["a.csv", "b.csv"]
    assert (shop.folder / "results" / "a.csv").exists()
    # then once the folder is fixed, they move on (applying them again changes nothing)
    (shop.folder / "done").unlink()
    again = import_results(shop.ctx)
    assert again.files == 2 and again.errors == 0 and not again.problems
    assert sorted(p.name for p in (shop.folder / "done").iterdir()) == ["a.csv", "b.csv"]


def test_a_name_that_is_not_utf8_is_shown_escaped_and_read(shop: Shop):
    # given a result file whose name has bytes that are not UTF-8 (an SMB share, cp932)
    bad, good = shop.add_ready(2)
    hand_off_orders(shop.ctx)
    name = os.fsdecode(b"\x8c\x8b\x89\xca.csv")  # 結果 in cp932
    shop.drop_result(name, [[good, "10001", "ヤマト運輸", "123456789012", DAY, ""],
                            [bad, "10001", "ヤマト運輸", "12", DAY, ""]])
    # when the results are imported
    result = import_results(shop.ctx)
    # then it is read, and its name is shown (gate, report) with escapes
    assert shop.order(good).stage is Stage.shipped
    assert result.problems[0].startswith("\\x8c\\x8b\\x89\\xca.csv:3: ")
    assert any(g.reason.startswith("倉庫実績エラー \\x8c") for g in shop.order(bad).open_gates)
    assert (shop.folder / "error" / name).exists()
    report = (shop.folder / "error" / f"{name}.errors.txt").read_text(encoding="utf-8")
    assert report.startswith("\\x8c\\x8b\\x89\\xca.csv:3: ")


# ---- symbolic links -----------------------------------------------------------------------


def test_a_symbolic_link_is_not_followed_and_is_moved_aside(shop: Shop, tmp_path: Path):
    # given a link in the results folder to a file outside it, and a real file after it
    linked, later = shop.add_ready(2)
    hand_off_orders(shop.ctx)
    outside = tmp_path / "outside.csv"
    outside.write_bytes((HEADER + row(linked)).encode("cp932"))
    (shop.folder / "results" / "link.csv").symlink_to(outside)
    shop.drop_result("m.csv", [[later, "10001", "ヤマト運輸", "123456789013", DAY, ""]])
    # when the results are imported
    result = import_results(shop.ctx)
    # then the link was refused, not read, and moved aside (the link, not its target)
    assert shop.order(linked).stage is Stage.at_warehouse
    assert shop.order(later).stage is Stage.shipped
    assert result.problems[0].startswith("link.csv:0: シンボリックリンクは読みません")
    moved = shop.folder / "error" / "link.csv"
    assert moved.is_symlink() and outside.exists()
    report = (shop.folder / "error" / "link.csv.errors.txt").read_text(encoding="utf-8")
    assert "シンボリックリンク" in report and str(outside) in report


def test_a_fifo_named_like_a_result_is_skipped_without_blocking(shop: Shop):
    [number] = shop.add_ready()
    hand_off_orders(shop.ctx)
    os.mkfifo(shop.folder / "results" / "a.csv")
    shop.drop_result("b.csv", [[number, "10001", "ヤマト運輸", "123456789012", DAY, ""]])
    assert import_results(shop.ctx).files == 1
    assert shop.order(number).stage is Stage.shipped


# ---- the emulator writing in place --------------------------------------------------------


def test_an_in_place_writer_loses_no_row_and_cuts_no_number_short(store: Store,
                                                                  tmp_path: Path):
    # given the warehouse emulator writing its result in place, in three parts a step
    # apart (mid-number, end of that line, the rest), and unyo reading between them
    shop = Shop(store, tmp_path / "wh")
    numbers = shop.add_ready(6)
    wms = WarehouseEmulator(shop.folder, shop.clock, seed=3, stockout_rate=0.0,
                            in_place=True)
    hand_off_orders(shop.ctx)
    wms.step()
    shop.clock.set(T0.replace(hour=11, minute=1))
    assert wms.step() == 6 and wms.writing() == 1
    [name] = wms.stats.result_files
    seen = []
    while True:
        result = import_results(shop.ctx)
        seen.append((result.files, result.errors))
        if not wms.writing():
            break
        wms.step()
    import_results(shop.ctx)
    # then every order shipped with the tracking number the warehouse wrote, whole
    final = (shop.folder / "done" / name).read_bytes().decode("cp932").splitlines()[1:]
    written = {line.split(",")[0]: line.split(",")[3] for line in final}
    assert sorted(written) == sorted(numbers)
    assert {n: tracking(shop, n) for n in numbers} == {n: [written[n]] for n in numbers}
    assert all(len(t) == 12 for t in written.values())
    assert all(errors == 0 for _, errors in seen)
    assert seen[0] == (0, 0)  # the part cut mid-number was not read
    assert not list((shop.folder / "results").glob("*.csv"))
