"""Several workers on one database: effect claims and shop leases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, text

from tests.factories import T0, channel_order, import_decision
from unyo.adapters.db.store import CLAIM_FOR, Store
from unyo.domain import EffectKind, ImportOrder

WALL = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
TTL = timedelta(seconds=30)


class Wall:
    """A wall clock the test moves."""

    def __init__(self) -> None:
        self.now = WALL

    def __call__(self) -> datetime:
        return self.now


def two_workers(url: str) -> tuple[Store, Store, Wall]:
    wall = Wall()
    return (Store.open(url, worker="host-a:1", wall=wall),
            Store.open(url, worker="host-b:2", wall=wall, migrate=False), wall)


def seed(store: Store, n: int) -> None:
    with store.transaction() as conn:
        store.create_orders(conn, [import_decision(ImportOrder(
            "shop", channel_order(f"A-{i}"), T0)) for i in range(n)], T0)


def test_a_claimed_effect_is_not_given_to_another_worker(database_url: str) -> None:
    a, b, wall = two_workers(database_url)
    seed(a, 3)
    with a.transaction() as conn:
        mine = a.due_effects(conn, "shop", EffectKind.confirm_order, T0, 10)
    assert len(mine) == 3
    with b.transaction() as conn:
        assert b.due_effects(conn, "shop", EffectKind.confirm_order, T0, 10) == []
    # a records two; the third stays claimed while a's claim lasts
    with a.transaction() as conn:
        a.record_attempt(conn, mine[0], T0, ok=True)
        a.record_attempt(conn, mine[1], T0, ok=False, error="503", retry_at=T0)
    with b.transaction() as conn:
        (retry,) = b.due_effects(conn, "shop", EffectKind.confirm_order, T0, 10)
    assert retry.id == mine[1].id and retry.attempts == 1
    with b.transaction() as conn:
        b.record_attempt(conn, retry, T0, ok=True)
    # a dies holding the third: b gets it once the claim has run out
    wall.now += CLAIM_FOR - timedelta(seconds=1)
    with b.transaction() as conn:
        assert b.due_effects(conn, "shop", EffectKind.confirm_order, T0, 10) == []
    wall.now += timedelta(seconds=2)
    with b.transaction() as conn:
        (third,) = b.due_effects(conn, "shop", EffectKind.confirm_order, T0, 10)
    assert third.id == mine[2].id
    a.close()
    b.close()


def test_postponing_ends_the_claim(database_url: str) -> None:
    a, b, _ = two_workers(database_url)
    seed(a, 1)
    with a.transaction() as conn:
        (mail,) = a.due_effects(conn, "shop", EffectKind.send_mail, T0, 10)
        a.postpone_effects(conn, [(mail.id, T0 + timedelta(minutes=5))])
    with b.transaction() as conn:
        assert b.due_effects(conn, "shop", EffectKind.send_mail, T0, 10) == []
        (later,) = b.due_effects(conn, "shop", EffectKind.send_mail,
                                 T0 + timedelta(minutes=5), 10)
    assert later.id == mail.id
    a.close()
    b.close()


def test_a_lease_is_held_renewed_taken_over_and_released(database_url: str) -> None:
    a, b, wall = two_workers(database_url)
    seed(a, 2)
    with a.transaction() as conn:
        lease = a.acquire_lease(conn, "shop", TTL)
        assert lease is not None and lease.epoch == 1 and lease.took_over_from is None
        held = a.due_effects(conn, "shop", EffectKind.confirm_order, T0, 10)
    with b.transaction() as conn:
        assert b.acquire_lease(conn, "shop", TTL) is None
        assert b.acquire_lease(conn, "other-shop", TTL) is not None  # shops are separate
    wall.now += timedelta(seconds=20)
    with a.transaction() as conn:  # renewed: still a's 20 s later, same epoch
        renewed = a.acquire_lease(conn, "shop", TTL)
        assert renewed is not None and renewed.epoch == 1
    wall.now += timedelta(seconds=29)
    with b.transaction() as conn:
        assert b.acquire_lease(conn, "shop", TTL) is None
    wall.now += timedelta(seconds=2)  # a stopped renewing: b takes over
    with b.transaction() as conn:
        took = b.acquire_lease(conn, "shop", TTL)
        assert took is not None and took.epoch == 2 and took.took_over_from == "host-a:1"
        # a's claims went with its lease: b delivers them at once
        assert {e.id for e in b.due_effects(conn, "shop", EffectKind.confirm_order, T0, 10)
                } == {e.id for e in held}
    with a.transaction() as conn:
        assert a.acquire_lease(conn, "shop", TTL) is None  # a, woken up, is refused
    with b.transaction() as conn:
        b.release_lease(conn, "shop")
    with a.transaction() as conn:  # a clean stop hands the shop over at once
        back = a.acquire_lease(conn, "shop", TTL)
        assert back is not None and back.epoch == 3
        assert [(x.shop, x.worker) for x in a.leases(conn)] == [
            ("other-shop", "host-b:2"), ("shop", "host-a:1")]
    a.close()
    b.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_racing_workers_deliver_every_effect_exactly_once(
        backend: str, request: pytest.FixtureRequest, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import new_database_url

    urls = new_database_url(request, tmp_path, backend)
    url = next(urls)
    first = Store.open(url, worker="w0")
    seed(first, 300)
    stores = [first, *(Store.open(url, worker=f"w{i}", migrate=False) for i in (1, 2, 3))]
    delivered: list[list[int]] = [[] for _ in stores]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        s = stores[i]
        try:
            while True:
                with s.transaction() as conn:
                    due = s.due_effects(conn, "shop", EffectKind.confirm_order, T0, 7)
                if not due:
                    return
                delivered[i].extend(e.id for e in due)
                with s.transaction() as conn:
                    for e in due:
                        s.record_attempt(conn, e, T0, ok=True)
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(stores))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not errors
    every = [i for d in delivered for i in d]
    assert len(every) == 300 and len(set(every)) == 300  # all delivered, none twice
    with first.transaction() as conn:
        assert first.outbox_counts(conn, "shop")["confirm_order"] == {"done": 300}
    for s in stores:
        s.close()
    next(urls, None)


def _writing(conn: Connection) -> bool:
    """Whether the transaction has written (SQLite: begun its write; PostgreSQL: holds a
    transaction id, which only a write assigns)."""
    if conn.dialect.name == "sqlite":
        return bool(conn.connection.driver_connection.in_transaction)  # type: ignore[union-attr]
    return conn.execute(text("SELECT pg_current_xact_id_if_assigned()")).scalar() is not None


def test_nothing_due_claims_without_writing_and_a_due_effect_is_still_claimed(
        database_url: str) -> None:
    a, b, _ = two_workers(database_url)
    seed(a, 2)
    # given effects that are not due yet: nothing claimed, and nothing written (on SQLite
    # no write lock for other processes to wait on)
    with a.transaction() as conn:
        assert a.due_effects(conn, "shop", EffectKind.confirm_order,
                             T0 - timedelta(seconds=1), 10) == []
        assert not _writing(conn)
    # when they are due: claimed, and the claim is written
    with a.transaction() as conn:
        mine = a.due_effects(conn, "shop", EffectKind.confirm_order, T0, 10)
        assert _writing(conn)
    assert len(mine) == 2
    # then the claimer gets them again, another worker finds them taken (nothing written)
    with a.transaction() as conn:
        assert [e.id for e in a.due_effects(conn, "shop", EffectKind.confirm_order, T0, 10)
                ] == [e.id for e in mine]
    with b.transaction() as conn:
        assert b.due_effects(conn, "shop", EffectKind.confirm_order, T0, 10) == []
        assert not _writing(conn)
    a.close()
    b.close()
