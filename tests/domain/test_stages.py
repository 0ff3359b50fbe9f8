"""The stage table (domain/stages.py): the legal moves listed, and every move decide()
makes on generated command sequences is in it; a command refused by `refusal()` is the
one decide() refuses."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import T0, channel_order
from unyo.domain import (
    Actor,
    CancelOrder,
    CloseGate,
    DomainError,
    GateKind,
    HandOff,
    ImportOrder,
    OpenGate,
    RecordShipment,
    Shipment,
    Stage,
    SyncOrder,
    decide,
)
from unyo.domain.decide import RecordWarehouseRejection, SetField
from unyo.domain.stages import ALLOWED, MOVES, Action, IllegalMove, allowed, check_move

LEGAL = {
    ("processing", "ready"), ("processing", "cancelled"),
    ("ready", "processing"), ("ready", "at_warehouse"), ("ready", "cancelled"),
    ("at_warehouse", "shipped"), ("at_warehouse", "ready"),  # ready: out of a print batch
}


def test_the_legal_moves_are_these_and_no_others() -> None:
    listed = {(a.value, b.value) for a, targets in MOVES.items() for b in targets}
    assert listed == LEGAL
    assert set(MOVES) == set(Stage)  # every stage has a row
    for a in Stage:
        for b in Stage:
            if a is b or (a.value, b.value) in LEGAL:
                check_move(a, b)
            else:
                try:
                    check_move(a, b)
                except IllegalMove:
                    continue
                raise AssertionError(f"{a} → {b} passed")


def test_shipped_and_cancelled_are_final() -> None:
    assert not MOVES[Stage.shipped] and not MOVES[Stage.cancelled]
    assert ALLOWED[Action.cancel] == {Stage.processing, Stage.ready}


SHIPMENT = (Shipment(None, "1001", "123456789012", T0.date()),)


def _command(kind: str, now: Any) -> Any:
    return {
        "open_gate": OpenGate(GateKind.hold, "保留", now, Actor.person),
        "release": CloseGate(None, now, Actor.person, "ok"),
        "cancel": CancelOrder("お客様都合", now, Actor.person),
        "set_field": SetField("warehouse_note", "ギフト", now, Actor.person),
        "hand_off": HandOff(now),
        "ship": RecordShipment(10001, SHIPMENT, now),
        "reject": RecordWarehouseRejection(10001, "欠品", now),
        "paid": SyncOrder(channel_order(status=300, member=False), now),
        "cancelled_at_rms": SyncOrder(channel_order(status=900, member=False), now),
    }[kind]


ACTION_OF = {"open_gate": Action.open_gate, "release": Action.release,
             "cancel": Action.cancel, "set_field": Action.set_field,
             "hand_off": Action.hand_off, "ship": Action.record_shipment,
             "reject": Action.record_rejection}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(sorted({*ACTION_OF, "paid", "cancelled_at_rms"})),
                max_size=12), st.booleans())
def test_every_move_decide_makes_is_in_the_table(kinds: list[str], paid: bool) -> None:
    order = decide(None, ImportOrder("shop", channel_order(status=300 if paid else 200,
                                                           member=False), T0)).order
    order = replace(order, id=1, version=1)
    now = T0
    for kind in kinds:
        now += timedelta(minutes=1)
        command = _command(kind, now)
        action = ACTION_OF.get(kind)
        try:
            d = decide(order, command)
        except DomainError:
            # refused: the table says why, or another rule of the command does (no gate
            # to release, nothing to record)
            assert action is None or not allowed(order, action) or kind in (
                "release", "reject", "ship", "set_field"), (kind, order.stage)
            continue
        if action is not None and action is not Action.release:
            assert allowed(order, action), (kind, order.stage)
        for e in d.events:
            if e.type.value == "stage_changed":
                assert (e.data["from"], e.data["to"]) in LEGAL
        order = replace(d.order, version=order.version + 1)
