"""The engine against the RMS emulator over real HTTP, on a shared simulated clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from unyo.adapters.db import Store
from unyo.app.context import ShopContext
from unyo.app.importing import import_orders
from unyo.app.manual import hold
from unyo.app.outbox import deliver_effects
from unyo.app.runner import Runner
from unyo.app.syncing import sync_orders
from unyo.clock import JST, SimClock
from unyo.domain import Stage
from unyo.flow import Config, ImportSettings, RmsSettings
from unyo.sandbox import FaultConfig, RmsEmulator, RmsEmulatorServer, generate_orders
from unyo.wiring import build_context

DAY = datetime(2026, 11, 26, tzinfo=JST)
ENV = {"RMS_SERVICE_SECRET": "SP-test", "RMS_LICENSE_KEY": "SL-test"}


class Rig:
    def __init__(self, store: Store, n: int, seed: int = 7, **rms: Any) -> None:
        self.clock = SimClock(DAY)
        self.generated = generate_orders(n, seed=seed, start=DAY, end=DAY + timedelta(days=1))
        self.emulator = RmsEmulator(self.clock, service_secret="SP-test",
                                    license_key="SL-test", orders=self.generated, seed=seed)
        self.server = RmsEmulatorServer(self.emulator).start()
        settings = RmsSettings(base_url=self.server.base_url, min_interval=0.0, timeout=5.0,
                               **rms)
        config = Config(shop_id="shop", rms=settings,
                        import_=ImportSettings(lookback=2 * 86400.0))
        self.ctx: ShopContext = build_context(config,
                                              clock=self.clock, store=store, env=ENV)

    def at(self, when: datetime) -> None:
        self.clock.set(when)

    def stages(self) -> dict[str, int]:
        with self.ctx.store.transaction() as conn:
            return self.ctx.store.stage_counts(conn, "shop")

    def imported(self) -> set[str]:
        with self.ctx.store.transaction() as conn:
            return set(self.ctx.store.order_numbers_in_stages(conn, "shop", list(Stage)))

    def rms_status(self, number: str) -> int:
        return int(self.emulator.order_model(number)["orderProgress"])


@pytest.fixture
def rig(store: Store, request: pytest.FixtureRequest) -> Iterator[Rig]:
    n = getattr(request, "param", 300)
    r = Rig(store, n)
    yield r
    r.server.stop()


@pytest.mark.parametrize("rig", [2500], indirect=True)
def test_a_day_of_2500_orders_imports_at_the_minimum_of_calls(rig: Rig):
    rig.at(DAY + timedelta(days=1, hours=1))
    result = import_orders(rig.ctx)
    visible = {n for n in (o.order_number for o in rig.generated)
               if rig.rms_status(n) in (100, 200, 300)}
    assert rig.imported() == visible
    assert result.imported == len(visible)
    calls = rig.ctx.channel.calls
    assert calls["searchOrder"] == -(-result.searched // 1000)  # 1000 per page
    assert calls["getOrder"] == -(-len(visible) // 100)
    deliver_effects(rig.ctx)
    # every payment method is confirmed; postage -9999 is never sent (it waits for it)
    to_confirm = sum(1 for o in rig.generated if o.order_number in visible
                     and (o.model["orderProgress"] == 100
                          or not o.model.get("shopOrderCfmDatetime"))
                     and o.model["postagePrice"] != -9999)
    assert calls["confirmOrder"] == -(-to_confirm // 100)


def test_member_orders_wait_30_minutes_others_come_at_the_next_poll(rig: Rig):
    first = rig.generated[0]
    rig.at(first.ordered_at + timedelta(minutes=1))
    import_orders(rig.ctx)
    models = {o.order_number: o.model for o in rig.generated
              if o.ordered_at <= first.ordered_at + timedelta(minutes=1)}
    for number in rig.imported():
        m = models[number]
        assert (m["rakutenMemberFlag"] == 0 or m["orderType"] != 1 or m["asurakuFlag"] == 1
                or m.get("deliveryCertPrgFlag") == 1 or m["orderProgress"] == 300)
    member = [n for n, m in models.items() if m["rakutenMemberFlag"] == 1
              and m["orderType"] == 1 and not m["asurakuFlag"]
              and not m.get("deliveryCertPrgFlag")
              and m["SettlementModel"]["rpaySettlementFlag"] == 1]
    assert member and not set(member) & rig.imported()
    rig.at(first.ordered_at + timedelta(minutes=31))
    import_orders(rig.ctx)
    still_there = {n for n in member if rig.rms_status(n) < 800}
    assert still_there <= rig.imported()


def test_polling_through_the_day_imports_every_order_once_and_releases_paid_ones(rig: Rig):
    runner = Runner.for_shop(rig.ctx)
    t = DAY
    while t <= DAY + timedelta(days=1, hours=2):
        rig.at(t)
        runner.run_due()
        t += timedelta(minutes=5)
    assert all(s.last_error is None for s in runner.steps)
    rig.at(t)
    sync_orders(rig.ctx)
    statuses = {o.order_number: rig.rms_status(o.order_number) for o in rig.generated}
    never_cancelled = {n for n, s in statuses.items() if s < 800}
    assert never_cancelled <= rig.imported()
    with rig.ctx.store.transaction() as conn:
        orders = rig.ctx.store.load_orders(conn, "shop", sorted(rig.imported()))
    for number, order in orders.items():
        status = statuses[number]
        if status == 300:
            assert order.open_gate(order.open_gates[0].kind if order.open_gates else None
                                   ) is None or order.stage is Stage.processing
            assert not any(g.kind.value == "payment" for g in order.open_gates), number
        elif status in (800, 900):
            assert order.stage is Stage.cancelled, number
        else:
            assert order.stage is Stage.processing, (number, status)
    assert rig.stages().get("ready", 0) > 0


def test_rms_cancellation_after_import_cancels_the_order(rig: Rig):
    rig.at(DAY + timedelta(days=1, hours=1))
    import_orders(rig.ctx)
    deliver_effects(rig.ctx)
    number = sorted(rig.imported())[0]
    client = rig.ctx.channel.client  # type: ignore[attr-defined]
    client.cancel_order(number, reason_code=1)
    rig.at(DAY + timedelta(days=1, hours=2))
    sync_orders(rig.ctx)
    with rig.ctx.store.transaction() as conn:
        order = rig.ctx.store.load_order(conn, "shop", number)
    assert order is not None and order.stage is Stage.cancelled


def test_changed_amount_at_rms_opens_a_check_gate(rig: Rig):
    rig.at(DAY + timedelta(days=1, hours=1))
    import_orders(rig.ctx)
    number = sorted(rig.imported())[0]
    model = rig.emulator.order_model(number)
    rig.emulator.change_order(number, couponAllTotalPrice=model["couponAllTotalPrice"] + 300)
    sync_orders(rig.ctx)
    with rig.ctx.store.transaction() as conn:
        order = rig.ctx.store.load_order(conn, "shop", number)
    assert order is not None
    assert "注文内容が変更されました" in [g.reason for g in order.open_gates]


def test_an_unchanged_reread_is_not_mapped_and_a_change_after_it_is_seen(rig: Rig):
    rig.at(DAY + timedelta(days=1, hours=1))
    import_orders(rig.ctx)
    deliver_effects(rig.ctx)  # confirmed: RMS 200 or 300 now
    every_turn = replace(rig.ctx.config.sync, settled_interval=rig.ctx.config.sync.interval)
    ctx = replace(rig.ctx, config=replace(rig.ctx.config, sync=every_turn))
    first = sync_orders(ctx)
    assert first.read > 200 and first.unchanged == 0  # nothing known yet: every one mapped
    again = sync_orders(ctx)
    # the open orders are read again (代引き at 300 since its confirmation among them)
    assert again.read == first.read and again.unchanged > 0.9 * again.read
    open_numbers = sorted(rig.imported())
    with ctx.store.transaction() as conn:
        orders = ctx.store.load_orders(conn, "shop", open_numbers)
    number = next(n for n, o in orders.items() if o.stage is not Stage.cancelled)
    model = rig.emulator.order_model(number)
    rig.emulator.change_order(number, couponAllTotalPrice=model["couponAllTotalPrice"] + 300)
    third = sync_orders(ctx)
    assert third.changed >= 1
    with ctx.store.transaction() as conn:
        order = ctx.store.load_order(conn, "shop", number)
        assert order is not None
        assert "注文内容が変更されました" in [g.reason for g in order.open_gates]
        assert number in ctx.store.source_digests(conn, "shop", [number])  # the new data
    # any other write of the order forgets the digest: the next read maps it again
    hold(ctx.store, "shop", number, until=None, note="電話待ち", by="test", now=ctx.clock.now())
    with ctx.store.transaction() as conn:
        assert number not in ctx.store.source_digests(conn, "shop", [number])
    fourth = sync_orders(ctx)
    assert fourth.unchanged == fourth.read - 1
    with ctx.store.transaction() as conn:
        assert number in ctx.store.source_digests(conn, "shop", [number])


def test_malformed_order_is_recorded_and_retried_while_others_go_on(rig: Rig):
    rig.at(DAY + timedelta(days=1, hours=1))
    victim = rig.generated[5].order_number
    good = rig.emulator.order_model(victim)["PackageModelList"]
    rig.emulator.change_order(victim, PackageModelList=None)
    result = import_orders(rig.ctx)
    assert victim in result.failures and "PackageModelList" in result.failures[victim]
    assert victim not in rig.imported() and len(rig.imported()) > 200
    rig.emulator.change_order(victim, PackageModelList=good)
    rig.at(DAY + timedelta(days=1, hours=2))
    import_orders(rig.ctx)
    assert victim in rig.imported() or rig.rms_status(victim) >= 800


def test_faults_are_retried_and_end_in_the_fault_free_state(store: Store, tmp_path):
    clean = Rig(Store.open(f"sqlite:///{tmp_path / 'clean.db'}"), 300, seed=3)
    faulty = Rig(store, 300, seed=3, max_retries=6)
    faulty.emulator.faults = FaultConfig(error_rate=0.15, malformed_rate=0.05,
                                         throttle=0.05, timeout_rate=0.0)
    try:
        for rig in (clean, faulty):
            runner = Runner.for_shop(rig.ctx)
            for minute in range(0, 26 * 60, 15):
                rig.at(DAY + timedelta(minutes=minute))
                runner.run_once()
            rig.emulator.faults = FaultConfig()
            rig.at(DAY + timedelta(hours=27))
            runner.run_once()
        assert faulty.emulator.calls != clean.emulator.calls
        assert faulty.imported() == clean.imported()
        assert faulty.stages() == clean.stages()
    finally:
        clean.server.stop()
        faulty.server.stop()


def test_wrong_license_key_is_explained_and_secret_free(store: Store):
    rig = Rig(store, 10)
    try:
        rig.emulator.faults = FaultConfig(auth_expired=True)
        runner = Runner.for_shop(rig.ctx)
        runner.run_once()
        error = runner.steps[0].last_error or ""
        assert "90 days" in error and "SL-test" not in error and "SP-test" not in error
    finally:
        rig.server.stop()
