"""注文確認 end to end against the RMS emulator over real HTTP (issue 17 items 1 and 2):
every payment method is imported and confirmed; the confirmation is decided after the
rules; a rule's `confirm: wait` keeps it back until a person releases it; postage -9999
is never sent and is confirmed once the sync sees it set — no failed effect, no alert."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from unyo.adapters.db import Store
from unyo.app.context import ShopContext
from unyo.app.importing import import_orders
from unyo.app.manual import release
from unyo.app.outbox import deliver_effects
from unyo.app.syncing import sync_orders
from unyo.app.views import order_view
from unyo.clock import JST, SimClock
from unyo.domain import Actor, EventType, GateKind, Order
from unyo.domain.confirmation import REASON_POSTAGE
from unyo.domain.rules import compile_rules
from unyo.flow import Config, ImportSettings, RmsSettings
from unyo.sandbox import GeneratedOrder, RmsEmulator, RmsEmulatorServer, generate_orders
from unyo.wiring import build_context

DAY = datetime(2026, 11, 26, tzinfo=JST)
ENV = {"RMS_SERVICE_SECRET": "SP-test", "RMS_LICENSE_KEY": "SL-test"}
ISLAND_NOTE = "離島送料確認"
RULES = compile_rules([
    {"name": "離島送料", "when": {"field": "remarks_raw", "op": "contains", "value": ISLAND_NOTE},
     "then": [{"confirm": {"wait": True, "reason": "離島の送料を確定してから注文確認"}}]},
])


def _pick(orders: list[GeneratedOrder], test: Callable[[dict[str, Any]], bool],
          taken: set[str]) -> GeneratedOrder:
    found = next(o for o in orders if test(o.model) and o.order_number not in taken)
    taken.add(found.order_number)
    return found


def _at_100(order: GeneratedOrder, **model: Any) -> GeneratedOrder:
    """The order as RMS holds it before 注文確認, paid 5 minutes after it, never
    cancelled by its buyer."""
    m = copy.deepcopy(order.model)
    m.update(orderProgress=100, shopOrderCfmDatetime=None, **model)
    return replace(order, model=m, payment_delay=timedelta(minutes=5), self_cancel_after=None,
                   auth_fails=False)


class Rig:
    def __init__(self, store: Store) -> None:
        generated = generate_orders(300, seed=11, start=DAY, end=DAY + timedelta(hours=6))
        taken: set[str] = set()
        fixed = lambda m: m["postagePrice"] != -9999  # noqa: E731
        cod = _pick(generated, lambda m: m["SettlementModel"]["rpaySettlementFlag"] == 0
                    and m["SettlementModel"]["settlementMethodCode"] == 2 and fixed(m), taken)
        unfixed = _pick(generated, lambda m: m["postagePrice"] == -9999
                        and m["SettlementModel"]["rpaySettlementFlag"] == 1, taken)
        island = _pick(generated, lambda m: m["SettlementModel"]["rpaySettlementFlag"] == 1
                       and fixed(m), taken)
        self.cod, self.unfixed = _at_100(cod), _at_100(unfixed)
        self.island = _at_100(island, remarks=f"[備考:]\n{ISLAND_NOTE}")
        self.clock = SimClock(DAY)
        self.emulator = RmsEmulator(self.clock, service_secret="SP-test", license_key="SL-test",
                                    orders=[self.cod, self.unfixed, self.island], seed=11)
        self.server = RmsEmulatorServer(self.emulator).start()
        settings = RmsSettings(base_url=self.server.base_url, min_interval=0.0, timeout=5.0)
        config = Config(shop_id="shop", rms=settings, rules=RULES,
                        import_=ImportSettings(lookback=2 * 86400.0))
        self.ctx: ShopContext = build_context(config, clock=self.clock, store=store, env=ENV)

    def progress(self, order: GeneratedOrder) -> int:
        return int(self.emulator.order_model(order.order_number)["orderProgress"])

    def load(self, order: GeneratedOrder) -> Order:
        with self.ctx.store.transaction() as conn:
            found = self.ctx.store.load_order(conn, "shop", order.order_number)
        assert found is not None
        return found

    def effects(self, order: GeneratedOrder) -> list[tuple[str, str]]:
        loaded = self.load(order)
        assert loaded.id is not None
        with self.ctx.store.transaction() as conn:
            return [(e.kind.value, e.status) for e in self.ctx.store.effects_of(conn, loaded.id)
                    if e.kind.value == "confirm_order"]

    def events(self, order: GeneratedOrder) -> list[Any]:
        loaded = self.load(order)
        assert loaded.id is not None
        with self.ctx.store.transaction() as conn:
            return self.ctx.store.events_of(conn, loaded.id)


@pytest.fixture
def rig(store: Store) -> Iterator[Rig]:
    r = Rig(store)
    yield r
    r.server.stop()


def confirm_gates(order: Order) -> list[str]:
    return [g.reason for g in order.open_gates if g.kind is GateKind.confirm]


def test_every_payment_method_is_confirmed_after_the_rules_and_postage_waits(rig: Rig):
    latest = max(o.ordered_at for o in (rig.cod, rig.unfixed, rig.island))
    rig.clock.set(latest + timedelta(hours=1))

    # import → rules → confirm or wait
    assert import_orders(rig.ctx).imported == 3
    assert rig.ctx.channel.calls["confirmOrder"] == 0  # nothing before the outbox runs
    delivered = deliver_effects(rig.ctx)
    assert (delivered.delivered, delivered.failed) == ({"confirm_order": 1}, 0)
    assert rig.progress(rig.cod) == 200  # 代引き (選択制決済) at 100: imported and confirmed
    assert rig.progress(rig.unfixed) == 100  # never sent with postage -9999
    assert rig.progress(rig.island) == 100  # kept back by confirm: wait
    assert confirm_gates(rig.load(rig.unfixed)) == [REASON_POSTAGE]
    assert confirm_gates(rig.load(rig.island)) == ["離島の送料を確定してから注文確認"]
    with rig.ctx.store.transaction() as conn:
        shown = order_view(rig.ctx.store, conn, "shop", rig.unfixed.order_number,
                           rig.clock.now())
    assert shown is not None and shown["auto_cancel"]["text"].startswith("自動キャンセルまで残り")

    # the shop fixes the postage in RMS: the sync sees it, the gate closes by itself
    rig.emulator.change_order(rig.unfixed.order_number, postagePrice=1200)
    rig.clock.advance(600)
    sync_orders(rig.ctx)
    unfixed = rig.load(rig.unfixed)
    assert confirm_gates(unfixed) == []
    assert not any(g.kind is GateKind.check for g in unfixed.open_gates)
    # a person releases the island order's confirmation
    release(rig.ctx.store, "shop", rig.island.order_number, GateKind.confirm,
            note="送料確定済み", by="sato", now=rig.clock.now())
    delivered = deliver_effects(rig.ctx)
    assert (delivered.delivered, delivered.failed) == ({"confirm_order": 2}, 0)
    assert rig.progress(rig.unfixed) == 200 and rig.progress(rig.island) == 200
    requested = [e for e in rig.events(rig.island) if e.type is EventType.confirm_requested]
    assert [(e.actor, e.data) for e in requested] == [(Actor.person,
                                                      {"after": "released", "by": "sato"})]

    # paid at RMS: the sync sees 300 and the orders flow on; nothing failed, nothing twice
    rig.clock.advance(900)
    sync_orders(rig.ctx)
    assert deliver_effects(rig.ctx).delivered == {}
    for order in (rig.cod, rig.unfixed, rig.island):
        assert rig.progress(order) == 300
        assert rig.effects(order) == [("confirm_order", "done")]
        assert rig.load(order).stage.value == "ready"
        assert not any(e.type is EventType.effect_failed for e in rig.events(order))


def test_rms_refuses_confirm_order_of_postage_9999_with_error_105(rig: Rig):
    """What unyo never sends, RMS (the emulator, as Rakuten does) refuses: the client maps
    ERROR_105 to a permanent refusal saying why."""
    rig.clock.set(max(o.ordered_at for o in (rig.cod, rig.unfixed)) + timedelta(minutes=1))
    # only a destination's postage open: refused too
    model = rig.emulator.order_model(rig.cod.order_number)
    packages = copy.deepcopy(model["PackageModelList"])
    packages[0]["postagePrice"] = -9999
    rig.emulator.corrupt(rig.cod.order_number, PackageModelList=packages)
    outcomes = rig.ctx.channel.confirm([rig.unfixed.order_number, rig.cod.order_number])
    for number in (rig.unfixed.order_number, rig.cod.order_number):
        outcome = outcomes[number]
        assert (outcome.ok, outcome.permanent) == (False, True)
        assert "ERROR_105" in outcome.message and "送料が未確定" in outcome.message
    assert rig.progress(rig.unfixed) == rig.progress(rig.cod) == 100
