"""The shipping report to RMS (発送完了報告, step 13): what makes Rakuten pay the shop.

`report_shipping` delivers due `report_shipping` effects. RMS adds a row for every
row sent without a `shippingDetailId` — sending twice makes a duplicate — so the
order's current ShippingModelList is read first (getOrder, 100 per call) and only
the difference is sent: a row already there is skipped, a changed tracking number
or date updates the existing row by its id, a missing one is added
(reference/rakuten-rms.md, updateOrderShipping). The channel sends the rows with
updateOrderShippingAsync (≤ 100 orders a request) and polls the results.

RMS errors for an order (cancelled, format) fail its effect for good and open a
check gate; outages and unknown results retry with backoff — safe, because the
next attempt reads the rows again before sending.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from unyo.adapters.db.store import Attempt, EffectRow, backoff
from unyo.app.context import ShopContext, log
from unyo.app.ports import (
    BasketRows,
    ChannelUnavailable,
    ReportOutcome,
    ShippingChannel,
    ShippingUpdate,
)
from unyo.app.warehouse import apply_commands
from unyo.domain import (
    ChannelOrder,
    Command,
    EffectKind,
    Order,
    RecordEffectFailed,
    Shipment,
)
from unyo.domain.vocabulary import CANCELLED_RMS

BATCH = 1000  # effects per round (the channel splits them into requests of 100)
TURN_BUDGET = timedelta(seconds=30)
"""A turn starts no new round after this long: each round waits for RMS's asynchronous
results (10 s or more) besides its requests, so a warehouse wave's 30,000 reports would
hold the worker for many minutes, with imports and mails waiting behind them; past the
budget the rest goes at the next turns (every `outbox.interval`)."""
MAX_ROWS_PER_BASKET = 20  # RMS limit per basket
IN_FLIGHT_SETTLE = timedelta(hours=1)
"""How long a report whose rows RMS may have taken without saying so (a read timeout or
a cut answer after sending, an async request accepted but no result given) waits before
the next attempt. That attempt reads the rows first, but a request still being processed
— or an async job still queued — would land after the read and the rows would be added
twice (re-sending a row adds a duplicate: reference/rakuten-rms.md, updateOrderShipping).
An hour outlasts any HTTP request and RMS's asynchronous processing; the order reaches
RMS 500 the day after its report either way."""
SENDING = "RMSへ送信中（結果待ち）"
"""Noted on the reports of a round before it sends: a worker that dies (SIGKILL, power)
after sending leaves it behind, and whoever delivers them next waits IN_FLIGHT_SETTLE
before reading the rows, as after any send whose answer was lost."""
UNKNOWN_SEND = "前回の送信の結果が不明です（処理が中断）: 1時間後に確かめます"


@dataclass
class ReportResult:
    reported: int = 0  # orders whose rows RMS accepted
    unchanged: int = 0  # rows already at RMS: nothing sent
    rows_added: int = 0
    rows_updated: int = 0
    superseded: int = 0  # an older report of an order that has a newer one
    retried: int = 0
    failed: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def plan_rows(wanted: Sequence[Shipment], existing: Sequence[Shipment]) -> tuple[Shipment, ...]:
    """The rows to send so RMS holds `wanted`: nothing for rows already there, an update
    (the existing row's id) for a changed one, an add for a new one. Rows at RMS that
    unyo does not know are left alone (a person may have entered them)."""
    free = [e for e in existing if e.shipping_detail_id is not None]
    out: list[Shipment] = []
    pending: list[Shipment] = []
    for w in wanted:
        same = next((e for e in free if e.carrier_code == w.carrier_code
                     and e.tracking_number == w.tracking_number), None)
        if same is None:
            pending.append(w)
            continue
        free.remove(same)
        if same.ship_date != w.ship_date:
            out.append(replace(w, shipping_detail_id=same.shipping_detail_id))
    for w in pending:
        # a changed tracking number updates a row of the same carrier first, else any
        row = (next((e for e in free if e.carrier_code == w.carrier_code), None)
               or (free[0] if free else None))
        if row is not None:
            free.remove(row)
            out.append(replace(w, shipping_detail_id=row.shipping_detail_id))
        else:
            out.append(replace(w, shipping_detail_id=None))
    return tuple(out)


def _wanted(payload: dict[str, object]) -> dict[int, tuple[Shipment, ...]]:
    out: dict[int, tuple[Shipment, ...]] = {}
    for p in payload["packages"]:  # type: ignore[attr-defined]
        out[int(p["basket_id"])] = tuple(
            Shipment(None, c, n, date.fromisoformat(d) if d else None)
            for c, n, d in p["shipments"])
    return out


def report_shipping(ctx: ShopContext) -> ReportResult:
    """Deliver due shipping reports, reading RMS's rows first."""
    result = ReportResult()
    channel = ctx.channel
    if not isinstance(channel, ShippingChannel):
        return result  # this channel cannot report yet: effects stay pending
    store, shop = ctx.store, ctx.shop
    seen: set[int] = set()
    started = ctx.clock.now()
    while True:
        now = ctx.clock.now()
        if now - started >= TURN_BUDGET:
            return result  # a wave's report: the rest next turn, other steps in between
        with store.transaction() as conn:
            due = [e for e in store.due_effects(conn, shop, EffectKind.report_shipping, now,
                                                BATCH) if e.id not in seen]
        if not due:
            return result
        seen.update(e.id for e in due)
        cut = [e for e in due if e.last_error == SENDING]  # a delivery died mid-send
        if cut:
            with store.transaction() as conn:
                store.postpone_effects(conn, [(e.id, now + IN_FLIGHT_SETTLE) for e in cut],
                                       UNKNOWN_SEND)
            result.retried += len(cut)
            due = [e for e in due if e.last_error != SENDING]
            if not due:
                continue
        latest: dict[str, EffectRow] = {}
        attempts: list[Attempt] = []
        for e in due:  # a newer report of an order replaces an older one
            older = latest.get(e.payload["order_number"])
            if older is not None:
                attempts.append(Attempt(older, True, "superseded by a newer report"))
                result.superseded += 1
            latest[e.payload["order_number"]] = e
        with store.transaction() as conn:
            store.note_effects(conn, [e.id for e in latest.values()], SENDING)
        outcomes = _report(channel, latest, result)
        # the waits count from now, after the calls: a request sent late in the round
        # (after slow reads and retries) may still be in flight at RMS
        now = ctx.clock.now()
        failures: list[tuple[int, Command]] = []
        for number, e in latest.items():
            outcome = outcomes.get(number)
            if outcome is None:
                outcome = ReportOutcome(False, False, "RMS gave no result for this order",
                                        in_flight=True)
            if outcome.ok:
                attempts.append(Attempt(e, True, outcome.message or None))
                result.reported += 1
                continue
            if e.payload.get("merged_into"):  # reported for an order merged into another
                outcome = replace(outcome, message=f"同梱した注文 {number}: {outcome.message}")
            permanent = outcome.permanent or e.attempts + 1 >= ctx.config.outbox.max_attempts
            wait = backoff(e.attempts + 1)
            if outcome.in_flight:
                wait = max(wait, IN_FLIGHT_SETTLE)
            attempts.append(Attempt(e, False, outcome.message,
                                    None if permanent else now + wait))
            if permanent:
                result.failed += 1
                result.errors[number] = outcome.message
                failures.append((e.order_id, RecordEffectFailed(EffectKind.report_shipping,
                                                                outcome.message, now)))
            else:
                result.retried += 1
        with store.transaction() as conn:
            store.record_attempts(conn, attempts, now)
            orders = store.load_orders_by_id(conn, [i for i, _ in failures])
            moves: list[tuple[Order, Command]] = [(orders[i], c) for i, c in failures
                                                  if i in orders]
            apply_commands(ctx, conn, moves, now)
        for number, message in result.errors.items():
            log.warning("shipping report %s failed: %s", number, message)


def _report(channel: ShippingChannel, effects: dict[str, EffectRow],
            result: ReportResult) -> dict[str, ReportOutcome]:
    numbers = list(effects)
    try:
        fetched = channel.fetch(numbers)
    except ChannelUnavailable as e:
        return {n: ReportOutcome(False, False, f"getOrder: {e}") for n in numbers}
    outcomes: dict[str, ReportOutcome] = {}
    for n in fetched.missing:
        outcomes[n] = ReportOutcome(False, True, "RMSにこの注文がありません")
    for n, why in fetched.failed.items():
        outcomes[n] = ReportOutcome(False, False, f"getOrder: {why}")
    updates: list[ShippingUpdate] = []
    for current in fetched.orders:
        number = current.order_number
        update, problem = _update_for(current, _wanted(effects[number].payload), result)
        if problem is not None:
            outcomes[number] = problem
        elif update is None:
            outcomes[number] = ReportOutcome(True, False, "already at RMS")
            result.unchanged += 1
        else:
            updates.append(update)
    if updates:
        try:
            outcomes.update(channel.update_shipping(updates))
        except ChannelUnavailable as e:
            outcomes.update((u.order_number, ReportOutcome(False, False, str(e)))
                            for u in updates)
    return outcomes


def _update_for(current: ChannelOrder, wanted: dict[int, tuple[Shipment, ...]],
                result: ReportResult) -> tuple[ShippingUpdate | None, ReportOutcome | None]:
    if current.status in CANCELLED_RMS:
        return None, ReportOutcome(False, True, f"RMSでキャンセルされています（{current.status}）")
    packages = {p.basket_id: p for p in current.packages}
    baskets: list[BasketRows] = []
    for basket_id, shipments in wanted.items():
        package = packages.get(basket_id)
        if package is None:
            return None, ReportOutcome(False, True, f"RMSに送付先 {basket_id} がありません")
        rows = plan_rows(shipments, package.shipments)
        if not rows:
            continue
        added = sum(1 for r in rows if r.shipping_detail_id is None)
        if len(package.shipments) + added > MAX_ROWS_PER_BASKET:
            return None, ReportOutcome(False, True,
                                       f"送付先 {basket_id} の発送明細が20件を超えます")
        result.rows_added += added
        result.rows_updated += len(rows) - added
        baskets.append(BasketRows(basket_id, rows))
    if not baskets:
        return None, None
    return ShippingUpdate(current.order_number, tuple(baskets)), None
