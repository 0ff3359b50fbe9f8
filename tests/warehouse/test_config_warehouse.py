"""The `warehouse:` section of the shop file: defaults, columns, and mistakes with lines."""

from __future__ import annotations

from dataclasses import replace
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
    ("warehouse:\n  substitutions: 吉\n", r":2: warehouse\.substitutions: expected a mapping"),
    ("warehouse:\n  substitutions:\n    𠮷田: 吉田\n",
     r":2: warehouse\.substitutions: '𠮷田': a key is one character"),
    ("warehouse:\n  substitutions:\n    U+D800: x\n",
     r":2: warehouse\.substitutions: U\+D800: not a character"),
    ("warehouse:\n  encoding: cp932\n  substitutions:\n    𪚲: 😀\n",
     r":3: warehouse\.substitutions: 𪚲 \(U\+2A6B2\): the substitute '😀' is not printable in "
     r"cp932 \(😀 \(U\+1F600\)\)"),
    ("warehouse:\n  substitutions:\n    —: {name: ー}\n",
     r":2: warehouse\.substitutions: —: expected the substitute text, or \{name: …, other: …\}"),
])
def test_mistakes_are_reported_with_line_and_key(text: str, message: str):
    with pytest.raises(ConfigError, match=message):
        parse_config(text, "unyo.yaml")


def test_substitutions_go_over_the_shipped_table_and_rules_read_them():
    from tests.factories import BUYER, T0, channel_order
    from unyo.domain import ImportOrder, decide
    from unyo.domain.decide import ApplyRules
    from unyo.domain.printing import DEFAULT_SUBSTITUTIONS, Substitute, substitute
    from unyo.domain.rules import Facts
    from unyo.flow.config import render_init

    init = render_init("shop")
    own = init.replace("  batch: 1000 ", "  substitutions:\n    𪚲: 龍\n    U+200B: \"\"\n"
                       "    —: {name: ー, other: \"-\"}\n    😀:\n  batch: 1000 ", 1)
    w = parse_config(own).warehouse
    assert w.substitutions == {"𪚲": Substitute.same("龍"), "\u200b": Substitute.same(""),
                               "—": Substitute("ー", "-"), "😀": Substitute.same("")}
    assert w.printing.substitutions["𠮷"] == DEFAULT_SUBSTITUTIONS["𠮷"]
    assert substitute("1—2", w.printing).text == "1-2"
    utf8 = init.replace("  encoding: cp932 ", "  encoding: utf-8 ", 1)

    def stopped(text: str, name: str) -> list[str]:
        rules = parse_config(text).rules
        person = replace(BUYER, family_name=name)
        channel = channel_order(status=300, packages=(replace(
            channel_order().packages[0], recipient=person),))
        order = decide(None, ImportOrder("shop", channel, T0)).order
        order = decide(order, ApplyRules(rules, Facts(past_orders=1, postal_code_valid=True),
                                         T0, lambda d: d)).order
        return [g.reason for g in order.open_gates]

    assert stopped(init, "𪚲田") == ["送付先氏名に印字できない文字「𪚲」(U+2A6B2)"]
    assert stopped(own, "𪚲田") == [] and stopped(own, "😀") == []
    assert stopped(utf8, "𪚲田") == []  # the warehouse reads UTF-8: nothing to stop
