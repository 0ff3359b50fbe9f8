"""Manual actions (人の作業): release a gate, hold an order, cancel it, set its
warehouse note.

Shared by the CLI and the dashboard. Each is a person's touch, recorded on the
order with who, when and why, and counted against the automation rate.
"""

from __future__ import annotations

from datetime import date, datetime

from unyo.adapters.db.store import ConcurrentUpdate, Store
from unyo.domain import (
    Actor,
    CancelOrder,
    CloseGate,
    Command,
    DomainError,
    GateKind,
    OpenGate,
    Order,
    SetField,
    SetReleaseDate,
    decide,
)


class ManualActionError(Exception):
    """The action cannot be done (message says why); nothing was changed."""


def _act(store: Store, shop: str, number: str, command: Command, now: datetime) -> Order:
    for _ in range(5):  # another worker may move the order meanwhile: decide again
        with store.transaction() as conn:
            order = store.load_order(conn, shop, number)
            if order is None:
                raise ManualActionError(f"no order {number} in shop {shop}")
            try:
                decision = decide(order, command)
            except DomainError as e:
                raise ManualActionError(str(e)) from None
            try:
                return store.apply(conn, order, decision, now)
            except ConcurrentUpdate:
                continue
    raise ManualActionError(f"order {number} keeps changing; try again")


def release(store: Store, shop: str, number: str, kind: GateKind, *, note: str, by: str,
            now: datetime) -> Order:
    """Close the order's open gates of `kind` (確認OK / 保留解除 / 入金確認)."""
    return _act(store, shop, number, CloseGate(kind, now, Actor.person, note, by=by), now)


def release_gate(store: Store, shop: str, number: str, seq: int, *, note: str, by: str,
                 now: datetime) -> Order:
    """Close one gate of the order (its number within the order, as `orders show` lists)."""
    return _act(store, shop, number, CloseGate(None, now, Actor.person, note, seq, by=by), now)


def hold(store: Store, shop: str, number: str, *, until: datetime | None, note: str, by: str,
         now: datetime, release_date: date | None = None) -> Order:
    """Hold the order (保留) until a time, or until a person releases it; or, given a
    pre-order's release date (発売日), keep that date on the order and hold it until then
    (it answers 発売日不明)."""
    if release_date is not None:
        if until is not None:
            raise ManualActionError("give either a time to hold until or a release date")
        return _act(store, shop, number,
                    SetReleaseDate(release_date, now, Actor.person, note, by=by), now)
    if until is not None and until <= now:
        raise ManualActionError(f"--until {until.isoformat()} is not in the future")
    return _act(store, shop, number,
                OpenGate(GateKind.hold, note or "手動で保留", now, Actor.person, until, by=by),
                now)


def cancel(store: Store, shop: str, number: str, *, note: str, by: str,
           now: datetime) -> Order:
    """Cancel the order in unyo (before hand-off); RMS is not told by this action."""
    command = CancelOrder(note or "手動キャンセル", now, Actor.person, by=by)
    return _act(store, shop, number, command, now)


def set_warehouse_note(store: Store, shop: str, number: str, note: str, *, by: str,
                       now: datetime) -> Order:
    """Set the note handed to the warehouse with the order (倉庫への指示); empty removes it."""
    if len(note) > 200:
        raise ManualActionError("the warehouse note is longer than 200 characters")
    return _act(store, shop, number, SetField("warehouse_note", note, now, Actor.person, by=by),
                now)
