"""Manual actions from the CLI: release, hold, cancel — recorded as a person's touch."""

from __future__ import annotations

from typing import Any

from tests.cli.conftest import Cli


def first_with_gate(cli: Cli, kind: str) -> str:
    rows = cli.json("orders", "list", "-c", str(cli.config), "--gate", kind, "--json",
                    "--limit", "1000")["orders"]
    assert rows, f"no order with an open {kind} gate"
    return str(rows[0]["order_number"])


def test_release_a_payment_gate_with_a_note(cli: Cli, imported: dict[str, Any]) -> None:
    # given an order waiting for payment
    number = first_with_gate(cli, "payment")
    # when a person releases it
    result = cli("orders", "release", number, "--gate", "payment", "--note", "銀行振込を確認",
                 "--by", "suzuki", "-c", str(cli.config), "--json")
    # then its payment gate is closed, and the order shows who did it and why
    assert result.exit_code == 0, result.stderr
    assert all(g["kind"] != "payment" for g in _json(result)["open_gates"])
    shown = cli.json("orders", "show", number, "-c", str(cli.config), "--json")
    (closed,) = [e for e in shown["events"] if e["type"] == "gate_closed"]
    assert closed["actor"] == "person"
    assert closed["data"]["by"] == "suzuki" and closed["data"]["note"] == "銀行振込を確認"


def test_hold_until_and_cancel(cli: Cli, imported: dict[str, Any]) -> None:
    number = first_with_gate(cli, "payment")
    held = cli("orders", "hold", number, "--until", "2030-01-01T09:00", "--note", "発売日待ち",
               "-c", str(cli.config), "--json")
    assert held.exit_code == 0, held.stderr
    assert {"kind": "hold", "reason": "発売日待ち", "rule": ""} in _json(held)["open_gates"]
    unknown = cli("orders", "cancel", number, "--reason", "7", "-c", str(cli.config))
    assert unknown.exit_code != 0 and "キャンセル理由 7 はありません" in unknown.stderr
    cancelled = cli("orders", "cancel", number, "--note", "お客様都合", "--reason", "8",
                    "-c", str(cli.config), "--json")
    assert cancelled.exit_code == 0, cancelled.stderr
    assert _json(cancelled) == {"order_number": number, "stage": "cancelled", "open_gates": []}
    shown = cli.json("orders", "show", number, "-c", str(cli.config), "--json")
    (effect,) = [e for e in shown["effects"] if e["kind"] == "cancel_at_rms"]
    assert effect["status"] == "pending"


def test_cancel_help_lists_rakutens_reasons(cli: Cli) -> None:
    shown = cli("orders", "cancel", "--help")
    assert shown.exit_code == 0
    text = "".join(c for c in shown.stdout if c not in "│ \n")  # rich's box, wrapped
    assert "--reason" in text and "8欠品" in text and "1キャンセル" in text


def test_hold_until_a_release_date(cli: Cli, imported: dict[str, Any]) -> None:
    # given an order, when a person gives its release date (発売日)
    number = first_with_gate(cli, "payment")
    held = cli("orders", "hold", number, "--release-date", "2030-01-10", "--by", "sato",
               "-c", str(cli.config), "--json")
    # then it is held until that day, and the date is kept on the order
    assert held.exit_code == 0, held.stderr
    assert {"kind": "hold", "reason": "発売日待ち（2030-01-10）", "rule": ""} in _json(
        held)["open_gates"]
    shown = cli.json("orders", "show", number, "-c", str(cli.config), "--json")
    assert any(e["type"] == "field_set" and e["data"]["value"] == "2030-01-10"
               for e in shown["events"])
    bad = cli("orders", "hold", number, "--release-date", "来月", "-c", str(cli.config))
    assert bad.exit_code == 2 and "発売日「来月」を読み取れません" in bad.stderr


def test_bad_manual_actions_are_refused_clearly(cli: Cli, imported: dict[str, Any]) -> None:
    number = first_with_gate(cli, "payment")
    missing = cli("orders", "release", "999999-20261127-0000000000", "--gate", "check",
                  "-c", str(cli.config))
    assert missing.exit_code == 1 and "no order 999999-20261127-0000000000" in missing.stderr
    no_gate = cli("orders", "release", number, "--gate", "hold", "-c", str(cli.config))
    assert no_gate.exit_code == 1 and "has no such open gate" in no_gate.stderr
    past = cli("orders", "hold", number, "--until", "2000-01-01T00:00", "-c", str(cli.config))
    assert past.exit_code == 1 and "is not in the future" in past.stderr
    bad = cli("orders", "hold", number, "--until", "next week", "-c", str(cli.config))
    assert bad.exit_code == 2 and "--until: 'next week' is not an ISO-8601 instant" in bad.stderr
    kind = cli("orders", "release", number, "--gate", "nope", "-c", str(cli.config))
    assert kind.exit_code == 2


def _json(result: Any) -> Any:
    import json
    return json.loads(result.stdout)


def test_report_counts_the_manual_touch(cli: Cli, imported: dict[str, Any]) -> None:
    number = first_with_gate(cli, "payment")
    cli("orders", "release", number, "--gate", "payment", "--note", "入金確認",
        "-c", str(cli.config))
    doc = cli.json("report", "-c", str(cli.config), "--since", "2026-11-01", "--until",
                   "2030-01-01", "--json")
    assert doc["basis"] == "ready"
    assert doc["orders"] >= 1 and 0 <= doc["automation_rate"] < 1
    assert doc["manual_touches"][0]["reason"] == "入金待ち（楽天処理中）"
    human = cli("report", "-c", str(cli.config), "--since", "2026-11-01", "--until",
                "2030-01-01")
    assert human.exit_code == 0 and "自動化率" in human.stdout
    bad = cli("report", "-c", str(cli.config), "--since", "yesterday")
    assert bad.exit_code == 2 and "--since" in bad.stderr


def test_edit_the_recipient(cli: Cli, imported: dict[str, Any]) -> None:
    # given an order before hand-off, at the version `orders show` gives
    rows = cli.json("orders", "list", "-c", str(cli.config), "--json", "--limit", "1000")["orders"]
    number = next(str(r["order_number"]) for r in rows if r["stage"] in ("processing", "ready"))
    version = cli.json("orders", "show", number, "-c", str(cli.config),
                       "--json")["order"]["version"]
    # when a person fixes the postal code and the address, with full-width digits
    result = cli("orders", "edit", number, "--recipient-postal-code", "１００－０００１",
                 "--recipient-prefecture", "東京都", "--recipient-city", "千代田区",
                 "--recipient-address", "千代田１－１", "--version", str(version),
                 "--note", "お客様から電話", "--by", "suzuki", "-c", str(cli.config))
    # then it says so in Japanese, and the order keeps it with who and why
    assert result.exit_code == 0, result.stderr
    assert "送付先を" in result.stdout and "〒1000001 東京都千代田区千代田1-1" in result.stdout
    assert "_" not in result.stdout.split("\n")[1]  # no internal key in the text
    shown = cli.json("orders", "show", number, "-c", str(cli.config), "--json")
    (edited,) = [e for e in shown["events"] if e["type"] == "recipient_edited"]
    assert edited["data"]["by"] == "suzuki" and edited["data"]["note"] == "お客様から電話"
    assert any(e["kind"] == "update_at_rms" for e in shown["effects"])
    # a stale version and a bad value are refused in Japanese, changing nothing
    stale = cli("orders", "edit", number, "--recipient-city", "港区", "--version",
                str(version), "-c", str(cli.config))
    assert stale.exit_code == 1 and "他の操作で更新されました" in stale.stderr
    bad = cli("orders", "edit", number, "--recipient-phone", "12", "-c", str(cli.config))
    assert bad.exit_code == 2 and "電話番号は10桁か11桁の数字" in bad.stderr
    after = cli.json("orders", "show", number, "-c", str(cli.config), "--json")
    assert [e["type"] for e in after["events"]].count("recipient_edited") == 1


def test_edit_the_memo_and_delivery_time(cli: Cli, imported: dict[str, Any]) -> None:
    rows = cli.json("orders", "list", "-c", str(cli.config), "--json", "--limit", "1000")["orders"]
    number = next(str(r["order_number"]) for r in rows if r["stage"] in ("processing", "ready"))
    result = cli("orders", "edit", number, "--memo", "再配達注意", "--delivery-time", "１４－１６",
                 "--by", "suzuki", "-c", str(cli.config))
    assert result.exit_code == 0, result.stderr
    assert "時間帯 14-16時" in result.stdout
    shown = cli.json("orders", "show", number, "-c", str(cli.config), "--json")
    assert shown["order"]["memo"] == "再配達注意" and shown["order"]["shipping_term"] == "1416"
    effects = [e for e in shown["effects"] if e["kind"] == "update_at_rms"]
    assert len(effects) == 1
    bad = cli("orders", "edit", number, "--delivery-time", "25-26", "-c", str(cli.config))
    assert bad.exit_code == 2 and "お届け時間帯は" in bad.stderr
