"""`unyo orders list|show` read what `unyo run` stored."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.cli.conftest import Cli
from tests.conftest import BACKEND


def test_list_all_orders_newest_first(cli: Cli, imported: dict[str, Any]) -> None:
    rows = cli.json("orders", "list", "-c", str(cli.config), "--limit", "1000")["orders"]
    assert len(rows) == sum(imported["stages"].values())
    assert set(rows[0]) >= {"order_number", "stage", "rms_status", "ordered_at", "total",
                            "buyer_name", "open_gates"}
    ordered = [r["ordered_at"] for r in rows]
    assert ordered == sorted(ordered, reverse=True)


def test_list_by_stage(cli: Cli, imported: dict[str, Any]) -> None:
    for stage, count in imported["stages"].items():
        rows = cli.json("orders", "list", "-c", str(cli.config), "--stage", stage,
                        "--limit", "1000")["orders"]
        assert len(rows) == count
        assert {r["stage"] for r in rows} == {stage}


def test_list_by_open_gate(cli: Cli, imported: dict[str, Any]) -> None:
    rows = cli.json("orders", "list", "-c", str(cli.config), "--gate", "payment",
                    "--limit", "1000")["orders"]
    assert rows, "generated day has orders still waiting for payment"
    assert all(any(g["kind"] == "payment" for g in r["open_gates"]) for r in rows)
    assert all(r["stage"] == "processing" for r in rows)


def test_list_limit(cli: Cli, imported: dict[str, Any]) -> None:
    assert len(cli.json("orders", "list", "-c", str(cli.config), "--limit", "3")["orders"]) == 3


def test_list_invalid_stage_is_a_usage_error(cli: Cli) -> None:
    result = cli("orders", "list", "-c", str(cli.config), "--stage", "done", "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "'done' is not one of" in result.stderr and "processing" in result.stderr


def test_list_invalid_gate_is_a_usage_error(cli: Cli) -> None:
    result = cli("orders", "list", "-c", str(cli.config), "--gate", "nope")
    assert result.exit_code == 2
    assert "'nope' is not one of" in result.stderr


def test_list_on_an_empty_database(cli: Cli) -> None:
    assert cli.json("orders", "list", "-c", str(cli.config))["orders"] == []


def test_list_human_table(cli: Cli, imported: dict[str, Any]) -> None:
    result = cli("orders", "list", "-c", str(cli.config), "--limit", "2",
                 env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.stderr
    assert "注文番号" in result.stdout


@pytest.mark.parametrize("columns", ["80", "60"])
def test_list_keeps_order_numbers_whole_on_a_narrow_terminal(cli: Cli, imported: dict[str, Any],
                                                             columns: str) -> None:
    """An order number is copied from here into RMS: narrow columns shrink first."""
    rows = cli.json("orders", "list", "-c", str(cli.config), "--limit", "20")["orders"]
    result = cli("orders", "list", "-c", str(cli.config), "--limit", "20",
                 env={"COLUMNS": columns})
    assert result.exit_code == 0, result.stderr
    for r in rows:
        assert r["order_number"] in result.stdout
    for raw in ("processing", "payment:", "check:", "+09:00"):  # words, not keys; JST shown
        assert raw not in result.stdout


def test_show_one_order(cli: Cli, imported: dict[str, Any]) -> None:
    row = cli.json("orders", "list", "-c", str(cli.config), "--gate", "payment")["orders"][0]
    doc = cli.json("orders", "show", row["order_number"], "-c", str(cli.config))
    assert set(doc) == {"order", "gates", "events", "effects", "merge", "auto_cancel",
                        "confirm_due"}
    assert doc["merge"] is None  # 同梱: merged into another order or carrying others
    assert doc["order"]["order_number"] == row["order_number"]
    assert doc["order"]["stage"] == "processing"
    assert [g["kind"] for g in doc["gates"] if g["closed_at"] is None] == ["payment"]
    assert doc["events"][0]["type"] == "order_imported"
    assert {f["kind"] for f in doc["effects"]} >= {"confirm_order", "send_mail"}


def test_show_human(cli: Cli, imported: dict[str, Any]) -> None:
    rows = cli.json("orders", "list", "-c", str(cli.config), "--limit", "1")["orders"]
    number = rows[0]["order_number"]
    result = cli("orders", "show", number, "-c", str(cli.config))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(number)
    assert "楽天から取込（RMS " in result.stdout and "自動（unyo）" in result.stdout
    for raw in ("order_imported", "gate_opened", "stage=", "{'", "system", "+00:00"):
        assert raw not in result.stdout, raw  # no key, no dict, no UTC
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d  楽天から取込", result.stdout)


def test_show_unknown_number(cli: Cli, imported: dict[str, Any]) -> None:
    result = cli("orders", "show", "999999-20261127-0000000000", "-c", str(cli.config), "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "no order 999999-20261127-0000000000 in shop clitest" in result.stderr


def test_orders_of_another_shop_are_not_shown(cli: Cli, imported: dict[str, Any]) -> None:
    other = cli.config.with_name("other.yaml")
    other.write_text("shop:\n  id: othershop\n", encoding="utf-8")
    assert cli.json("orders", "list", "-c", str(other))["orders"] == []


def test_explicit_missing_config_is_an_error(cli: Cli) -> None:
    result = cli("orders", "list", "-c", str(cli.config.with_name("nope.yaml")), "--json")
    assert result.exit_code == 2
    assert "file not found" in result.stderr


def test_default_shop_file_is_the_one_in_the_current_directory(
        cli: Cli, imported: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(cli.config.parent)
    rows = cli.json("orders", "list", "--limit", "1000")["orders"]
    assert len(rows) == sum(imported["stages"].values())


def test_db_upgrade_creates_the_database(cli: Cli) -> None:
    result = cli("db", "upgrade", "-c", str(cli.config))
    assert result.exit_code == 0, result.stderr
    assert "up to date" in result.stdout and (BACKEND != "sqlite" or cli.db.exists())


def test_list_failed_shows_the_orders_the_import_cannot_read(cli: Cli,
                                                             rms: Any) -> None:
    from datetime import timedelta

    from tests.cli.conftest import NOW, ORDERS
    from unyo.sandbox.generator import generate_orders
    generated = generate_orders(ORDERS, seed=7, start=NOW - timedelta(days=1), end=NOW)
    victim = next(o.order_number for o in generated  # one the run would import
                  if o.ordered_at < NOW - timedelta(hours=2)
                  and rms.emulator.order_model(o.order_number)["orderProgress"] in (100, 300))
    rms.emulator.corrupt(victim, goodsPrice="--5", remarks="<b>[red]x[/red]</b>")
    doc = cli.json("run", "-c", str(cli.config), "--once", "--now", "2026-11-27T12:00:00+09:00")
    assert doc["steps"]["import"]["result"]["failed"] >= 1
    assert doc["steps"]["import"]["result"]["imported"] > 0  # the others came in
    rows = cli.json("orders", "list", "-c", str(cli.config), "--failed")
    assert [r["order_number"] for r in rows] == [victim]
    assert "goodsPrice is not an integer: '--5'" in rows[0]["reason"]
    assert rows[0]["next_try_at"].endswith("+09:00") and rows[0]["attempts"] == 1
    text = cli("orders", "list", "-c", str(cli.config), "--failed")
    assert text.exit_code == 0 and victim in text.stdout and "理由" in text.stdout
    assert "goodsPrice" in text.stdout


def test_list_failed_when_none(cli: Cli) -> None:
    assert cli.json("orders", "list", "-c", str(cli.config), "--failed") == []
    assert "取り込めない注文はありません" in cli("orders", "list", "-c", str(cli.config),
                                              "--failed").stdout


# ---- --explain and the list's gate fields (issue 15 item 6) ---------------------------------

@pytest.fixture
def init_flow(cli: Cli) -> Cli:
    """The untouched `unyo init` file (its rules as written), run once against the emulator."""
    from unyo.flow.config import render_init

    text = render_init("clitest").replace("min_interval: 1s", "min_interval: 0s")
    cli.config.write_text(text, encoding="utf-8")
    result = cli("run", "-c", str(cli.config), "--once", "--now", NOW_ISO)
    assert result.exit_code == 0, result.stderr
    return cli


NOW_ISO = "2026-11-27T12:00:00+09:00"


def test_list_json_gives_each_gate_its_kind_cause_rule_until_and_the_total(
        init_flow: Cli) -> None:
    cli = init_flow
    doc = cli.json("orders", "list", "-c", str(cli.config), "--limit", "5")
    every = cli.json("orders", "list", "-c", str(cli.config), "--limit", "1000")
    assert doc["limit"] == 5 and len(doc["orders"]) == 5
    assert doc["total"] == every["total"] == len(every["orders"]) > 5
    gates = [g for r in every["orders"] for g in r["open_gates"]]
    assert gates and all(set(g) >= {"kind", "reason", "rule", "until", "cause", "opened_at"}
                         for g in gates)
    ruled = [g for g in gates if g["rule"]]
    assert ruled, "the init flow's rules stop some of the generated orders"
    for g in ruled:  # a rule's gate names the fields that hold, with their values
        assert g["cause"]["rule"] == g["rule"] and g["cause"]["source"] == "rule"
        assert g["cause"]["fields"], g
    for g in gates:
        if g["kind"] == "hold":
            assert g["until"] and g["until"].endswith("+09:00")
    payment = cli.json("orders", "list", "-c", str(cli.config), "--gate", "payment",
                       "--limit", "1")
    assert payment["total"] == sum(1 for r in every["orders"]
                                   if any(g["kind"] == "payment" for g in r["open_gates"]))


def test_show_explain_lists_every_rule_with_its_verdict_and_values(init_flow: Cli) -> None:
    cli = init_flow
    rows = cli.json("orders", "list", "-c", str(cli.config), "--gate", "check",
                    "--limit", "1000")["orders"]
    row = next(r for r in rows if any(g["rule"] for g in r["open_gates"]))
    doc = cli.json("orders", "show", row["order_number"], "-c", str(cli.config), "--explain")
    e = doc["explain"]
    from unyo.flow.config import parse_config, render_init
    names = [r.name for r in parse_config(render_init("clitest")).rules]
    assert [r["name"] for r in e["rules"]] == names  # every rule, in file order
    assert {r["verdict"] for r in e["rules"]} <= {"matched", "not_matched", "not_evaluated"}
    matched = {r["name"] for r in e["rules"] if r["verdict"] == "matched"}
    assert {g["rule"] for g in row["open_gates"] if g["rule"] and g["kind"] == "check"} <= matched
    assert {d["key"] for d in e["derived"]} >= {"remarks", "release_date", "unprintable",
                                                "postal_code", "merge"}
    text = cli("orders", "show", row["order_number"], "-c", str(cli.config), "--explain")
    assert text.exit_code == 0, text.stderr
    assert "ルールの判定" in text.stdout and "ルールが読んだ値" in text.stdout
    for name in names:
        assert name in text.stdout
    assert "該当" in text.stdout and "発売日の読み取り" in text.stdout
    for raw in ("matched", "not_evaluated", "remarks", "release_date", "{'", "normal"):
        assert raw not in text.stdout, raw


def test_list_search_as_in_the_dashboard(cli: Cli, imported: dict[str, Any]) -> None:
    def listed(*args: str) -> dict[str, Any]:
        return cli.json("orders", "list", "-c", str(cli.config), "--limit", "1000", *args)

    every = listed()["orders"]
    found = listed("--search", "高橋")  # the generator writes 髙橋
    numbers = {r["order_number"] for r in found["orders"]}
    assert numbers >= {r["order_number"] for r in every if r["buyer_name"].startswith("髙橋")}
    assert numbers and len(numbers) < len(every)
    assert found["total"] == len(numbers)  # the total counts what the search finds
    kana = listed("--search", "ﾀｶﾊｼ")["orders"]
    assert {r["order_number"] for r in kana} == numbers
    one = every[0]["order_number"]
    assert [r["order_number"] for r in listed("--search", one[-10:])["orders"]] == [one]
    assert listed("--search", "%' OR 1=1") == {"total": 0, "limit": 1000, "orders": []}
