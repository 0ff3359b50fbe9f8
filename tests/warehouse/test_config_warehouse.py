"""The `warehouse:` section of the shop file: defaults, columns, and mistakes with lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from unyo.flow import ConfigError
from unyo.flow.config import load_config, parse_config
from unyo.flow.warehouse import REQUEST_COLUMNS


def test_defaults_are_cp932_csv_beside_the_shop_file(tmp_path: Path):
    path = tmp_path / "unyo.yaml"
    path.write_text("shop:\n  id: s\nwarehouse:\n  enabled: true\n", encoding="utf-8")
    w = load_config(path).warehouse
    assert w.enabled and w.type == "csv" and w.encoding == "cp932"
    assert w.path("requests") == tmp_path / "warehouse" / "requests"
    assert w.columns == REQUEST_COLUMNS and w.interval == 300.0


def test_columns_results_headers_encoding_and_cadence():
    w = parse_config("warehouse:\n  encoding: UTF8\n  interval: 15m\n  columns:\n"
                     "    order_number: 注文番号\n    basket_id: 配送先番号\n"
                     "  result_columns:\n    tracking_number: 送り状番号\n").warehouse
    assert w.encoding == "utf-8" and w.interval == 900.0
    assert w.columns == {"order_number": "注文番号", "basket_id": "配送先番号"}
    assert w.result_columns["tracking_number"] == "送り状番号"
    assert w.result_columns["order_number"] == "受注番号"


@pytest.mark.parametrize(("text", "message"), [
    ("warehouse:\n  type: ftp\n", r":2: warehouse\.type: 'ftp' is not a warehouse type"),
    ("warehouse:\n  encoding: euc-jp\n", r":2: warehouse\.encoding: 'euc-jp': use cp932"),
    ("warehouse:\n  columns:\n    colour: 色\n", r":2: warehouse\.columns: 'colour' is not"),
    ("warehouse:\n  columns:\n    order_number: 受注番号\n",
     r":2: warehouse\.columns: request files need basket_id"),
    ("warehouse:\n  batch: 0\n", r":2: warehouse\.batch: expected a whole number"),
    ("warehouse:\n  results: ../x\n", r":2: warehouse\.results: expected a folder name"),
    ("warehouse:\n  shelf: 3\n", r":2: warehouse\.shelf: unknown key"),
])
def test_mistakes_are_reported_with_line_and_key(text: str, message: str):
    with pytest.raises(ConfigError, match=message):
        parse_config(text, "unyo.yaml")
