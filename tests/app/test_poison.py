"""One bad order never stops the shop (issue: poison orders, clocks that jump).

Each class of poison is served by the RMS emulator over real HTTP among a day's orders;
the import (and the payment sync) must take every other order, record the poisoned one
on itself (import_pending `failed` with the reason, or 確認待ち with the reason), and
move the cursor. A generated class (Hypothesis) puts any JSON value into any field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.app.test_engine_rms import DAY, Rig
from unyo.adapters.db import Store
from unyo.app.importing import CURSOR, FAILED, import_orders
from unyo.app.syncing import sync_orders
from unyo.domain import GateKind, Stage
from unyo.sandbox.rms_emulator import RawJson

AFTER = DAY + timedelta(days=1, hours=1)


@pytest.fixture
def rig(store: Store) -> Iterator[Rig]:
    r = Rig(store, 12, seed=4)
    yield r
    r.server.stop()


def _numbers(rig: Rig) -> list[str]:
    return sorted(o.order_number for o in rig.generated)


def _visible(rig: Rig, victim: str | None = None) -> set[str]:
    return {n for n in _numbers(rig) if rig.rms_status(n) in (100, 200, 300)} - {victim}


def _pending(rig: Rig) -> dict[str, Any]:
    with rig.ctx.store.transaction() as conn:
        return rig.ctx.store.pending_imports(conn, "shop")


def _poison(rig: Rig, victim: str, path: str, value: Any) -> None:
    """Set `path` (dots, list indexes as numbers) of the victim's model at the emulator."""
    model = rig.emulator.order_model(victim)
    keys = path.split(".")
    d: Any = model
    for k in keys[:-1]:
        d = d[int(k)] if isinstance(d, list) else d[k]
    last: Any = int(keys[-1]) if isinstance(d, list) else keys[-1]
    d[last] = value
    rig.emulator.corrupt(victim, **{keys[0]: model[keys[0]]})


# (case, field path, value, what becomes of the victim: "failed: <reason part>" for an
# order kept out with its reason, "gate: <reason part>" for one imported with 確認待ち)
CASES: list[tuple[str, str, Any, str]] = [
    ("double_minus", "goodsPrice", "--5", "failed: goodsPrice is not an integer"),
    ("superscript_digit", "PackageModelList.0.ItemModelList.0.units", "²",
     "failed: units is not an integer"),
    ("arabic_indic_digit", "postagePrice", "٣", "failed: postagePrice is not an integer"),
    ("beyond_64_bits", "goodsPrice", 2**70, "failed: goodsPrice is out of range"),
    ("beyond_32_bits_total", "totalPrice", 2**40, "failed: totalPrice is out of range"),
    ("a_5000_digit_number", "couponAllTotalPrice", RawJson("9" * 5000),
     "failed: getOrder answer is not readable"),
    ("tax_rate_beyond_float", "PackageModelList.0.ItemModelList.0.taxRate", 2**1100,
     "failed: taxRate is not a number"),
    ("year_one", "shopOrderCfmDatetime", "0001-01-01T00:00:00+14:00",
     "failed: shopOrderCfmDatetime is not a datetime"),
    ("year_9999", "deliveryDate", "9999-12-31", "failed: deliveryDate is out of range"),
    ("odd_offset", "shopOrderCfmDatetime", "2026-11-26T10:00:00+23:59", "ok"),
    ("lone_surrogate_in_remarks", "remarks", "お願い\ud800します",
     "gate: 受注データを修復しました（remarks"),
    ("nul_in_name", "PackageModelList.0.SenderModel.familyName", "山\x00田",
     "gate: 受注データを修復しました（PackageModelList[0].SenderModel.familyName"),
    ("nesting_600_deep", "WrappingModel1", RawJson("[" * 600 + "]" * 600),
     "gate: 入れ子が深すぎる"),
    ("nesting_past_every_decoder", "WrappingModel2", RawJson("[" * 5000 + "]" * 5000),
     "failed: getOrder answer is not readable"),
    ("remarks_of_a_million_characters", "remarks", "あ" * 1_000_000,
     "gate: remarks: 1,000,000文字のため20,000文字で切り詰め"),
    ("negative_total", "totalPrice", -500, "gate: 金額が負の値です: 合計金額 -500円"),
    ("totals_do_not_add_up", "goodsPrice", 1, "gate: 合計金額"),
]


@pytest.mark.parametrize(("case", "path", "value", "expect"), CASES, ids=[c[0] for c in CASES])
def test_a_poisoned_order_is_recorded_and_every_other_order_is_imported(
        rig: Rig, case: str, path: str, value: Any, expect: str) -> None:
    victim = _numbers(rig)[0]
    _poison(rig, victim, path, value)
    rig.at(AFTER)
    result = import_orders(rig.ctx)
    assert _visible(rig, victim) <= rig.imported()  # every other order came in
    with rig.ctx.store.transaction() as conn:
        cursor = rig.ctx.store.get_cursor(conn, "shop", CURSOR)
    assert cursor == AFTER.isoformat()  # and the cursor moved
    kind, _, reason = expect.partition(": ")
    pending = _pending(rig)
    if kind == "failed":
        assert victim not in rig.imported()
        assert pending[victim].reason == FAILED and reason in (pending[victim].last_error or "")
        assert victim in result.failures
        # ... and it is tried again with backoff, not at every poll
        assert pending[victim].recheck_at > AFTER
    elif kind == "gate":
        assert victim in rig.imported() and victim not in pending
        order = _order(rig, victim)
        assert any(g.kind is GateKind.check and reason in g.reason for g in order.open_gates), \
            [g.reason for g in order.open_gates]
    else:
        assert victim in rig.imported()


def _order(rig: Rig, number: str) -> Any:
    with rig.ctx.store.transaction() as conn:
        return rig.ctx.store.load_orders(conn, "shop", [number])[number]


def test_a_poisoned_order_imports_once_rms_serves_it_whole(rig: Rig) -> None:
    victim = _numbers(rig)[0]
    good = rig.emulator.order_model(victim)["goodsPrice"]
    _poison(rig, victim, "goodsPrice", "--5")
    rig.at(AFTER)
    import_orders(rig.ctx)
    assert victim in _pending(rig)
    rig.emulator.change_order(victim, goodsPrice=good)
    rig.at(AFTER + timedelta(hours=2))  # past its backoff
    import_orders(rig.ctx)
    assert victim in rig.imported() and victim not in _pending(rig)


def test_the_same_order_twice_in_one_answer(rig: Rig) -> None:
    numbers = _numbers(rig)[:3]
    rig.at(AFTER)
    got = rig.ctx.channel.fetch([numbers[0], numbers[0], *numbers[1:]])
    assert [o.order_number for o in got.orders] == numbers  # once, same data
    assert not got.failed


def test_an_unknown_order_progress_is_imported_with_a_check_gate(rig: Rig) -> None:
    victim = _numbers(rig)[0]
    good = rig.emulator.order_model(victim)["goodsPrice"]
    rig.emulator.corrupt(victim, goodsPrice="--5")
    rig.at(AFTER)
    import_orders(rig.ctx)
    assert victim in _pending(rig)
    # Fetched again by number, RMS now shows a status it does not define.
    rig.emulator.corrupt(victim, goodsPrice=good, orderProgress=999)
    rig.at(AFTER + timedelta(hours=2))
    import_orders(rig.ctx)
    order = _order(rig, victim)  # not dropped with its number recorded nowhere
    assert any(g.kind is GateKind.check and "RMSの受注ステータス 999 は未知の値です" in g.reason
               for g in order.open_gates)
    assert order.stage is Stage.processing


def test_an_unknown_order_progress_at_re_read_opens_a_check_gate(rig: Rig) -> None:
    rig.at(AFTER)
    import_orders(rig.ctx)
    victim = sorted(rig.imported())[0]
    rig.emulator.corrupt(victim, orderProgress=150)
    rig.at(AFTER + timedelta(hours=2))
    sync_orders(rig.ctx)
    assert any(g.kind is GateKind.check and "RMSの受注ステータス 150 は未知の値です" in g.reason
               for g in _order(rig, victim).open_gates)


def test_poison_at_re_read_time_stops_no_other_order_of_its_batch(rig: Rig) -> None:
    rig.at(AFTER)
    import_orders(rig.ctx)
    imported = sorted(rig.imported())
    victim, others = imported[0], imported[1:]
    _poison(rig, victim, "PackageModelList.0.ItemModelList.0.price", "--5")
    # Every other unpaid order is paid meanwhile; the sync must see it.
    unpaid = [n for n in others if any(g.kind is GateKind.payment
                                       for g in _order(rig, n).open_gates)]
    for n in unpaid:
        rig.emulator.change_order(n, orderProgress=300)
    rig.at(AFTER + timedelta(hours=2))
    result = sync_orders(rig.ctx)
    assert victim in result.failures
    for n in unpaid:
        assert not any(g.kind is GateKind.payment for g in _order(rig, n).open_gates), n
    gates = _order(rig, victim).open_gates
    assert any(g.kind is GateKind.check and g.reason.startswith("RMSの受注データを読めません")
               and "price is not an integer" in g.reason for g in gates)
    # Released by a person, it is not asked again for the same fault.
    from unyo.app.manual import release
    release(rig.ctx.store, "shop", victim, GateKind.check, note="ok", by="tester",
            now=AFTER + timedelta(hours=2))
    sync_orders(rig.ctx)
    assert not any(g.reason.startswith("RMSの受注データを読めません")
                   for g in _order(rig, victim).open_gates)


# ---- clocks that jump ---------------------------------------------------------------------


class SteppingClock:
    """A host clock that can be set anywhere, backwards too (SimClock only moves on)."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._now = now

    def sleep(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


def _own_clock(rig: Rig) -> SteppingClock:
    """unyo's clock apart from RMS's: unyo's host clock is the one that jumps."""
    clock = SteppingClock(rig.clock.now())
    rig.ctx = replace(rig.ctx, clock=clock)
    return clock


def test_a_cycle_with_the_clock_a_year_ahead_is_no_outage(rig: Rig) -> None:
    clock = _own_clock(rig)
    rig.at(AFTER)
    clock.set(DAY + timedelta(hours=6))
    import_orders(rig.ctx)
    early = rig.imported()
    clock.set(DAY + timedelta(days=366))  # one cycle with the clock far ahead
    import_orders(rig.ctx)
    clock.set(AFTER)  # the clock is right again: the cursor is ahead of it
    import_orders(rig.ctx)  # no 「end is before start」 until real time catches up
    assert _visible(rig) <= rig.imported()
    assert early < rig.imported()
    with rig.ctx.store.transaction() as conn:
        assert rig.ctx.store.get_cursor(conn, "shop", CURSOR) == AFTER.isoformat()


def test_a_clock_40_minutes_back_is_tolerated(rig: Rig) -> None:
    clock = _own_clock(rig)
    rig.at(AFTER)
    clock.set(DAY + timedelta(hours=12))
    import_orders(rig.ctx)
    clock.set(DAY + timedelta(hours=12) - timedelta(minutes=40))
    import_orders(rig.ctx)  # no 「end is before start」
    sync_orders(rig.ctx)
    clock.set(AFTER)
    import_orders(rig.ctx)
    assert _visible(rig) <= rig.imported()


# ---- any JSON value in any field ----------------------------------------------------------

_SERVED_BY_THE_EMULATOR = ("orderNumber", "orderProgress", "orderDatetime")
"""Keys the emulator itself reads to serve the order (the mapping test covers them)."""

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8)


def _paths(value: Any, prefix: str = "") -> list[str]:
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            p = f"{prefix}.{k}" if prefix else k
            out.append(p)
            out += _paths(v, p)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            p = f"{prefix}.{i}"
            out.append(p)
            out += _paths(v, p)
    return out


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_json_value_in_any_field_never_stops_the_import(store: Store, data: Any) -> None:
    rig = Rig(store, 6, seed=int(data.draw(st.integers(0, 10**6))) % 50 + 1,
              )
    try:
        numbers = _numbers(rig)
        victim = numbers[0]
        paths = [p for p in _paths(rig.emulator.order_model(victim))
                 if p.split(".")[0] not in _SERVED_BY_THE_EMULATOR]
        path = data.draw(st.sampled_from(paths))
        value = data.draw(json_values)
        try:
            json.dumps(value)
        except ValueError:
            value = None
        _poison(rig, victim, path, value)
        rig.at(AFTER)
        import_orders(rig.ctx)  # never raises
        assert _visible(rig, victim) <= rig.imported()
        pending = _pending(rig)
        assert (victim in rig.imported() or rig.rms_status(victim) not in (100, 200, 300)
                or victim in pending)
    finally:
        rig.server.stop()
        with store.transaction() as conn:  # the next example starts from an empty shop
            for table in ("effect_attempts", "events", "gates", "outbox", "order_search", "orders",
                          "import_pending", "cursors"):
                conn.exec_driver_sql(f"DELETE FROM {table}")


def test_a_failed_import_is_an_alert_on_the_dashboard_and_a_metric(rig: Rig) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from unyo.app.dashboard import Dashboard
    from unyo.metrics import StoreCollector

    victim = _numbers(rig)[0]
    _poison(rig, victim, "goodsPrice", "--5")
    rig.at(AFTER)
    import_orders(rig.ctx)
    alerts = Dashboard(rig.ctx.store, rig.ctx.config, rig.clock).alerts()
    failed = [a for a in alerts if a.kind == "import_failed"]
    assert failed and failed[0].params["count"] == 1
    assert failed[0].params["order_number"] == victim
    assert "goodsPrice" in failed[0].params["last_error"]
    registry = CollectorRegistry()
    registry.register(StoreCollector(rig.ctx.store))
    assert 'unyo_import_failed{shop="shop"} 1.0' in generate_latest(registry).decode()


# ---- a write the database refuses for one order -------------------------------------------


def _refuse_writes_of(store: Store, number: str, on: str) -> None:
    """A trigger makes the database refuse one order's row (`on`: INSERT or UPDATE) — a
    stand-in for any constraint the mapping's limits did not foresee."""
    with store.transaction() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                f"CREATE TRIGGER poison_{on.lower()} BEFORE {on} ON orders "
                f"WHEN NEW.order_number = '{number}' "
                "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END")
        else:
            conn.exec_driver_sql(
                "CREATE OR REPLACE FUNCTION poison() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.order_number = '{number}' THEN "
                "RAISE EXCEPTION 'refused by a test trigger'; END IF; RETURN NEW; END "
                "$$ LANGUAGE plpgsql")
            conn.exec_driver_sql(f"CREATE TRIGGER poison_{on.lower()} BEFORE {on} ON orders "
                                 "FOR EACH ROW EXECUTE FUNCTION poison()")


def _drop_trigger(store: Store, on: str) -> None:
    with store.transaction() as conn:
        conn.exec_driver_sql(f"DROP TRIGGER poison_{on.lower()}"
                             + ("" if conn.dialect.name == "sqlite" else " ON orders"))


def test_an_order_the_database_refuses_is_kept_failed_and_the_batch_goes_on(rig: Rig) -> None:
    victim = _numbers(rig)[0]
    _refuse_writes_of(rig.ctx.store, victim, "INSERT")
    rig.at(AFTER)
    result = import_orders(rig.ctx)
    assert _visible(rig, victim) <= rig.imported()
    pending = _pending(rig)
    assert victim not in rig.imported() and pending[victim].reason == FAILED
    assert "could not be stored" in (pending[victim].last_error or "")
    assert victim in result.failures
    _drop_trigger(rig.ctx.store, "INSERT")
    rig.at(AFTER + timedelta(hours=2))
    import_orders(rig.ctx)
    assert victim in rig.imported() and victim not in _pending(rig)


def test_an_order_the_database_refuses_at_re_read_stops_no_other(rig: Rig) -> None:
    rig.at(AFTER)
    import_orders(rig.ctx)
    imported = sorted(rig.imported())
    unpaid = [n for n in imported if any(g.kind is GateKind.payment
                                         for g in _order(rig, n).open_gates)]
    assert len(unpaid) >= 2
    victim, others = unpaid[0], unpaid[1:]
    for n in unpaid:
        rig.emulator.change_order(n, orderProgress=300)
    _refuse_writes_of(rig.ctx.store, victim, "UPDATE")
    rig.at(AFTER + timedelta(hours=2))
    result = sync_orders(rig.ctx)
    assert victim in result.failures
    for n in others:
        assert not any(g.kind is GateKind.payment for g in _order(rig, n).open_gates), n
