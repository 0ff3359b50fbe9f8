"""Property-based tests of the result reader: whatever a warehouse writes — any bytes,
any text in any cell — the import reads rows or records per-row / per-file problems,
settles the file and never raises anything else, within a time bound.

The budget is fixed (`max_examples`), so the file runs in seconds in CI."""

from __future__ import annotations

import csv
import io
import re
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.factories import T0
from tests.warehouse.conftest import Shop
from unyo.adapters.db import Store
from unyo.adapters.warehouse import CsvFolderWarehouse
from unyo.app.warehouse import hand_off_orders, import_results
from unyo.clock import SimClock
from unyo.domain.carriers import normalise_tracking
from unyo.flow.warehouse import RESULT_COLUMNS, WarehouseSettings

HEADER = list(RESULT_COLUMNS.values())
LIMIT = 2.0  # seconds one file may take, at most


@settings(max_examples=300, deadline=None)
# found by Hypothesis: rows ended by a bare CR are lines too
@example(data=",".join(HEADER).encode("cp932") + b"\r\x00\r\x00", encoding="cp932")
@example(data=",".join(HEADER).encode("cp932") + b"\r\r\x00", encoding="cp932")
@given(data=st.one_of(
    st.binary(max_size=3000),
    # bytes that start like a real result file, so the rows are reached too
    st.binary(max_size=2000).map(lambda b: ",".join(HEADER).encode("cp932") + b"\r\n" + b)),
    encoding=st.sampled_from(["cp932", "utf-8"]))
def test_any_bytes_are_read_or_reported_and_the_file_is_settled(data: bytes, encoding: str):
    with tempfile.TemporaryDirectory() as folder:
        clock = SimClock(T0)
        wh = CsvFolderWarehouse(WarehouseSettings(enabled=True, folder=folder,
                                                  encoding=encoding, settle=0.0), clock)
        wh.ensure_folders()
        (Path(folder) / "results" / "r.csv").write_bytes(data)
        started = time.monotonic()
        batches = wh.results()
        if not batches:  # not whole yet (no final line end): read once left for long
            clock.advance(wh.settings.incomplete_after)
            batches = wh.results()
        [batch] = batches
        # lines as an editor counts them: CR LF, LF, and a bare CR (old Mac files) end one
        lines = max(data.count(b"\n"), len(data.splitlines())) + 1
        assert all(1 <= r.line <= lines for r in batch.rows)
        assert all(0 <= p.line <= lines + 1 for p in batch.problems)
        wh.settle(batch, batch.problems)
        assert time.monotonic() - started < LIMIT
        settled = "error" if batch.problems else "done"
        assert [p.name for p in (Path(folder) / settled).glob("*.csv")] == ["r.csv"]
        assert not list((Path(folder) / "results").iterdir())


def _cells(numbers: list[str]) -> st.SearchStrategy[list[str]]:
    """A row: each cell any text, or a value that gets the row further into the checks."""
    plausible = [
        st.sampled_from([*numbers, ""]), st.sampled_from(["10001", "", "1"]),
        st.sampled_from(["ヤマト運輸", "1003", "佐川", ""]),
        st.sampled_from(["123456789012", "１２３４５６７８９０１２", "١٢٣٤٥٦٧٨٩٠١٢", "12"]),
        st.sampled_from(["2026/11/27", "20261127", "2026-11-27T00:00", ""]),
        st.sampled_from(["", "出荷不可: 欠品"]),
    ]
    return st.tuples(*(st.one_of(p, st.text(max_size=40)) for p in plausible)).map(list)


class _Shipping(Shop):
    numbers: list[str]


@pytest.fixture
def at_warehouse(store: Store, tmp_path: Path) -> _Shipping:
    """Three orders at the warehouse; every example is one more result file for them
    (shared across examples on purpose: later files correct earlier ones)."""
    shop = _Shipping(store, tmp_path / "wh", "utf-8")
    shop.numbers = shop.add_ready(3)
    hand_off_orders(shop.ctx)
    shop.clock.advance(3600)
    return shop


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_text_in_any_cell_is_applied_or_reported_with_its_line(data: st.DataObject,
                                                                    at_warehouse: _Shipping):
    shop, numbers = at_warehouse, at_warehouse.numbers
    rows = data.draw(st.lists(_cells(numbers), max_size=8))
    header = data.draw(st.one_of(st.just(HEADER), st.permutations(HEADER),
                                 st.lists(st.text(max_size=10), max_size=7)))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([header, *rows])
    (shop.folder / "results" / "r.csv").write_bytes(buffer.getvalue().encode("utf-8"))
    started = time.monotonic()
    result = import_results(shop.ctx)
    assert time.monotonic() - started < LIMIT
    # then the file was read and settled, whatever was in it
    assert result.files == 1
    assert not list((shop.folder / "results").iterdir())
    # and each row was either reported at its line or applied to its order
    problem_lines = {int(p.split(":")[1]) for p in result.problems}
    reader = csv.reader(io.StringIO(buffer.getvalue(), newline=""))
    at = {h: i for i, h in enumerate(next(reader))}
    if reader.line_num not in problem_lines:  # the header was readable
        for cells in reader:
            def get(key: str, cells: list[str] = cells) -> str:
                i = at.get(RESULT_COLUMNS[key], len(cells))
                text = cells[i].strip().replace("\x00", "\ufffd") if i < len(cells) else ""
                return text[1:] if text.startswith("'") else text

            if not any(c.strip() for c in cells) or reader.line_num in problem_lines \
                    or get("status"):
                continue
            shipments = [s.tracking_number for p in shop.order(get("order_number"))
                         .channel.packages for s in p.shipments]
            assert normalise_tracking(get("tracking_number")) in shipments
    # and no tracking number RMS would get is anything but ASCII letters and digits
    for number in numbers:
        for package in shop.order(number).channel.packages:
            for s in package.shipments:
                assert re.fullmatch(r"[0-9A-Z]{6,30}", s.tracking_number), s
    shop.clock.advance(timedelta(minutes=1).total_seconds())

