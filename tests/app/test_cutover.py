"""Cut-over (issue 17, item 7): `import.start_at`, shadow mode, the switch to live.

Against the RMS emulator over real HTTP, a real SMTP sink (aiosmtpd) and a real warehouse
folder, on a simulated clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from unyo.adapters.db import Store
from unyo.adapters.db import schema as t
from unyo.adapters.db.store import NOT_DELIVERED_SHADOW, Cutover
from unyo.adapters.rakuten.mapping import format_rms_datetime
from unyo.app.context import ShopContext
from unyo.app.importing import import_orders
from unyo.app.report import build_report
from unyo.app.runner import Runner
from unyo.clock import JST, SimClock
from unyo.domain import EffectKind, GateKind, Stage
from unyo.flow import Config
from unyo.flow.config import parse_config, render_init
from unyo.flow.mail import MailSettings
from unyo.flow.warehouse import WarehouseSettings
from unyo.sandbox import RmsEmulator, RmsEmulatorServer, generate_orders
from unyo.sandbox.generator import GeneratedOrder
from unyo.sandbox.smtp_sink import SmtpSink
from unyo.wiring import build_context

DAY = datetime(2026, 11, 26, tzinfo=JST)
ENV = {"RMS_SERVICE_SECRET": "SP-test", "RMS_LICENSE_KEY": "SL-test"}
RMS_WRITES = frozenset({"confirmOrder", "updateOrderShipping", "updateOrderShippingAsync",
                        "cancelOrder", "updateOrderMemo", "updateOrderSender",
                        "updateOrderOrderer", "updateOrderDelivery", "updateOrderRemarks",
                        "updateOrderSubStatus", "cancelOrderAfterShipping"})
"""Every RMS method that changes something at Rakuten."""


def at_exactly(order: GeneratedOrder, when: datetime) -> None:
    order.model["orderDatetime"] = format_rms_datetime(when)


class World:
    """A shop against the emulator, the SMTP sink and a warehouse folder."""

    def __init__(self, store: Store, folder: Path, sink: SmtpSink, *, n: int = 120,
                 seed: int = 11, orders: list[GeneratedOrder] | None = None) -> None:
        self.clock = SimClock(DAY)
        self.store, self.folder, self.sink = store, folder, sink
        self.generated = orders if orders is not None else generate_orders(
            n, seed=seed, start=DAY, end=DAY + timedelta(days=1))
        self.emulator = RmsEmulator(self.clock, service_secret="SP-test",
                                    license_key="SL-test", orders=self.generated, seed=seed)
        self.server = RmsEmulatorServer(self.emulator).start()

    def config(self, text: str = "") -> Config:
        """The starter shop file's rules, with `text` (YAML) on top, pointed at the rig."""
        base = parse_config(render_init("shop"), "unyo.yaml", env={})
        extra = parse_config(text, "unyo.yaml", env={})
        return replace(
            base, database_url="sqlite://", mode=extra.mode,
            rms=replace(base.rms, base_url=self.server.base_url, min_interval=0.0,
                        timeout=5.0),
            import_=replace(base.import_, lookback=2 * 86400.0,
                            start_at=extra.import_.start_at),
            mail=replace(MailSettings(), enabled=True, host="127.0.0.1", port=self.sink.port,
                         starttls=False, auth=False, from_address="info@shop.example",
                         timeout=5.0),
            warehouse=WarehouseSettings(enabled=True, folder=str(self.folder), settle=0.0))

    def context(self, config: Config) -> ShopContext:
        return build_context(config, clock=self.clock, store=self.store, env=ENV)

    def stop(self) -> None:
        self.server.stop()

    def imported(self) -> set[str]:
        with self.store.transaction() as conn:
            return set(self.store.order_numbers_in_stages(conn, "shop", list(Stage)))

    def visible(self, since: datetime | None = None) -> set[str]:
        """Orders RMS lets the import take (not cancelled by then), ordered since `since`."""
        return {o.order_number for o in self.generated
                if (since is None or o.ordered_at >= since)
                and int(self.emulator.order_model(o.order_number)["orderProgress"])
                in (100, 200, 300)}

    def rms_writes(self) -> dict[str, int]:
        return {m: n for m, n in self.emulator.calls.items() if m in RMS_WRITES}

    def warehouse_files(self) -> list[Path]:
        if not self.folder.exists():
            return []
        return sorted(p for p in self.folder.rglob("*") if p.is_file())

    def run_day(self, ctx: ShopContext, until: datetime, step: timedelta) -> Runner:
        runner = Runner.for_shop(ctx)
        while self.clock.now() < until:
            self.clock.advance(step.total_seconds())
            runner.run_once()
            assert not [s.last_error for s in runner.steps if s.last_error]
        return runner


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


@pytest.fixture
def world(store: Store, tmp_path: Path, sink: SmtpSink) -> Iterator[World]:
    w = World(store, tmp_path / "wh", sink)
    yield w
    w.stop()


# ---- import.start_at ---------------------------------------------------------------------


def test_nothing_ordered_before_start_at_is_imported_an_order_exactly_then_is(
        store: Store, tmp_path: Path, sink: SmtpSink):
    start_at = DAY + timedelta(hours=12)
    orders = generate_orders(120, seed=11, start=DAY, end=DAY + timedelta(days=1))
    exact, second_before = orders[40], orders[39]
    for o in (exact, second_before):  # not cancelled by anyone, so they are visible
        o.self_cancel_after = None
    at_exactly(exact, start_at)
    at_exactly(second_before, start_at - timedelta(seconds=1))
    orders.sort(key=lambda o: o.model["orderDatetime"])
    world = World(store, tmp_path / "wh", sink, orders=orders)
    try:
        _start_at_filters(world, start_at, exact, second_before)
    finally:
        world.stop()


def _start_at_filters(world: World, start_at: datetime, exact: GeneratedOrder,
                      second_before: GeneratedOrder) -> None:
    world.clock.set(DAY + timedelta(days=1, hours=1))
    ctx = world.context(world.config("import:\n  start_at: 2026-11-26 12:00\n"))
    assert ctx.config.import_.start_at == start_at  # no zone given: JST
    result = import_orders(ctx)
    assert world.imported() == world.visible(start_at)
    assert exact.order_number in world.imported()
    assert second_before.order_number not in world.imported()
    assert 0 < len(world.imported()) < len(world.visible())
    # a later poll over an overlapping window still imports none of the old system's
    world.clock.advance(600)
    again = import_orders(ctx)
    assert world.imported() == world.visible(start_at)
    assert again.imported == 0
    assert result.before_start == 0  # the search itself started at start_at


def test_an_order_given_from_before_start_at_is_dropped_when_fetched(world: World):
    """An order already waiting out the self-cancel wait when start_at is set (RMS gave it
    before): dropped when fetched again, never imported."""
    member = next(o for o in world.generated if o.ordered_at >= DAY + timedelta(hours=6)
                  and o.model["rakutenMemberFlag"] == 1 and o.model["orderType"] == 1
                  and not o.model["asurakuFlag"] and not o.model.get("deliveryCertPrgFlag")
                  and o.self_cancel_after is None)
    world.clock.set(member.ordered_at + timedelta(minutes=5))
    import_orders(world.context(world.config()))
    first = world.imported()
    with world.store.transaction() as conn:
        waiting = set(world.store.pending_imports(conn, "shop"))
    assert member.order_number in waiting  # members may still cancel: it waits
    start_at = member.ordered_at + timedelta(seconds=1)
    ctx = world.context(world.config(f"import:\n  start_at: {start_at.isoformat()}\n"))
    world.clock.set(member.ordered_at + timedelta(minutes=40))
    result = import_orders(ctx)
    assert member.order_number not in world.imported()
    assert result.before_start >= 1
    ordered = {o.order_number: o.ordered_at for o in world.generated}
    assert all(ordered[n] >= start_at for n in world.imported() - first)
    with world.store.transaction() as conn:
        assert member.order_number not in world.store.pending_imports(conn, "shop")


@pytest.mark.parametrize("written", [
    "2026-11-26 12:00",  # JST when no zone is given
    "2026-11-26T12:00:00+09:00",
    "2026-11-26T03:00:00Z",
    "2026-11-26T03:00:00+00:00",
    "2026-11-25T22:00:00-05:00",
    '"2026-11-26 12:00:00"',
])
def test_start_at_means_the_same_instant_whatever_zone_it_is_written_in(world: World,
                                                                         written: str):
    world.clock.set(DAY + timedelta(days=1, hours=1))
    ctx = world.context(world.config(f"import:\n  start_at: {written}\n"))
    assert ctx.config.import_.start_at == DAY + timedelta(hours=12)
    import_orders(ctx)
    assert world.imported() == world.visible(DAY + timedelta(hours=12))


def test_start_at_in_the_future_imports_nothing_yet(world: World):
    world.clock.set(DAY + timedelta(hours=10))
    ctx = world.context(world.config("import:\n  start_at: 2026-11-26 11:00\n"))
    result = import_orders(ctx)
    assert world.imported() == set() and result.searched == 0
    world.clock.set(DAY + timedelta(hours=13))
    import_orders(ctx)
    got = world.imported()
    assert got and all(o.ordered_at >= DAY + timedelta(hours=11)
                       for o in world.generated if o.order_number in got)


@pytest.fixture(scope="module")
def shared_rms() -> Iterator[tuple[RmsEmulatorServer, list[GeneratedOrder], SimClock]]:
    """One emulator for the property test (a server per example would be slow)."""
    clock = SimClock(DAY + timedelta(days=1, hours=1))
    orders = generate_orders(60, seed=5, start=DAY, end=DAY + timedelta(days=1))
    emulator = RmsEmulator(clock, service_secret="SP-test", license_key="SL-test",
                           orders=orders, seed=5)
    with RmsEmulatorServer(emulator) as server:
        yield server, orders, clock


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(min_value=-3600, max_value=90000),
       pick=st.integers(min_value=0, max_value=59), nudge=st.sampled_from([-1, 0, 1, None]),
       zone=st.sampled_from([JST, UTC, timezone(timedelta(hours=-8))]))
def test_property_imported_is_exactly_the_visible_orders_at_or_after_start_at(
        shared_rms: tuple[RmsEmulatorServer, list[GeneratedOrder], SimClock],
        tmp_path_factory: pytest.TempPathFactory, offset: int, pick: int,
        nudge: int | None, zone: timezone):
    server, orders, clock = shared_rms
    # an arbitrary instant of the day, or exactly an order's time, or a second either side
    start_at = (DAY + timedelta(seconds=offset) if nudge is None
                else orders[pick].ordered_at + timedelta(seconds=nudge))
    path = tmp_path_factory.mktemp("prop") / "unyo.db"
    store = Store.open(f"sqlite:///{path}")
    try:
        config = Config(shop_id="shop").import_
        cfg = Config(shop_id="shop",
                     rms=replace(Config().rms, base_url=server.base_url, min_interval=0.0,
                                 timeout=5.0),
                     import_=replace(config, lookback=3 * 86400.0,
                                     start_at=start_at.astimezone(zone)))
        ctx = build_context(cfg, clock=clock, store=store, env=ENV)
        import_orders(ctx)
        with store.transaction() as conn:
            got = set(store.order_numbers_in_stages(conn, "shop", list(Stage)))
        emulator = server.emulator
        want = {o.order_number for o in orders if o.ordered_at >= start_at
                and int(emulator.order_model(o.order_number)["orderProgress"])
                in (100, 200, 300)}
        assert got == want
    finally:
        store.close()


# ---- shadow mode: the outbox boundary -----------------------------------------------------


def _order_with_every_effect(store: Store, shop: str, number: str, ordered_at: datetime,
                             now: datetime) -> int:
    """An order row with one pending, due effect of every kind (written as the outbox
    holds them), whatever decide() would make of it: the boundary is what is tested."""
    with store.transaction() as conn:
        oid = conn.execute(insert(t.orders).values(
            shop=shop, order_number=number, stage="processing", version=1, rms_status=100,
            ordered_at=ordered_at, imported_at=now, updated_at=now, total=1000,
            payment_method=1, buyer_name="x", buyer_key="x", fingerprint="x", details="",
            attrs="{}", data="{}").returning(t.orders.c.id)).scalar_one()
        for kind in EffectKind:
            conn.execute(insert(t.outbox).values(
                shop=shop, order_id=oid, kind=kind.value, dedupe_key=f"{kind}:{number}",
                payload=json.dumps({"order_number": number}), status="pending", attempts=0,
                next_attempt_at=now - timedelta(minutes=1), created_at=now))
    return int(oid)


def _due(store: Store, shop: str, now: datetime) -> dict[str, int]:
    got: dict[str, int] = {}
    with store.transaction() as conn:
        for kind in EffectKind:
            for e in store.due_effects(conn, shop, kind, now, 100):
                got[e.kind.value] = got.get(e.kind.value, 0) + 1
    return got


def test_shadow_mode_hands_out_no_effect_of_any_kind(store: Store):
    now = DAY + timedelta(hours=12)
    _order_with_every_effect(store, "shop", "1-1", DAY, now)
    store.set_cutover("shop", Cutover(shadow=True))
    assert _due(store, "shop", now) == {}
    store.set_cutover("other", Cutover(shadow=False))  # another shop's mode is its own
    store.set_cutover("shop", Cutover(shadow=False))
    # live again: every kind is handed out (they waited, pending, through shadow mode)
    assert _due(store, "shop", now) == {k.value: 1 for k in EffectKind}


def test_live_never_delivers_effects_of_shadow_orders_ordered_before_start_at(store: Store):
    now = DAY + timedelta(hours=12)
    start_at = DAY + timedelta(hours=10)
    old = _order_with_every_effect(store, "shop", "1-old", start_at - timedelta(seconds=1),
                                   now)
    new = _order_with_every_effect(store, "shop", "1-new", start_at, now)
    live = _order_with_every_effect(store, "shop", "1-live", DAY, now)  # imported live
    with store.transaction() as conn:
        conn.execute(insert(t.shadow_orders), [
            {"order_id": old, "shop": "shop", "ordered_at": start_at - timedelta(seconds=1)},
            {"order_id": new, "shop": "shop", "ordered_at": start_at}])
    store.set_cutover("shop", Cutover(shadow=False, start_at=start_at))
    handed: dict[int, set[str]] = {}
    with store.transaction() as conn:
        for kind in EffectKind:
            for e in store.due_effects(conn, "shop", kind, now, 100):
                handed.setdefault(e.order_id, set()).add(e.kind.value)
    every = {k.value for k in EffectKind}
    assert handed == {new: every, live: every}  # the old system's order: none
    with store.transaction() as conn:
        rows = conn.execute(select(t.outbox.c.status, t.outbox.c.last_error)
                            .where(t.outbox.c.order_id == old)).all()
        attempts = conn.execute(select(t.effect_attempts.c.error).join(
            t.outbox, t.outbox.c.id == t.effect_attempts.c.effect_id)
            .where(t.outbox.c.order_id == old)).all()
    assert {r.status for r in rows} == {"done"} and len(rows) == len(EffectKind)
    assert {r.last_error for r in rows} == {NOT_DELIVERED_SHADOW}
    assert len(attempts) == len(EffectKind)  # each settlement recorded as an attempt


# ---- shadow mode: a generated day -----------------------------------------------------------


def test_a_shadow_day_acts_nowhere_and_reports_the_rate_it_would_have_had(world: World):
    ctx = world.context(world.config("mode: shadow\n"))
    assert ctx.shadow and ctx.warehouse is None
    world.run_day(ctx, DAY + timedelta(days=1, hours=2), timedelta(minutes=20))
    imported = world.imported()
    assert len(imported) > 60
    assert world.rms_writes() == {}  # no confirmOrder, no shipping report, no cancel
    assert world.emulator.calls["searchOrder"] > 0
    assert world.sink.messages() == []
    assert world.warehouse_files() == []
    assert not world.folder.exists()  # not even the exchange's folders
    with world.store.transaction() as conn:
        counts = world.store.outbox_counts(conn, "shop")
        orders = world.store.load_orders(conn, "shop", sorted(imported))
        shadow_ids = world.store.shadow_order_ids(conn, "shop")
    assert counts and set().union(*(c.keys() for c in counts.values())) == {"pending"}
    assert shadow_ids == {o.id for o in orders.values()}
    # the rate, counted here from the orders' gates
    kept = [o for o in orders.values() if o.stage is not Stage.cancelled]
    stopped = [o for o in kept if any(g.kind in (GateKind.check, GateKind.confirm)
                                      for g in o.gates)]
    assert 0 < len(stopped) < len(kept)
    rep = build_report(world.store, "shop", DAY - timedelta(days=1), DAY + timedelta(days=2))
    assert rep.shadow is not None
    assert rep.shadow.orders == len(kept)
    assert rep.shadow.automated == len(kept) - len(stopped)
    assert rep.shadow.automation_rate == round((len(kept) - len(stopped)) / len(kept), 4)
    assert sum(c.count for c in rep.shadow.checks) >= len(stopped)
    assert rep.orders == 0  # the live figures hold none of the shadow orders
    assert rep.as_dict()["shadow"]["orders"] == len(kept)


def test_switch_to_live_acts_only_on_orders_from_start_at(world: World):
    """A shadow morning, the old system stopped at 12:00 (start_at), unyo live at 12:30:
    the orders of 12:00–12:30, imported in shadow mode, are confirmed, mailed and handed
    off; the earlier ones (the old system's) never are."""
    shadow = world.context(world.config("mode: shadow\n"))
    world.run_day(shadow, DAY + timedelta(hours=12, minutes=30), timedelta(minutes=15))
    switch = DAY + timedelta(hours=12)
    with world.store.transaction() as conn:
        before = world.store.load_orders(conn, "shop", sorted(world.imported()))
    old_ones = {n for n, o in before.items() if o.channel.ordered_at < switch}
    new_ones = {n for n, o in before.items() if o.channel.ordered_at >= switch}
    assert old_ones and new_ones
    assert world.rms_writes() == {}
    live = world.context(world.config(f"import:\n  start_at: {switch.isoformat()}\n"))
    assert not live.shadow
    world.run_day(live, DAY + timedelta(hours=18), timedelta(minutes=15))
    confirmed = {n for n in old_ones | new_ones
                 if world.emulator.order_model(n)["shopOrderCfmDatetime"]}
    assert confirmed and confirmed <= new_ones  # none of the old system's orders
    assert world.rms_writes().get("confirmOrder", 0) > 0
    bodies = "".join(m.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
                     for m in world.sink.messages())
    assert not [n for n in old_ones if n in bodies]
    assert [n for n in new_ones if n in bodies]  # their サンクスメール, late but sent
    handed = "".join(p.read_text("cp932") for p in world.warehouse_files()
                     if "requests" in p.parts)
    assert not [n for n in old_ones if n in handed]
    with world.store.transaction() as conn:
        rows = conn.execute(select(t.outbox.c.order_id, t.outbox.c.status,
                                   t.outbox.c.last_error)).all()
    ids = {o.id: n for n, o in before.items()}
    for r in rows:
        if ids.get(r.order_id) in old_ones and r.status != "pending":
            assert r.last_error == NOT_DELIVERED_SHADOW
    # orders placed after the switch are the live shop's, handled as ever
    after = world.imported() - old_ones - new_ones
    assert after and any(world.emulator.order_model(n)["shopOrderCfmDatetime"]
                         for n in after)
