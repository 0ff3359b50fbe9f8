"""`unyo demo --headless --json`: the sandbox day, summarised as one JSON object."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from unyo.cli import app


def test_demo_headless_json_summary(tmp_path: Path) -> None:
    # given no Rakuten account and no credentials at all
    env = {"RMS_SERVICE_SECRET": None, "RMS_LICENSE_KEY": None, "UNYO_RMS_BASE_URL": None,
           "UNYO_DATABASE_URL": None}
    # when the demo runs as fast as it can
    result = CliRunner().invoke(app, ["demo", "--headless", "--json", "--orders", "40",
                                      "--speed", "0", "--seed", "3",
                                      "--database", f"sqlite:///{tmp_path / 'demo.db'}"],
                                env=env)
    # then stdout is one JSON object with the documented keys
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) >= {"orders", "stages", "gates_open", "rms_progress", "api_calls"}
    assert doc["orders"] == 40
    assert 0 < sum(doc["stages"].values()) <= 40
    released = sum(doc["stages"].get(s, 0) for s in ("ready", "at_warehouse", "shipped"))
    assert released > 0  # released by payment
    assert all(isinstance(v, int) for v in doc["gates_open"].values())
    assert set(doc["rms_progress"]) <= {"100", "200", "300", "400", "500", "600", "700",
                                        "800", "900"}
    # an order left at 100 注文確認待ち is one confirmOrder refused (a person checks it) or
    # one whose confirmation waits for its postage (送料を確定してください)
    assert doc["rms_progress"].get("100", 0) <= doc["gates_open"].get("check", 0) + \
        doc["gates_open"].get("confirm", 0)
    assert {"searchOrder", "getOrder", "confirmOrder"} <= set(doc["api_calls"])
    assert all(s["last_error"] is None for s in doc["steps"].values())
    # and every imported order got its thanks mail through the sandbox SMTP server
    assert doc["mails"]["thanks"] == doc["imported"]
    assert doc["mails"]["failed"] == 0
    # and every shipped order was reported to RMS, which moved it to 500 the next day
    assert doc["stages"].get("shipped", 0) > 0
    assert doc["rms_progress"].get("500", 0) == doc["stages"]["shipped"]
    warehouse = doc["warehouse"]
    assert warehouse["requests"] >= doc["stages"]["shipped"] and warehouse["errors"] == 0
    # (an order held for its delivery date may be handed off as the demo ends)
    assert warehouse["results"] <= warehouse["requests"]
    assert {"updateOrderShippingAsync", "getResultUpdateOrderShippingAsync"} <= set(
        doc["api_calls"])
    # the order types (issue 17): each counted; a routine one has no failed effect, and
    # every one is past the hand-off or waits with a reason
    types = doc["order_types"]
    assert set(types) == {"store_pickup", "drop_off", "social_gift", "same_day",
                          "next_day_cert", "caution"}
    for t in types.values():
        assert t["failed_effects"] == 0
        waiting = sum(n for reasons in t["waiting_for"].values() for n in reasons.values())
        assert sum(t["stages"].values()) == t["orders"] and t["orders"] <= 40
        assert t["stages"].get("processing", 0) + t["stages"].get("ready", 0) <= waiting
    assert (tmp_path / "demo.db").exists()


def test_demo_of_a_self_shipping_shop(tmp_path: Path) -> None:
    # given the sandbox day of a shop that packs itself
    env = {"RMS_SERVICE_SECRET": None, "RMS_LICENSE_KEY": None, "UNYO_RMS_BASE_URL": None,
           "UNYO_DATABASE_URL": None}
    result = CliRunner().invoke(app, ["demo", "--headless", "--json", "--orders", "40",
                                      "--speed", "0", "--seed", "3", "--warehouse", "self",
                                      "--database", f"sqlite:///{tmp_path / 'demo.db'}"],
                                env=env)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    wh = doc["warehouse"]
    # then its staff printed batches of 納品書 (no request file) and brought the
    # tracking numbers back; every shipped order is at RMS 500
    assert wh["requests"] == 0 and wh["batches"] > 0 and wh["print_errors"] == 0
    assert wh["printed"] >= doc["stages"]["shipped"] > 0 and wh["errors"] == 0
    assert doc["events"].get("slips_printed", 0) == wh["printed"]
    assert doc["rms_progress"].get("500", 0) == doc["stages"]["shipped"]
    # and every shippable order shipped: none is left waiting to be printed or packed
    assert not doc["stages"].get("ready") and not doc["stages"].get("at_warehouse")
    assert all(s["last_error"] is None for s in doc["steps"].values())
