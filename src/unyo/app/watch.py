"""The money watch step (issue 17, item 6): find the money alerts, keep which are open,
and put one digest per turn with new alerts in the outbox for the staff.

Each turn (every `alerts.interval`):
1. reported orders past their payout deadline and not known at RMS 500 are read from
   RMS (getOrder, 100 per call) and their status kept (`payout_checks`);
2. open orders below RMS 300 give the auto-cancel and due-date alerts (from the stored
   order data: import and sync keep it current);
3. the license key's expiry is read from RMS's license API (at most every
   `LICENSE_READ_EVERY`), else `alerts.license_expires`;
4. the alerts open now are compared with those open before: new ones are recorded and
   sent once — one digest to `alerts.mail_to` and one to the webhook, both outbox
   effects (`notify_staff`) written in the same transaction; gone ones are closed, so
   one that fires again later is sent again. The delivery is the outbox's
   (`app.outbox`): idempotent, retried, every attempt recorded.

An RMS outage skips step 1 or 3 for the turn (the statuses read before are used); it
never stops the rest of the watch.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from unyo.app.context import ShopContext, log
from unyo.app.ports import ChannelError, LicenseChannel
from unyo.domain.money import (
    Change,
    Facts,
    MoneyAlert,
    Reported,
    compare,
    digest,
    money_alerts,
    payout_deadline,
)

BATCH = 100  # getOrder's limit
LICENSE_CURSOR = "money.license_expiry"
LICENSE_READ_EVERY = timedelta(hours=6)
"""The license API is asked at most this often (the date changes only when a person
issues a new key in RMS, and the order API refuses an expired key at once)."""


@dataclass
class WatchResult:
    open: int = 0
    opened: list[str] = field(default_factory=list)  # keys of the alerts opened this turn
    cleared: list[str] = field(default_factory=list)
    read: int = 0  # reported orders read from RMS
    digests: int = 0  # notify_staff effects queued


def watch_money(ctx: ShopContext) -> WatchResult:
    settings = ctx.config.alerts
    watch = settings.watch
    now = ctx.clock.now()
    result = WatchResult()
    store, shop = ctx.store, ctx.shop
    with store.transaction() as conn:
        since = now - timedelta(seconds=settings.payout_lookback)
        reported = store.watch.reported(conn, shop, since)
        unsettled = store.watch.unsettled(conn, shop)
    past = [(n, at, s) for n, at, s in reported if payout_deadline(at, watch.payout_by) <= now]
    statuses = _read_statuses(ctx, [n for n, _, _ in past], result)
    if statuses:
        with store.transaction() as conn:
            store.watch.set_payout_statuses(conn, shop, statuses, now)
    facts = Facts(
        reported=[Reported(n, at, statuses.get(n, s if s is not None else 0))
                  for n, at, s in past if n in statuses or s is not None],
        unsettled=unsettled,
        license_expires=_license_expiry(ctx, now))
    current = money_alerts(facts, now, watch)
    with store.transaction() as conn:
        before = store.watch.open_alerts(conn, shop)
        change = compare([a.alert.key for a in before], current)
        store.watch.close(conn, shop, change.cleared, now)
        store.watch.refresh(conn, shop, change.still_open)
        effect_id = _queue_digest(ctx, conn, change, now, result)
        store.watch.open(conn, shop, change.opened, now, effect_id)
    result.open = len(current)
    result.opened = [a.key for a in change.opened]
    result.cleared = list(change.cleared)
    if change.opened or change.cleared:
        log.info("money watch %s: %d alert(s) opened, %d cleared, %d open", shop,
                 len(change.opened), len(change.cleared), len(current))
    return result


def _read_statuses(ctx: ShopContext, numbers: list[str], result: WatchResult) -> dict[str, int]:
    """RMS's current status of reported orders past their deadline."""
    out: dict[str, int] = {}
    for i in range(0, len(numbers), BATCH):
        try:
            fetched = ctx.channel.fetch(numbers[i:i + BATCH])
        except ChannelError as e:  # an outage: the statuses read before stand this turn
            log.warning("money watch %s: cannot read reported orders from RMS: %s",
                        ctx.shop, e)
            break
        for o in fetched.orders:
            out[o.order_number] = o.status
        result.read += len(fetched.orders)
    return out


def _license_expiry(ctx: ShopContext, now: datetime) -> date | None:
    """RMS's word on the license key's expiry (read at most every LICENSE_READ_EVERY,
    kept in a cursor), else the configured `alerts.license_expires`."""
    store, shop = ctx.store, ctx.shop
    channel = ctx.channel
    with store.transaction() as conn:
        kept = store.get_cursor(conn, shop, LICENSE_CURSOR)
    known: date | None = None
    read_at: datetime | None = None
    if kept:
        day, _, at = kept.partition("|")
        known = date.fromisoformat(day) if day else None
        read_at = datetime.fromisoformat(at) if at else None
    if isinstance(channel, LicenseChannel) and (
            read_at is None or not read_at <= now < read_at + LICENSE_READ_EVERY):
        try:
            known = channel.license_expiry()
            with store.transaction() as conn:
                store.set_cursor(conn, shop, LICENSE_CURSOR,
                                 f"{known.isoformat() if known else ''}|{now.isoformat()}")
        except ChannelError as e:
            log.warning("money watch %s: cannot read the license key's expiry: %s", shop, e)
    if known is not None:
        return known
    configured = ctx.config.alerts.license_expires
    return date.fromisoformat(configured) if configured else None


def _queue_digest(ctx: ShopContext, conn: Any, change: Change, now: datetime,
                  result: WatchResult) -> int | None:
    """One digest of the new alerts per configured destination; the mail's (or else the
    webhook's) effect id, kept on the alerts."""
    opened: tuple[MoneyAlert, ...] = change.opened
    if not opened:
        return None
    settings = ctx.config.alerts
    subject, body = digest(ctx.config.shop_name or ctx.shop, opened, now)
    keys = [a.key for a in opened]
    # one key per opening: written once, with the alerts, in this transaction (the same
    # alert opening again at the same instant — the clock set back — is another digest)
    stamp = f"{ctx.shop}:{now.isoformat()}:{uuid.uuid4().hex[:12]}"
    first: int | None = None
    if settings.mail_to:
        first = ctx.store.watch.add_digest(conn, ctx.shop, "mail", f"alerts:mail:{stamp}", {
            "to": list(settings.mail_to), "subject": subject, "body": body, "keys": keys},
            now)
        result.digests += 1
    if ctx.webhook is not None:
        hook = ctx.store.watch.add_digest(conn, ctx.shop, "webhook", f"alerts:hook:{stamp}", {
            "text": f"{subject}\n{body}", "keys": keys}, now)
        first = first if first is not None else hook
        result.digests += 1
    return first
