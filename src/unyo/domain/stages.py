"""The stage machine as data: the legal moves between stages, and what may be done to an
order in each stage.

`decide()` asserts every stage change against `MOVES` (`check_move`) and refuses a command
in a stage `ALLOWED` does not list it for (`refusal`); the dashboard asks `allowed()`
which actions to offer, and the flow diagram can draw `MOVES`. One table, so nobody
re-implements the guards. Standard library only.

    processing ──(no open gate)──▶ ready ──hand-off──▶ at_warehouse ──shipped──▶ shipped
        ▲  │                        │  │ ◀──taken out of its print batch──┘
        │  │                        │  │
        │  └────────cancel──────────┼──┴──▶ cancelled
        └────(a gate opens)─────────┘
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING

from unyo.domain.vocabulary import Stage

if TYPE_CHECKING:
    from unyo.domain.order import Order

MOVES: Mapping[Stage, frozenset[Stage]] = {
    Stage.processing: frozenset({Stage.ready, Stage.cancelled}),
    Stage.ready: frozenset({Stage.processing, Stage.at_warehouse, Stage.cancelled}),
    # back to 出荷OK: a printed order taken out of its batch (自社出荷, before it ships)
    Stage.at_warehouse: frozenset({Stage.shipped, Stage.ready}),
    Stage.shipped: frozenset(),
    Stage.cancelled: frozenset(),
}
"""Every legal move: from a stage, the stages an order may go to next."""


class Action(StrEnum):
    """What is done to an order, by a person or by the engine."""

    cancel = "cancel"  # キャンセル (in unyo; before the warehouse has it)
    open_gate = "open_gate"  # 保留 / 確認待ち by hand, or a gate the engine opens
    release = "release"  # close a gate
    set_field = "set_field"  # a warehouse field (倉庫への備考...)
    apply_rules = "apply_rules"  # 受注処理 runs again
    hand_off = "hand_off"  # 倉庫連携
    record_shipment = "record_shipment"  # the warehouse's result
    record_rejection = "record_rejection"  # the warehouse refused the request
    merge = "merge"  # 同梱: merged into another order, or taking others in
    print_slips = "print_slips"  # 納品書の印刷 (自社出荷): the hand-off of a shop that packs
    take_out = "take_out"  # taken out of its print batch (自社出荷), back to 出荷OK


ALLOWED: Mapping[Action, frozenset[Stage]] = {
    Action.cancel: frozenset({Stage.processing, Stage.ready}),
    Action.open_gate: frozenset({Stage.processing, Stage.ready, Stage.at_warehouse}),
    Action.release: frozenset(Stage),  # a gate may be closed whatever the stage
    Action.set_field: frozenset({Stage.processing, Stage.ready}),
    Action.apply_rules: frozenset({Stage.processing, Stage.ready}),
    Action.hand_off: frozenset({Stage.ready}),
    Action.record_shipment: frozenset({Stage.at_warehouse, Stage.shipped}),
    Action.record_rejection: frozenset({Stage.at_warehouse}),
    Action.merge: frozenset({Stage.processing, Stage.ready}),
    Action.print_slips: frozenset({Stage.ready}),
    Action.take_out: frozenset({Stage.at_warehouse}),
}
"""In which stages each action may be done."""

BEFORE_HANDOFF = frozenset({Stage.processing, Stage.ready})

FINAL = frozenset(s for s, to in MOVES.items() if not to)
"""The stages an order never leaves (出荷済, キャンセル)."""


class IllegalMove(Exception):
    """A stage change the table does not allow (a bug in a decision, never bad input)."""


def check_move(old: Stage, new: Stage) -> None:
    """Raise IllegalMove unless `old` → `new` is in MOVES (staying put is always legal)."""
    if new is not old and new not in MOVES[old]:
        raise IllegalMove(f"illegal stage move {old} → {new}")


_REFUSED = {
    Action.cancel: "cannot cancel an order that is {stage}",
    Action.open_gate: "cannot open a gate on an order that is {stage}",
    Action.set_field: "cannot change a field of an order that is {stage}",
    Action.apply_rules: "cannot run the rules on an order that is {stage}",
    Action.hand_off: "order {number} is {stage}, not ready: cannot hand off",
    Action.record_shipment: "order {number} is {stage}, not at the warehouse",
    Action.record_rejection: "order {number} is {stage}, not at the warehouse",
    Action.merge: "order {number} is {stage}: only an order not handed off can be merged",
    Action.print_slips: "order {number} is {stage}, not ready: cannot print it",
    Action.take_out: "order {number} is {stage}, not printed: cannot take it out of a batch",
}


def refusal(order: Order, action: Action) -> str | None:
    """Why `action` cannot be done to `order` now (English, for DomainError), or None."""
    if order.stage not in ALLOWED[action]:
        return _REFUSED.get(action, "cannot {action} an order that is {stage}").format(
            number=order.number, stage=order.stage, action=action.value)
    if action is Action.cancel and order.merged:
        return (f"order {order.number} carries merged orders "
                f"({', '.join(m.order_number for m in order.merged)}); a merge (同梱) "
                "cannot be undone: hold it, or cancel the orders at RMS")
    return None


def allowed(order: Order, action: Action) -> bool:
    """Whether `action` can be done to `order` now (what the dashboard offers)."""
    return refusal(order, action) is None
