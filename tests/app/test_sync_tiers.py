"""The payment sync reads unsettled orders every turn, settled ones in rotation, and
finds cancellations of every open order by one search."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from tests.factories import T0, channel_order, minutes
from tests.fakes import FakeChannel
from unyo.adapters.db import Store
from unyo.app.context import ShopContext
from unyo.app.importing import import_orders
from unyo.app.syncing import sync_orders
from unyo.clock import SimClock
from unyo.domain import Stage
from unyo.flow import Config
from unyo.flow.config import SyncSettings


class SearchingChannel(FakeChannel):
    """A channel that can search for cancelled orders, like RMS."""

    def search_cancelled(self, start: datetime, end: datetime) -> list[str]:
        self.calls["searchOrder:cancelled"] += 1
        return [n for n, o in self.orders.items()
                if start <= o.ordered_at <= end and o.status in (800, 900)]


def n(i: int) -> str:
    return f"123456-20261127-{i:010d}"


def shop(store: Store, channel: FakeChannel) -> tuple[ShopContext, SimClock]:
    clock = SimClock(T0 + minutes(1))
    config = Config(shop_id="shop", sync=SyncSettings(interval=300.0, settled_interval=900.0))
    for i in range(1, 10):  # settled at RMS
        channel.put(channel_order(n(i), member=False, status=300, confirmed_at=T0))
    for i in (10, 11):  # waiting for payment
        channel.put(channel_order(n(i), member=False, status=200, confirmed_at=T0))
    ctx = ShopContext(config, store, channel, clock)
    import_orders(ctx)
    return ctx, clock


def stage(ctx: ShopContext, i: int) -> Stage:
    with ctx.store.transaction() as conn:
        order = ctx.store.load_order(conn, "shop", n(i))
    assert order is not None
    return order.stage


def test_settled_orders_are_read_in_rotation_and_unsettled_every_turn(store: Store):
    channel = SearchingChannel()
    ctx, clock = shop(store, channel)
    assert SyncSettings(interval=300.0, settled_interval=900.0).settled_every == 3
    reads = []
    for _ in range(3):
        reads.append(sync_orders(ctx).read)
        clock.advance(300)
    # each turn: the 2 unpaid orders and a third of the 9 settled ones
    assert reads == [5, 5, 5]
    assert channel.calls["searchOrder:cancelled"] == 3


def test_a_change_to_a_settled_order_is_seen_within_the_settled_interval(store: Store):
    channel = SearchingChannel()
    ctx, clock = shop(store, channel)
    changed = channel.orders[n(4)]
    channel.put(replace(changed, amounts=replace(changed.amounts, postage=800, total=4780,
                                                 request=4780)))
    seen = []
    for _ in range(3):
        seen.append(sync_orders(ctx).changed)
        clock.advance(300)
    assert sum(seen) == 1  # in one of the three turns, not necessarily the first


def test_a_cancellation_of_a_settled_order_is_seen_at_the_next_turn(store: Store):
    channel = SearchingChannel()
    ctx, _ = shop(store, channel)
    for i in range(1, 10):
        channel.put(replace(channel.orders[n(i)], status=900))
    result = sync_orders(ctx)  # one turn: all nine found by the search, whatever the slot
    assert result.changed == 9
    assert all(stage(ctx, i) is Stage.cancelled for i in range(1, 10))


def test_a_channel_that_cannot_search_gets_every_open_order_read(store: Store):
    channel = FakeChannel()
    ctx, _ = shop(store, channel)
    assert sync_orders(ctx).read == 11


def test_settled_interval_is_a_duration_in_the_shop_file(tmp_path):  # type: ignore[no-untyped-def]
    from unyo.flow import load_config

    path = tmp_path / "unyo.yaml"
    path.write_text("shop: {id: s}\nsync:\n  interval: 2m\n  settled_interval: 10m\n",
                    encoding="utf-8")
    cfg = load_config(path, env={})
    assert cfg.sync.settled_interval == 600.0 and cfg.sync.settled_every == 5
