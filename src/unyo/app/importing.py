"""受注取込: find new orders at the channel and create them in unyo (steps 2–5).

Each poll searches a window that starts `overlap` before the previous poll, so
an order the channel indexed late is still found; numbers already stored are
skipped, so re-import never duplicates. Orders a Rakuten member may still cancel
by themselves wait until they are `self_cancel_wait` old; every payment method alike.
選択制決済 orders (rpaySettlementFlag 0, e.g. cash on delivery) start at RMS 100 and need
注文確認 like the others: unyo imports and confirms them (`import.confirm`), where Next
Engine waits for RMS 300 and leaves their confirmation to RMS's 自動注文確認 or the shop —
an order nobody confirms is cancelled by Rakuten after 14 days (reference/rakuten-rms.md,
status codes). Waiting and unreadable orders are kept in `import_pending` and re-fetched
by number when due, so the cursor never has to wait for them.

Crash safety: every batch of up to 100 orders commits on its own; the cursor
moves only after the whole window is done. A crash re-runs the same window, and
known numbers are skipped.

One bad order never stops the import (DESIGN.md §8): an order that cannot be read,
decided or stored is kept in `import_pending` as `failed` with the reason (shown by
`unyo orders list --failed`, the dashboard and the metrics) and fetched again with
backoff, while every other order goes on and the cursor moves. A batch whose write
fails is written again order by order, so only the order that causes it is held back.

Cut-over (`import.start_at`): nothing ordered before it is imported, ever — the search
starts no earlier, and an order the channel gives anyway (an overlapping window, a pending
row from before the setting) is dropped when fetched, so the old system's orders are
never shipped twice. An order placed exactly at `start_at` is imported.

Time that goes wrong: a cursor ahead of the clock (the clock stepped back, or a
cycle ran with a clock far ahead) is not an outage: the search starts `lookback`
before now, with a warning, and the cursor is set to now.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from unyo.adapters.db.store import PendingImport, backoff
from unyo.app.context import ShopContext, log
from unyo.app.moves import merge_orders, merge_wishes, move
from unyo.app.processing import rerun_for_buyers
from unyo.domain import ChannelOrder, ImportOrder, RmsStatus
from unyo.domain.vocabulary import CANCELLED_RMS

_DROPPED = frozenset({*CANCELLED_RMS, RmsStatus.shipped, RmsStatus.payment_in_progress,
                      RmsStatus.payment_done})
"""RMS statuses an order is not imported in: cancelled, or shipped (handled elsewhere).
An orderProgress RMS does not define is imported, with 確認待ち."""
_NUMBER = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,63}")
_UNSAFE = re.compile("[\x00\ud800-\udfff]")

BATCH = 100
_KNOWN = frozenset(int(s) for s in RmsStatus)
CURSOR = "import"

WAIT_SELF_CANCEL = "self_cancel_window"
FAILED = "failed"


@dataclass
class ImportResult:
    searched: int = 0
    imported: int = 0
    waiting: int = 0
    failed: int = 0
    dropped: int = 0  # cancelled before import
    before_start: int = 0  # ordered before import.start_at: the old system's, never imported
    failures: dict[str, str] = field(default_factory=dict)


def safe_text(text: str, limit: int = 1000) -> str:
    """A reason the store can hold whatever it quotes (no NUL, no lone surrogate)."""
    return _UNSAFE.sub("\ufffd", text[:limit])


def eligibility(order: ChannelOrder, now: datetime, wait: timedelta) -> tuple[str, datetime] | None:
    """None when the order can be imported now, else (reason, when to look again).

    The payment method does not matter: a 選択制決済 order at RMS 100 is imported like a
    楽天ペイ one (a pending row of an older version that waited for 300 is fetched again
    when due and imported then)."""
    if order.status not in _KNOWN:
        return None  # imported at once, with 確認待ち: a person must see what it is
    if order.self_cancellable and order.status < RmsStatus.awaiting_shipment:
        due = order.ordered_at + wait
        if now < due:
            return WAIT_SELF_CANCEL, due
    return None


def import_orders(ctx: ShopContext) -> ImportResult:
    cfg, store, shop = ctx.config.import_, ctx.store, ctx.shop
    now = ctx.clock.now()
    wait = timedelta(seconds=cfg.self_cancel_wait)
    with store.transaction() as conn:
        cursor = store.get_cursor(conn, shop, CURSOR)
        pending = store.pending_imports(conn, shop)
    start = now - timedelta(seconds=cfg.lookback)
    if cursor:
        last = datetime.fromisoformat(cursor)
        if last > now:
            log.warning("import %s: the cursor (%s) is ahead of the clock (%s): the clock "
                        "stepped back or ran ahead; searching from %s", shop, last.isoformat(),
                        now.isoformat(), start.isoformat())
        else:
            start = last - timedelta(seconds=cfg.overlap)
    start_at = cfg.start_at
    if start_at is not None and start < start_at:
        start = start_at  # cut-over: nothing ordered earlier is looked for
    found = ctx.channel.search(start, now) if start_at is None or start_at <= now else []
    numbers = [n for n in found if _NUMBER.fullmatch(n)]
    result = ImportResult(searched=len(found))
    _record_bad_numbers(ctx, [n for n in found if not _NUMBER.fullmatch(n)], pending, now,
                        result)
    with store.transaction() as conn:
        known = store.known_numbers(conn, shop, numbers)
    due_pending = [n for n, p in pending.items()
                   if p.recheck_at <= now and _NUMBER.fullmatch(n)]
    fresh = [n for n in numbers if n not in known and n not in pending]
    todo = list(dict.fromkeys(due_pending + fresh))
    ctx.progress("import", 0, len(todo))
    for i in range(0, len(todo), BATCH):
        _import_batch(ctx, todo[i : i + BATCH], pending, now, wait, result)
        ctx.progress("import", min(i + BATCH, len(todo)), len(todo))
    with store.transaction() as conn:
        store.set_cursor(conn, shop, CURSOR, now.isoformat())
    if result.imported or result.failed:
        log.info("import %s: %d searched, %d imported, %d waiting, %d failed", shop,
                 result.searched, result.imported, result.waiting, result.failed)
    return result


def _record_bad_numbers(ctx: ShopContext, found: list[str], pending: dict[str, PendingImport],
                        now: datetime, result: ImportResult) -> None:
    """Numbers the search gave that are not RMS order numbers (nor storable): recorded
    under a key of their own, never fetched."""
    if not found:
        return
    rows = []
    for raw in found:
        key = "invalid-" + hashlib.blake2b(raw.encode("utf-8", "surrogatepass"),
                                           digest_size=16).hexdigest()
        prev = pending.get(key)
        attempts = (prev.attempts if prev else 0) + 1
        reason = safe_text(f"RMS searchOrder returned an order number unyo cannot use: "
                           f"{raw!r:.200}")
        rows.append(PendingImport(key, now, prev.first_seen_at if prev else now,
                                  now + backoff(attempts, base=60.0), FAILED, attempts, reason))
        result.failed += 1
        result.failures[key] = reason
        log.warning("import %s: %s", ctx.shop, reason)
    with ctx.store.transaction() as conn:
        ctx.store.upsert_pending(conn, ctx.shop, rows)


def _failed(number: str, reason: str, pending: dict[str, PendingImport], now: datetime,
            result: ImportResult) -> PendingImport:
    prev = pending.get(number)
    attempts = (prev.attempts if prev else 0) + 1
    result.failed += 1
    result.failures[number] = reason
    return PendingImport(number, prev.ordered_at if prev else now,
                         prev.first_seen_at if prev else now,
                         now + backoff(attempts, base=60.0), FAILED, attempts, safe_text(reason))


def _import_batch(ctx: ShopContext, numbers: list[str], pending: dict[str, PendingImport],
                  now: datetime, wait: timedelta, result: ImportResult) -> None:
    cfg, shop = ctx.config.import_, ctx.shop
    fetched = ctx.channel.fetch(numbers)
    imports: list[ImportOrder] = []
    done: list[str] = []
    waiting: list[PendingImport] = []
    for order in fetched.orders:
        number = order.order_number
        if cfg.start_at is not None and order.ordered_at < cfg.start_at:
            done.append(number)  # cut-over: the old system's order, never imported
            result.before_start += 1
            continue
        if order.status in _DROPPED:
            done.append(number)  # cancelled (or handled elsewhere) before unyo took it
            result.dropped += 1
            continue
        try:
            hold = eligibility(order, now, wait)
            if hold is not None:
                prev = pending.get(number)
                waiting.append(PendingImport(number, order.ordered_at,
                                             prev.first_seen_at if prev else now, hold[1],
                                             hold[0], prev.attempts if prev else 0, None))
                result.waiting += 1
                continue
            imports.append(ImportOrder(shop, order, now, confirm=cfg.confirm,
                                       thanks_mail=cfg.thanks_mail))
        except Exception as e:  # one order's data never stops the others
            log.exception("import %s: order %s could not be looked at", shop, number)
            waiting.append(_failed(number, f"{type(e).__name__}: {e}", pending, now, result))
            continue
        done.append(number)
    for number, reason in fetched.failed.items():
        waiting.append(_failed(number, reason, pending, now, result))
        log.warning("import %s: order %s could not be read: %s", shop, number, reason)
    done.extend(fetched.missing)
    try:
        result.imported += _store(ctx, imports, done, waiting, pending, now, result)
    except Exception:
        log.exception("import %s: a batch of %d could not be written; writing them one by "
                      "one", shop, len(imports))
        _store_one_by_one(ctx, imports, done, waiting, pending, now, result)


def _store(ctx: ShopContext, imports: list[ImportOrder], done: list[str],
           waiting: list[PendingImport], pending: dict[str, PendingImport], now: datetime,
           result: ImportResult) -> int:
    """Create the orders (`move()`, the rules included), run the buyers' other orders'
    rules again and the merges, settle their pending rows: one transaction. The number
    of orders created; one that cannot be decided is kept failed with the reason."""
    store, shop = ctx.store, ctx.shop
    with store.transaction() as conn:
        # Another worker (or a crashed run) may have stored some of these already.
        known = store.known_numbers(conn, shop, [c.channel.order_number for c in imports])
        moved = move(store, conn, [(None, c) for c in imports
                                   if c.channel.order_number not in known], now,
                     ctx=ctx, rules=True)
        bad = {**moved.failed, **moved.refused}
        settled = [n for n in done if n not in bad]
        counted = ImportResult()  # added to `result` once this transaction commits
        failed = [_failed(n, reason, pending, now, counted) for n, reason in bad.items()]
        rerun = rerun_for_buyers(ctx, conn, moved.orders, now)
        merge_orders(ctx, conn, merge_wishes([*moved.written, *rerun]), now)  # 同梱
        store.delete_pending(conn, shop, settled)
        store.upsert_pending(conn, shop, [*waiting, *failed])
    result.failed += counted.failed
    result.failures.update(counted.failures)
    return len(moved.written)


def _store_one_by_one(ctx: ShopContext, imports: list[ImportOrder], done: list[str],
                      waiting: list[PendingImport], pending: dict[str, PendingImport],
                      now: datetime, result: ImportResult) -> None:
    """After a failed batch write: each order in a transaction of its own; the one that
    cannot be written is kept failed with the store's reason."""
    by_number = {c.channel.order_number: c for c in imports}
    created = set()
    for number in done:
        c = by_number.get(number)
        try:
            result.imported += _store(ctx, [c] if c else [], [number], [], pending, now,
                                      result)
            created.add(number)
        except Exception as e:
            log.exception("import %s: order %s could not be written", ctx.shop, number)
            waiting.append(_failed(number, f"could not be stored: {type(e).__name__}: "
                                           f"{str(e)[:300]}", pending, now, result))
    # Should even this fail (the database itself is gone), the step fails and the cursor
    # stays: the window is searched again.
    _store(ctx, [], [], waiting, pending, now, result)
