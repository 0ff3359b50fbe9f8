"""Deliver `send_mail` effects: サンクスメール and 発送連絡メール, through the outbox.

A batch of due mails is read in one transaction, the policy decides each
(send, skip with a note, or wait), the mails to send go over one relay
connection, and **each mail's outcome is recorded in its own transaction right
after the relay answered**. So the only window in which a mail can be sent
twice is between the relay's "250 OK" and that commit (a crash or kill there):
the outbox still holds the effect as pending and the next turn sends it again,
with the same Message-ID (docs/operations.md, "Buyer mail").

Policy, per shop file `mail:` section:
- quiet hours: nothing is sent inside them; due mails simply wait;
- `mail.<kind>.enabled: false`: the mail is skipped (done, with a note);
- `mail.<kind>.delay`: the mail waits that long after it was queued;
- `mail.<kind>.max_age`: a mail queued longer ago than that is skipped (no thanks
  mail for last month's orders when a shop turns mail on);
- a thanks mail for an order cancelled before it went out is skipped.

Failures: 4xx, timeouts and lost connections are retried with the outbox's
backoff; a 5xx for a mail, an order without a usable address or a template
that fails on this order fail for good: `RecordEffectFailed` opens 確認待ち.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from unyo.adapters.db.store import Attempt, EffectRow, backoff
from unyo.app.context import ShopContext, log
from unyo.app.moves import OnConflict, move
from unyo.app.ports import (
    MailConnectionLost,
    MailError,
    MailLoginRefused,
    MailRejected,
    MailSender,
    MailUnavailable,
)
from unyo.domain import EffectKind, GateKind, MailKind, Order, RecordEffectFailed, Stage

if TYPE_CHECKING:
    from unyo.app.outbox import DeliveryResult

LOGIN_RETRY = timedelta(minutes=5)
"""How soon mails try again after the relay refused our login (they spend no attempt)."""
SKIPPED_CANCELLED = "skipped: the order was cancelled before the thanks mail was sent"
SKIPPED_PAID = "skipped: the order was paid or cancelled before the reminder was sent"


@dataclass(frozen=True, slots=True)
class _Outgoing:
    effect: EffectRow
    kind: MailKind
    message: EmailMessage


def deliver_mails(ctx: ShopContext, result: DeliveryResult) -> None:
    """Send the shop's due mails in batches of `mail.batch` over one connection each."""
    mailer, settings = ctx.mail, ctx.config.mail
    if mailer is None or not settings.enabled:
        return  # mail not configured: send_mail effects stay pending
    quiet = settings.quiet_until(ctx.clock.now())
    if quiet is not None:
        log.info("quiet hours: mail waits until %s", quiet.isoformat())
        return
    seen: set[int] = set()
    while True:
        now = ctx.clock.now()
        with ctx.store.transaction() as conn:
            due = [e for e in ctx.store.due_effects(conn, ctx.shop, EffectKind.send_mail, now,
                                                    settings.batch) if e.id not in seen]
            if not due:
                return
            orders = ctx.store.load_orders_by_id(conn, [e.order_id for e in due])
            queued = ctx.store.effects_created_at(conn, [e.id for e in due])
        seen.update(e.id for e in due)
        outgoing = _prepare(ctx, mailer, result, due, orders, queued, now)
        if outgoing and not _send(ctx, mailer, result, outgoing):
            return  # the relay is unreachable: the rest waits for the next turn


def _prepare(ctx: ShopContext, mailer: MailSender, result: DeliveryResult,
             due: list[EffectRow], orders: dict[int, Order], queued: dict[int, datetime],
             now: datetime) -> list[_Outgoing]:
    """Apply the policy and render; what is settled without sending is recorded here."""
    settings = ctx.config.mail
    done: list[Attempt] = []
    failed: list[tuple[EffectRow, str]] = []
    postponed: list[tuple[int, datetime]] = []
    outgoing: list[_Outgoing] = []
    for effect in due:
        order = orders.get(effect.order_id)
        name = str(effect.payload.get("mail", ""))
        policy = settings.kind(name)
        if policy is None:
            failed.append((effect, f"unknown mail kind {name!r}"))
            continue
        kind = MailKind(name)
        if order is None:
            done.append(Attempt(effect, True, "skipped: the order no longer exists"))
        elif not policy.enabled:
            done.append(Attempt(effect, True, f"skipped: mail.{name}.enabled is false"))
        elif kind is MailKind.reminder and (order.open_gate(GateKind.payment) is None
                                            or order.stage is Stage.cancelled):
            done.append(Attempt(effect, True, SKIPPED_PAID))
        elif kind is MailKind.thanks and order.stage is Stage.cancelled \
                and not order.merged_into:  # a merged order (同梱) was not cancelled at RMS
            done.append(Attempt(effect, True, SKIPPED_CANCELLED))
        elif policy.max_age and queued.get(effect.id, now) + \
                timedelta(seconds=policy.max_age) < now:
            at = f"{queued[effect.id]:%Y-%m-%d %H:%M}"
            done.append(Attempt(effect, True, f"skipped: queued at {at} UTC, older than "
                                f"mail.{name}.max_age"))
        elif policy.delay and effect.attempts == 0 and \
                queued.get(effect.id, now) + timedelta(seconds=policy.delay) > now:
            postponed.append((effect.id, queued.get(effect.id, now)
                              + timedelta(seconds=policy.delay)))
        else:
            try:
                outgoing.append(_Outgoing(effect, kind, mailer.compose(kind, order, now)))
            except Exception as e:  # a template failing on this order's data, a bad address
                failed.append((effect, f"メールを作成できません: {type(e).__name__}: {e}"))
    if done or failed or postponed:
        with ctx.store.transaction() as conn:
            ctx.store.postpone_effects(conn, postponed)
            ctx.store.record_attempts(conn, [*done, *(Attempt(e, False, m) for e, m in failed)],
                                      now)
            _fail_orders(ctx, conn, failed, now)
    result.skipped += len(done)
    result.failed += len(failed)
    return outgoing


def _send(ctx: ShopContext, mailer: MailSender, result: DeliveryResult,
          outgoing: list[_Outgoing]) -> bool:
    """Send over one connection; False when the connection could not be had or was lost."""
    sent = 0
    try:
        with mailer.session() as session:
            for item in outgoing:
                try:
                    session.send(item.message)
                except MailConnectionLost:
                    raise
                except MailError as e:
                    _record(ctx, result, item, e)
                except Exception as e:  # a bug must cost attempts, not loop unrecorded
                    log.exception("sending the %s mail failed", item.kind.value)
                    _record(ctx, result, item, MailUnavailable(f"{type(e).__name__}: {e}"))
                else:
                    _record(ctx, result, item, None)
                sent += 1
    except MailLoginRefused as e:  # the settings are wrong: attempts would only run out
        log.error("mail relay: %s; %d mails wait until it is fixed", e, len(outgoing) - sent)
        later = ctx.clock.now() + LOGIN_RETRY
        with ctx.store.transaction() as conn:
            ctx.store.postpone_effects(conn, [(i.effect.id, later) for i in outgoing[sent:]],
                                       reason=str(e))
        result.retried += len(outgoing) - sent
        return False
    except MailError as e:  # connect, STARTTLS, or the connection dropped
        log.warning("mail relay: %s; %d mails wait for the next turn", e, len(outgoing) - sent)
        for item in outgoing[sent:]:
            _record(ctx, result, item, e)
        return False
    return True


def _record(ctx: ShopContext, result: DeliveryResult, item: _Outgoing,
            error: MailError | None) -> None:
    """One mail's outcome, committed at once: the crash window is this one mail."""
    now = ctx.clock.now()
    effect = item.effect
    with ctx.store.transaction() as conn:
        if error is None:
            ctx.store.record_attempts(conn, [Attempt(effect, True)], now)
            key = f"send_mail:{item.kind.value}"
            result.delivered[key] = result.delivered.get(key, 0) + 1
            return
        message = str(error)
        permanent = isinstance(error, MailRejected) or \
            effect.attempts + 1 >= ctx.config.outbox.max_attempts
        retry = None if permanent else now + backoff(effect.attempts + 1)
        ctx.store.record_attempts(conn, [Attempt(effect, False, message, retry)], now)
        if permanent:
            result.failed += 1
            log.error("%s mail for order %s failed for good: %s", item.kind.value,
                      effect.payload.get("order_number"), message)
            _fail_orders(ctx, conn, [(effect, message)], now)
        else:
            result.retried += 1


def _fail_orders(ctx: ShopContext, conn: Connection, failed: list[tuple[EffectRow, str]],
                 now: datetime) -> None:
    """`RecordEffectFailed` on each order (a 確認待ち gate, on the survivor too for a
    merged-away order); re-read and decided again on a lost race (`move()`)."""
    messages = {e.order_id: m for e, m in failed}
    failing = ctx.store.load_orders_by_id(conn, list(messages))
    move(ctx.store, conn, [(o, RecordEffectFailed(EffectKind.send_mail, messages[i], now))
                           for i, o in failing.items()], now, on_conflict=OnConflict.retry)
