"""Payment sync (steps 7 and 14): re-read open orders and apply what changed at RMS.

RMS 300 closes the payment gate; 800/900 cancels an order not yet handed off
(or raises a check once the warehouse has it); a changed amount or item list
opens a check gate. Every order moves through `move()` (decide, compare-and-set).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from unyo.app.context import ShopContext, log
from unyo.app.importing import safe_text
from unyo.app.moves import Item, OnConflict, move
from unyo.app.ports import ChangedFetch, SyncSearch
from unyo.domain import (
    Actor,
    ChannelOrder,
    Command,
    GateKind,
    OpenGate,
    SyncMerged,
    SyncOrder,
)
from unyo.domain.vocabulary import BEFORE_HANDOFF, OPEN_STAGES, Stage

OPEN_GATE_STAGES = frozenset({*BEFORE_HANDOFF, Stage.at_warehouse})

BATCH = 100


@dataclass
class SyncResult:
    read: int = 0
    unchanged: int = 0  # re-read with the very data last read: not even mapped
    changed: int = 0
    conflicts: int = 0
    failures: dict[str, str] = field(default_factory=dict)


def sync_orders(ctx: ShopContext) -> SyncResult:
    store, shop = ctx.store, ctx.shop
    numbers, searched = _to_read(ctx)
    result = SyncResult()
    read_orders(ctx, numbers, result, step="sync")
    if searched is not None:  # every order the searches found was read
        with store.transaction() as conn:
            store.set_cursor(conn, shop, SETTLED_CURSOR, searched.isoformat())
    _sync_merged(ctx, result)
    return result


def read_orders(ctx: ShopContext, numbers: Sequence[str], result: SyncResult,
                step: str = "") -> None:
    """Re-read `numbers` from the channel, 100 per call, and apply what changed (the
    payment gate, cancellations, changes; a changed order goes through the rules again)."""
    store, shop = ctx.store, ctx.shop
    if step:
        ctx.progress(step, 0, len(numbers))
    changed_fetch = ctx.channel if isinstance(ctx.channel, ChangedFetch) else None
    for i in range(0, len(numbers), BATCH):
        batch = numbers[i : i + BATCH]
        if changed_fetch is not None:
            with store.transaction() as conn:
                known = store.source_digests(conn, shop, batch)
            fetched = changed_fetch.fetch_changed(batch, known)
        else:
            known, fetched = {}, ctx.channel.fetch(batch)
        result.read += len(fetched.orders) + len(fetched.unchanged)
        result.unchanged += len(fetched.unchanged)
        result.failures.update(fetched.failed)
        for number, reason in fetched.failed.items():
            log.warning("sync %s: order %s could not be read: %s", shop, number, reason)
        now = ctx.clock.now()
        by_number = {o.order_number: o for o in fetched.orders}
        try:
            _apply_read(ctx, by_number, fetched.digests, known, now, result)
        except Exception:  # one order's data never stops the others: each on its own
            log.exception("sync %s: a batch of %d could not be applied; applying them one "
                          "by one", shop, len(by_number))
            for number, order in by_number.items():
                try:
                    _apply_read(ctx, {number: order}, fetched.digests, known, now, result)
                except Exception as e:
                    log.exception("sync %s: order %s could not be applied", shop, number)
                    result.failures[number] = f"{type(e).__name__}: {e}"[:500]
        if fetched.failed:
            _record_unreadable(ctx, fetched.failed, now)
        if step:
            ctx.progress(step, min(i + BATCH, len(numbers)), len(numbers))


def _apply_read(ctx: ShopContext, by_number: dict[str, ChannelOrder], digests: dict[str, str],
                known: dict[str, str], now: datetime, result: SyncResult) -> None:
    """Apply what was read of these orders, in one transaction."""
    store, shop = ctx.store, ctx.shop
    with store.transaction() as conn:
        # Most re-reads change nothing: the same data as last read is not even mapped
        # (`unchanged`); the others are compared cheaply before whole orders are loaded.
        keys = store.sync_keys(conn, shop, list(by_number))
        read = {n: (o.status, o.fingerprint(), o.details()) for n, o in by_number.items()}
        stale = [n for n, key in read.items() if keys.get(n) != key]
        current = store.load_orders(conn, shop, stale)
        confirm = ctx.config.import_.confirm
        # A changed order goes through the shop's rules again; one moved meanwhile is
        # left for the next sync, which re-reads it.
        moved = move(store, conn, [(order, SyncOrder(by_number[number], now, confirm))
                                   for number, order in current.items()], now,
                     ctx=ctx, rules=True, merge=True, on_conflict=OnConflict.wait)
        result.failures.update(moved.failed)
        # Remember what was read, for orders whose stored snapshot now matches it.
        store.set_source_digests(conn, shop, [
            (n, digest, read[n]) for n, digest in digests.items()
            if n in read and known.get(n) != digest])
    result.changed += len(moved.written)
    result.conflicts += len(moved.lost)


REASON_UNREADABLE = "RMSの受注データを読めません: {}"


def _record_unreadable(ctx: ShopContext, failed: dict[str, str], now: datetime) -> None:
    """An open order whose current data RMS gives but unyo cannot read: 確認待ち with the
    reason (what it became at RMS is unknown: it may be cancelled). Once, per reason: a
    person who released it is not asked again for the same fault."""
    store, shop = ctx.store, ctx.shop
    try:
        with store.transaction() as conn:
            current = store.load_orders(conn, shop, list(failed))
            moves: list[Item] = []
            for number, order in current.items():
                reason = safe_text(REASON_UNREADABLE.format(failed[number]), 300)
                if order.stage not in OPEN_GATE_STAGES or any(g.reason == reason
                                                              for g in order.gates):
                    continue
                moves.append((order, OpenGate(GateKind.check, reason, now, Actor.channel)))
            move(store, conn, moves, now, on_conflict=OnConflict.wait)
    except Exception:
        log.exception("sync %s: could not record %d unreadable orders", shop, len(failed))


SETTLED_CURSOR = "sync.settled_searched"
"""Until when the search for settled payments has looked (its next window starts here,
less `SETTLED_OVERLAP`)."""
SETTLED_OVERLAP = timedelta(minutes=30)


def _to_read(ctx: ShopContext) -> tuple[list[str], datetime | None]:
    """The open orders to re-read this turn, and the time to move the search cursor to
    once they are read.

    - Orders RMS has not confirmed yet (e.g. postage to be fixed) or holds a change for
      (400) are read every turn, unless a person is asked to look at them already (an
      open check gate: e.g. the confirmation failed for good).
    - Payments are found by one searchOrder for orders settled (注文確定日, the move to
      300) since the last turn; those still waiting for payment here are read at once.
    - Changes and cancellations (400, 800/900) of every open order are found by one
      searchOrder over the open orders' order dates; those are read at once.
    - Every open order is also read in full every `sync.settled_interval`, a slot of them
      per turn by the clock (so `unyo run --once` from cron rotates too): what RMS has no
      search for (a changed amount or address, a payment reverted) is seen that way.

    A channel that cannot search gets every open order read every turn."""
    store, shop, settings, channel = ctx.store, ctx.shop, ctx.config.sync, ctx.channel
    searches = channel if isinstance(channel, SyncSearch) else None
    every = settings.settled_every if searches is not None else 1
    now = ctx.clock.now()
    slot = int(now.timestamp() // max(settings.interval, 1.0)) % every
    with store.transaction() as conn:
        numbers, oldest = store.sync_candidates(conn, shop, OPEN_STAGES, every, slot)
        cursor = store.get_cursor(conn, shop, SETTLED_CURSOR)
    if searches is None or oldest is None:
        return numbers, None
    start = min(oldest - timedelta(minutes=1), now)  # the clock may have stepped back
    changed = searches.search_changes(start, now)
    since = start
    if cursor is not None:
        since = max(start, datetime.fromisoformat(cursor) - SETTLED_OVERLAP)
    settled = searches.search_settled(min(since, now), now)
    with store.transaction() as conn:
        extra = store.open_among(conn, shop, OPEN_STAGES, changed)
        extra += store.open_among(conn, shop, OPEN_STAGES, settled, unsettled=True)
    chosen = set(numbers)
    for number in extra:
        if number not in chosen:
            chosen.add(number)
            numbers.append(number)
    return numbers, now


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
            moves: list[Item] = []
            carrying: dict[str, list[Command]] = {}
            for channel in fetched.orders:
                merged = current.get(channel.order_number)
                if merged is not None:  # its own snapshot and RMS status (stays cancelled)
                    moves.append((merged, SyncOrder(channel, now, confirm)))
                survivor = current.get(carriers[channel.order_number])
                if survivor is not None:
                    carrying.setdefault(survivor.number, []).append(SyncMerged(channel, now))
            moves += [(current[n], tuple(c)) for n, c in carrying.items()]
            moved = move(store, conn, moves, now, on_conflict=OnConflict.wait)
            result.failures.update(moved.failed)
            result.changed += len(moved.written)
            result.conflicts += len(moved.lost)
