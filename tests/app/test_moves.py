"""`move()`: the one way an order moves (issue 16 item 1).

Its policies are tested here on a real store: a lost compare-and-set decided again,
left for later or refused; a form's version checked in the same transaction as the
write; a command that does not fit recorded on the order. And nobody else calls
`decide()` or writes orders.
"""

from __future__ import annotations

import ast
import importlib
import itertools
from functools import reduce
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from tests.factories import T0, channel_order, minutes
from unyo.adapters.db import Store
from unyo.adapters.db import schema as t
from unyo.app.moves import MoveConflict, MoveRefused, OnConflict, StaleVersion, move
from unyo.domain import (
    Actor,
    CloseGate,
    Command,
    Decision,
    DomainError,
    EventType,
    GateKind,
    ImportOrder,
    OpenGate,
    Order,
    SetField,
    SyncOrder,
)

decide_module = importlib.import_module("unyo.domain.decide")  # the package shadows it
SRC = Path(__file__).resolve().parents[2] / "src" / "unyo"
WRITES = {"apply", "apply_many", "apply_together", "create_orders"}


def test_only_moves_decides_and_writes_orders():
    """`decide(` and the store's order writes are called from `app/moves.py` alone
    (the domain and the store's own module aside), read from the code's syntax tree."""
    callers = set()
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(("domain/", "adapters/db/")) or rel == "app/moves.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(
                f, ast.Attribute) else ""
            if name == "decide" or (isinstance(f, ast.Attribute) and name in WRITES):
                callers.add(f"{rel}:{node.lineno}: {ast.unparse(node)[:80]}")
    assert not callers, "\n".join(sorted(callers))


def _new(store: Store, number: str = "123456-20261127-0000000001") -> Order:
    with store.transaction() as conn:
        moved = move(store, conn, [(None, ImportOrder("shop", channel_order(number), T0))], T0)
    assert len(moved.written) == 1
    return moved.orders[0]


def _load(store: Store, number: str = "123456-20261127-0000000001") -> Order:
    with store.transaction() as conn:
        order = store.load_order(conn, "shop", number)
    assert order is not None
    return order


def _bump(store: Store, order: Order) -> None:
    """Another worker moves the order (its version) meanwhile."""
    with store.transaction() as conn:
        conn.execute(update(t.orders).where(t.orders.c.id == order.id)
                     .values(version=t.orders.c.version + 1))


def _events(store: Store, order: Order) -> list[EventType]:
    with store.transaction() as conn:
        return [e.type for e in store.events_of(conn, order.id)]  # type: ignore[arg-type]


def _hold(at: int = 1) -> OpenGate:
    return OpenGate(GateKind.hold, "確認のため保留", T0 + minutes(at), Actor.person, by="yamada")


def test_a_new_order_is_created_and_a_second_import_is_refused_and_recorded(store: Store):
    order = _new(store)
    assert order.id is not None and order.version == 1
    with store.transaction() as conn:
        again = move(store, conn, [(order, ImportOrder("shop", order.channel, T0))], T0)
    assert order.number in again.refused and "already imported" in again.refused[order.number]
    assert _events(store, order)[-1] is EventType.command_refused


def test_a_refusal_is_recorded_on_the_order_not_only_logged(store: Store):
    order = _new(store)
    no_gate = CloseGate(None, T0 + minutes(2), Actor.system, "", seq=99)
    with store.transaction() as conn:
        moved = move(store, conn, [(order, no_gate)], T0 + minutes(2))
    assert moved.written[0].order.open_gates != ()  # the payment gate is still open
    with store.transaction() as conn:
        events = store.events_of(conn, order.id)  # type: ignore[arg-type]
    last = events[-1]
    assert last.type is EventType.command_refused
    assert last.data["command"] == "CloseGate" and "no such open gate" in last.data["reason"]
    assert _load(store).version == order.version + 1


def test_a_persons_refused_action_raises_and_writes_nothing(store: Store):
    order = _new(store)
    with pytest.raises(MoveRefused, match="no such open gate"), store.transaction() as conn:
        move(store, conn, [(order, CloseGate(None, T0, Actor.person, "", seq=99))], T0,
             refusals="raise")
    assert _load(store).version == order.version


def test_retry_decides_again_on_the_fresh_order(store: Store):
    order = _new(store)
    _bump(store, order)
    with store.transaction() as conn:
        moved = move(store, conn, [(order, _hold())], T0 + minutes(1))
    assert not moved.lost and len(moved.written) == 1
    after = _load(store)
    assert after.version == order.version + 2
    assert [g.kind for g in after.open_gates] == [GateKind.payment, GateKind.hold]


def test_wait_leaves_a_moved_order_for_the_next_turn(store: Store):
    order = _new(store)
    _bump(store, order)
    with store.transaction() as conn:
        moved = move(store, conn, [(order, _hold())], T0 + minutes(1),
                     on_conflict=OnConflict.wait)
    assert [o.id for o in moved.lost] == [order.id] and not moved.written
    assert [g.kind for g in _load(store).open_gates] == [GateKind.payment]


def test_fail_raises_once_the_retries_are_spent(store: Store):
    order = _new(store)
    _bump(store, order)
    with pytest.raises(MoveConflict, match="keeps changing"), store.transaction() as conn:
        move(store, conn, [(order, _hold())], T0 + minutes(1), on_conflict=OnConflict.fail,
             rounds=1)
    assert [g.kind for g in _load(store).open_gates] == [GateKind.payment]


def test_a_forms_version_is_checked_by_the_compare_and_set(store: Store):
    """The form showed version 1; the order moved after it was loaded for the write:
    the write is refused, not applied over the change."""
    order = _new(store)
    _bump(store, order)  # after the load below would have happened: the loaded copy is stale
    with pytest.raises(StaleVersion), store.transaction() as conn:
        move(store, conn, [(order, _hold())], T0 + minutes(1), expect_version=order.version)
    fresh = _load(store)
    with pytest.raises(StaleVersion), store.transaction() as conn:
        move(store, conn, [(fresh, _hold())], T0 + minutes(1), expect_version=order.version)
    assert [g.kind for g in _load(store).open_gates] == [GateKind.payment]
    with store.transaction() as conn:
        move(store, conn, [(fresh, _hold())], T0 + minutes(1), expect_version=fresh.version)
    assert [g.kind for g in _load(store).open_gates] == [GateKind.payment, GateKind.hold]


def test_together_writes_all_or_none(store: Store):
    a = _new(store, "123456-20261127-0000000001")
    b = _new(store, "123456-20261127-0000000002")
    _bump(store, b)
    with store.transaction() as conn:
        moved = move(store, conn, [(a, _hold()), (b, _hold())], T0 + minutes(1),
                     together=True, on_conflict=OnConflict.wait, rounds=1)
    assert not moved.written and {o.id for o in moved.lost} == {a.id, b.id}
    assert _load(store, a.number).version == a.version  # nothing of `a` either


def test_one_orders_failure_does_not_stop_the_others(store: Store,
                                                     monkeypatch: pytest.MonkeyPatch):
    a = _new(store, "123456-20261127-0000000001")
    b = _new(store, "123456-20261127-0000000002")
    real = decide_module._set_field

    def flaky(b_: object, cmd: SetField) -> None:  # a decision that blows up on one value
        if cmd.value == "boom":
            raise RuntimeError("boom")
        real(b_, cmd)  # type: ignore[arg-type]

    monkeypatch.setattr(decide_module, "_set_field", flaky)
    broken = SetField("warehouse_note", "boom", T0, Actor.person)
    with store.transaction() as conn:
        moved = move(store, conn, [(a, broken), (b, _hold())], T0 + minutes(1))
    assert moved.failed == {a.number: "RuntimeError: boom"}
    assert [d.order.number for d in moved.written] == [b.number]


_SERIAL = itertools.count(100)
COMMANDS = st.lists(st.sampled_from(["hold", "settle", "note", "release-hold"]),
                    min_size=1, max_size=4)


def _command(name: str, i: int, number: str) -> Command:
    at = T0 + minutes(i + 1)
    return {"hold": _hold(i + 1),
            "settle": SyncOrder(channel_order(number, status=300), at),
            "note": SetField("warehouse_note", f"メモ{i}", at, Actor.person, by="yamada"),
            "release-hold": CloseGate(GateKind.hold, at, Actor.person, "解除")}[name]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=COMMANDS, raced=st.booleans())
def test_retry_gives_what_deciding_on_the_latest_order_gives(store: Store, names: list[str],
                                                             raced: bool):
    """Whatever the commands, with or without another worker's move meanwhile, a retried
    move leaves the order as the same commands decided on its latest version do: the
    policy never loses or doubles a change."""
    number = f"123456-20261127-{next(_SERIAL):010d}"
    order = _new(store, number)
    if raced:
        _bump(store, order)
    latest = _load(store, number)
    commands = [_command(n, i, number) for i, n in enumerate(names)]
    try:  # the same commands decided once on the latest version, in the domain alone
        want: Order | None = reduce(Decision.and_then, commands, Decision(latest)).order
    except DomainError:
        want = None
    with store.transaction() as conn:
        moved = move(store, conn, [(order, commands)], T0)
    after = _load(store, number)
    if want is None:
        assert moved.refused and _events(store, after)[-1] is EventType.command_refused
        return
    assert after.stage is want.stage
    assert [(g.kind, g.is_open) for g in after.gates] == [(g.kind, g.is_open) for g in want.gates]
    assert after.settings == want.settings


def test_a_persons_action_on_an_old_version_is_refused_whole(store: Store):
    """The CLI and the dashboard pass the version the person saw (`manual`)."""
    from unyo.app.manual import StaleOrder, hold, release

    order = _new(store)
    held = hold(store, "shop", order.number, until=None, note="電話待ち", by="yamada",
                now=T0 + minutes(1), version=order.version)
    assert held.version == order.version + 1
    with pytest.raises(StaleOrder):
        release(store, "shop", order.number, GateKind.hold, note="", by="suzuki",
                now=T0 + minutes(2), version=order.version)
    assert [g.kind for g in _load(store).open_gates] == [GateKind.payment, GateKind.hold]
    release(store, "shop", order.number, GateKind.hold, note="", by="suzuki",
            now=T0 + minutes(2), version=held.version)
    assert [g.kind for g in _load(store).open_gates] == [GateKind.payment]
