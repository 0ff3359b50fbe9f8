"""Deliver outbox effects after commit, with retries and every attempt recorded.

Handlers exist per effect kind; a kind without a handler (e.g. `send_mail`
before the mail adapter is configured) simply stays pending. confirmOrder is
batched 100 orders per call, and each batch's outcome is written in one
transaction. A transient failure reschedules the effect with backoff; a
permanent one, or running out of attempts, records the failure on the order and
opens a check gate for a person.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from unyo.adapters.db.store import Attempt, EffectRow, backoff
from unyo.app.context import ShopContext, log
from unyo.app.mailing import deliver_mails
from unyo.app.moves import OnConflict, move
from unyo.app.ports import (
    CancelChannel,
    CancelOutcome,
    ChannelUnavailable,
    ConfirmOutcome,
    EditChannel,
    MailError,
    MailRejected,
    UpdateOutcome,
    WebhookError,
    WebhookRejected,
)
from unyo.domain import EffectKind, Order, RecordConfirmed, RecordEffectFailed, RecordRmsUpdated

Outcome = ConfirmOutcome | CancelOutcome | UpdateOutcome

CONFIRM_BATCH = 100
NOTICE_WAIT = timedelta(minutes=5)
"""How soon an alert digest that cannot go out (mail off, no webhook URL) looks again."""


@dataclass
class DeliveryResult:
    delivered: dict[str, int] = field(default_factory=dict)
    retried: int = 0
    failed: int = 0
    skipped: int = 0  # settled without acting, with a note (e.g. no thanks mail after a cancel)


def deliver_effects(ctx: ShopContext) -> DeliveryResult:
    result = DeliveryResult()
    _deliver_confirms(ctx, result)
    _deliver_cancels(ctx, result)
    _deliver_updates(ctx, result)
    deliver_mails(ctx, result)
    _deliver_notices(ctx, result)
    return result


def _due_batches(ctx: ShopContext, kind: EffectKind) -> Iterator[list[EffectRow]]:
    """The due effects of a kind, a batch at a time until none is left; an effect a batch
    left pending (to retry later) is not taken again in this run."""
    seen: set[int] = set()
    while True:
        with ctx.store.transaction() as conn:
            due = [e for e in ctx.store.due_effects(conn, ctx.shop, kind, ctx.clock.now(),
                                                    CONFIRM_BATCH)
                   if e.id not in seen]
        if not due:
            return
        seen.update(e.id for e in due)
        yield due


def _deliver_confirms(ctx: ShopContext, result: DeliveryResult) -> None:
    for due in _due_batches(ctx, EffectKind.confirm_order):
        numbers = [e.payload["order_number"] for e in due]
        try:
            outcomes: dict[str, ConfirmOutcome] = ctx.channel.confirm(numbers)
        except ChannelUnavailable as e:
            log.warning("confirmOrder for %d orders failed, will retry: %s", len(due), e)
            _record(ctx, result, [(effect, None, str(e)) for effect in due])
            return
        _record(ctx, result, [(effect, outcomes.get(number), None)
                              for effect, number in zip(due, numbers, strict=True)])


def _record(ctx: ShopContext, result: DeliveryResult,
            answers: Sequence[tuple[EffectRow, Outcome | None, str | None]]) -> None:
    """Write a batch's outcome: attempts, and the orders it moves, in one transaction."""
    store = ctx.store
    max_attempts = ctx.config.outbox.max_attempts
    now = ctx.clock.now()
    with store.transaction() as conn:
        orders = store.load_orders_by_id(conn, [e.order_id for e, _, _ in answers])
        attempts: list[Attempt] = []
        moves: list[tuple[Order, RecordConfirmed | RecordEffectFailed | RecordRmsUpdated]] = []
        for effect, outcome, error in answers:
            order = orders.get(effect.order_id)
            kind = effect.kind.value
            if isinstance(outcome, CancelOutcome | UpdateOutcome) and outcome.ok:
                attempts.append(Attempt(effect, True, None))
                result.delivered[kind] = result.delivered.get(kind, 0) + 1
                if isinstance(outcome, UpdateOutcome) and order is not None:
                    moves.append((order, RecordRmsUpdated(effect.dedupe_key, now)))
                continue
            if isinstance(outcome, ConfirmOutcome) and (outcome.ok or outcome.cancelled):
                attempts.append(Attempt(effect, True, None if outcome.ok else outcome.message))
                if outcome.ok and order is not None:
                    moves.append((order, RecordConfirmed(now)))
                result.delivered[kind] = result.delivered.get(kind, 0) + 1
                continue
            message = error or (outcome.message if outcome else "no answer for this order")
            permanent = bool(outcome and outcome.permanent) or effect.attempts + 1 >= max_attempts
            attempts.append(Attempt(effect, False, message,
                                    None if permanent else _retry_at(now, effect)))
            if permanent:
                result.failed += 1
                if order is not None:
                    moves.append((order, RecordEffectFailed(effect.kind, message, now,
                                                            effect.dedupe_key)))
            else:
                result.retried += 1
        store.record_attempts(conn, attempts, now)
        # One moved meanwhile is re-read and decided again; a merged-away order's
        # failure reaches its survivor (`move()`).
        move(store, conn, moves, now, on_conflict=OnConflict.retry)


def _deliver_cancels(ctx: ShopContext, result: DeliveryResult) -> None:
    """RMS cancelOrder for a person's cancels in unyo, one order per call. The inventory
    restore is the shop's setting (`rms.cancel_inventory_restore`) at delivery time."""
    channel = ctx.channel
    if not isinstance(channel, CancelChannel):
        return  # a channel that cannot cancel: the effects wait
    restore = ctx.config.rms.cancel_inventory_restore
    for due in _due_batches(ctx, EffectKind.cancel_at_rms):
        answers: list[tuple[EffectRow, CancelOutcome | None, str | None]] = []
        for effect in due:
            try:
                outcome = channel.cancel(effect.payload["order_number"],
                                         int(effect.payload["reason_code"]), restore)
            except ChannelUnavailable as e:
                log.warning("cancelOrder for %s failed, will retry: %s",
                            effect.payload["order_number"], e)
                answers.append((effect, None, str(e)))
                continue
            answers.append((effect, outcome, None))
        _record(ctx, result, answers)


def _deliver_notices(ctx: ShopContext, result: DeliveryResult) -> None:
    """The money watch's digests (`notify_staff`, `app.watch`): one mail to the staff
    addresses over the shop's relay, or one post to the webhook. Each attempt is recorded
    in its own transaction right after the answer; a refusal for good (5xx, HTTP 4xx)
    fails the effect (it shows among the failed effects), anything else retries."""
    kind = EffectKind.notify_staff.value
    for due in _due_batches(ctx, EffectKind.notify_staff):
        for effect in due:
            waiting = _cannot_send(ctx, effect)
            if waiting is not None:  # mail off, no webhook URL, the relay refusing our
                # login: a setting to fix, not a failure — wait without spending attempts
                with ctx.store.transaction() as conn:
                    ctx.store.postpone_effects(
                        conn, [(effect.id, ctx.clock.now() + NOTICE_WAIT)], waiting)
                continue
            error, permanent = _notify(ctx, effect)
            now = ctx.clock.now()
            give_up = permanent or effect.attempts + 1 >= ctx.config.outbox.max_attempts
            with ctx.store.transaction() as conn:
                ctx.store.record_attempt(conn, effect, now, ok=error is None, error=error,
                                         retry_at=None if error is None or give_up
                                         else _retry_at(now, effect))
            if error is None:
                result.delivered[kind] = result.delivered.get(kind, 0) + 1
            elif give_up:
                result.failed += 1
                log.error("alert digest %d failed for good: %s", effect.id, error)
            else:
                result.retried += 1
                log.warning("alert digest %d failed, will retry: %s", effect.id, error)


def _cannot_send(ctx: ShopContext, effect: EffectRow) -> str | None:
    """Why this digest cannot go out until a person changes a setting, if so."""
    if effect.payload.get("channel") == "webhook":
        if ctx.webhook is None:
            return f"no webhook URL in {ctx.config.alerts.webhook_url_env}: the post waits"
        return None
    if ctx.mail is None:
        return "mail is off (mail.enabled: false): the alert mail waits"
    return None


def _notify(ctx: ShopContext, effect: EffectRow) -> tuple[str | None, bool]:
    """Send one digest: (None, _) when it went, else (why not, whether for good)."""
    p = effect.payload
    if p.get("channel") == "webhook":
        assert ctx.webhook is not None  # `_cannot_send` said so
        try:
            ctx.webhook.post(str(p["text"]))
        except WebhookError as e:
            return str(e), isinstance(e, WebhookRejected)
        return None, False
    assert ctx.mail is not None
    message = staff_mail(ctx, p)
    try:
        with ctx.mail.session() as session:
            session.send(message)
    except MailError as e:
        return str(e), isinstance(e, MailRejected)
    return None, False


def staff_mail(ctx: ShopContext, payload: dict[str, object]) -> EmailMessage:
    """The digest as a plain-text mail (UTF-8) from the shop's sender to the staff."""
    m = ctx.config.mail
    message = EmailMessage()
    message["From"] = formataddr((m.from_name, m.from_address)) if m.from_name \
        else m.from_address
    to = payload.get("to")
    message["To"] = ", ".join(str(a) for a in to) if isinstance(to, list) else str(to)
    # our own text, one line: a newline would end the header
    message["Subject"] = " ".join(str(payload.get("subject", "")).split())
    message["Date"] = formatdate(ctx.clock.now().timestamp(), localtime=False)
    message["Message-ID"] = make_msgid("unyo-alerts")
    message.set_content(str(payload.get("body", "")), charset="utf-8")
    return message


def _deliver_updates(ctx: ShopContext, result: DeliveryResult) -> None:
    """RMS updateOrderSender for a person's recipient edits and updateOrderMemo for their
    ひとことメモ / delivery date and time edits, one order per call. An edit
    RMS refuses (status past 300, a value it does not take) opens 確認待ち on the order
    with RMS's reason; a transient failure is retried with backoff."""
    channel = ctx.channel
    if not isinstance(channel, EditChannel):
        return  # a channel that cannot take edits: the effects wait
    for due in _due_batches(ctx, EffectKind.update_at_rms):
        answers: list[tuple[EffectRow, UpdateOutcome | None, str | None]] = []
        for effect in due:
            p = effect.payload
            try:
                if p.get("what") == "memo":
                    outcome = channel.update_memo(p["order_number"], dict(p["values"]))
                else:
                    outcome = channel.update_recipient(p["order_number"],
                                                       int(p["basket_id"]),
                                                       dict(p["recipient"]))
            except ChannelUnavailable as e:
                log.warning("updateOrderSender for %s failed, will retry: %s",
                            p["order_number"], e)
                answers.append((effect, None, str(e)))
                continue
            answers.append((effect, outcome, None))
        _record(ctx, result, answers)


def _retry_at(now: datetime, effect: EffectRow) -> datetime:
    return now + backoff(effect.attempts + 1)


