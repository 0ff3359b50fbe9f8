"""The store: migrations, compare-and-set, batch creation, the outbox."""

from __future__ import annotations

from dataclasses import replace

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tests.factories import T0, channel_order, import_decision, minutes
from unyo.adapters.db import ConcurrentUpdate, Store
from unyo.adapters.db.codec import channel_from_json, channel_to_json
from unyo.adapters.db.migrate import downgrade, upgrade
from unyo.adapters.db.schema import metadata
from unyo.domain import EffectKind, GateKind, ImportOrder, Stage, SyncOrder, decide


def create(store: Store, *orders):  # type: ignore[no-untyped-def]
    with store.transaction() as conn:
        store.create_orders(conn, [import_decision(ImportOrder("shop", o, T0)) for o in orders], T0)


def test_migrations_match_the_table_definitions(store: Store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_downgrade_and_upgrade_again(store: Store):
    downgrade(store.engine, "base")
    upgrade(store.engine)
    create(store, channel_order())


def test_codec_round_trips_a_channel_order():
    o = channel_order(remarks="<script>alert(1)</script>\r\nBcc: x@example.com",
                      requested_delivery_date=T0.date())
    assert channel_from_json(channel_to_json(o)) == o


def test_created_order_loads_with_gates_and_effects(store: Store):
    create(store, channel_order("A-1"), channel_order("A-2", status=300, method=2,
                                                      rakuten_pay=False, confirmed_at=T0))
    with store.transaction() as conn:
        orders = store.load_orders(conn, "shop", ["A-1", "A-2"])
        assert orders["A-1"].stage is Stage.processing
        assert [g.kind for g in orders["A-1"].open_gates] == [GateKind.payment]
        assert orders["A-2"].stage is Stage.ready
        due = store.due_effects(conn, "shop", EffectKind.confirm_order, T0, 100)
        assert [e.payload["order_number"] for e in due] == ["A-1"]
        assert store.stage_counts(conn, "shop") == {"processing": 1, "ready": 1}


def test_order_numbers_are_unique_per_shop(store: Store):
    create(store, channel_order("A-1"))
    with store.transaction() as conn:
        store.create_orders(conn, [import_decision(ImportOrder("other", channel_order("A-1"),
                                                            T0))], T0)
    with pytest.raises(Exception, match=r"(?i)unique"), store.transaction() as conn:
        store.create_orders(conn, [import_decision(ImportOrder("shop", channel_order("A-1"),
                                                            T0))], T0)


def test_apply_is_compare_and_set(store: Store):
    create(store, channel_order("A-1"))
    with store.transaction() as conn:
        order = store.load_order(conn, "shop", "A-1")
    assert order is not None
    settle = decide(order, SyncOrder(channel_order("A-1", status=300), T0 + minutes(5)))
    with store.transaction() as conn:
        after = store.apply(conn, order, settle, T0 + minutes(5))
    assert after.version == order.version + 1
    with pytest.raises(ConcurrentUpdate), store.transaction() as conn:
        store.apply(conn, order, settle, T0 + minutes(6))  # stale version
    with store.transaction() as conn:
        again = store.load_order(conn, "shop", "A-1")
        assert again is not None and again.stage is Stage.ready
        assert again.gates[0].closed_by is not None
        events = store.events_of(conn, again.id)  # type: ignore[arg-type]
    assert [e.type.value for e in events][-1] == "stage_changed"


def test_effect_attempts_and_backoff(store: Store):
    create(store, channel_order("A-1"))
    with store.transaction() as conn:
        (effect,) = store.due_effects(conn, "shop", EffectKind.confirm_order, T0, 10)
        store.record_attempt(conn, effect, T0, ok=False, error="503",
                             retry_at=T0 + minutes(1))
        assert store.due_effects(conn, "shop", EffectKind.confirm_order, T0, 10) == []
        (again,) = store.due_effects(conn, "shop", EffectKind.confirm_order, T0 + minutes(1), 10)
        assert again.attempts == 1 and again.last_error == "503"
        store.record_attempt(conn, again, T0 + minutes(1), ok=True)
        assert store.outbox_counts(conn, "shop")["confirm_order"] == {"done": 1}


def test_duplicate_effects_are_ignored_by_dedupe_key(store: Store):
    create(store, channel_order("A-1"))
    with store.transaction() as conn:
        order = store.load_order(conn, "shop", "A-1")
        assert order is not None
        d = import_decision(ImportOrder("shop", replace(channel_order("A-1")), T0))
        store.apply(conn, order, replace(d, order=order), T0)
        assert store.outbox_counts(conn, "shop")["send_mail"] == {"pending": 1}


def test_identity_map_never_serves_a_rolled_back_version(store: Store):
    # given an order in the store
    create(store, channel_order("A-1"))
    with store.transaction() as conn:
        order = store.load_order(conn, "shop", "A-1")
    assert order is not None
    settle = decide(order, SyncOrder(channel_order("A-1", status=300), T0 + minutes(5)))
    # when a transaction applies a change and then fails
    with pytest.raises(RuntimeError, match="boom"), store.transaction() as conn:
        store.apply(conn, order, settle, T0 + minutes(5))
        raise RuntimeError("boom")
    # and another writer moves the same version differently (a cancellation)
    cancel = decide(order, SyncOrder(channel_order("A-1", status=900), T0 + minutes(6)))
    other = Store(store.engine)
    with other.transaction() as conn:
        other.apply(conn, order, cancel, T0 + minutes(6))
    # then this store reads the cancellation, not its own rolled-back change
    with store.transaction() as conn:
        again = store.load_order(conn, "shop", "A-1")
    assert again is not None and again.stage is Stage.cancelled


def test_identity_map_sees_other_writers(store: Store):
    create(store, channel_order("A-1"))
    with store.transaction() as conn:
        order = store.load_order(conn, "shop", "A-1")
    assert order is not None
    other = Store(store.engine)
    with other.transaction() as conn:
        stale = other.load_order(conn, "shop", "A-1")
        assert stale is not None
        other.apply(conn, stale, decide(stale, SyncOrder(channel_order("A-1", status=300),
                                                         T0 + minutes(5))), T0 + minutes(5))
    with store.transaction() as conn:
        fresh = store.load_order(conn, "shop", "A-1")
    assert fresh is not None and fresh.stage is Stage.ready and fresh.version == 2


def test_stage_moves_are_a_column_filled_in_for_old_events_too(store: Store):
    """`events.stage_to` (migration 0005): written with every stage move, and filled in
    from the data of events written before the column existed."""
    from sqlalchemy import select, update

    from unyo.adapters.db import schema as t

    create(store, channel_order("A-1", status=300, method=2, rakuten_pay=False,
                                confirmed_at=T0))
    with store.engine.begin() as conn:
        rows = conn.execute(select(t.events.c.type, t.events.c.stage_to)).all()
    assert ("stage_changed", "ready") in rows
    assert all(to is None for kind, to in rows if kind != "stage_changed")
    with store.engine.begin() as conn:
        conn.execute(update(t.events).values(stage_to=None))
    downgrade(store.engine, "0004")
    upgrade(store.engine)
    with store.engine.begin() as conn:
        assert ("stage_changed", "ready") in conn.execute(
            select(t.events.c.type, t.events.c.stage_to)).all()
        reached = store.orders_reaching(conn, "shop", Stage.ready, T0 - minutes(1),
                                        T0 + minutes(1))
    assert len(reached) == 1
