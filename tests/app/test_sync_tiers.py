"""The payment sync reads every open order in rotation, finds payments and changes of
every open order by searches at each turn, and reads at once what those find."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from tests.factories import T0, channel_order, minutes
from tests.fakes import FakeChannel
from unyo.adapters.db import Store
from unyo.app.context import ShopContext
from unyo.app.importing import import_orders
from unyo.app.outbox import deliver_effects
from unyo.app.ports import ChannelUnavailable, ConfirmOutcome
from unyo.app.syncing import SETTLED_OVERLAP, sync_orders
from unyo.clock import SimClock
from unyo.domain import ChannelOrder, GateKind, Stage
from unyo.flow import Config
from unyo.flow.config import SyncSettings


class SearchingChannel(FakeChannel):
    """A channel that can search for changed, cancelled and settled orders, like RMS:
    an order's settlement time is when `put` first shows it at 300."""

    def __init__(self, clock: SimClock) -> None:
        super().__init__()
        self.clock = clock
        self.settled_at: dict[str, datetime] = {}
        self.windows: list[tuple[str, datetime, datetime]] = []

    def put(self, order: ChannelOrder) -> None:
        before = self.orders.get(order.order_number)
        if order.status == 300 and (before is None or before.status != 300):
            self.settled_at[order.order_number] = self.clock.now()
        super().put(order)

    def search_changes(self, start: datetime, end: datetime) -> list[str]:
        self.calls["searchOrder:changes"] += 1
        self.windows.append(("changes", start, end))
        return [n for n, o in self.orders.items()
                if start <= o.ordered_at <= end and o.status in (400, 800, 900)]

    def search_settled(self, start: datetime, end: datetime) -> list[str]:
        self.calls["searchOrder:settled"] += 1
        self.windows.append(("settled", start, end))
        if self.down:
            raise ChannelUnavailable("RMS is down")
        return [n for n, at in self.settled_at.items() if start <= at <= end]


def n(i: int) -> str:
    return f"123456-20261127-{i:010d}"


def shop(store: Store) -> tuple[ShopContext, SearchingChannel, SimClock]:
    clock = SimClock(T0 + minutes(1))
    channel = SearchingChannel(clock)
    config = Config(shop_id="shop", sync=SyncSettings(interval=300.0, settled_interval=900.0))
    for i in range(1, 10):  # settled at RMS
        channel.put(channel_order(n(i), member=False, status=300, confirmed_at=T0))
    for i in (10, 11):  # waiting for payment
        channel.put(channel_order(n(i), member=False, status=200, confirmed_at=T0))
    ctx = ShopContext(config, store, channel, clock)
    import_orders(ctx)
    clock.advance(60)
    return ctx, channel, clock


def order_of(ctx: ShopContext, i: int):  # type: ignore[no-untyped-def]
    with ctx.store.transaction() as conn:
        order = ctx.store.load_order(conn, "shop", n(i))
    assert order is not None
    return order


def stage(ctx: ShopContext, i: int) -> Stage:
    return order_of(ctx, i).stage  # type: ignore[no-any-return]


def reads_in_three_turns(ctx: ShopContext, channel: SearchingChannel, clock: SimClock,
                         number: str) -> int:
    """How often the sync reads `number` over three turns, 5 minutes apart."""
    fetched: list[str] = []
    fetch = channel.fetch

    def spy(numbers):  # type: ignore[no-untyped-def]
        fetched.extend(numbers)
        return fetch(numbers)

    channel.fetch = spy  # type: ignore[method-assign]
    for _ in range(3):
        clock.advance(300)
        sync_orders(ctx)
    return fetched.count(number)


def test_open_orders_are_read_in_rotation_and_searched_every_turn(store: Store):
    ctx, channel, clock = shop(store)
    assert SyncSettings(interval=300.0, settled_interval=900.0).settled_every == 3
    reads = []
    for _ in range(3):
        reads.append(sync_orders(ctx).read)
        clock.advance(300)
    # each of the 11 open orders once in three turns, the unpaid ones included
    assert sum(reads) == 11 and max(reads) < 11
    assert channel.calls["searchOrder:changes"] == 3
    assert channel.calls["searchOrder:settled"] == 3


def test_a_payment_is_seen_at_the_next_turn_whatever_the_slot(store: Store):
    ctx, channel, clock = shop(store)
    assert any(g.kind is GateKind.payment and g.closed_at is None for g in order_of(ctx, 10).gates)
    sync_orders(ctx)
    clock.advance(300)
    channel.put(replace(channel.orders[n(10)], status=300))
    clock.advance(300)
    result = sync_orders(ctx)
    assert result.changed >= 1
    order = order_of(ctx, 10)
    assert order.rms_status == 300
    assert not any(g.kind is GateKind.payment and g.closed_at is None for g in order.gates)
    # the order still waiting is not read at every turn: only in its slot
    assert order_of(ctx, 11).rms_status == 200
    assert reads_in_three_turns(ctx, channel, clock, n(11)) == 1


def test_an_order_not_confirmed_yet_is_read_every_turn(store: Store):
    ctx, channel, clock = shop(store)
    channel.put(channel_order(n(12), member=False, status=100, postage=-9999, total=-9999,
                              ordered_at=T0))
    import_orders(ctx)
    assert reads_in_three_turns(ctx, channel, clock, n(12)) == 3


def test_an_order_a_person_must_look_at_is_not_read_until_it_moves(store: Store):
    ctx, channel, clock = shop(store)
    channel.put(channel_order(n(12), member=False, status=100, ordered_at=T0))
    channel.fail_confirm[n(12)] = ConfirmOutcome(False, True, "ERROR_105 送料が確定していません")
    import_orders(ctx)
    deliver_effects(ctx)  # the confirmation fails for good: 確認待ち for a person
    order = order_of(ctx, 12)
    assert order.rms_status == 100
    assert any(g.kind is GateKind.check and g.closed_at is None for g in order.gates)
    assert reads_in_three_turns(ctx, channel, clock, n(12)) == 0  # not even in its slot
    # RMS's searches still find what happens to it: a cancellation is read at once
    channel.put(replace(channel.orders[n(12)], status=900))
    assert reads_in_three_turns(ctx, channel, clock, n(12)) >= 1
    assert stage(ctx, 12) is Stage.cancelled


def test_an_order_held_until_a_date_is_read_when_it_is_about_to_move(store: Store):
    """A hold until a date parks the order: no rotation reads it, and once the hold ends
    it is read again (here by the next rotation turn, as a ready order would be at the
    hand-off) before it goes anywhere."""
    from unyo.app.manual import hold
    from unyo.app.processing import release_holds

    ctx, channel, clock = shop(store)
    hold(store, "shop", n(3), until=clock.now() + minutes(20), note="発売日待ち", by="yamada",
         now=clock.now())
    assert reads_in_three_turns(ctx, channel, clock, n(3)) == 0
    clock.advance(300)
    release_holds(ctx)
    assert stage(ctx, 3) is Stage.ready
    assert reads_in_three_turns(ctx, channel, clock, n(3)) == 1  # its slot of the three


def test_a_change_waiting_at_rms_is_read_at_once(store: Store):
    ctx, channel, _ = shop(store)
    for i in range(1, 10):
        channel.put(replace(channel.orders[n(i)], status=400))
    result = sync_orders(ctx)  # one turn, whatever the slot
    assert result.read >= 9
    for i in range(1, 10):
        order = order_of(ctx, i)
        assert order.rms_status == 400
        assert any(g.kind is GateKind.check and g.closed_at is None for g in order.gates)


def test_the_settled_search_starts_where_the_last_one_ended(store: Store):
    ctx, channel, clock = shop(store)
    clock.advance(7200)  # past the overlap: the window no longer reaches the oldest order
    first_turn = clock.now()
    sync_orders(ctx)
    clock.advance(300)
    sync_orders(ctx)
    settled = [(start, end) for kind, start, end in channel.windows if kind == "settled"]
    assert settled[0][0] == T0 - minutes(1)  # the oldest open order, first time
    assert settled[1] == (first_turn - SETTLED_OVERLAP, clock.now())


def test_a_failed_turn_does_not_move_the_search_on(store: Store):
    ctx, channel, clock = shop(store)
    clock.advance(7200)
    sync_orders(ctx)
    ok_turn = clock.now()
    clock.advance(300)
    channel.down = True
    with pytest.raises(ChannelUnavailable):
        sync_orders(ctx)
    channel.down = False
    clock.advance(300)
    sync_orders(ctx)
    settled = [start for kind, start, _ in channel.windows if kind == "settled"]
    assert settled[-1] == ok_turn - SETTLED_OVERLAP


def test_a_change_to_a_settled_order_is_seen_within_the_settled_interval(store: Store):
    ctx, channel, clock = shop(store)
    changed = channel.orders[n(4)]
    channel.put(replace(changed, amounts=replace(changed.amounts, postage=800, total=4780,
                                                 request=4780)))
    seen = []
    for _ in range(3):
        seen.append(sync_orders(ctx).changed)
        clock.advance(300)
    assert sum(seen) == 1  # in one of the three turns, not necessarily the first


def test_a_cancellation_of_a_settled_order_is_seen_at_the_next_turn(store: Store):
    ctx, channel, _ = shop(store)
    for i in range(1, 10):
        channel.put(replace(channel.orders[n(i)], status=900))
    result = sync_orders(ctx)  # one turn: all nine found by the search, whatever the slot
    assert result.changed == 9
    assert all(stage(ctx, i) is Stage.cancelled for i in range(1, 10))


def test_a_channel_that_cannot_search_gets_every_open_order_read(store: Store):
    ctx, channel, _ = shop(store)
    plain = FakeChannel(list(channel.orders.values()))
    ctx = replace(ctx, channel=plain)
    assert sync_orders(ctx).read == 11


def test_settled_interval_is_a_duration_in_the_shop_file(tmp_path):  # type: ignore[no-untyped-def]
    from unyo.flow import load_config

    path = tmp_path / "unyo.yaml"
    path.write_text("shop: {id: s}\nsync:\n  interval: 2m\n  settled_interval: 10m\n",
                    encoding="utf-8")
    cfg = load_config(path, env={})
    assert cfg.sync.settled_interval == 600.0 and cfg.sync.settled_every == 5
