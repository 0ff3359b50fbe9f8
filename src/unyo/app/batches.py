"""Print batches (印刷バッチ) of shops that pack themselves (`warehouse.type: self`).

Their hand-off is printing: the 出荷OK orders are printed together — one PDF of 納品書
per batch (and, later, one label file per carrier: the batch's *outputs* are a list,
the PDF first) — and become 印刷済 (at_warehouse) through `move()` with `PrintSlips`,
no request file written. Then staff pack and ship; the shipments come back as with a
WMS (result files, the tracking import).

- `print_batch`: the ready orders (all, or the numbers given) are re-read from RMS
  (a change since the last read goes through the rules again and is not printed
  unseen), moved, and their slips recorded with the batch in the same transaction;
  the outputs are made after commit and kept with the batch.
- `reprint_batch`: the same slips again (what they printed the first time, whatever
  changed since), each marked 再発行; orders taken out are left out.
- `take_out`: a person takes a printed order out of its batch before it ships; it is
  出荷OK again (受注処理 while a gate is open) and goes in a later batch.

The seam for the carriers' label files (issue 20 item 3): `SlipPrinter.outputs` returns
the batch's files as a list, the 納品書 PDF first; a printer that also writes label
files appends them there, and they are stored, downloaded and reprinted with the PDF.

A printing that fails (no Chromium) leaves the batch recorded and its orders 印刷済:
printing it again makes its outputs (not marked 再発行 until one printing succeeded).
Must not import adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from unyo.app.context import ShopContext, log
from unyo.app.moves import MoveConflict, MoveRefused, OnConflict, move
from unyo.app.ports import ChannelError
from unyo.app.syncing import SyncResult, read_orders
from unyo.clock import Clock
from unyo.domain import Order, PrintSlips, Stage, TakeOutOfBatch
from unyo.domain.decide import PRINT_BATCH
from unyo.domain.slips import BatchOutput, SlipRules, slips
from unyo.flow import Config

if TYPE_CHECKING:
    from unyo.app.context import Store

MAX_BATCH = 5000
"""Orders printed in one batch at most (a sale day prints in several)."""


class BatchError(Exception):
    """The batch cannot be printed or changed; the message (Japanese) says why."""


class _NothingPrinted(Exception):
    """Every selected order moved meanwhile: the batch is not kept."""


@dataclass(frozen=True)
class Printing:
    """What printing needs: the store, the shop's settings, the clock, and a way to
    re-read orders from RMS (the dashboard has none: it prints orders as the worker's
    sync last read them)."""

    store: Store
    config: Config
    clock: Clock
    reread: Callable[[list[str]], None] | None = None

    @property
    def shop(self) -> str:
        return self.config.shop_id

    @classmethod
    def of(cls, ctx: ShopContext) -> Printing:
        """From a shop's context: orders are re-read from RMS before they are printed."""
        def reread(numbers: list[str]) -> None:
            try:  # a change at RMS since the last read is never printed unseen
                read_orders(ctx, numbers, SyncResult())
            except ChannelError as e:
                log.warning("print: cannot re-read %d ready orders (%s); printed as last "
                            "read", len(numbers), e)
        return cls(ctx.store, ctx.config, ctx.clock, reread)


class SlipPrinter(Protocol):
    """Makes a batch's files from its slips (the adapter prints the PDF)."""

    def outputs(self, slips: list[dict[str, Any]], *, batch: int, reissue: bool,
                printed_at: datetime) -> list[BatchOutput]:
        ...


@dataclass
class PrintResult:
    batch: int | None = None  # None: nothing was ready
    orders: list[str] = field(default_factory=list)  # order numbers printed
    slips: int = 0
    reissue: bool = False
    outputs: list[BatchOutput] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # number → why not printed
    error: str = ""  # the outputs could not be made (the batch is recorded)


def _require_self(ctx: Printing) -> None:
    wh = ctx.config.warehouse
    if not (wh.enabled and wh.self_shipping):
        raise BatchError("納品書の印刷は自社出荷の店舗だけです（warehouse.type: self、"
                         "warehouse.enabled: true）")


def slip_rules(ctx: Printing) -> SlipRules:
    inv = ctx.config.invoice
    return SlipRules(inv.gift_prices, frozenset(inv.no_prices_tags))


def print_batch(ctx: Printing, printer: SlipPrinter, *, by: str,
                numbers: Sequence[str] | None = None, limit: int = MAX_BATCH) -> PrintResult:
    """Print the ready orders (or those of `numbers` that are ready) as a new batch."""
    _require_self(ctx)
    store, shop = ctx.store, ctx.shop
    result = PrintResult()
    with store.transaction() as conn:
        ready = store.order_numbers_in_stages(conn, shop, [Stage.ready])
    if numbers is not None:
        wanted = list(dict.fromkeys(numbers))
        ready_set = set(ready)
        result.skipped.update({n: "出荷OKではありません" for n in wanted if n not in ready_set})
        ready = [n for n in wanted if n in ready_set]
    ready = sorted(ready)[:max(1, limit)]
    if not ready:
        return result
    if ctx.reread is not None:
        ctx.reread(ready)
    now = ctx.clock.now()
    try:
        batch, rows = _record_batch(ctx, ready, now, by, result)
    except _NothingPrinted:
        return result
    result.batch = batch
    result.orders = [number for _, number, _ in rows]
    _make_outputs(ctx, printer, batch, [s for _, _, ss in rows for s in ss], by, result)
    return result


def _record_batch(ctx: Printing, ready: list[str], now: datetime, by: str,
                  result: PrintResult) -> tuple[int, list[tuple[int, str, list[dict[str, Any]]]]]:
    """One transaction: the batch, its orders moved to 印刷済, their slips."""
    store, shop, rules = ctx.store, ctx.shop, slip_rules(ctx)
    with store.transaction() as conn:
        orders = store.load_orders(conn, shop, ready)
        todo = [o for n in ready if (o := orders.get(n)) is not None and o.stage is Stage.ready]
        result.skipped.update({n: "出荷OKではなくなりました" for n in ready
                               if n not in {o.number for o in todo}})
        if not todo:
            raise _NothingPrinted
        batch = store.create_batch(conn, shop, now, by)
        moved = move(store, conn, [(o, PrintSlips(batch, now, by)) for o in todo], now,
                     on_conflict=OnConflict.retry)
        printed = sorted((o for o in moved.orders if o.stage is Stage.at_warehouse
                          and o.setting(PRINT_BATCH) == str(batch)), key=lambda o: o.number)
        for o in moved.lost:
            result.skipped[o.number] = "印刷中に変更されました"
        result.skipped.update(moved.refused)
        result.skipped.update(moved.failed)
        if not printed:
            raise _NothingPrinted  # rolls the batch back
        rows = [(o.id or 0, o.number, slips(o, rules)) for o in printed]
        store.add_batch_orders(conn, batch, rows)
    return batch, rows


def reprint_batch(ctx: Printing, printer: SlipPrinter, batch: int, *,
                  by: str) -> PrintResult:
    """The batch's slips again, as first printed, marked 再発行 once printed before."""
    store, shop = ctx.store, ctx.shop
    with store.transaction() as conn:
        row = store.batch(conn, shop, batch)
        if row is None:
            raise BatchError(f"印刷バッチ {batch} はありません")
        members = [m for m in store.batch_orders(conn, batch) if m.removed_at is None]
    result = PrintResult(batch=batch, orders=[m.order_number for m in members])
    if not members:
        raise BatchError(f"印刷バッチ {batch} には注文が残っていません")
    _make_outputs(ctx, printer, batch, [s for m in members for s in m.slips], by, result,
                  reissue=row.printed > 0)
    return result


def _make_outputs(ctx: Printing, printer: SlipPrinter, batch: int,
                  slip_data: list[dict[str, Any]], by: str, result: PrintResult, *,
                  reissue: bool = False) -> None:
    now = ctx.clock.now()
    result.slips = len(slip_data)
    result.reissue = reissue
    try:
        outputs = printer.outputs(slip_data, batch=batch, reissue=reissue, printed_at=now)
    except Exception as e:  # no browser, a template failing on one order's data...
        log.error("print batch %d: outputs not made: %s", batch, e)
        result.error = str(e) or type(e).__name__
        return
    with ctx.store.transaction() as conn:
        ctx.store.record_printing(conn, batch, now, by, outputs)
    result.outputs = outputs


def batch_outputs(ctx: Printing, batch: int) -> list[BatchOutput]:
    """What the batch's last printing made (to download again)."""
    with ctx.store.transaction() as conn:
        if ctx.store.batch(conn, ctx.shop, batch) is None:
            raise BatchError(f"印刷バッチ {batch} はありません")
        return ctx.store.batch_outputs(conn, batch)


def take_out(ctx: Printing, batch: int, number: str, *, by: str, note: str = "",
             version: int | None = None) -> Order:
    """Take a printed order out of its batch (before it ships): back to 出荷OK."""
    store, shop, now = ctx.store, ctx.shop, ctx.clock.now()
    with store.transaction() as conn:
        order = store.load_order(conn, shop, number)
        if order is None:
            raise BatchError(f"注文 {number} はありません")
        if order.setting(PRINT_BATCH) != str(batch) or order.id is None:
            raise BatchError(f"注文 {number} は印刷バッチ {batch} に入っていません")
        try:
            moved = move(store, conn, [(order, TakeOutOfBatch(batch, now, by, note))], now,
                         expect_version=version, on_conflict=OnConflict.fail, rounds=5,
                         refusals="raise")
        except (MoveRefused, MoveConflict) as e:
            raise BatchError(f"注文 {number} を印刷バッチから外せません: {e}") from None
        store.remove_from_batch(conn, batch, order.id, now, by)
    return moved.orders[0] if moved.written else order
