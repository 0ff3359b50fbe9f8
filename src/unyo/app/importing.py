"""受注取込: find new orders at the channel and create them in unyo (steps 2–5).

Each poll searches a window that starts `overlap` before the previous poll, so
an order the channel indexed late is still found; numbers already stored are
skipped, so re-import never duplicates. Orders a Rakuten member may still cancel
by themselves wait until they are `self_cancel_wait` old; 選択制決済 orders (e.g.
cash on delivery) wait for RMS 300 (Next Engine's rule, reference/rakuten-rms.md).
Waiting and unreadable orders are kept in `import_pending` and re-fetched by
number when due, so the cursor never has to wait for them.

Crash safety: every batch of up to 100 orders commits on its own; the cursor
moves only after the whole window is done. A crash re-runs the same window, and
known numbers are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from unyo.adapters.db.store import PendingImport, backoff
from unyo.app.context import ShopContext, log
from unyo.app.merging import merge_orders, merge_wishes
from unyo.app.processing import rerun_for_buyers, with_rules
from unyo.domain import ChannelOrder, Decision, ImportOrder, RmsStatus, decide
from unyo.domain.vocabulary import CANCELLED_RMS

BATCH = 100
CURSOR = "import"

WAIT_SELF_CANCEL = "self_cancel_window"
WAIT_PAYMENT_STATUS = "awaiting_rms_300"
FAILED = "failed"


@dataclass
class ImportResult:
    searched: int = 0
    imported: int = 0
    waiting: int = 0
    failed: int = 0
    dropped: int = 0  # cancelled before import
    failures: dict[str, str] = field(default_factory=dict)


def eligibility(order: ChannelOrder, now: datetime, wait: timedelta) -> tuple[str, datetime] | None:
    """None when the order can be imported now, else (reason, when to look again)."""
    if not order.payment.rakuten_pay and order.status < RmsStatus.awaiting_shipment:
        return WAIT_PAYMENT_STATUS, now
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
    start = (datetime.fromisoformat(cursor) - timedelta(seconds=cfg.overlap) if cursor
             else now - timedelta(seconds=cfg.lookback))
    numbers = ctx.channel.search(start, now)
    result = ImportResult(searched=len(numbers))
    with store.transaction() as conn:
        known = store.known_numbers(conn, shop, numbers)
    due_pending = [n for n, p in pending.items() if p.recheck_at <= now]
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


def _import_batch(ctx: ShopContext, numbers: list[str], pending: dict[str, PendingImport],
                  now: datetime, wait: timedelta, result: ImportResult) -> None:
    cfg, store, shop = ctx.config.import_, ctx.store, ctx.shop
    fetched = ctx.channel.fetch(numbers)
    decisions: list[Decision] = []
    done: list[str] = []
    waiting: list[PendingImport] = []
    for order in fetched.orders:
        number = order.order_number
        if order.status in CANCELLED_RMS or order.status >= RmsStatus.shipped:
            done.append(number)  # cancelled (or handled elsewhere) before unyo took it
            result.dropped += 1
            continue
        hold = eligibility(order, now, wait)
        if hold is not None:
            prev = pending.get(number)
            waiting.append(PendingImport(number, order.ordered_at,
                                         prev.first_seen_at if prev else now, hold[1], hold[0],
                                         prev.attempts if prev else 0, None))
            result.waiting += 1
            continue
        decisions.append(decide(None, ImportOrder(shop, order, now, confirm=cfg.confirm,
                                                  thanks_mail=cfg.thanks_mail)))
        done.append(number)
    for number, reason in fetched.failed.items():
        prev = pending.get(number)
        attempts = (prev.attempts if prev else 0) + 1
        waiting.append(PendingImport(number, prev.ordered_at if prev else now,
                                     prev.first_seen_at if prev else now,
                                     now + backoff(attempts, base=60.0), FAILED, attempts,
                                     reason[:1000]))
        result.failed += 1
        result.failures[number] = reason
        log.warning("import %s: order %s could not be read: %s", shop, number, reason)
    done.extend(fetched.missing)
    with store.transaction() as conn:
        # Another worker (or a crashed run) may have stored some of these already.
        known = store.known_numbers(conn, shop, [d.order.number for d in decisions])
        fresh = with_rules(ctx, conn, [d for d in decisions if d.order.number not in known],
                           now)
        ids = store.create_orders(conn, fresh, now)
        rerun = rerun_for_buyers(ctx, conn, [d.order.with_(id=i, version=1)
                                             for i, d in zip(ids, fresh, strict=True)], now)
        merge_orders(ctx, conn, merge_wishes([*fresh, *rerun]), now)  # 同梱
        store.delete_pending(conn, shop, done)
        store.upsert_pending(conn, shop, waiting)
    result.imported += len(fresh)
