"""Payment sync (steps 7 and 14): re-read open orders and apply what changed at RMS.

RMS 300 closes the payment gate; 800/900 cancels an order not yet handed off
(or raises a check once the warehouse has it); a changed amount or item list
opens a check gate. Every order moves through `decide()` and a compare-and-set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from unyo.app.context import ShopContext, log
from unyo.app.merging import merge_orders, merge_wishes
from unyo.app.processing import with_rules
from unyo.domain import Decision, Order, SyncMerged, SyncOrder, decide
from unyo.domain.vocabulary import OPEN_STAGES

BATCH = 100


@dataclass
class SyncResult:
    read: int = 0
    changed: int = 0
    conflicts: int = 0
    failures: dict[str, str] = field(default_factory=dict)


def sync_orders(ctx: ShopContext) -> SyncResult:
    store, shop = ctx.store, ctx.shop
    numbers = _to_read(ctx)
    result = SyncResult()
    ctx.progress("sync", 0, len(numbers))
    for i in range(0, len(numbers), BATCH):
        batch = numbers[i : i + BATCH]
        fetched = ctx.channel.fetch(batch)
        result.read += len(fetched.orders)
        result.failures.update(fetched.failed)
        for number, reason in fetched.failed.items():
            log.warning("sync %s: order %s could not be read: %s", shop, number, reason)
        now = ctx.clock.now()
        by_number = {o.order_number: o for o in fetched.orders}
        with store.transaction() as conn:
            # Most re-reads change nothing: compare cheaply before loading whole orders.
            keys = store.sync_keys(conn, shop, list(by_number))
            moved = [n for n, o in by_number.items()
                     if keys.get(n) != (o.status, o.fingerprint(), o.details())]
            current = store.load_orders(conn, shop, moved)
            confirm = ctx.config.import_.confirm
            moves = [(order, decide(order, SyncOrder(by_number[number], now, confirm)))
                     for number, order in current.items()]
            moves = [(o, d) for o, d in moves if d.changed or d.effects]
            # A changed order goes through the shop's rules again.
            ruled = with_rules(ctx, conn, [d for _, d in moves], now)
            moves = [(o, d) for (o, _), d in zip(moves, ruled, strict=True)]
            lost = store.apply_many(conn, moves, now)
            result.changed += len(moves) - len(lost)
            result.conflicts += len(lost)  # moved meanwhile; the next sync re-reads them
            lost_ids = {o.id for o in lost}
            merge_orders(ctx, conn, merge_wishes(d for o, d in moves if o.id not in lost_ids),
                         now)
        ctx.progress("sync", min(i + BATCH, len(numbers)), len(numbers))
    _sync_merged(ctx, result)
    return result


def _to_read(ctx: ShopContext) -> list[str]:
    """The open orders to re-read this turn. Orders RMS has not settled are read every
    turn (payment is what the sync waits for). Settled ones (RMS 300) are read for
    changes every `sync.settled_interval`, a slot of them per turn by the clock (so that
    `unyo run --once` from cron rotates too); their cancellations are found every turn
    by one searchOrder for 800/900, whose hits are read at once. A channel that cannot
    search for cancellations gets every open order read every turn."""
    store, shop, settings = ctx.store, ctx.shop, ctx.config.sync
    search = getattr(ctx.channel, "search_cancelled", None)
    every = settings.settled_every if search is not None else 1
    now = ctx.clock.now()
    slot = int(now.timestamp() // max(settings.interval, 1.0)) % every
    with store.transaction() as conn:
        numbers, oldest = store.sync_candidates(conn, shop, OPEN_STAGES, every, slot)
    if every == 1 or oldest is None or search is None:
        return numbers
    cancelled = search(oldest - timedelta(minutes=1), now)
    with store.transaction() as conn:
        extra = store.open_among(conn, shop, OPEN_STAGES, cancelled)
    chosen = set(numbers)
    return numbers + [n for n in extra if n not in chosen]


def _sync_merged(ctx: ShopContext, result: SyncResult) -> None:
    """Orders merged into an open order (同梱) are still read: their payment, cancellation
    or change at RMS reaches the order that carries them (`SyncMerged`), whose state of
    them is what is compared — so a lost race is simply found again next time."""
    store, shop = ctx.store, ctx.shop
    with store.transaction() as conn:
        carriers = store.merged_members(conn, shop, OPEN_STAGES)
    numbers = list(carriers)
    confirm = ctx.config.import_.confirm
    for i in range(0, len(numbers), BATCH):
        fetched = ctx.channel.fetch(numbers[i : i + BATCH])
        result.read += len(fetched.orders)
        result.failures.update(fetched.failed)
        now = ctx.clock.now()
        with store.transaction() as conn:
            current = store.load_orders(conn, shop, [
                *(o.order_number for o in fetched.orders),
                *{carriers[o.order_number] for o in fetched.orders}])
            moves: list[tuple[Order, Decision]] = []
            carrying: dict[str, Decision] = {}
            for channel in fetched.orders:
                merged = current.get(channel.order_number)
                if merged is not None:  # its own snapshot and RMS status (it stays cancelled)
                    d = decide(merged, SyncOrder(channel, now, confirm))
                    if d.changed:
                        moves.append((merged, d))
                survivor = current.get(carriers[channel.order_number])
                if survivor is not None:
                    d = carrying.get(survivor.number) or Decision(survivor)
                    carrying[survivor.number] = d.and_then(SyncMerged(channel, now))
            moves += [(current[n], d) for n, d in carrying.items() if d.changed]
            lost = store.apply_many(conn, moves, now)
            result.changed += len(moves) - len(lost)
            result.conflicts += len(lost)
