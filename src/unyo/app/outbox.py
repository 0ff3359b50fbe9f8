"""Deliver outbox effects after commit, with retries and every attempt recorded.

Handlers exist per effect kind; a kind without a handler (e.g. `send_mail`
before the mail adapter is configured) simply stays pending. confirmOrder is
batched 100 orders per call. A transient failure reschedules the effect with
backoff; a permanent one, or running out of attempts, records the failure on
the order and opens a check gate for a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from unyo.adapters.db.store import ConcurrentUpdate, EffectRow, backoff
from unyo.app.context import ShopContext, log
from unyo.app.ports import ChannelUnavailable
from unyo.domain import EffectKind, RecordConfirmed, RecordEffectFailed, decide

CONFIRM_BATCH = 100


@dataclass
class DeliveryResult:
    delivered: dict[str, int] = field(default_factory=dict)
    retried: int = 0
    failed: int = 0


def deliver_effects(ctx: ShopContext) -> DeliveryResult:
    result = DeliveryResult()
    _deliver_confirms(ctx, result)
    return result


def _deliver_confirms(ctx: ShopContext, result: DeliveryResult) -> None:
    store, shop = ctx.store, ctx.shop
    max_attempts = ctx.config.outbox.max_attempts
    seen: set[int] = set()
    while True:
        now = ctx.clock.now()
        with store.transaction() as conn:
            due = [e for e in store.due_effects(conn, shop, EffectKind.confirm_order, now,
                                                CONFIRM_BATCH) if e.id not in seen]
        if not due:
            return
        seen.update(e.id for e in due)
        numbers = [e.payload["order_number"] for e in due]
        try:
            outcomes = ctx.channel.confirm(numbers)
        except ChannelUnavailable as e:
            now = ctx.clock.now()
            with store.transaction() as conn:
                for effect in due:
                    _fail(ctx, conn, effect, str(e), permanent=effect.attempts + 1 >= max_attempts)
                    result.retried += 1
            log.warning("confirmOrder for %d orders failed, will retry: %s", len(due), e)
            return
        now = ctx.clock.now()
        with store.transaction() as conn:
            for effect, number in zip(due, numbers, strict=True):
                outcome = outcomes.get(number)
                if outcome is not None and outcome.ok:
                    store.record_attempt(conn, effect, now, ok=True)
                    _move(ctx, conn, effect, RecordConfirmed(now))
                    result.delivered["confirm_order"] = result.delivered.get(
                        "confirm_order", 0) + 1
                else:
                    message = outcome.message if outcome else "no answer for this order"
                    permanent = (outcome.permanent if outcome else False) or \
                        effect.attempts + 1 >= max_attempts
                    _fail(ctx, conn, effect, message, permanent=permanent)
                    if permanent:
                        result.failed += 1
                    else:
                        result.retried += 1


def _fail(ctx: ShopContext, conn: Connection, effect: EffectRow, error: str, *,
          permanent: bool) -> None:
    now = ctx.clock.now()
    retry_at = None if permanent else now + backoff(effect.attempts + 1)
    ctx.store.record_attempt(conn, effect, now, ok=False, error=error,
                             retry_at=retry_at)
    if permanent:
        _move(ctx, conn, effect, RecordEffectFailed(effect.kind, error, now))


def _move(ctx: ShopContext, conn: Connection, effect: EffectRow,
          command: RecordConfirmed | RecordEffectFailed) -> None:
    store = ctx.store
    for _ in range(3):
        order = store.load_orders_by_id(conn, [effect.order_id]).get(
            effect.order_id)
        if order is None:
            return
        try:
            store.apply(conn, order, decide(order, command), ctx.clock.now())
            return
        except ConcurrentUpdate:
            continue
