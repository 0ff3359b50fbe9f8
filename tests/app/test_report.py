"""The automation-rate report on a hand-checked set of orders."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.factories import BUYER, T0, channel_order, minutes
from tests.fakes import FakeChannel
from unyo.adapters.db import Store
from unyo.app.context import ShopContext
from unyo.app.dashboard import Dashboard
from unyo.app.importing import import_orders
from unyo.app.manual import release
from unyo.app.report import build_report
from unyo.app.syncing import sync_orders
from unyo.clock import SimClock
from unyo.domain import GateKind
from unyo.domain.rules import compile_rules
from unyo.flow import Config

RULES = compile_rules([{"name": "備考欄あり", "when": {"field": "remarks", "op": "not_empty"},
                        "then": [{"check": "備考欄を確認"}]}])


def n(i: int) -> str:
    return f"123456-20261127-{i:010d}"


def test_automation_rate_touches_and_dwell_on_a_hand_checked_set(store: Store):
    # given four orders, each from another buyer, imported at T0 + 1 min
    channel = FakeChannel()
    clock = SimClock(T0 + minutes(1))
    ctx = ShopContext(Config(shop_id="shop", rules=RULES), store, channel, clock)

    def order(i: int, **kw):  # type: ignore[no-untyped-def]
        buyer = replace(BUYER, phone=f"03-0000-000{i}")
        channel.put(channel_order(n(i), member=False, buyer=buyer, **kw))

    order(1, status=300, confirmed_at=T0)  # flows through on its own
    order(2, status=300, confirmed_at=T0, remarks="[メッセージ:]\n領収書希望")
    order(3, status=300, confirmed_at=T0, remarks="[メッセージ:]\n不在時は宅配ボックス")
    order(4, status=200, confirmed_at=T0)  # waits for payment
    import_orders(ctx)
    # when payment comes for #4 after 10 minutes and a person checks #2 and #3
    clock.set(T0 + minutes(11))
    channel.put(replace(channel.orders[n(4)], status=300))
    sync_orders(ctx)
    release(store, "shop", n(2), GateKind.check, note="確認済", by="suzuki",
            now=T0 + minutes(31))
    release(store, "shop", n(3), GateKind.check, note="確認済", by="suzuki",
            now=T0 + minutes(61))
    # then the report counts 2 of 4 orders as automated and ranks the rule
    rep = build_report(store, "shop", T0, T0 + timedelta(days=1))
    assert rep.basis == "ready"  # nothing has shipped in this shop
    assert (rep.orders, rep.automated, rep.automation_rate) == (4, 2, 0.5)
    assert [(t.reason, t.count, t.share) for t in rep.manual_touches] == [("備考欄あり", 2, 1.0)]
    # the dashboard counts the same day with the same definition
    (today,) = Dashboard(store, Config(shop_id="shop"), clock).automation(days=1).days
    assert (today.orders, today.automated) == (rep.orders, rep.automated)
    # processing took 0, 10, 30 and 60 minutes
    (processing,) = rep.stage_dwell
    assert (processing.name, processing.count) == ("processing", 4)
    assert (processing.p50_minutes, processing.p90_minutes) == (20.0, 51.0)
    gates = {d.name: (d.count, d.p50_minutes) for d in rep.gate_dwell}
    assert gates == {"check": (2, 45.0), "payment": (1, 10.0)}
    assert rep.waiting_now == {}
    # and a period that excludes them is empty
    empty = build_report(store, "shop", T0 + timedelta(days=1), T0 + timedelta(days=2))
    assert (empty.orders, empty.automation_rate) == (0, None)
