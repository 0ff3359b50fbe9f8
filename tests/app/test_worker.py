"""Workers share shops through leases; a dead worker's shops and effects are taken over."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from tests.app.test_engine_rms import DAY, ENV
from tests.fakes import FakeChannel
from unyo.adapters.db import Store
from unyo.adapters.db.schema import effect_attempts
from unyo.adapters.db.store import Lease
from unyo.app.context import ShopContext
from unyo.app.importing import import_orders
from unyo.app.runner import Runner
from unyo.app.worker import LEASE_TTL, Slot, Worker
from unyo.clock import SimClock
from unyo.domain import EffectKind, Stage
from unyo.flow import Config, ImportSettings, RmsSettings
from unyo.sandbox import RmsEmulator, RmsEmulatorServer, generate_orders
from unyo.wiring import build_context


class Wall:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Shops:
    """Two shops, each with its own RMS emulator, on one simulated clock."""

    def __init__(self, n: int = 120) -> None:
        self.clock = SimClock(DAY)
        self.emulators: dict[str, RmsEmulator] = {}
        self.servers: dict[str, RmsEmulatorServer] = {}
        for i, shop in enumerate(("shop-a", "shop-b")):
            orders = generate_orders(n, seed=11 + i, start=DAY, end=DAY + timedelta(days=1))
            self.emulators[shop] = RmsEmulator(self.clock, service_secret="SP-test",
                                               license_key="SL-test", orders=orders, seed=i)
            self.servers[shop] = RmsEmulatorServer(self.emulators[shop]).start()

    def worker(self, store: Store) -> Worker:
        contexts = [build_context(Config(
            shop_id=shop, rms=RmsSettings(base_url=server.base_url, min_interval=0.0,
                                          timeout=5.0),
            import_=ImportSettings(lookback=2 * 86400.0)), clock=self.clock, store=store,
            env=ENV) for shop, server in self.servers.items()]
        return Worker.for_shops(store, contexts)

    def stop(self) -> None:
        for s in self.servers.values():
            s.stop()


def test_one_worker_per_shop_and_a_dead_workers_shops_are_taken_over(database_url: str):
    wall = Wall()
    a_store = Store.open(database_url, worker="a", wall=wall)
    b_store = Store.open(database_url, worker="b", wall=wall, migrate=False)
    shops = Shops()
    try:
        a, b = shops.worker(a_store), shops.worker(b_store)
        shops.clock.set(DAY + timedelta(hours=12))
        # a takes both shops and imports; b, started later, stands by
        assert a.run_due() > 0
        assert b.run_due() == 0 and all(s.holder == "a" for s in b.slots)
        # later a imports the rest of shop-a's day, and dies in the middle of delivering
        # the confirmations: claimed, not sent
        shops.clock.set(DAY + timedelta(days=1, hours=1))
        import_orders(a.slots[0].runner.ctx)
        with a_store.transaction() as conn:
            stranded = a_store.due_effects(conn, "shop-a", EffectKind.confirm_order,
                                           shops.clock.now(), 1000)
        assert stranded
        wall.now += timedelta(seconds=29)
        assert b.run_due() == 0  # a's leases still run
        wall.now += timedelta(seconds=2)  # 31 s without a renewal: b takes over
        shops.clock.advance(120)
        b.run_due()
        assert all(s.lease is not None for s in b.slots)
        assert {s.lease.took_over_from for s in b.slots if s.lease} == {"a"}
        # every order of both shops is confirmed once, nothing is imported twice
        for shop in shops.emulators:
            with b_store.transaction() as conn:
                stages = b_store.stage_counts(conn, shop)
                pending = b_store.outbox_counts(conn, shop)["confirm_order"].get("pending", 0)
            assert sum(stages.values()) == len(set(b_store_numbers(b_store, shop)))
            assert pending == 0
        # the stranded confirmations were delivered by b, once each
        with b_store.transaction() as conn:
            attempts = dict(conn.execute(
                select(effect_attempts.c.effect_id, func.count())
                .where(effect_attempts.c.effect_id.in_([e.id for e in stranded]))
                .group_by(effect_attempts.c.effect_id)).all())
        assert attempts == {e.id: 1 for e in stranded}
        # the woken-up worker finds its shops gone and does nothing
        assert a.run_due() == 0 and all(s.lease is None for s in a.slots)
        b.release()
        assert a.run_due() > 0  # a clean stop hands the shops over at once
    finally:
        shops.stop()
        a_store.close()
        b_store.close()


def b_store_numbers(store: Store, shop: str) -> list[str]:
    with store.transaction() as conn:
        return store.order_numbers_in_stages(conn, shop, list(Stage))


def test_run_once_refuses_a_shop_another_worker_holds(database_url: str):
    wall = Wall()
    a_store = Store.open(database_url, worker="a", wall=wall)
    b_store = Store.open(database_url, worker="b", wall=wall, migrate=False)
    shops = Shops(20)
    shops.clock.set(DAY + timedelta(days=1, hours=1))
    try:
        with a_store.transaction() as conn:
            assert a_store.acquire_lease(conn, "shop-b", timedelta(seconds=30))
        busy = shops.worker(b_store).run_once()
        assert [s.shop for s in busy] == ["shop-b"] and busy[0].holder == "a"
        with b_store.transaction() as conn:
            assert b_store.stage_counts(conn, "shop-a") and not b_store.stage_counts(
                conn, "shop-b")
            # run_once gave shop-a back at its end: a may take it at once
            assert a_store.acquire_lease(conn, "shop-a", timedelta(seconds=30))
    finally:
        shops.stop()
        a_store.close()
        b_store.close()


def test_a_fresh_lease_is_not_renewed_at_every_tick_but_an_old_one_is(
        database_url: str, monkeypatch: pytest.MonkeyPatch):
    wall = Wall()
    a_store = Store.open(database_url, worker="a", wall=wall)
    b_store = Store.open(database_url, worker="b", wall=wall, migrate=False)
    calls: Counter[str] = Counter()
    for store in (a_store, b_store):
        acquire = store.acquire_lease

        def counted(conn: Connection, shop: str, ttl: timedelta, acquire: Any = acquire,
                    store: Store = store) -> Lease | None:
            calls[store.worker] += 1
            return acquire(conn, shop, ttl)

        monkeypatch.setattr(store, "acquire_lease", counted)
    ctx = ShopContext(config=Config(shop_id="shop-a"), store=a_store, channel=FakeChannel(),
                      clock=SimClock(DAY))
    a = Worker(a_store, [Slot(Runner(ctx, []))])
    b = Worker(b_store, [Slot(Runner(dataclasses.replace(ctx, store=b_store), []))])
    try:
        # given a worker that took the shop: 30 s of lease
        a.run_due()
        assert calls["a"] == 1 and expiry(a_store) == wall.now + LEASE_TTL
        # when ticks come while more than two thirds of it are left: no renewal
        for _ in range(9):
            wall.now += timedelta(seconds=1)
            a.run_due()
        assert calls["a"] == 1 and expiry(a_store) == wall.now - timedelta(seconds=9) + LEASE_TTL
        # once a third has gone by, the tick renews it
        wall.now += timedelta(seconds=2)
        a.run_due()
        assert calls["a"] == 2 and expiry(a_store) == wall.now + LEASE_TTL
        # a worker not holding the shop tries at every tick, and is refused
        b.run_due()
        b.run_due()
        assert calls["b"] == 2 and b.slots[0].lease is None and b.slots[0].holder == "a"
        # a stops ticking; once its lease ran out b takes the shop, and a finds it gone
        wall.now += LEASE_TTL + timedelta(seconds=1)
        b.run_due()
        assert b.slots[0].lease is not None and b.slots[0].lease.took_over_from == "a"
        a.run_due()
        assert calls["a"] == 3 and a.slots[0].lease is None and a.slots[0].holder == "b"
    finally:
        a_store.close()
        b_store.close()


def expiry(store: Store) -> datetime:
    with store.transaction() as conn:
        (lease,) = store.leases(conn)
    return lease.expires_at
