"""The order repository: load, create and move orders; the outbox; import state.

Every write of an order goes through `apply()`, a compare-and-set on the
order's version, so two workers cannot both move the same order: the loser
gets `ConcurrentUpdate` and retries from a fresh read.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    event,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from unyo.adapters.db import schema as t
from unyo.adapters.db.batches import BatchRecords
from unyo.adapters.db.codec import (
    attrs_from_json,
    channel_from_json,
    channel_to_json,
    parts_to_doc,
)
from unyo.adapters.db.migrate import upgrade
from unyo.clock import JST
from unyo.domain import (
    Actor,
    Decision,
    Effect,
    EffectKind,
    Event,
    EventType,
    Gate,
    GateKind,
    Order,
    Stage,
)
from unyo.domain.search import search_terms
from unyo.domain.stages import FINAL

CHUNK = 500
CACHE_SIZE = 5_000
"""Orders kept in the identity map (the most recently written or read): the orders a
sale's peak imports in a quarter of an hour, so the next steps (confirm, payment, rules,
hand-off) rarely load them again. About 7 KB each; 20,000 cost 110 MB more at a 30,000-
order sale day than 5,000 for the same CPU (bench/sale_day.py)."""
"""Orders kept in the identity map (an order is a few KB)."""


CLAIM_FOR = timedelta(minutes=2)
"""How long a worker's claim on an effect lasts if it is neither recorded nor released
(the worker died mid-delivery); a new holder of the shop's lease releases it earlier."""


EVERY_TURN_STATUSES = (100, 400)
"""RMS statuses the payment sync reads at every turn: not confirmed yet (e.g. postage
to be fixed by the shop) and a change waiting (400 変更確定待ち)."""


def default_worker_id() -> str:
    """host:pid:random — unique per process, readable in `unyo doctor` and the logs."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's hold on a shop until `expires_at` (wall time)."""

    shop: str
    worker: str
    epoch: int
    expires_at: datetime
    took_over_from: str | None  # the previous holder, whose lease had expired


class ConcurrentUpdate(Exception):
    """Another worker moved the order first; re-read and decide again."""


@dataclass(frozen=True, slots=True)
class EffectRow:
    id: int
    shop: str
    order_id: int
    kind: EffectKind
    dedupe_key: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    batch: str | None = None  # the delivery batch it was staged in, if any


@dataclass(frozen=True, slots=True)
class Cutover:
    """How a shop is switched over from its old system (issue 17, cut-over).

    `shadow`: the shop runs in shadow mode — orders are imported and the rules run, but
    no effect leaves (`Store.due_effects` hands out none, whatever its kind), and every
    order imported is listed in `shadow_orders`. `start_at`: once live, an effect of an
    order imported in shadow mode and ordered before it is never delivered: the old
    system handled that order. It is settled with `NOT_DELIVERED_SHADOW` instead."""

    shadow: bool = False
    start_at: datetime | None = None


NOT_DELIVERED_SHADOW = ("not delivered: the order was imported in shadow mode and ordered "
                        "before import.start_at (the old system handles it)")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One delivery attempt of an effect: ok, or failed with a retry time (None = for good)."""

    effect: EffectRow
    ok: bool
    error: str | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PendingImport:
    order_number: str
    ordered_at: datetime
    first_seen_at: datetime
    recheck_at: datetime
    reason: str
    attempts: int
    last_error: str | None


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


# Enum members' `.value` is a property call; the hot row builders look the text up.
_FINAL = frozenset(s.value for s in FINAL)

_TEXT: dict[Any, str] = {m: m.value for e in (Actor, EventType, GateKind, EffectKind, Stage)
                         for m in e}


def _gate(g: Any) -> Gate:
    """A gates row as the domain's Gate."""
    return Gate(GateKind(g.kind), g.reason, g.opened_at, Actor(g.opened_by), g.closed_at,
                Actor(g.closed_by) if g.closed_by else None, g.close_note, g.until, g.seq,
                g.rule, g.fingerprint)


def _event(r: Any) -> Event:
    """An events row as the domain's Event."""
    return Event(EventType(r.type), r.at, Actor(r.actor), orjson.loads(r.data))


def _attrs_text(o: Order) -> str:
    d: dict[str, Any] = {"tags": o.tags, "set": dict(o.settings)}
    if o.merged:
        d["merged"] = parts_to_doc(o.merged)
    if o.merged_into:
        d["merged_into"] = o.merged_into
    if o.confirm_due:
        d["confirm_due"] = True
    return orjson.dumps(d).decode()


_BINDS: dict[str, str] = {}


def _bind(column: str) -> str:
    """`v_<column>`: the bind name of a column's new value in the compare-and-set UPDATE."""
    name = _BINDS.get(column)
    if name is None:
        name = _BINDS[column] = f"v_{column}"
    return name


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Store(BatchRecords):
    """Database access for one installation (all shops)."""

    def __init__(self, engine: Engine, *, worker: str | None = None,
                 wall: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.worker = worker or default_worker_id()
        """Who this process is, for effect claims and shop leases."""
        self.wall: Callable[[], datetime] = wall or (lambda: datetime.now(UTC))
        """Wall time for claims and leases (the liveness of processes, not business
        time: a sandbox's simulated clock may run 1,440 times faster)."""
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._compiled: dict[tuple[str, tuple[str, ...]],
                             tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}
        self._sqlite = engine.dialect.name == "sqlite"
        self._cache: OrderedDict[int | None, Order] = OrderedDict()
        self._times: dict[datetime, Any] = {}
        self._final: dict[str, set[str]] = {}  # per shop: numbers seen in a final stage
        self._cutover: dict[str, Cutover] = {}  # per shop: shadow mode, import.start_at
        from unyo.adapters.db.watch import WatchBook  # it needs Store's type only

        self.watch = WatchBook(self)
        """The money watch's alerts and payout checks (`adapters.db.watch`)."""

    def set_cutover(self, shop: str, cutover: Cutover) -> None:
        """Run `shop` in shadow mode or live with a start time (see `Cutover`); set before
        its first step runs."""
        self._cutover[shop] = cutover

    def cutover(self, shop: str) -> Cutover:
        return self._cutover.get(shop, Cutover())

    def _many(self, conn: Connection, name: str, stmt: Any,
              rows: Sequence[dict[str, Any]]) -> int:
        """executemany at the driver level, for the hot batch writes.

        SQLAlchemy converts every parameter of every row through its type processors;
        here the statement is compiled once per (name, columns) and only datetimes need
        converting (`UtcDateTime`'s format), which makes batch writes about twice as
        cheap. Returns the total row count.
        """
        if not rows:
            return 0
        keys = tuple(rows[0])
        cached = self._compiled.get((name, keys))
        if cached is None:
            compiled = stmt.compile(dialect=conn.dialect, column_keys=list(keys))
            # literal values in the statement (e.g. `attempts + 1`) are binds too
            fixed = {k: v for k, v in compiled.params.items() if k not in keys}
            cached = (str(compiled), compiled.positiontup, fixed)
            self._compiled[(name, keys)] = cached
        sql, order, fixed = cached
        if fixed:
            rows = [{**fixed, **r} for r in rows]
        value = self._driver_value
        if order is not None:
            # Only datetimes need converting: test the type inline, call only for them.
            params: list[Any] = [tuple([v if type(v) is not datetime else value(v)
                                        for v in map(r.__getitem__, order)]) for r in rows]
        else:
            params = [{k: value(v) for k, v in r.items()} for r in rows]
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, params)
            return int(cursor.rowcount)
        finally:
            cursor.close()

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, worker: str | None = None,
             wall: Callable[[], datetime] | None = None) -> Store:
        engine = make_engine(url)
        if migrate:
            upgrade(engine)
        return cls(engine, worker=worker, wall=wall)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction; orders it wrote join the identity map once it commits."""
        with self.engine.begin() as conn:
            conn.info["unyo_written"] = []
            try:
                yield conn
            finally:
                written = conn.info.pop("unyo_written", [])
        self._publish(written)

    # ---- orders -------------------------------------------------------------------------

    def known_numbers(self, conn: Connection, shop: str, numbers: Sequence[str]) -> set[str]:
        known: set[str] = set()
        for chunk in _chunks(numbers):
            rows = conn.execute(select(t.orders.c.order_number).where(
                t.orders.c.shop == shop, t.orders.c.order_number.in_(chunk)))
            known.update(r[0] for r in rows)
        return known

    def create_orders(self, conn: Connection, decisions: Sequence[Decision],
                      now: datetime) -> list[int]:
        """Insert newly imported orders with their gates, events and effects, in one batch."""
        if not decisions:
            return []
        rows = []
        for d in decisions:
            row = self._order_row(d.order, now)
            row["version"] = 1
            row["imported_at"] = d.order.imported_at or now
            rows.append(row)
        ids = self._insert_orders(conn, rows)
        gate_rows: list[dict[str, Any]] = []
        event_rows: list[dict[str, Any]] = []
        effect_rows: list[dict[str, Any]] = []
        gate_row, event_row, effect_row = self._gate_row, self._event_row, self._effect_row
        written = conn.info.setdefault("unyo_written", [])  # `_remember`, for the batch
        for order_id, d in zip(ids, decisions, strict=True):
            order = d.order
            gate_rows += [gate_row(order_id, g) for g in order.gates]
            event_rows += [event_row(order_id, e) for e in d.events]
            if d.effects:
                effect_rows += [effect_row(order.shop, order_id, e, now) for e in d.effects]
            written.append(order.with_(id=order_id, version=1,
                                       imported_at=order.imported_at or now))
        self._many(conn, "insert_gates", insert(t.gates), gate_rows)
        self._many(conn, "insert_events", insert(t.events), event_rows)
        self._many(conn, "insert_outbox", self._insert(t.outbox).on_conflict_do_nothing(
            index_elements=["dedupe_key"]), effect_rows)
        if self.cutover(decisions[0].order.shop).shadow:
            self._many(conn, "insert_shadow", insert(t.shadow_orders), [
                {"order_id": order_id, "shop": r["shop"], "ordered_at": r["ordered_at"]}
                for order_id, r in zip(ids, rows, strict=True)])
        self._write_terms(conn, [(oid, d.order) for oid, d in zip(ids, decisions,
                                                                  strict=True)], fresh=True)
        return ids

    def shadow_order_ids(self, conn: Connection, shop: str, since: datetime | None = None,
                         until: datetime | None = None) -> set[int]:
        """Orders of `shop` imported in shadow mode (ordered in [since, until), if given)."""
        s = t.shadow_orders.c
        q = select(s.order_id).where(s.shop == shop)
        if since is not None:
            q = q.where(s.ordered_at >= since)
        if until is not None:
            q = q.where(s.ordered_at < until)
        return {r[0] for r in conn.execute(q)}

    def _write_terms(self, conn: Connection, orders: Sequence[tuple[int, Order]], *,
                     fresh: bool = False) -> None:
        """The orders' search terms (`unyo.domain.search`), in the transaction that wrote
        the orders: the old ones deleted unless the orders are new."""
        if not orders:
            return
        if not fresh:
            for chunk in _chunks([oid for oid, _ in orders]):
                conn.execute(t.order_search.delete().where(t.order_search.c.order_id.in_(chunk)))
        rows = [{"term": term, "order_id": oid} for oid, o in orders
                for term in search_terms(o)]
        self._many(conn, "insert_terms", insert(t.order_search), rows)

    def _insert_orders(self, conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
        """Multi-row INSERT ... RETURNING at the driver level; ids in the order of `rows`
        (matched by order number, since RETURNING promises no order)."""
        keys = list(rows[0])
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        one = "(" + ", ".join([mark] * len(keys)) + ")"
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        value = self._driver_value
        ids: dict[tuple[str, str], int] = {}
        try:
            for chunk in _chunks(rows, 200):
                sql = (f"INSERT INTO orders ({', '.join(keys)}) VALUES "
                       f"{', '.join([one] * len(chunk))} RETURNING id, shop, order_number")
                params = [v if type(v) is not datetime else value(v)
                          for r in chunk for v in map(r.__getitem__, keys)]
                cursor.execute(sql, params)
                ids.update(((shop, number), oid) for oid, shop, number in cursor.fetchall())
        finally:
            cursor.close()
        return [ids[(r["shop"], r["order_number"])] for r in rows]

    def _driver_value(self, value: Any) -> Any:
        """A value as the driver takes it: datetimes in `UtcDateTime`'s form. A batch's
        rows mostly carry the same few instants, so conversions are remembered."""
        if type(value) is not datetime:
            return value
        memo = self._times
        converted = memo.get(value)
        if converted is None:
            if len(memo) > 4096:
                memo.clear()
            converted = memo[value] = (t.utc_text(value) if self._sqlite
                                       else t.utc_naive(value))
        return converted

    def apply(self, conn: Connection, before: Order, decision: Decision, now: datetime) -> Order:
        """Write `decision` if `before` is still the stored version (compare-and-set)."""
        if not decision.changed and not decision.effects:
            return before
        if self._write_orders(conn, [(before, decision)], now) != 1:
            raise ConcurrentUpdate(f"order {before.number} was changed by another worker")
        return self._write_children(conn, [(before, decision)], now)[0]

    def apply_many(self, conn: Connection, moves: Sequence[tuple[Order, Decision]],
                   now: datetime) -> list[Order]:
        """Write many decisions in a few statements; returns the orders that lost their
        compare-and-set (moved by another worker meanwhile; nothing of theirs is written).

        The batch runs in a savepoint: if any order's version moved, it is rolled back
        and the orders are applied one by one so only the stale ones are skipped.
        """
        moves = [(b, d) for b, d in moves if d.changed or d.effects]
        if not moves:
            return []
        if len(moves) == 1 or not self.engine.dialect.supports_sane_multi_rowcount:
            return self._apply_each(conn, moves, now)
        savepoint = conn.begin_nested()
        if self._write_orders(conn, moves, now) != len(moves):
            savepoint.rollback()
            return self._apply_each(conn, moves, now)
        self._write_children(conn, moves, now)
        savepoint.commit()
        return []

    def _write_orders(self, conn: Connection, moves: Sequence[tuple[Order, Decision]],
                      now: datetime) -> int:
        """The compare-and-set UPDATEs; returns how many orders matched their version."""
        # Rows that rewrite the channel snapshot and rows that don't are separate batches
        # (an executemany needs one shape).
        batches: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
        for before, decision in moves:
            with_data = decision.order.channel is not before.channel
            row = self._order_row(decision.order, now, with_data=with_data)
            del row["shop"], row["order_number"], row["ordered_at"]
            out = {_bind(k): v for k, v in row.items()}
            out["v_version"] = before.version + 1
            out["b_id"] = before.id
            out["b_version"] = before.version
            batches[with_data].append(out)
        matched = 0
        for rows in batches.values():
            if not rows:
                continue
            cols = [k[2:] for k in rows[0] if k.startswith("v_")]
            stmt = (update(t.orders)
                    .where(t.orders.c.id == bindparam("b_id"),
                           t.orders.c.version == bindparam("b_version"))
                    .values({c: bindparam(f"v_{c}") for c in cols}))
            matched += self._many(conn, f"update_orders_{len(cols)}", stmt, rows)
        return matched

    def _write_children(self, conn: Connection, moves: Sequence[tuple[Order, Decision]],
                        now: datetime) -> list[Order]:
        """Gates opened or closed, events and effects of orders whose UPDATE matched."""
        new_gates: list[dict[str, Any]] = []
        closed_gates: list[dict[str, Any]] = []
        event_rows: list[dict[str, Any]] = []
        effect_rows: list[dict[str, Any]] = []
        written: list[Order] = []
        searched: list[tuple[int, Order]] = []  # orders whose search terms may have changed
        event_row, effect_row = self._event_row, self._effect_row
        for before, decision in moves:
            oid = before.id
            assert oid is not None
            after = decision.order
            if after.channel is not before.channel or after.tags != before.tags:
                searched.append((oid, after))
            gates = decision.order.gates
            if gates is not before.gates:
                old = {g.seq: g for g in before.gates}
                for g in gates:
                    was = old.get(g.seq)
                    if was is None:
                        new_gates.append(self._gate_row(oid, g))
                    elif was is not g and was != g:  # a gate kept as it was is the same object
                        closed_gates.append({"b_order": oid, "b_seq": g.seq,
                                             "v_closed_at": g.closed_at,
                                             "v_closed_by": g.closed_by.value if g.closed_by
                                             else None, "v_close_note": g.close_note})
            event_rows += [event_row(oid, e) for e in decision.events]
            if decision.effects:
                effect_rows += [effect_row(decision.order.shop, oid, e, now)
                                for e in decision.effects]
            written.append(decision.order.with_(version=before.version + 1, id=oid))
        conn.info.setdefault("unyo_written", []).extend(written)  # `_remember`
        self._many(conn, "insert_gates", insert(t.gates), new_gates)
        self._many(conn, "close_gates", update(t.gates).where(
            t.gates.c.order_id == bindparam("b_order"), t.gates.c.seq == bindparam("b_seq"))
            .values(closed_at=bindparam("v_closed_at"), closed_by=bindparam("v_closed_by"),
                    close_note=bindparam("v_close_note")), closed_gates)
        self._many(conn, "insert_events", insert(t.events), event_rows)
        self._many(conn, "insert_outbox", self._insert(t.outbox).on_conflict_do_nothing(
            index_elements=["dedupe_key"]), effect_rows)
        self._write_terms(conn, searched)
        return written

    def apply_together(self, conn: Connection, moves: Sequence[tuple[Order, Decision]],
                       now: datetime) -> list[Order]:
        """Write all the decisions or none (e.g. a merge, 同梱): ConcurrentUpdate when any
        order moved meanwhile, and then nothing of any of them is written."""
        written = conn.info.setdefault("unyo_written", [])
        mark = len(written)
        savepoint = conn.begin_nested()
        try:
            out = [self.apply(conn, before, decision, now) for before, decision in moves]
        except BaseException:
            savepoint.rollback()
            del written[mark:]  # never publish versions that were rolled back
            raise
        savepoint.commit()
        return out

    def merged_members(self, conn: Connection, shop: str,
                       stages: Iterable[Stage]) -> dict[str, str]:
        """Orders merged into orders in `stages` (同梱): merged number → carrying number."""
        out: dict[str, str] = {}
        for number, attrs in conn.execute(select(t.orders.c.order_number, t.orders.c.attrs)
                                          .where(t.orders.c.shop == shop,
                                                 t.orders.c.stage.in_([s.value for s in stages]),
                                                 t.orders.c.attrs.like('%"merged":%'))):
            for part in orjson.loads(attrs).get("merged", ()):
                out[part["number"]] = number
        return out

    def _apply_each(self, conn: Connection, moves: Sequence[tuple[Order, Decision]],
                    now: datetime) -> list[Order]:
        lost = []
        for before, decision in moves:
            try:
                with conn.begin_nested():
                    self.apply(conn, before, decision, now)
            except ConcurrentUpdate:
                lost.append(before)
        return lost

    # ---- the identity map ---------------------------------------------------------------
    # Orders are immutable values identified by (id, version), and every committed change
    # bumps the version, so an order this process wrote or read can be reused while the
    # stored version is the same. Entries are published only when their transaction
    # commits (a rolled-back version number may be reused by another writer).

    def _remember(self, conn: Connection, order: Order) -> None:
        conn.info.setdefault("unyo_written", []).append(order)

    def _publish(self, orders: Iterable[Order]) -> None:
        cache = self._cache
        for o in orders:
            cache[o.id] = o
            cache.move_to_end(o.id)
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)

    def _cached(self, conn: Connection, where: Any) -> tuple[list[Order], list[int]]:
        """Orders matching `where` that the identity map holds at their stored version,
        and the ids of the others."""
        hits: list[Order] = []
        misses: list[int] = []
        for oid, version in conn.execute(select(t.orders.c.id, t.orders.c.version).where(where)):
            o = self._cache.get(oid)
            if o is not None and o.version == version:
                hits.append(o)
            else:
                misses.append(oid)
        return hits, misses

    def load_orders(self, conn: Connection, shop: str,
                    numbers: Sequence[str]) -> dict[str, Order]:
        out: dict[str, Order] = {}
        for chunk in _chunks(numbers):
            found = self._load(conn, (t.orders.c.shop == shop)
                               & t.orders.c.order_number.in_(chunk))
            out.update((o.number, o) for o in found)
        return out

    def load_order(self, conn: Connection, shop: str, number: str) -> Order | None:
        return self.load_orders(conn, shop, [number]).get(number)

    def load_orders_by_id(self, conn: Connection, ids: Sequence[int]) -> dict[int, Order]:
        out: dict[int, Order] = {}
        for chunk in _chunks(ids):
            out.update((o.id, o) for o in self._load(conn, t.orders.c.id.in_(chunk))
                       if o.id is not None)
        return out

    def _load(self, conn: Connection, where: Any) -> list[Order]:
        hits, misses = self._cached(conn, where)
        if misses:
            rows = conn.execute(select(t.orders).where(t.orders.c.id.in_(misses))).all()
            built = self._build(conn, rows)
            for o in built:  # may be this transaction's own writes: publish on commit
                self._remember(conn, o)
            hits.extend(built)
        return hits

    def _build(self, conn: Connection, rows: Sequence[Any]) -> list[Order]:
        if not rows:
            return []
        by_order: dict[int, list[Gate]] = {r.id: [] for r in rows}
        for g in conn.execute(select(t.gates).where(t.gates.c.order_id.in_(list(by_order)))
                              .order_by(t.gates.c.order_id, t.gates.c.seq)):
            by_order[g.order_id].append(_gate(g))
        return [Order(shop=r.shop, channel=channel_from_json(r.data), stage=Stage(r.stage),
                      gates=tuple(by_order[r.id]), version=r.version, imported_at=r.imported_at,
                      id=r.id, fingerprint=r.fingerprint, rms_status=r.rms_status,
                      confirmed_at=r.confirmed_at, **attrs_from_json(r.attrs)) for r in rows]

    def buyer_orders(self, conn: Connection, shop: str,
                     keys: Iterable[str]) -> dict[str, list[tuple[int, str, datetime]]]:
        """Per buyer key: (order id, stage, ordered_at) of every order of that buyer."""
        out: dict[str, list[tuple[int, str, datetime]]] = {}
        for chunk in _chunks(sorted(set(keys))):
            for r in conn.execute(select(t.orders.c.buyer_key, t.orders.c.id, t.orders.c.stage,
                                         t.orders.c.ordered_at).where(
                    t.orders.c.shop == shop, t.orders.c.buyer_key.in_(chunk))):
                out.setdefault(r[0], []).append((r[1], r[2], r[3]))
        return out

    def open_rule_gates(self, conn: Connection, shop: str, kind: GateKind,
                        opened_before: datetime) -> list[tuple[str, int]]:
        """(order number, gate seq) of open gates of `kind` that rules opened before then."""
        j = t.gates.join(t.orders, t.gates.c.order_id == t.orders.c.id)
        return [(r[0], r[1]) for r in conn.execute(
            select(t.orders.c.order_number, t.gates.c.seq).select_from(j).where(
                t.orders.c.shop == shop, t.gates.c.kind == kind.value,
                t.gates.c.closed_at.is_(None), t.gates.c.rule != "",
                t.gates.c.opened_at <= opened_before).order_by(t.gates.c.opened_at))]

    def due_holds(self, conn: Connection, shop: str, now: datetime) -> list[int]:
        """Ids of orders with an open hold gate whose time has come.

        Asked every minute, mostly to find none: the statement is compiled once and run
        at the driver level (`_select`). What remains is SQLite reading every open hold
        gate's row for its `until` (the index on gates has kind and closed_at only)."""
        return [r[0] for r in self._select(conn, "due_holds", self._due_holds_query,
                                           {"shop": shop, "now": now})]

    def reminder_candidates(self, conn: Connection, shop: str, opened_before: datetime,
                            methods: Iterable[int]) -> list[int]:
        """Ids of orders waiting for payment since before `opened_before`, paid by one
        of `methods`, that have had no 督促 mail queued (`payment_reminder_queued`)."""
        g, o, e = t.gates.c, t.orders.c, t.events.c
        reminded = select(e.id).where(e.order_id == o.id,
                                      e.type == EventType.payment_reminder_queued.value)
        rows = conn.execute(
            select(o.id).select_from(t.gates.join(t.orders, g.order_id == o.id))
            .where(o.shop == shop, g.kind == GateKind.payment.value, g.closed_at.is_(None),
                   g.opened_at <= opened_before, o.payment_method.in_(list(methods)),
                   ~reminded.exists())
            .distinct().order_by(o.id))
        return [r[0] for r in rows]

    def order_numbers_in_stages(self, conn: Connection, shop: str,
                                stages: Iterable[Stage]) -> list[str]:
        rows = conn.execute(select(t.orders.c.order_number).where(
            t.orders.c.shop == shop, t.orders.c.stage.in_([s.value for s in stages]))
            .order_by(t.orders.c.id))
        return [r[0] for r in rows]

    def sync_candidates(self, conn: Connection, shop: str, stages: Iterable[Stage],
                        every: int, slot: int) -> tuple[list[str], datetime | None]:
        """Open orders the payment sync re-reads this turn: every one RMS has not
        confirmed yet or holds a change for (no status, 100, 400) unless a person is
        asked to look at it already (an open check gate: e.g. the confirmation failed
        for good), and the others whose id falls in this turn's slot of `every` unless
        they wait for a person or a date (an open check or hold gate); and the
        order time of the oldest open order (the window in which to search for changes
        and payments). A hold with no time (the rule's condition ends it) is no wait for a
        person or a date: its order is read in the rotation."""
        o, g = t.orders.c, t.gates.c
        is_open = (o.shop == shop) & o.stage.in_([s.value for s in stages])
        pick = is_open
        if every > 1:
            checked = exists().where(g.order_id == o.id, g.kind == GateKind.check.value,
                                     g.closed_at.is_(None))
            # Waiting for a person (確認待ち, 保留) or a date (保留 until): read when it
            # is about to move (the hand-off re-reads it), not in every rotation; RMS's
            # searches still find its payment, change or cancellation at once. A hold with
            # no time (`hold: {while: true}`, e.g. a social gift's address) waits for RMS's
            # data itself: read in the rotation.
            parked = exists().where(g.order_id == o.id,
                                    (g.kind == GateKind.check.value)
                                    | ((g.kind == GateKind.hold.value) & g.until.is_not(None)),
                                    g.closed_at.is_(None))
            waiting = ((o.rms_status.is_(None) | o.rms_status.in_(EVERY_TURN_STATUSES))
                       & ~checked)
            pick = is_open & (waiting | (((o.id % every) == slot) & ~parked))
        numbers = [r[0] for r in conn.execute(select(o.order_number).where(pick)
                                              .order_by(o.id))]
        oldest = conn.execute(select(func.min(o.ordered_at)).where(is_open)).scalar()
        return numbers, oldest

    def open_among(self, conn: Connection, shop: str, stages: Iterable[Stage],
                   numbers: Sequence[str], *, unsettled: bool = False) -> list[str]:
        """Those of `numbers` that are orders of `shop` in `stages` (and, with
        `unsettled`, not known here as settled at RMS: not at 300 / 500).

        RMS's change search returns every cancelled order of its window at every turn;
        a number found in a final stage (出荷済, キャンセル: never left) is remembered
        and not asked for again."""
        o = t.orders.c
        wanted = {s.value for s in stages}
        final = self._final.setdefault(shop, set())
        if len(final) > 500_000:
            final.clear()
        out: list[str] = []
        for chunk in _chunks([n for n in numbers if n not in final]):
            for number, stage, status in conn.execute(
                    select(o.order_number, o.stage, o.rms_status)
                    .where((o.shop == shop) & o.order_number.in_(chunk))):
                if stage in _FINAL:
                    final.add(number)
                if stage in wanted and not (unsettled and status in (300, 500)):
                    out.append(number)
        return out

    def sync_keys(self, conn: Connection, shop: str,
                  numbers: Sequence[str]) -> dict[str, tuple[int, str, str]]:
        """(RMS status, fingerprint, details) per order: enough to tell whether a re-read
        changed anything the engine acts on."""
        out: dict[str, tuple[int, str, str]] = {}
        for chunk in _chunks(numbers):
            out.update((r[0], (r[1], r[2], r[3])) for r in conn.execute(
                select(t.orders.c.order_number, t.orders.c.rms_status, t.orders.c.fingerprint,
                       t.orders.c.details)
                .where(t.orders.c.shop == shop, t.orders.c.order_number.in_(chunk))))
        return out

    def source_digests(self, conn: Connection, shop: str,
                       numbers: Sequence[str]) -> dict[str, str]:
        """The digest of each order's channel data as last read, where still valid."""
        o = t.orders.c
        out: dict[str, str] = {}
        for chunk in _chunks(numbers):
            out.update((r[0], r[1]) for r in conn.execute(
                select(o.order_number, o.source_digest).where(
                    o.shop == shop, o.order_number.in_(chunk), o.source_digest.is_not(None))))
        return out

    def set_source_digests(self, conn: Connection, shop: str,
                           rows: Sequence[tuple[str, str, tuple[int, str, str]]]) -> None:
        """Note (order number, digest, sync key) read from the channel: the digest is
        kept only where the stored snapshot still has that key, so an unchanged digest
        always means nothing to act on."""
        if not rows:
            return
        o = t.orders.c
        stmt = (update(t.orders).where(
            o.shop == bindparam("b_shop"), o.order_number == bindparam("b_number"),
            o.rms_status == bindparam("b_status"), o.fingerprint == bindparam("b_fp"),
            o.details == bindparam("b_details"))
            .values(source_digest=bindparam("v_digest")))
        self._many(conn, "set_source_digests", stmt, [
            {"b_shop": shop, "b_number": n, "b_status": k[0], "b_fp": k[1], "b_details": k[2],
             "v_digest": d} for n, d, k in rows])

    def events_of(self, conn: Connection, order_id: int) -> list[Event]:
        rows = conn.execute(select(t.events).where(t.events.c.order_id == order_id)
                            .order_by(t.events.c.id))
        return [_event(r) for r in rows]

    def replay_rows(self, conn: Connection, shop: str, since: datetime, until: datetime,
                    batch: int = 2000) -> Iterator[list[Any]]:
        """Orders imported in [since, until), in id order and batches, for replays:
        (id, order_number, stage, rms_status, fingerprint, attrs, data, buyer_key,
        ordered_at, imported_at)."""
        last = 0
        while True:
            rows = conn.execute(
                select(t.orders.c.id, t.orders.c.order_number, t.orders.c.stage,
                       t.orders.c.rms_status, t.orders.c.fingerprint, t.orders.c.attrs,
                       t.orders.c.data, t.orders.c.buyer_key, t.orders.c.ordered_at,
                       t.orders.c.imported_at)
                .where(t.orders.c.shop == shop, t.orders.c.id > last,
                       t.orders.c.imported_at >= since, t.orders.c.imported_at < until)
                .order_by(t.orders.c.id).limit(batch)).all()
            if not rows:
                return
            last = rows[-1][0]
            yield list(rows)

    REPLAY_EVENTS = ("order_imported", "payment_settled", "payment_reverted",
                     "order_cancelled", "cancel_after_handoff")

    def replay_events(self, conn: Connection, first_id: int, last_id: int
                      ) -> dict[int, list[tuple[str, str, datetime, dict[str, Any]]]]:
        """The outside events of the orders with ids in [first_id, last_id], for replays:
        per order (type, actor, at, data) of its import, payments and cancellations, in
        the order they happened."""
        out: dict[int, list[tuple[str, str, datetime, dict[str, Any]]]] = {}
        for oid, type_, actor, at, data in conn.execute(
                select(t.events.c.order_id, t.events.c.type, t.events.c.actor, t.events.c.at,
                       t.events.c.data)
                .where(t.events.c.order_id >= first_id, t.events.c.order_id <= last_id,
                       t.events.c.type.in_(self.REPLAY_EVENTS))
                .order_by(t.events.c.order_id, t.events.c.id)):
            out.setdefault(oid, []).append((type_, actor, at, orjson.loads(data)))
        return out

    def buyer_timeline(self, conn: Connection, shop: str, until: datetime
                       ) -> dict[str, list[tuple[datetime, datetime | None]]]:
        """Per buyer: (ordered_at, ended_at) of each order placed before `until`, where
        ended_at approximates when it shipped or was cancelled (its last change)."""
        out: dict[str, list[tuple[datetime, datetime | None]]] = {}
        for key, at, stage, updated in conn.execute(
                select(t.orders.c.buyer_key, t.orders.c.ordered_at, t.orders.c.stage,
                       t.orders.c.updated_at)
                .where(t.orders.c.shop == shop, t.orders.c.ordered_at < until)
                .order_by(t.orders.c.ordered_at)):
            ended = updated if stage in (Stage.shipped.value, Stage.cancelled.value) else None
            out.setdefault(key, []).append((at, ended))
        return out

    def orders_reaching(self, conn: Connection, shop: str, stage: Stage, since: datetime,
                        until: datetime) -> dict[int, datetime]:
        """Orders whose stage first became `stage` in [since, until): id → when."""
        j = t.events.join(t.orders, t.events.c.order_id == t.orders.c.id)
        rows = conn.execute(
            select(t.events.c.order_id, func.min(t.events.c.at)).select_from(j)
            .where(t.orders.c.shop == shop, t.events.c.stage_to == stage.value)
            .group_by(t.events.c.order_id))
        return {oid: at for oid, at in rows if since <= at < until}

    def history(self, conn: Connection, order_ids: Sequence[int]
                ) -> tuple[dict[int, list[Event]], dict[int, list[Gate]], dict[int, datetime]]:
        """Events, gates and import time of many orders (for reports)."""
        events: dict[int, list[Event]] = {i: [] for i in order_ids}
        gates: dict[int, list[Gate]] = {i: [] for i in order_ids}
        imported: dict[int, datetime] = {}
        for chunk in _chunks(list(order_ids)):
            for r in conn.execute(select(t.events).where(t.events.c.order_id.in_(chunk))
                                  .order_by(t.events.c.id)):
                events[r.order_id].append(_event(r))
            for g in conn.execute(select(t.gates).where(t.gates.c.order_id.in_(chunk))):
                gates[g.order_id].append(_gate(g))
            imported.update((r[0], r[1]) for r in conn.execute(
                select(t.orders.c.id, t.orders.c.imported_at).where(t.orders.c.id.in_(chunk))))
        return events, gates, imported

    def effects_of(self, conn: Connection, order_id: int) -> list[EffectRow]:
        rows = conn.execute(select(t.outbox).where(t.outbox.c.order_id == order_id)
                            .order_by(t.outbox.c.id))
        return [self._effect(r) for r in rows]

    # ---- rows ---------------------------------------------------------------------------

    @staticmethod
    def _order_row(o: Order, now: datetime, *, with_data: bool = True) -> dict[str, Any]:
        c = o.channel
        row = {
            "shop": o.shop, "order_number": c.order_number, "stage": o.stage.value,
            "rms_status": o.rms_status, "confirmed_at": o.confirmed_at,
            "ordered_at": c.ordered_at, "updated_at": now,
            "attrs": _attrs_text(o), "source_digest": None,
        }
        if with_data:  # the snapshot and what is derived from it
            row.update(total=c.amounts.total, payment_method=c.payment.method_code,
                       buyer_name=c.buyer.name[:200], buyer_key=c.buyer_key(),
                       fingerprint=o.fingerprint, details=c.details(),
                       data=channel_to_json(c))
        return row

    @staticmethod
    def _gate_row(order_id: int, g: Gate) -> dict[str, Any]:
        return {"order_id": order_id, "seq": g.seq, "kind": _TEXT[g.kind],
                "reason": g.reason[:300],
                "opened_at": g.opened_at, "opened_by": _TEXT[g.opened_by],
                "closed_at": g.closed_at, "closed_by": _TEXT[g.closed_by] if g.closed_by else None,
                "close_note": g.close_note, "until": g.until, "rule": g.rule,
                "fingerprint": g.fingerprint}

    @staticmethod
    def _event_row(order_id: int, e: Event) -> dict[str, Any]:
        return {"order_id": order_id, "at": e.at, "type": _TEXT[e.type], "actor": _TEXT[e.actor],
                "data": orjson.dumps(e.data, default=str).decode(),
                "stage_to": str(e.data.get("to"))[:20]
                if e.type is EventType.stage_changed else None}

    @staticmethod
    def _effect_row(shop: str, order_id: int, e: Effect, now: datetime) -> dict[str, Any]:
        return {"shop": shop, "order_id": order_id, "kind": _TEXT[e.kind],
                "dedupe_key": e.dedupe_key,
                "payload": orjson.dumps(e.payload).decode(), "status": "pending",
                "attempts": 0, "next_attempt_at": e.not_before or now, "last_error": None,
                "created_at": now, "done_at": None}

    @staticmethod
    def _effect(r: Any) -> EffectRow:
        return EffectRow(r.id, r.shop, r.order_id, EffectKind(r.kind), r.dedupe_key,
                         orjson.loads(r.payload), r.status, r.attempts, r.next_attempt_at,
                         r.last_error, r.batch)

    # ---- outbox -------------------------------------------------------------------------

    def due_effects(self, conn: Connection, shop: str, kind: EffectKind, now: datetime,
                    limit: int) -> list[EffectRow]:
        """Claim up to `limit` due effects of `kind` for this worker and return them.

        An effect is due when pending and its time has come; it is free when no other
        worker holds a claim on it (claims last `CLAIM_FOR` of wall time, and end when
        the attempt is recorded or the effect postponed). The claim commits with the
        caller's transaction, before anything is delivered, so two workers never deliver
        the same effect: on PostgreSQL the rows are locked with SKIP LOCKED, and on both
        backends the UPDATE re-checks that the effect is still free.

        Most calls find nothing due (the outbox turns every 15 s), so a read comes first:
        the pick's conditions, compiled once (`_due_probe`). Only when it finds an effect
        is the claiming UPDATE built and run — an idle turn writes nothing and, on
        SQLite, takes no write lock that other processes would wait on. Skipping the
        UPDATE is safe: the read claims nothing, and what it misses (an effect due or
        freed a moment later) the UPDATE run at that moment would have missed too.
        """
        o = t.outbox.c
        cutover = self._cutover.get(shop)
        if cutover is not None and cutover.shadow:
            return []  # shadow mode: no effect of any kind leaves (they stay pending)
        wall = self.wall()
        if not self._select(conn, "due_effects_probe", self._due_probe, {
                "shop": shop, "kind": kind.value, "now": now, "wall": wall,
                "worker": self.worker}):
            return []
        if cutover is not None and cutover.start_at is not None:
            self._settle_before_start(conn, shop, kind, now, cutover.start_at)
        free = (o.claimed_until.is_(None) | (o.claimed_until <= wall)
                | (o.claimed_by == self.worker))
        pick = (select(o.id).where(o.shop == shop, o.status == "pending", o.kind == kind.value,
                                   o.next_attempt_at <= now, free)
                # due-time order is what the (status, kind, next_attempt_at) index gives
                # without sorting every due effect for each batch
                .order_by(o.next_attempt_at, o.id).limit(limit))
        if not self._sqlite:
            pick = pick.with_for_update(skip_locked=True)
        rows = conn.execute(update(t.outbox).where(o.id.in_(pick.scalar_subquery()), free)
                            .values(claimed_by=self.worker, claimed_until=wall + CLAIM_FOR)
                            .returning(*t.outbox.c)).all()
        effects = [self._effect(r) for r in rows]
        effects.sort(key=lambda e: (e.next_attempt_at, e.id))
        return effects

    def _settle_before_start(self, conn: Connection, shop: str, kind: EffectKind,
                             now: datetime, start_at: datetime) -> None:
        """Settle, undelivered and with a note, the pending effects of `kind` of orders
        imported in shadow mode and ordered before `start_at` (the old system's)."""
        o, s = t.outbox.c, t.shadow_orders.c
        before = (select(s.order_id).where(s.shop == shop, s.ordered_at < start_at)
                  .scalar_subquery())
        rows = conn.execute(select(t.outbox).where(
            o.shop == shop, o.status == "pending", o.kind == kind.value,
            o.order_id.in_(before))).all()
        self.record_attempts(conn, [Attempt(self._effect(r), True, NOT_DELIVERED_SHADOW)
                                    for r in rows], now)

    @staticmethod
    def _due_probe() -> Any:
        """`due_effects`' pick as a read: one due and free effect of a kind, if any."""
        o = t.outbox.c
        return (select(o.id).where(
            o.shop == bindparam("shop"), o.status == "pending", o.kind == bindparam("kind"),
            o.next_attempt_at <= bindparam("now"),
            o.claimed_until.is_(None) | (o.claimed_until <= bindparam("wall"))
            | (o.claimed_by == bindparam("worker"))).limit(1))

    @staticmethod
    def _due_holds_query() -> Any:
        """`due_holds`' statement."""
        g = t.gates.c
        return (select(t.orders.c.id)
                .select_from(t.gates.join(t.orders, g.order_id == t.orders.c.id))
                .where(t.orders.c.shop == bindparam("shop"), g.kind == GateKind.hold.value,
                       g.closed_at.is_(None), g.until.is_not(None), g.until <= bindparam("now"))
                .distinct())

    def _select(self, conn: Connection, name: str, build: Callable[[], Any],
                params: dict[str, Any]) -> list[Any]:
        """Rows of a SELECT polled on every turn of a step, at the driver level.

        Building a Core statement and computing its cache key cost about ten times what
        SQLite takes to find nothing; here the statement `build` returns is compiled once
        per `name` (its variable parts are named `bindparam`s given in `params`) and run
        on the transaction's connection, datetimes converted as `_many` converts them.
        """
        cached = self._compiled.get((name, ()))
        if cached is None:
            compiled = build().compile(dialect=conn.dialect)
            fixed = {k: v for k, v in compiled.params.items() if k not in params}
            cached = (str(compiled), compiled.positiontup, fixed)
            self._compiled[(name, ())] = cached
        sql, order, fixed = cached
        values = {**fixed, **{k: self._driver_value(v) for k, v in params.items()}}
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, [values[k] for k in order] if order is not None else values)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def mark_batch(self, conn: Connection, effects: Sequence[EffectRow], name: str) -> bool:
        """Note that `effects` were staged in delivery batch `name` — only if this worker
        still holds their claims (False, and nothing noted, otherwise)."""
        ids = [e.id for e in effects]
        o = t.outbox.c
        done = 0
        for chunk in _chunks(ids):
            done += conn.execute(update(t.outbox).where(
                o.id.in_(chunk), o.status == "pending", o.claimed_by == self.worker)
                .values(batch=name)).rowcount
        return done == len(ids)

    def release_claims(self, conn: Connection, shop: str, worker: str) -> int:
        """End every claim `worker` holds on `shop`'s effects (it is known to be gone)."""
        return int(conn.execute(update(t.outbox).where(
            t.outbox.c.shop == shop, t.outbox.c.claimed_by == worker,
            t.outbox.c.status == "pending").values(claimed_by=None, claimed_until=None))
            .rowcount)

    # ---- shop leases --------------------------------------------------------------------

    def acquire_lease(self, conn: Connection, shop: str, ttl: timedelta) -> Lease | None:
        """Take or renew the lease on `shop` for this worker; None if another worker holds
        it. Taking over an expired lease releases the previous holder's effect claims."""
        wall = self.wall()
        lc = t.shop_leases.c
        row = conn.execute(select(t.shop_leases).where(lc.shop == shop)).one_or_none()
        if row is None:  # the shop's first lease: a row to compare-and-set on
            conn.execute(self._insert(t.shop_leases).values(
                shop=shop, worker=self.worker, epoch=0, acquired_at=wall, expires_at=wall)
                .on_conflict_do_nothing(index_elements=["shop"]))
            row = conn.execute(select(t.shop_leases).where(lc.shop == shop)).one()
        if row.worker == self.worker and row.epoch > 0:
            conn.execute(update(t.shop_leases).where(lc.shop == shop, lc.worker == self.worker,
                                                     lc.epoch == row.epoch)
                         .values(expires_at=wall + ttl))
            return Lease(shop, self.worker, row.epoch, wall + ttl, None)
        if row.expires_at > wall and row.epoch > 0:
            return None
        took = conn.execute(update(t.shop_leases).where(lc.shop == shop,
                                                        lc.epoch == row.epoch)
                            .values(worker=self.worker, epoch=row.epoch + 1, acquired_at=wall,
                                    expires_at=wall + ttl)).rowcount
        if took != 1:
            return None  # another worker took it at the same moment
        previous = row.worker if row.epoch > 0 and row.worker != self.worker else None
        if previous is not None:
            self.release_claims(conn, shop, previous)
        return Lease(shop, self.worker, row.epoch + 1, wall + ttl, previous)

    def release_lease(self, conn: Connection, shop: str) -> None:
        """Give the lease up (a clean stop): another worker may take the shop at once."""
        lc = t.shop_leases.c
        conn.execute(update(t.shop_leases).where(lc.shop == shop, lc.worker == self.worker)
                     .values(expires_at=self.wall()))
        self.release_claims(conn, shop, self.worker)

    def leases(self, conn: Connection) -> list[Lease]:
        return [Lease(r.shop, r.worker, r.epoch, r.expires_at, None)
                for r in conn.execute(select(t.shop_leases).order_by(t.shop_leases.c.shop))]

    def record_attempt(self, conn: Connection, effect: EffectRow, now: datetime, *,
                       ok: bool, error: str | None = None,
                       retry_at: datetime | None = None) -> None:
        """Record one delivery attempt: done, retry at `retry_at`, or failed for good."""
        self.record_attempts(conn, [Attempt(effect, ok, error, retry_at)], now)

    def record_attempts(self, conn: Connection, attempts: Sequence[Attempt],
                        now: datetime) -> None:
        """Record delivery attempts in two statements (see `record_attempt`)."""
        if not attempts:
            return
        self._many(conn, "insert_attempts", insert(t.effect_attempts), [
            {"effect_id": a.effect.id, "at": now, "ok": a.ok, "error": a.error}
            for a in attempts])
        self._many(
            conn, "record_attempts",
            update(t.outbox).where(t.outbox.c.id == bindparam("b_id")).values(
                status=bindparam("v_status"), attempts=t.outbox.c.attempts + 1,
                last_error=bindparam("v_error"), next_attempt_at=bindparam("v_next"),
                done_at=bindparam("v_done"), claimed_by=None, claimed_until=None),
            [{"b_id": a.effect.id, "v_error": a.error,
              "v_status": "done" if a.ok else ("pending" if a.retry_at else "failed"),
              "v_next": a.retry_at or now, "v_done": now if a.ok else None}
             for a in attempts])

    def outbox_counts(self, conn: Connection, shop: str) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for kind, status, n in conn.execute(
                select(t.outbox.c.kind, t.outbox.c.status, func.count())
                .where(t.outbox.c.shop == shop).group_by(t.outbox.c.kind, t.outbox.c.status)):
            out.setdefault(kind, {})[status] = n
        return out

    def effects_created_at(self, conn: Connection, ids: Sequence[int]) -> dict[int, datetime]:
        """When each effect was queued (a mail's delay counts from then)."""
        out: dict[int, datetime] = {}
        for chunk in _chunks(ids):
            out.update((r[0], r[1]) for r in conn.execute(
                select(t.outbox.c.id, t.outbox.c.created_at).where(t.outbox.c.id.in_(chunk))))
        return out

    def note_effects(self, conn: Connection, ids: Sequence[int], note: str) -> None:
        """Set the last error of pending effects this worker holds to `note`, without
        counting an attempt (e.g. "being sent": a delivery that dies after it leaves the
        note behind, and the next holder knows the outcome is unknown)."""
        o = t.outbox.c
        for chunk in _chunks(list(ids)):
            conn.execute(update(t.outbox).where(
                o.id.in_(chunk), o.status == "pending", o.claimed_by == self.worker)
                .values(last_error=note))

    def postpone_effects(self, conn: Connection, until: Sequence[tuple[int, datetime]],
                         reason: str | None = None) -> None:
        """Make pending effects due later without counting an attempt (a policy, not a
        failure of the effect: a mail's delay, quiet hours, a relay refusing our login);
        `reason`, when given, is shown as the effect's last error."""
        extra = {"last_error": reason} if reason is not None else {}
        for effect_id, at in until:
            conn.execute(update(t.outbox).where(t.outbox.c.id == effect_id,
                                                t.outbox.c.status == "pending")
                         .values(next_attempt_at=at, claimed_by=None, claimed_until=None,
                                 **extra))

    # ---- import state -------------------------------------------------------------------

    def get_cursor(self, conn: Connection, shop: str, name: str) -> str | None:
        return conn.execute(select(t.cursors.c.value).where(
            t.cursors.c.shop == shop, t.cursors.c.name == name)).scalar_one_or_none()

    def set_cursor(self, conn: Connection, shop: str, name: str, value: str) -> None:
        stmt = self._insert(t.cursors).values(shop=shop, name=name, value=value)
        conn.execute(stmt.on_conflict_do_update(index_elements=["shop", "name"],
                                                set_={"value": value}))

    def pending_imports(self, conn: Connection, shop: str) -> dict[str, PendingImport]:
        rows = conn.execute(select(t.import_pending).where(t.import_pending.c.shop == shop))
        return {r.order_number: PendingImport(r.order_number, r.ordered_at, r.first_seen_at,
                                              r.recheck_at, r.reason, r.attempts, r.last_error)
                for r in rows}

    def failed_imports(self, conn: Connection, shop: str, limit: int = 1000) -> list[PendingImport]:
        """Orders the import could not take (kept `failed` with the reason), oldest first."""
        ip = t.import_pending
        rows = conn.execute(select(ip).where(ip.c.shop == shop, ip.c.reason == "failed")
                            .order_by(ip.c.first_seen_at, ip.c.order_number).limit(limit))
        return [PendingImport(r.order_number, r.ordered_at, r.first_seen_at, r.recheck_at,
                              r.reason, r.attempts, r.last_error) for r in rows]

    def upsert_pending(self, conn: Connection, shop: str, pending: Sequence[PendingImport]) -> None:
        if not pending:
            return
        stmt = self._insert(t.import_pending)
        stmt = stmt.on_conflict_do_update(
            index_elements=["shop", "order_number"],
            set_={"recheck_at": stmt.excluded.recheck_at, "reason": stmt.excluded.reason,
                  "attempts": stmt.excluded.attempts, "last_error": stmt.excluded.last_error})
        conn.execute(stmt, [{"shop": shop, "order_number": p.order_number,
                             "ordered_at": p.ordered_at, "first_seen_at": p.first_seen_at,
                             "recheck_at": p.recheck_at, "reason": p.reason,
                             "attempts": p.attempts, "last_error": p.last_error}
                            for p in pending])

    def delete_pending(self, conn: Connection, shop: str, numbers: Sequence[str]) -> None:
        for chunk in _chunks(numbers):
            conn.execute(t.import_pending.delete().where(
                t.import_pending.c.shop == shop, t.import_pending.c.order_number.in_(chunk)))

    # ---- summaries ----------------------------------------------------------------------

    def stage_counts(self, conn: Connection, shop: str) -> dict[str, int]:
        return {s: n for s, n in conn.execute(
            select(t.orders.c.stage, func.count()).where(t.orders.c.shop == shop)
            .group_by(t.orders.c.stage))}

    def rms_status_counts(self, conn: Connection, shop: str) -> dict[str, int]:
        return {str(s): n for s, n in conn.execute(
            select(t.orders.c.rms_status, func.count()).where(t.orders.c.shop == shop)
            .group_by(t.orders.c.rms_status))}

    def open_gate_counts(self, conn: Connection, shop: str) -> dict[str, int]:
        j = t.gates.join(t.orders, t.gates.c.order_id == t.orders.c.id)
        return {k: n for k, n in conn.execute(
            select(t.gates.c.kind, func.count()).select_from(j)
            .where(t.orders.c.shop == shop, t.gates.c.closed_at.is_(None))
            .group_by(t.gates.c.kind))}

    def open_gate_reasons(self, conn: Connection, shop: str) -> dict[str, dict[str, int]]:
        """Open gates per kind and reason: what orders wait for, and why."""
        j = t.gates.join(t.orders, t.gates.c.order_id == t.orders.c.id)
        out: dict[str, dict[str, int]] = {}
        for kind, reason, n in conn.execute(
                select(t.gates.c.kind, t.gates.c.reason, func.count()).select_from(j)
                .where(t.orders.c.shop == shop, t.gates.c.closed_at.is_(None))
                .group_by(t.gates.c.kind, t.gates.c.reason)):
            out.setdefault(kind, {})[reason] = n
        return out

    def event_counts(self, conn: Connection, shop: str) -> dict[str, int]:
        j = t.events.join(t.orders, t.events.c.order_id == t.orders.c.id)
        return {k: n for k, n in conn.execute(
            select(t.events.c.type, func.count()).select_from(j)
            .where(t.orders.c.shop == shop).group_by(t.events.c.type))}

    def _order_filter(self, conn: Connection, q: Any, shop: str, stage: Stage | None,
                      gate: GateKind | None, search: str = "") -> Any:
        from unyo.adapters.db.dashboard import search_condition
        from unyo.domain.search import query_words

        q = q.where(t.orders.c.shop == shop)
        found = search_condition(conn, query_words(search), t.orders.c.id)
        if found is not None:  # `search` as typed in the dashboard's search box
            q = q.where(found)
        if stage is not None:
            q = q.where(t.orders.c.stage == stage.value)
        if gate is not None:
            q = q.where(t.orders.c.id.in_(select(t.gates.c.order_id).where(
                t.gates.c.kind == gate.value, t.gates.c.closed_at.is_(None))))
        return q

    def count_orders(self, conn: Connection, shop: str, *, stage: Stage | None = None,
                     gate: GateKind | None = None, search: str = "") -> int:
        """How many orders `list_orders` would give without its limit."""
        q = self._order_filter(conn, select(func.count()).select_from(t.orders), shop, stage,
                               gate, search)
        return int(conn.execute(q).scalar_one())

    def list_orders(self, conn: Connection, shop: str, *, stage: Stage | None = None,
                    gate: GateKind | None = None, limit: int = 100,
                    search: str = "") -> list[dict[str, Any]]:
        """Orders, newest first; `search` as typed in the dashboard's search box."""
        q = self._order_filter(conn, select(t.orders.c.id, t.orders.c.order_number,
                                            t.orders.c.stage, t.orders.c.rms_status,
                                            t.orders.c.ordered_at, t.orders.c.total,
                                            t.orders.c.buyer_name),
                               shop, stage, gate, search)
        rows = conn.execute(q.order_by(t.orders.c.ordered_at.desc()).limit(limit)).all()
        gates_by: dict[int, list[dict[str, Any]]] = {r.id: [] for r in rows}
        if rows:
            for g in conn.execute(select(t.gates.c.order_id, t.gates.c.kind, t.gates.c.reason,
                                         t.gates.c.rule, t.gates.c.until,
                                         t.gates.c.opened_at)
                                  .where(t.gates.c.order_id.in_(list(gates_by)),
                                         t.gates.c.closed_at.is_(None))
                                  .order_by(t.gates.c.order_id, t.gates.c.seq)):
                until = g.until
                gates_by[g.order_id].append({
                    "kind": g.kind, "reason": g.reason, "rule": g.rule or None,
                    "until": until.astimezone(JST).isoformat() if until else None,
                    "opened_at": g.opened_at.astimezone(JST).isoformat()})
        return [{"order_number": r.order_number, "stage": r.stage, "rms_status": r.rms_status,
                 "ordered_at": r.ordered_at.astimezone(JST).isoformat(), "total": r.total,
                 "buyer_name": r.buyer_name, "open_gates": gates_by[r.id]} for r in rows]


def backoff(attempts: int, base: float = 30.0, cap: float = 3600.0) -> timedelta:
    """Delay before the next try of an effect: 30 s, 1 min, 2 min, ... capped at an hour."""
    return timedelta(seconds=min(cap, base * (2 ** max(0, attempts - 1))))
