"""Warehouse hand-off and shipment results (steps 9–11 of the Rakuten flow).

The `Warehouse` protocol is what the engine needs from a warehouse system (WMS),
whatever the transport: the CSV folder exchange (`unyo.adapters.warehouse`) is the
first; an HTTP/JSON warehouse implements the same five methods.

- `hand_off_orders`: ready orders become `at_warehouse` with a `hand_off_to_warehouse`
  effect (one transaction per batch), then due effects are delivered as one request
  batch (one file) per `batch` orders. The warehouse's `printing()` replaces what its
  encoding lacks by the shop's substitutes (unyo.domain.printing; each use is an event
  on the order and a line in the note column); a character with no substitute stops
  the order (確認待ち naming the field and the character) until a person has seen it.
  Cancel requests (`cancel_at_warehouse`) go out in the same step.
- `import_results`: every result row is validated; good rows move orders
  (`RecordShipment`, `RecordWarehouseRejection`), bad ones are reported with file and
  line and give their order a check gate; the file is then settled (done/ or error/).

Delivery is at least once: a crash after a file was written and before its attempt
was recorded sends the batch again (WMSs take a repeated order number as the same
request). Must not import adapters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection

from unyo.adapters.db.store import Attempt, EffectRow, backoff
from unyo.app.context import ShopContext, log
from unyo.app.moves import OnConflict, move
from unyo.app.ports import ChannelError
from unyo.app.syncing import SyncResult, read_orders
from unyo.clock import JST
from unyo.domain import (
    ChannelOrder,
    Command,
    EffectKind,
    GateKind,
    HandOff,
    OpenGate,
    Order,
    Package,
    RecordShipment,
    RecordWarehouseRejection,
    Shipment,
    Stage,
)
from unyo.domain.carriers import carrier_code, normalise_tracking, tracking_problem
from unyo.domain.decide import unseen
from unyo.domain.printing import (
    GETA,
    NAME_FIELDS,
    PrintSpec,
    Substitution,
    Unprintable,
    code_point,
    substitute,
)
from unyo.domain.rules import recipient_texts
from unyo.domain.vocabulary import CANCELLED_RMS
from unyo.flow.warehouse import WarehouseSettings

SELECT_CHUNK = 500
MAX_SHIP_AGE = timedelta(days=60)


class WarehouseError(Exception):
    """The warehouse exchange failed (folder missing, disk full, WMS down); retry later."""


@dataclass(frozen=True, slots=True)
class RequestItem:
    sku: str
    item_number: str
    name: str
    choice: str
    units: int


@dataclass(frozen=True, slots=True)
class ShipmentRequest:
    """One package (送付先) of an order, as the warehouse needs it."""

    order_number: str
    basket_id: int
    ordered_at: datetime
    recipient_name: str
    recipient_kana: str
    postal_code: str
    address: str
    phone: str
    items: tuple[RequestItem, ...]
    delivery_method: str
    delivery_date: date | None
    time_slot: str
    gift: bool
    noshi: str
    note: str
    cod_amount: int  # 代引金額 to collect, 0 unless cash on delivery
    # コンビニ受取: the store the parcel goes to ("" for a delivery to the recipient)
    pickup_store_code: str = ""  # chain and the store's code, e.g. "ファミリーマート 012345"
    pickup_store_name: str = ""
    pickup_store_address: str = ""  # 〒 and the store's address
    drop_off: str = ""  # 置き配: where to leave it
    social_gift: str = ""  # ソーシャルギフト管理番号
    priority: str = ""  # 当日出荷 / 最強翌日配送: to ship first


@dataclass(frozen=True, slots=True)
class PrintedRequest:
    """A request as the warehouse gets it, and what its printing changed."""

    request: ShipmentRequest  # substituted; a character with no substitute is 〓
    substituted: tuple[Substitution, ...] = ()
    unsendable: tuple[Unprintable, ...] = ()  # no substitute: stops the order once


def print_request(request: ShipmentRequest, spec: PrintSpec,
                  fields: Collection[str] | None = None) -> PrintedRequest:
    """`request` with every character `spec` cannot print replaced (unyo.domain.printing),
    in the `fields` the warehouse's layout has (None: all). What was replaced is also
    written in the note, where the layout has one: the order keeps the original."""
    subs: dict[Substitution, None] = {}
    bad: dict[Unprintable, None] = {}

    def put(key: str, text: str) -> str:
        if fields is not None and key not in fields:
            return text
        p = substitute(text, spec, name=key in NAME_FIELDS)
        subs.update(dict.fromkeys(Substitution(key, ch, rep) for ch, rep in p.substituted))
        out = p.text
        for ch in p.unprintable:
            bad[Unprintable(key, ch)] = None
            out = out.replace(ch, GETA)
        return out

    items = tuple(replace(i, name=put("item_name", i.name), choice=put("choice", i.choice),
                          sku=put("sku", i.sku), item_number=put("sku", i.item_number))
                  for i in request.items)
    r = request
    printed = replace(r, recipient_name=put("recipient_name", r.recipient_name),
                      recipient_kana=put("recipient_kana", r.recipient_kana),
                      address=put("address", r.address), phone=put("phone", r.phone),
                      delivery_method=put("delivery_method", r.delivery_method),
                      noshi=put("noshi", r.noshi), note=put("note", r.note), items=items,
                      pickup_store_code=put("pickup_store_code", r.pickup_store_code),
                      pickup_store_name=put("pickup_store_name", r.pickup_store_name),
                      pickup_store_address=put("pickup_store_address",
                                               r.pickup_store_address),
                      drop_off=put("drop_off", r.drop_off))
    if (subs or bad) and (fields is None or "note" in fields):
        printed = replace(printed, note=" ".join(x for x in (printed.note, _note(
            [*subs, *(Substitution(u.field, u.char, GETA) for u in bad)])) if x))
    return PrintedRequest(printed, tuple(subs), tuple(bad))


def _note(subs: Sequence[Substitution]) -> str:
    """文字置換: 送付先氏名 U+20BB7→吉、送付先住所 U+2014→－ (the original by its code point:
    the encoding cannot hold it)."""
    return "文字置換: " + "、".join(f"{s.label} {code_point(s.char)}→{s.replacement or '（削除）'}"
                                  for s in subs)


@dataclass(frozen=True, slots=True)
class CancelRequest:
    order_number: str
    basket_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One row of a result as the WMS wrote it (text, checked by `import_results`)."""

    line: int
    order_number: str
    basket_id: str
    carrier: str
    tracking_number: str
    ship_date: str
    status: str = ""  # "" when shipped; otherwise why not, e.g. "出荷不可: 欠品"


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    message: str
    order_number: str = ""


@dataclass
class ResultBatch:
    """One result file (or API page): its rows and the lines the adapter could not read."""

    name: str
    rows: list[ResultRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


class Warehouse(Protocol):
    """A warehouse system, in the engine's terms."""

    def printing(self, request: ShipmentRequest) -> PrintedRequest:
        """`request` as the WMS will get it: characters its encoding lacks replaced by the
        shop's substitutes (`print_request`), with what was replaced and what has none."""
        ...

    def send(self, requests: Sequence[ShipmentRequest]) -> str:
        """Send one batch of shipment requests; returns the batch's name (file, id)."""
        ...

    def stage(self, requests: Sequence[ShipmentRequest]) -> str:
        """Prepare a batch where the WMS cannot see it yet; returns its name. With
        `publish`, the two halves of `send`: the hand-off records the name in between,
        so a crash never sends a batch twice."""
        ...

    def publish(self, name: str) -> bool:
        """Give a staged batch to the WMS; False when it had been given already."""
        ...

    def cancel(self, requests: Sequence[CancelRequest]) -> str:
        """Ask the WMS to stop these orders; returns the batch's name."""
        ...

    def results(self) -> list[ResultBatch]:
        """Result batches waiting to be imported, oldest first."""
        ...

    def settle(self, batch: ResultBatch, problems: Sequence[RowProblem]) -> None:
        """Mark a batch imported: done, or kept with its problems reported beside it."""
        ...


# ---- hand-off ---------------------------------------------------------------------------


@dataclass
class HandOffResult:
    handed_off: int = 0
    refused: int = 0  # orders the WMS could not take: check gate
    sent: int = 0  # requests (packages) delivered
    batches: list[str] = field(default_factory=list)
    cancels: int = 0
    retried: int = 0


def shipment_requests(order: Order, baskets: Sequence[int] | None = None
                      ) -> list[ShipmentRequest]:
    """The requests of an order, one per package (all, or those of `baskets`).

    An order that carries merged orders (同梱; it has one package) sends one request with
    their items added, and collects their amounts too on cash on delivery; its own items
    are left out once RMS cancelled it (the parcel is then only the merged orders')."""
    c = order.channel
    out: list[ShipmentRequest] = []
    slot = c.shipping_term if c.shipping_term not in ("", "0") else ""
    own = order.rms_status not in CANCELLED_RMS or not order.merged
    for p in c.packages:
        if baskets is not None and p.basket_id not in baskets:
            continue
        r = p.recipient
        name, kana, address = (text for _, text in recipient_texts(r))
        cod = p.total_price if c.payment.cash_on_delivery and own else 0
        items = p.items if own else ()
        if order.merged:
            items += tuple(i for m in order.merged for i in m.items)
            if c.payment.cash_on_delivery:
                cod += sum(m.package_total for m in order.merged)
        out.append(ShipmentRequest(
            order_number=c.order_number, basket_id=p.basket_id, ordered_at=c.ordered_at,
            recipient_name=name, recipient_kana=kana, postal_code=r.address.postal_code,
            address=address, phone=r.phone,
            items=tuple(RequestItem(i.sku or i.manage_number, i.item_number, i.name,
                                    i.selected_choice, i.units) for i in items),
            delivery_method=order.setting("delivery_method") or c.delivery_name,
            delivery_date=c.requested_delivery_date, time_slot=slot, gift=c.gift,
            noshi=p.noshi, note=order.setting("warehouse_note") or "", cod_amount=cod,
            **_type_columns(c, p)))
    return out


def _type_columns(c: ChannelOrder, p: Package) -> dict[str, str]:
    """The order types' columns of one package's request."""
    out: dict[str, str] = {}
    if (s := p.pickup_store) is not None:
        zip_ = f"〒{s.postal_code[:3]}-{s.postal_code[3:]} " if len(s.postal_code) == 7 else ""
        out |= {"pickup_store_code": " ".join(x for x in (s.chain, s.store_code) if x),
                "pickup_store_name": s.name, "pickup_store_address": zip_ + s.full_address}
    if p.drop_off:
        out["drop_off"] = p.drop_off
    if p.social_gift is not None:
        out["social_gift"] = p.social_gift.number or "ソーシャルギフト"
    priority = [w for w, on in (("当日出荷", c.same_day), ("最強翌日配送", c.next_day_cert)) if on]
    if priority:
        out["priority"] = "・".join(priority)
    return out


def hand_off_orders(ctx: ShopContext, warehouse: Warehouse | None = None) -> HandOffResult:
    """Hand ready orders to the warehouse, then deliver the due requests and cancels."""
    result = HandOffResult()
    warehouse = warehouse or ctx.warehouse
    if warehouse is None:
        return result
    store, shop = ctx.store, ctx.shop
    if ctx.config.warehouse.self_shipping:
        # the shop packs itself: printing a batch is the hand-off (unyo.app.batches), and
        # there is no WMS to tell of a cancellation (the order's check gate tells staff)
        _settle_self_cancels(ctx, result)
        return result
    with store.transaction() as conn:
        numbers = store.order_numbers_in_stages(conn, shop, [Stage.ready])
    if numbers:
        _reread(ctx, numbers)
    now = ctx.clock.now()
    for i in range(0, len(numbers), SELECT_CHUNK):
        with store.transaction() as conn:
            orders = store.load_orders(conn, shop, numbers[i : i + SELECT_CHUNK])
            moves: list[tuple[Order, Command]] = []
            for order in orders.values():
                if order.stage is not Stage.ready:
                    continue  # moved since it was selected
                printed = [warehouse.printing(r) for r in shipment_requests(order)]
                subs = tuple(dict.fromkeys(s for p in printed for s in p.substituted))
                bad = tuple(dict.fromkeys(u for p in printed for u in p.unsendable))
                # decide() stops it on characters no person has seen; counted here alone
                if unseen(order, bad):
                    result.refused += 1
                else:
                    result.handed_off += 1
                moves.append((order, HandOff(now, subs, bad)))
            apply_commands(ctx, conn, moves, now)
    _deliver_hand_offs(ctx, warehouse, result)
    _deliver_cancels(ctx, warehouse, result)
    return result


def _settle_self_cancels(ctx: ShopContext, result: HandOffResult) -> None:
    now = ctx.clock.now()
    with ctx.store.transaction() as conn:
        due = ctx.store.due_effects(conn, ctx.shop, EffectKind.cancel_at_warehouse, now, 10_000)
    if due:
        _record(ctx, [Attempt(e, True, "not sent: the shop packs itself (warehouse.type "
                              "self); the order's check gate tells the staff") for e in due],
                now)
        result.cancels += len(due)


def _reread(ctx: ShopContext, numbers: list[str]) -> None:
    """Read the ready orders from the channel once more before the warehouse gets them,
    so that a change at RMS since the last read (an address, an amount, a cancellation)
    is never shipped unseen: a changed order goes through the rules again and is handed
    off only if still ready. With RMS unreachable the orders go as last read (the sync
    re-reads every open order within `sync.settled_interval`)."""
    try:
        read_orders(ctx, numbers, SyncResult())
    except ChannelError as e:
        log.warning("hand-off: cannot re-read %d ready orders (%s); they go as last read",
                    len(numbers), e)


def _deliver_hand_offs(ctx: ShopContext, warehouse: Warehouse, result: HandOffResult) -> None:
    store, shop = ctx.store, ctx.shop
    size = ctx.config.warehouse.batch
    seen: set[int] = set()
    while True:
        now = ctx.clock.now()
        with store.transaction() as conn:
            due = [e for e in store.due_effects(conn, shop, EffectKind.hand_off_to_warehouse,
                                                now, size) if e.id not in seen]
            orders = store.load_orders_by_id(conn, [e.order_id for e in due])
        if not due:
            return
        seen.update(e.id for e in due)
        staged = [e for e in due if e.batch]
        if staged:  # a worker died between staging and recording: finish its batches
            _finish_staged(ctx, warehouse, staged, result, now)
            due = [e for e in due if not e.batch]
        requests: list[ShipmentRequest] = []
        skipped: list[Attempt] = []
        for e in due:
            order = orders.get(e.order_id)
            if order is None or order.stage is Stage.cancelled \
                    or (order.rms_status in CANCELLED_RMS and not order.merged):
                skipped.append(Attempt(e, True, "not sent: the order is gone or cancelled"))
                continue
            requests.extend(warehouse.printing(r).request
                            for r in shipment_requests(order, e.payload.get("baskets")))
        sending = [e for e in due if all(a.effect is not e for a in skipped)]
        # Two phases, so that a crash never sends a batch twice: the file is staged where
        # the WMS cannot see it, its name is noted on the effects, then it is published.
        try:
            name = warehouse.stage(requests) if requests else ""
            if name:
                with store.transaction() as conn:
                    if not store.mark_batch(conn, sending, name):
                        # our claims ran out (this worker was stalled): another worker
                        # delivers these; the staged file is never published
                        log.warning("hand-off batch %s abandoned: claims lost", name)
                        return
                warehouse.publish(name)
        except WarehouseError as err:
            log.warning("hand-off of %d orders failed, will retry: %s", len(sending), err)
            _record(ctx, skipped + [_retry(e, str(err), now) for e in sending], now)
            result.retried += len(sending)
            return
        _record(ctx, skipped + [Attempt(e, True, None) for e in sending], now)
        if name:
            result.batches.append(name)
        result.sent += len(requests)


def _finish_staged(ctx: ShopContext, warehouse: Warehouse, staged: list[EffectRow],
                   result: HandOffResult, now: datetime) -> None:
    """Publish batches staged by a worker that stopped before recording them: a staged
    file still there was never given to the WMS; a missing one was."""
    by_batch: dict[str, list[EffectRow]] = {}
    for e in staged:
        by_batch.setdefault(e.batch or "", []).append(e)
    for name, effects in by_batch.items():
        try:
            published_now = warehouse.publish(name)
        except WarehouseError as err:
            _record(ctx, [_retry(e, str(err), now) for e in effects], now)
            result.retried += len(effects)
            continue
        log.info("hand-off batch %s %s", name, "published after a restart" if published_now
                 else "had been published before a restart")
        _record(ctx, [Attempt(e, True, None) for e in effects], now)
        result.batches.append(name)


def _deliver_cancels(ctx: ShopContext, warehouse: Warehouse, result: HandOffResult) -> None:
    store, shop, now = ctx.store, ctx.shop, ctx.clock.now()
    with store.transaction() as conn:
        due = store.due_effects(conn, shop, EffectKind.cancel_at_warehouse, now, 10_000)
    if not due:
        return
    requests = [CancelRequest(e.payload["order_number"], tuple(e.payload.get("baskets", ())))
                for e in due]
    try:
        name = warehouse.cancel(requests)
    except WarehouseError as err:
        log.warning("cancel request of %d orders failed, will retry: %s", len(due), err)
        _record(ctx, [_retry(e, str(err), now) for e in due], now)
        result.retried += len(due)
        return
    _record(ctx, [Attempt(e, True, None) for e in due], now)
    result.batches.append(name)
    result.cancels += len(due)


def _retry(effect: EffectRow, error: str, now: datetime) -> Attempt:
    # The exchange itself failed (not the order): keep retrying, never give up on it.
    return Attempt(effect, False, error, now + backoff(effect.attempts + 1))


def _record(ctx: ShopContext, attempts: list[Attempt], now: datetime) -> None:
    with ctx.store.transaction() as conn:
        ctx.store.record_attempts(conn, attempts, now)


def apply_commands(ctx: ShopContext, conn: Connection,
                   commands: Sequence[tuple[Order, Command]], now: datetime) -> int:
    """Move the orders (`move()`): one moved meanwhile is re-read and decided again; a
    command that no longer fits it is recorded on it. Returns the number of orders that
    could not be moved."""
    moved = move(ctx.store, conn, commands, now, on_conflict=OnConflict.retry)
    return len(moved.lost) + len(moved.failed)


# ---- results ----------------------------------------------------------------------------


@dataclass
class ResultsResult:
    files: int = 0
    rows: int = 0
    shipped_packages: int = 0
    rejected: int = 0
    errors: int = 0
    problems: list[str] = field(default_factory=list)  # "file:line: message"


@dataclass
class _Checked:
    commands: dict[str, list[Command]] = field(default_factory=lambda: defaultdict(list))
    problems: list[RowProblem] = field(default_factory=list)


RESULTS_CHUNK = 1000
"""Orders of a result file loaded and moved per transaction."""


def import_results(ctx: ShopContext, warehouse: Warehouse | None = None) -> ResultsResult:
    """Apply the warehouse's result batches; each batch is settled once applied."""
    result = ResultsResult()
    warehouse = warehouse or ctx.warehouse
    if warehouse is None:
        return result
    for batch in warehouse.results():
        result.files += 1
        result.rows += len(batch.rows)
        problems = list(batch.problems)
        rows_of: dict[str, list[ResultRow]] = defaultdict(list)
        for row in batch.rows:
            rows_of[row.order_number].append(row)
        # orders named only by a problem (an unfinished last line) get their gate too
        numbers = sorted(set(rows_of) | {p.order_number for p in batch.problems
                                         if p.order_number})
        # A wave's file has tens of thousands of rows: its orders are loaded and moved
        # a chunk at a time (applying a row twice changes nothing, so a file cut short
        # by a crash is simply applied again), the file settled once all are applied.
        for i in range(0, len(numbers), RESULTS_CHUNK):
            chunk = numbers[i : i + RESULTS_CHUNK]
            part = ResultBatch(batch.name, [r for n in chunk for r in rows_of.get(n, ())])
            now = ctx.clock.now()
            with ctx.store.transaction() as conn:
                orders = ctx.store.load_orders(conn, ctx.shop, chunk)
                checked = _check(part, orders, now, ctx.config.warehouse)
                problems.extend(checked.problems)
                moves: list[tuple[Order, Command]] = []
                for number, commands in checked.commands.items():
                    for command in commands:
                        moves.append((orders[number], command))
                        if isinstance(command, RecordShipment):
                            result.shipped_packages += 1
                        elif isinstance(command, RecordWarehouseRejection):
                            result.rejected += 1
                in_chunk = set(chunk)
                gates = _problem_gates(batch.name, [
                    *(p for p in batch.problems if p.order_number in in_chunk),
                    *checked.problems], orders, now)
                _apply_in_order(ctx, conn, moves + gates, now)
        problems.sort(key=lambda p: p.line)
        result.errors += len(problems)
        result.problems.extend(f"{batch.name}:{p.line}: {p.message}" for p in problems)
        for p in problems:
            log.warning("warehouse result %s:%d: %s", batch.name, p.line, p.message)
        try:
            warehouse.settle(batch, problems)
        except WarehouseError as e:  # it stays and is read again; the next files go on
            log.error("warehouse result %s cannot be settled: %s", batch.name, e)
            result.problems.append(f"{batch.name}: {e}")
    return result


def _apply_in_order(ctx: ShopContext, conn: Connection,
                    moves: list[tuple[Order, Command]], now: datetime) -> None:
    """Several commands for one order are applied one after the other."""
    rounds: list[list[tuple[Order, Command]]] = []
    seen: dict[str, int] = defaultdict(int)
    for order, command in moves:
        k = seen[order.number]
        seen[order.number] += 1
        if k == len(rounds):
            rounds.append([])
        rounds[k].append((order, command))
    for i, moves_ in enumerate(rounds):
        if i:  # later rounds start from what the earlier ones wrote
            fresh = ctx.store.load_orders(conn, ctx.shop, [o.number for o, _ in moves_])
            moves_ = [(fresh[o.number], c) for o, c in moves_ if o.number in fresh]
        apply_commands(ctx, conn, moves_, now)


def _problem_gates(name: str, problems: list[RowProblem], orders: dict[str, Order],
                   now: datetime) -> list[tuple[Order, Command]]:
    out: list[tuple[Order, Command]] = []
    for p in problems:
        order = orders.get(p.order_number)
        if order is not None and order.stage in (Stage.processing, Stage.ready,
                                                 Stage.at_warehouse):
            reason = f"倉庫実績エラー {name}:{p.line}: {p.message}"[:300]
            out.append((order, OpenGate(GateKind.check, reason, now)))
    return out


def _check(batch: ResultBatch, orders: dict[str, Order], now: datetime,
           settings: WarehouseSettings | None = None) -> _Checked:
    """Validate every row; group the good ones per package into commands.

    A row without a carrier takes the default of the order's delivery method
    (`warehouse.default_carrier`); a row without a tracking number is accepted only
    where that method has none (`warehouse.untracked_methods`: 定形外, ゆうメール …)."""
    settings = settings or WarehouseSettings()
    out = _Checked()
    parcels: dict[tuple[str, int], list[Shipment]] = defaultdict(list)
    sources: dict[tuple[str, int], int] = {}
    for row in batch.rows:
        order = orders.get(row.order_number)

        def bad(message: str, row: ResultRow = row) -> None:
            out.problems.append(RowProblem(row.line, message, row.order_number))

        if not row.order_number:
            bad("受注番号が空です")
            continue
        if order is None:
            bad(f"受注番号 {row.order_number} は登録されていません")
            continue
        basket = _basket(order, row.basket_id)
        if basket is None:
            bad(f"送付先ID {row.basket_id!r} はこの受注にありません")
            continue
        if order.stage not in (Stage.at_warehouse, Stage.shipped):
            bad(f"受注は倉庫連携中ではありません（{order.stage}）")
            continue
        if row.status:
            if order.stage is Stage.at_warehouse:
                out.commands[order.number].append(RecordWarehouseRejection(
                    basket, row.status, now, f"{batch.name}:{row.line}"))
            continue
        method = order.setting("delivery_method") or order.channel.delivery_name
        if row.carrier:
            code = carrier_code(row.carrier)
            if code is None:
                bad(f"配送会社 {row.carrier!r} が不明です")
                continue
        else:
            code = settings.carrier_for(method)
            if code is None:
                bad(f"配送会社が空です（配送方法「{method}」の既定の配送会社が "
                    "warehouse.default_carrier にありません）")
                continue
        tracking = normalise_tracking(row.tracking_number)
        if tracking or not settings.untracked(method):
            problem = tracking_problem(code, tracking)
            if problem:
                bad(problem if tracking else f"{problem}（配送方法「{method}」は追跡番号が"
                                             "必要です: warehouse.untracked_methods）")
                continue
        shipped_on, problem = _ship_date(row.ship_date, order, now)
        if shipped_on is None:
            bad(problem)
            continue
        key = (order.number, basket)
        s = Shipment(None, code, tracking, shipped_on)
        if s not in parcels[key]:
            parcels[key].append(s)
        sources.setdefault(key, row.line)
    for (number, basket), shipments in parcels.items():
        out.commands[number].append(RecordShipment(
            basket, tuple(shipments), now, f"{batch.name}:{sources[(number, basket)]}"))
    return out


def _basket(order: Order, text: str) -> int | None:
    baskets = [p.basket_id for p in order.channel.packages]
    if not text.strip():
        return baskets[0] if len(baskets) == 1 else None
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return value if value in baskets else None


def _ship_date(text: str, order: Order, now: datetime) -> tuple[date | None, str]:
    raw = text.strip().replace("/", "-")
    try:
        if len(raw) == 8 and raw.isdigit():
            raw = f"{raw[:4]}-{raw[4:6]}-{raw[6:]}"
        day = date.fromisoformat(raw[:10])
    except ValueError:
        return None, f"出荷日 {text!r} が日付ではありません（YYYY-MM-DD）"
    today = now.astimezone(JST).date()
    if day > today:
        return None, f"出荷日 {day} が未来です"
    if day < order.channel.ordered_at.astimezone(JST).date():
        return None, f"出荷日 {day} が注文日より前です"
    if day < today - MAX_SHIP_AGE:
        return None, f"出荷日 {day} が古すぎます"
    return day, ""
