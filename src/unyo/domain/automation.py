"""What "automated" means (自動化率, DESIGN.md §3), defined once: the report, the
dashboard and the flow diagram's figures all count with it.

An order that reached its basis stage (`shipped`, or `ready` while nothing has shipped)
is automated when no person touched it before it got there: no gate opened or closed by
a person, no manual cancel, no field set or tag added by hand (the stage moves such
actions cause are not touches of their own). An order merged into it (同梱) is not
counted on its own — it ships in this order's parcel — and a person's touch on it counts
against this order. Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from unyo.domain.order import Event
from unyo.domain.vocabulary import Actor, EventType

TOUCHES = frozenset({EventType.gate_closed, EventType.gate_opened, EventType.order_cancelled,
                     EventType.field_set, EventType.tag_added})
"""The event types that are a person's touch when a person is their actor."""


def is_touch(e: Event) -> bool:
    return e.actor is Actor.person and e.type in TOUCHES


def carried_ids(events: Iterable[Event]) -> list[int]:
    """The ids of the orders merged into this one (its `merged_from` events)."""
    return [int(o["id"]) for e in events if e.type is EventType.merged_from
            for o in e.data.get("orders", ()) if isinstance(o, dict) and o.get("id")]


def manual_touches(events: Sequence[Event], done_at: datetime,
                   carried: Iterable[Sequence[Event]] = ()) -> list[Event]:
    """A person's touches that count against an order done at `done_at`: its own before
    (or at) that time, and any on the orders merged into it."""
    out = [e for e in events if is_touch(e) and e.at <= done_at]
    out += [e for evs in carried for e in evs if is_touch(e)]
    return out


def automated(events: Sequence[Event], done_at: datetime,
              carried: Iterable[Sequence[Event]] = ()) -> bool:
    return not manual_touches(events, done_at, carried)
