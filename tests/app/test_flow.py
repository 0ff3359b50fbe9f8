"""Import → confirm → payment sync against an in-memory channel (no HTTP)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.factories import T0, channel_order, minutes
from tests.fakes import FakeChannel
from unyo.adapters.db import Store
from unyo.app.context import ShopContext
from unyo.app.importing import import_orders
from unyo.app.outbox import deliver_effects
from unyo.app.ports import ChannelUnavailable, ConfirmOutcome
from unyo.app.runner import Runner
from unyo.app.syncing import sync_orders
from unyo.clock import SimClock
from unyo.domain import GateKind, OrderType, Stage
from unyo.flow import Config


def n(i: int) -> str:
    return f"123456-20261127-{i:010d}"


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0)


@pytest.fixture
def channel() -> FakeChannel:
    return FakeChannel()


@pytest.fixture
def ctx(store: Store, channel: FakeChannel, clock: SimClock) -> ShopContext:
    return ShopContext(Config(shop_id="shop"), store, channel, clock)


def stages(ctx: ShopContext) -> dict[str, int]:
    with ctx.store.transaction() as conn:
        return ctx.store.stage_counts(conn, "shop")


def load(ctx: ShopContext, number: str):  # type: ignore[no-untyped-def]
    with ctx.store.transaction() as conn:
        return ctx.store.load_order(conn, "shop", number)


def test_member_order_waits_30_minutes_before_import(ctx, channel, clock):
    channel.put(channel_order(n(1), ordered_at=T0))
    clock.set(T0 + minutes(10))
    assert import_orders(ctx).waiting == 1
    assert stages(ctx) == {}
    clock.set(T0 + minutes(29))
    assert import_orders(ctx).imported == 0
    clock.set(T0 + minutes(30))
    assert import_orders(ctx).imported == 1


def test_orders_members_cannot_cancel_are_imported_at_the_next_poll(ctx, channel, clock):
    channel.put(channel_order(n(1), member=False))
    channel.put(channel_order(n(2), next_day=True))
    channel.put(channel_order(n(3), order_type=OrderType.reservation))
    clock.set(T0 + minutes(1))
    assert import_orders(ctx).imported == 3


def test_cash_on_delivery_at_100_is_imported_and_confirmed_like_any_other(ctx, channel, clock):
    channel.put(channel_order(n(1), member=False, method=2, rakuten_pay=False, status=100))
    clock.set(T0 + minutes(1))
    assert import_orders(ctx).imported == 1
    assert deliver_effects(ctx).delivered == {"confirm_order": 1}
    assert channel.orders[n(1)].status == 200
    channel.put(replace(channel.orders[n(1)], status=300))
    clock.set(T0 + minutes(10))
    sync_orders(ctx)
    assert load(ctx, n(1)).stage is Stage.ready


def test_cash_on_delivery_already_at_300_keeps_working(ctx, channel, clock):
    channel.put(channel_order(n(1), member=False, method=2, rakuten_pay=False, status=300,
                              confirmed_at=T0))
    clock.set(T0 + minutes(1))
    assert import_orders(ctx).imported == 1
    assert load(ctx, n(1)).stage is Stage.ready  # settled and confirmed: nothing to do
    assert deliver_effects(ctx).delivered == {}


def test_reimport_never_duplicates_and_windows_overlap(ctx, channel, clock):
    channel.put(channel_order(n(1), member=False))
    clock.set(T0 + minutes(1))
    assert import_orders(ctx).imported == 1
    # An order RMS indexes late, dated before the last poll, is still found.
    channel.put(channel_order(n(2), member=False, ordered_at=T0 + minutes(0.5)))
    clock.set(T0 + minutes(2))
    result = import_orders(ctx)
    assert (result.searched, result.imported) == (2, 1)
    assert stages(ctx) == {"processing": 2}


def test_cancelled_before_import_is_dropped(ctx, channel, clock):
    channel.put(channel_order(n(1)))
    clock.set(T0 + minutes(5))
    import_orders(ctx)
    channel.put(replace(channel.orders[n(1)], status=900))
    clock.set(T0 + minutes(31))
    import_orders(ctx)
    assert stages(ctx) == {}
    with ctx.store.transaction() as conn:
        assert ctx.store.pending_imports(conn, "shop") == {}


def test_unreadable_order_is_recorded_retried_and_the_rest_go_on(ctx, channel, clock):
    channel.put(channel_order(n(1), member=False))
    channel.put(channel_order(n(2), member=False))
    channel.broken.add(n(2))
    clock.set(T0 + minutes(1))
    result = import_orders(ctx)
    assert (result.imported, result.failed) == (1, 1)
    with ctx.store.transaction() as conn:
        pending = ctx.store.pending_imports(conn, "shop")[n(2)]
    assert pending.reason == "failed" and "PackageModelList" in (pending.last_error or "")
    channel.broken.clear()
    clock.set(T0 + minutes(3))
    assert import_orders(ctx).imported == 1
    assert stages(ctx) == {"processing": 2}


def test_crash_mid_import_loses_and_duplicates_nothing(ctx, channel, clock):
    for i in range(250):
        channel.put(channel_order(n(i), member=False))
    clock.set(T0 + minutes(1))
    real_fetch = channel.fetch
    calls = {"n": 0}

    def crashing(numbers):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed")
        return real_fetch(numbers)

    channel.fetch = crashing  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="killed"):
        import_orders(ctx)
    assert stages(ctx) == {"processing": 100}
    channel.fetch = real_fetch  # type: ignore[method-assign]
    clock.set(T0 + minutes(2))
    assert import_orders(ctx).imported == 150
    assert stages(ctx) == {"processing": 250}


def test_confirm_then_payment_releases_the_order(ctx, channel, clock):
    channel.put(channel_order(n(1), member=False))
    clock.set(T0 + minutes(1))
    import_orders(ctx)
    deliver_effects(ctx)
    assert channel.orders[n(1)].status == 200
    assert load(ctx, n(1)).rms_status == 200
    channel.put(replace(channel.orders[n(1)], status=300))
    clock.set(T0 + minutes(6))
    assert sync_orders(ctx).changed == 1
    order = load(ctx, n(1))
    assert order.stage is Stage.ready and order.open_gates == ()


def test_confirm_batches_100_per_call(ctx, channel, clock):
    for i in range(250):
        channel.put(channel_order(n(i), member=False))
    clock.set(T0 + minutes(1))
    import_orders(ctx)
    deliver_effects(ctx)
    assert channel.calls["confirmOrder"] == 3
    assert channel.calls["getOrder"] == 3


def test_postage_not_fixed_is_never_sent_and_is_confirmed_once_set(ctx, channel, clock):
    channel.put(channel_order(n(1), member=False, postage=-9999, total=-9999))
    channel.fail_confirm[n(1)] = ConfirmOutcome(False, True, "送料が未確定 (ERROR_105)")
    clock.set(T0 + minutes(1))
    import_orders(ctx)
    assert deliver_effects(ctx).delivered == {}
    assert channel.calls["confirmOrder"] == 0
    order = load(ctx, n(1))
    assert [(g.kind, g.reason) for g in order.open_gates
            if g.kind is GateKind.confirm] == [(GateKind.confirm, "送料を確定してください")]
    del channel.fail_confirm[n(1)]
    channel.put(channel_order(n(1), member=False, postage=600, total=4580))  # fixed in RMS
    clock.set(T0 + minutes(10))
    sync_orders(ctx)
    order = load(ctx, n(1))
    assert not any(g.kind in (GateKind.confirm, GateKind.check) for g in order.open_gates)
    result = deliver_effects(ctx)
    assert (result.delivered, result.failed) == ({"confirm_order": 1}, 0)
    assert channel.orders[n(1)].status == 200


def test_rms_outage_during_confirm_is_retried_with_backoff(ctx, channel, clock):
    channel.put(channel_order(n(1), member=False))
    clock.set(T0 + minutes(1))
    import_orders(ctx)
    channel.down = True
    assert deliver_effects(ctx).retried == 1
    channel.down = False
    assert deliver_effects(ctx).delivered == {}  # not due yet
    clock.set(T0 + minutes(2))
    assert deliver_effects(ctx).delivered == {"confirm_order": 1}


def test_runner_keeps_going_when_rms_is_down(ctx, channel, clock):
    channel.put(channel_order(n(1), member=False))
    channel.down = True
    runner = Runner.for_shop(ctx)
    runner.run_once()
    assert all(s.last_error == "RMS is down" for s in runner.steps if s.name == "import")
    channel.down = False
    clock.set(T0 + minutes(2))
    runner.run_due()
    assert stages(ctx) == {"processing": 1}


def test_sync_cancels_and_flags_changes(ctx, channel, clock):
    for i in (1, 2):
        channel.put(channel_order(n(i), member=False, status=300))
    clock.set(T0 + minutes(1))
    import_orders(ctx)
    channel.put(replace(channel.orders[n(1)], status=900))
    channel.put(channel_order(n(2), member=False, status=300, total=4500, postage=520))
    clock.set(T0 + minutes(6))
    sync_orders(ctx)
    assert load(ctx, n(1)).stage is Stage.cancelled
    changed = load(ctx, n(2))
    assert [g.reason for g in changed.open_gates] == ["注文内容が変更されました"]
    # cancelled orders are no longer re-read (both share one getOrder batch: count the
    # numbers asked for, not the calls)
    channel.fetched.clear()
    sync_orders(ctx)
    assert n(2) in channel.fetched and n(1) not in channel.fetched


def test_channel_unavailable_propagates_from_import(ctx, channel, clock):
    channel.down = True
    with pytest.raises(ChannelUnavailable):
        import_orders(ctx)
