"""Manual actions (人の作業): release a gate, hold an order, cancel it, set its
warehouse note.

Shared by the CLI and the dashboard. Each is a person's touch, recorded on the
order with who, when and why, and counted against the automation rate.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any, cast

from unyo.adapters.db.store import Store
from unyo.app.context import ShopContext
from unyo.app.moves import MoveConflict, MoveRefused, OnConflict, StaleVersion, move
from unyo.app.ports import OrderChannel
from unyo.clock import Clock
from unyo.domain import (
    CANCEL_REASONS,
    DEFAULT_CANCEL_REASON,
    Actor,
    CancelOrder,
    CloseGate,
    Command,
    EditDetails,
    EditRecipient,
    GateKind,
    OpenGate,
    Order,
    SetField,
    SetReleaseDate,
)
from unyo.domain.edits import (
    DETAILS,
    FIELDS,
    EditError,
    details_from,
    person_values,
    recipient_from,
)
from unyo.flow import Config


class ManualActionError(Exception):
    """The action cannot be done (message says why); nothing was changed."""


class StaleOrder(ManualActionError):
    """The order changed since the person's page showed it (its version moved)."""


def _act(store: Store, shop: str, number: str, command: Command, now: datetime,
         version: int | None = None, ctx: ShopContext | None = None) -> Order:
    """One person's action through `move()`: another worker moving the order meanwhile is
    decided again (up to 5 times); with the form's `version`, any change since is
    refused, checked by the compare-and-set itself."""
    with store.transaction() as conn:
        order = store.load_order(conn, shop, number)
        if order is None:
            raise ManualActionError(f"no order {number} in shop {shop}")
        try:
            moved = move(store, conn, [(order, command)], now, expect_version=version,
                         on_conflict=OnConflict.fail, rounds=5, refusals="raise",
                         ctx=ctx, rules=ctx is not None)
        except StaleVersion as e:
            raise StaleOrder(str(e)) from None
        except (MoveRefused, MoveConflict) as e:
            raise ManualActionError(str(e)) from None
    return moved.orders[0] if moved.written else order


def release(store: Store, shop: str, number: str, kind: GateKind, *, note: str, by: str,
            now: datetime, version: int | None = None) -> Order:
    """Close the order's open gates of `kind` (確認OK / 保留解除 / 入金確認)."""
    return _act(store, shop, number, CloseGate(kind, now, Actor.person, note, by=by), now,
                version)


def release_gate(store: Store, shop: str, number: str, seq: int, *, note: str, by: str,
                 now: datetime, version: int | None = None) -> Order:
    """Close one gate of the order (its number within the order, as `orders show` lists)."""
    return _act(store, shop, number, CloseGate(None, now, Actor.person, note, seq, by=by), now,
                version)


def hold(store: Store, shop: str, number: str, *, until: datetime | None, note: str, by: str,
         now: datetime, version: int | None = None,
         release_date: date | None = None) -> Order:
    """Hold the order (保留) until a time, or until a person releases it; or, given a
    pre-order's release date (発売日), keep that date on the order and hold it until then
    (it answers 発売日不明)."""
    if release_date is not None:
        if until is not None:
            raise ManualActionError("give either a time to hold until or a release date")
        return _act(store, shop, number,
                    SetReleaseDate(release_date, now, Actor.person, note, by=by), now, version)
    if until is not None and until <= now:
        raise ManualActionError(f"--until {until.isoformat()} is not in the future")
    return _act(store, shop, number,
                OpenGate(GateKind.hold, note or "手動で保留", now, Actor.person, until, by=by),
                now, version)


def cancel(store: Store, shop: str, number: str, *, note: str, by: str,
           now: datetime, version: int | None = None,
           reason: int = DEFAULT_CANCEL_REASON) -> Order:
    """Cancel the order in unyo (before hand-off), and at RMS through the outbox
    (cancelOrder with `reason`, RMS's changeReasonDetailApply: `CANCEL_REASONS`)."""
    if reason not in CANCEL_REASONS:
        raise ManualActionError(f"unknown cancel reason {reason} (known: "
                                f"{', '.join(str(c) for c in CANCEL_REASONS)})")
    command = CancelOrder(note or "手動キャンセル", now, Actor.person, by=by, rms_reason=reason)
    return _act(store, shop, number, command, now, version)


class _Offline:
    """No channel: a person's edit reaches RMS through the outbox, never from here."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no channel here ({name}): effects go through the outbox")


def edit_recipient(store: Store, config: Config, clock: Clock, number: str,
                   values: dict[str, str], *, note: str, by: str,
                   version: int | None = None, basket_id: int | None = None) -> Order:
    """Change the recipient (送付先) of one package of the order: the typed `values` (the
    keys of `unyo.domain.edits.FIELDS`; a key not given keeps what the order has) are
    normalised and checked (`EditError` lists every problem, in Japanese), the order
    keeps them, the shop's rules run again on it, and RMS gets them through the outbox
    (updateOrderSender). `basket_id` picks the package of an order with several."""
    now = clock.now()
    with store.transaction() as conn:
        order = store.load_order(conn, config.shop_id, number)
    if order is None:
        raise ManualActionError(f"no order {number} in shop {config.shop_id}")
    packages = order.channel.packages
    if basket_id is None and len(packages) > 1:
        raise ManualActionError(f"order {number} has {len(packages)} destinations: say "
                                f"which ({', '.join(str(p.basket_id) for p in packages)})")
    package = next((p for p in packages if basket_id in (None, p.basket_id)), None)
    if package is None:
        raise ManualActionError(f"order {number} has no destination {basket_id}")
    merged = person_values(package.recipient) | {k: v for k, v in values.items()
                                                 if k in FIELDS}
    recipient = recipient_from(merged)  # EditError: what is wrong, in Japanese
    ctx = ShopContext(config, store, cast(OrderChannel, _Offline()), clock)
    return _act(store, config.shop_id, number,
                EditRecipient(package.basket_id, recipient, now, note, Actor.person, by=by),
                now, version, ctx)


def edit_details(store: Store, config: Config, clock: Clock, number: str,
                 values: dict[str, str], *, note: str, by: str,
                 version: int | None = None) -> Order:
    """Change the order's ひとことメモ (`memo`), requested delivery date (`delivery_date`)
    or time slot (`shipping_term`): only the keys given, normalised and checked
    (`EditError`, in Japanese); kept on the order, the rules run again, and written back
    to RMS through the outbox (updateOrderMemo)."""
    from unyo.clock import JST

    now = clock.now()
    given = details_from({k: v for k, v in values.items() if k in DETAILS},
                         now.astimezone(JST).date())
    if not given:
        raise ManualActionError("nothing to change (memo, delivery date or time slot)")
    ctx = ShopContext(config, store, cast(OrderChannel, _Offline()), clock)
    return _act(store, config.shop_id, number,
                EditDetails(tuple(sorted(given.items())), now, note, Actor.person, by=by),
                now, version, ctx)


def set_warehouse_note(store: Store, shop: str, number: str, note: str, *, by: str,
                       now: datetime, version: int | None = None) -> Order:
    """Set the note handed to the warehouse with the order (倉庫への指示); empty removes it."""
    if len(note) > 200:
        raise ManualActionError("the warehouse note is longer than 200 characters")
    return _act(store, shop, number, SetField("warehouse_note", note, now, Actor.person, by=by),
                now, version)


__all__ = ["EditError", "ManualActionError", "StaleOrder", "cancel", "edit_details",
           "edit_recipient", "hold", "release", "release_gate", "set_warehouse_note"]
