"""The dashboard's reads: queue pages, counts, alerts and the automation rate's inputs.

Every query here is bounded and served by an index, so pages stay fast with a million
stored orders: queue pages are keyset-paginated on (ordered_at, id) through the
(shop, stage, ordered_at) index or from the open gates (few, by (kind, closed_at));
counts are GROUP BYs over indexed columns; shipped orders of a period come from the
(type, at) index on events. Nothing here loads all orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, distinct, exists, func, literal, or_, select, tuple_

from unyo.adapters.db import schema as t
from unyo.domain import Actor, EventType, GateKind, Stage
from unyo.domain.automation import TOUCHES
from unyo.domain.search import probes, tag_term

PAGE = 50
COUNT_CAP = 10_000
"""A queue's total is counted this far; beyond, the page says 「10,000件以上」."""
UNCOUNTED = -1
"""The total and start of a text search's page: not counted (bench/web.py)."""
CHUNK = 500

TOUCH_TYPES = tuple(sorted(TOUCHES))
"""A person's actions that count against the automation rate (`domain/automation.py`)."""


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """Which orders a queue page lists: a stage or an open gate kind, and a search."""

    stage: Stage | None = None
    gate: GateKind | None = None
    words: tuple[str, ...] = ()  # folded words (`domain.search.query_words`): all must match
    ordered_from: datetime | None = None  # a day, as an instant range
    ordered_until: datetime | None = None
    payment_method: int | None = None  # RMS settlementMethodCode
    tag: str = ""  # 受注分類タグ, whole


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page starts: after the order (ordered_at, id), newest first."""

    ordered_at: datetime
    id: int


@dataclass
class QueueRow:
    id: int
    order_number: str
    stage: str
    rms_status: int
    ordered_at: datetime
    total: int
    buyer_name: str
    version: int
    payment_method: int = 0  # RMS settlementMethodCode
    gates: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class QueuePage:
    rows: list[QueueRow]
    next: Cursor | None  # None on the last page
    total: int = 0  # orders under the filter, on every page (COUNT_CAP + 1: more than the cap)
    start: int = 0  # how many of them come before this page (as capped)

    @property
    def counted(self) -> bool:
        return self.total != UNCOUNTED

    @property
    def total_known(self) -> bool:
        return 0 <= self.total <= COUNT_CAP

    @property
    def start_known(self) -> bool:
        return 0 <= self.start <= COUNT_CAP


MANY = 5_000
"""A search matching at most this many orders is looked up by their ids (then sorted);
one matching more is read the other way round: the orders in page order (an index walk),
each kept if it has the words' terms (one seek per word), which then finds a page after
a few thousand steps at most."""
_TOP = "\U0010ffff"
SAMPLE = 1_000
"""Of words that are all common, how many matches of the rarest are tried with the others
to tell whether the result is dense enough to walk to (at least PAGE of them must be)."""


def _range(s: Any, word: str) -> Any:
    """The terms a folded word finds: a prefix is a range of order_search's key (typed text
    is only ever a bound value: no LIKE, no pattern)."""
    return or_(*[and_(s.c.term >= p, s.c.term < p + _TOP) for p in probes(word)])


def _has(word: str, order_id: Any) -> Any:
    s = t.order_search.alias()
    return exists().where(s.c.order_id == order_id, _range(s, word))


def search_condition(conn: Connection, words: Sequence[str], order_id: Any) -> Any | None:
    """Orders the typed words find: every word, or the words together (高橋 太郎, 宮 崎)."""
    words = list(dict.fromkeys(words))
    if not words:
        return None
    s = t.order_search
    joined = "".join(words) if len(words) > 1 else ""

    def ids(q: Any) -> list[int]:
        return [r[0] for r in conn.execute(q)]

    def first(word: str, n: int = MANY + 1) -> Any:  # a word's first matches, in key order
        return select(s.c.order_id).where(_range(s, word)).limit(n).subquery()
    counts = {w: int(conn.execute(select(func.count()).select_from(first(w))).scalar_one())
              for w in words}
    rare = min(words, key=counts.__getitem__)
    # Of the rarest word's first matches, those with every other word: all of them when
    # it has few (one seek per match and word), else a sample of how dense the result is.
    sample = first(rare, MANY + 1 if counts[rare] <= MANY else min(SAMPLE, MANY + 1))
    every = ids(select(sample.c.order_id).where(
        *[_has(w, sample.c.order_id) for w in words if w != rare]).distinct())
    together = ids(select(first(joined).c.order_id).distinct()) if joined else []
    if counts[rare] > MANY and len(every) < min(PAGE, MANY + 1) and len(together) <= MANY:
        # Common words that rarely meet (佐藤 鈴木): the meeting is small; find it whole.
        every = ids(select(s.c.order_id).where(_range(s, rare), *[
            _has(w, s.c.order_id) for w in words if w != rare]).distinct())
    if (counts[rare] <= MANY or len(every) < min(PAGE, MANY + 1)) and len(together) <= MANY:
        return order_id.in_(sorted(set(every) | set(together)))
    cond = and_(*[_has(w, order_id) for w in words])
    return or_(_has(joined, order_id), cond) if joined else cond


def tag_condition(conn: Connection, tag: str, order_id: Any) -> Any:
    """Orders with the tag: by their ids when few, else by walking the orders (as above)."""
    s = t.order_search
    term = tag_term(tag)
    few = [r[0] for r in conn.execute(select(s.c.order_id).where(s.c.term == term)
                                      .limit(MANY + 1))]
    if len(few) <= MANY:
        return order_id.in_(few)
    inner = t.order_search.alias()
    return exists().where(inner.c.order_id == order_id, inner.c.term == term)


def _where(conn: Connection, shop: str, f: QueueFilter, o: Any) -> list[Any]:
    cond: list[Any] = [o.c.shop == shop]
    if f.stage is not None:
        cond.append(o.c.stage == f.stage.value)
    found = search_condition(conn, f.words, o.c.id)
    if found is not None:
        cond.append(found)
    if f.tag:
        cond.append(tag_condition(conn, f.tag, o.c.id))
    if f.payment_method is not None:
        cond.append(o.c.payment_method == f.payment_method)
    if f.ordered_from is not None:
        cond.append(o.c.ordered_at >= f.ordered_from)
    if f.ordered_until is not None:
        cond.append(o.c.ordered_at < f.ordered_until)
    return cond


def _at(cursor: Cursor) -> Any:
    """A cursor as the (ordered_at, id) tuple to compare the key with, its time bound as
    the column's type (UTC text on SQLite; a bare tuple would bind it as local text)."""
    return tuple_(literal(cursor.ordered_at, t.UtcDateTime()), literal(cursor.id))


def _queue_select(conn: Connection, shop: str, f: QueueFilter, cols: Sequence[Any],
                  extra: Sequence[Any] = ()) -> Any:
    """The queue's orders under `f` (and `extra` conditions), unordered."""
    o = t.orders
    cond = [*_where(conn, shop, f, o), *extra]
    if f.gate is not None:
        # From the open gates of the kind (few) to their orders, not the other way round.
        g = t.gates
        return (select(*cols).select_from(g.join(o, o.c.id == g.c.order_id))
                .where(g.c.kind == f.gate.value, g.c.closed_at.is_(None), *cond)
                .group_by(o.c.id))
    return select(*cols).where(*cond)


def queue_page(conn: Connection, shop: str, f: QueueFilter, after: Cursor | None = None,
               limit: int = PAGE) -> QueuePage:
    """One page of the queue, newest first, with each order's open gates, the number of
    orders under the filter and where the page starts among them."""
    o = t.orders
    cols = (o.c.id, o.c.order_number, o.c.stage, o.c.rms_status, o.c.ordered_at, o.c.total,
            o.c.buyer_name, o.c.version, o.c.payment_method)
    extra = [] if after is None else [
        tuple_(o.c.ordered_at, o.c.id) < _at(after)]
    q = _queue_select(conn, shop, f, cols, extra)
    rows = conn.execute(q.order_by(o.c.ordered_at.desc(), o.c.id.desc()).limit(limit + 1)).all()
    page = [QueueRow(*r) for r in rows[:limit]]
    by_id = {r.id: r for r in page}
    if by_id:
        for gr in conn.execute(
                select(t.gates.c.order_id, t.gates.c.seq, t.gates.c.kind, t.gates.c.reason,
                       t.gates.c.rule, t.gates.c.until, t.gates.c.opened_at)
                .where(t.gates.c.order_id.in_(list(by_id)), t.gates.c.closed_at.is_(None))
                .order_by(t.gates.c.order_id, t.gates.c.seq)):
            by_id[gr.order_id].gates.append({"seq": gr.seq, "kind": gr.kind, "reason": gr.reason,
                                             "rule": gr.rule, "until": gr.until,
                                             "opened_at": gr.opened_at})
    nxt = Cursor(page[-1].ordered_at, page[-1].id) if len(rows) > limit else None
    if f.words:  # a text search is found by walking the orders: counting them would read
        # every order that might match (seconds at a million); its pages go uncounted
        return QueuePage(page, nxt, UNCOUNTED, UNCOUNTED)
    total = queue_total(conn, shop, f)
    start = 0 if after is None else queue_total(conn, shop, f, through=after)
    return QueuePage(page, nxt, total, start)


def queue_total(conn: Connection, shop: str, f: QueueFilter,
                through: Cursor | None = None) -> int:
    """How many orders the queue holds under `f`; with `through`, those listed before a
    page that starts after it (the cursor's order included)."""
    o = t.orders
    extra = [] if through is None else [tuple_(o.c.ordered_at, o.c.id) >= _at(through)]
    # counted up to COUNT_CAP + 1 only: a search matching half the shop stays a bounded read
    inner = _queue_select(conn, shop, f, (o.c.id,), extra).limit(COUNT_CAP + 1).subquery()
    return int(conn.execute(select(func.count()).select_from(inner)).scalar_one())


@dataclass(frozen=True)
class Neighbours:
    """The orders before and after one in the queue's order (newest first)."""

    newer: str | None
    older: str | None


def queue_neighbours(conn: Connection, shop: str, f: QueueFilter,
                     at: Cursor) -> Neighbours:
    """The queue's orders on either side of the order at `at`, whether or not that order
    is still in the queue (released a moment ago, it has left it)."""
    o = t.orders
    key, here = tuple_(o.c.ordered_at, o.c.id), _at(at)
    newer = conn.execute(_queue_select(conn, shop, f, (o.c.order_number,), [key > here])
                         .order_by(o.c.ordered_at, o.c.id).limit(1)).scalar()
    older = conn.execute(_queue_select(conn, shop, f, (o.c.order_number,), [key < here])
                         .order_by(o.c.ordered_at.desc(), o.c.id.desc()).limit(1)).scalar()
    return Neighbours(newer, older)


def stage_counts(conn: Connection, shop: str) -> dict[str, int]:
    o = t.orders
    return {s: n for s, n in conn.execute(
        select(o.c.stage, func.count()).where(o.c.shop == shop).group_by(o.c.stage))}


def gate_counts(conn: Connection, shop: str) -> dict[str, int]:
    """Orders with an open gate, per kind (an order with two open checks counts once)."""
    g, o = t.gates, t.orders
    return {k: n for k, n in conn.execute(
        select(g.c.kind, func.count(distinct(g.c.order_id)))
        .select_from(g.join(o, o.c.id == g.c.order_id))
        .where(g.c.kind.in_([k.value for k in GateKind]), g.c.closed_at.is_(None),
               o.c.shop == shop).group_by(g.c.kind))}


def open_gate_reasons(conn: Connection, shop: str, limit: int = 20) -> list[tuple[str, str, int]]:
    """(kind, reason, orders) of open gates, most common first."""
    g, o = t.gates, t.orders
    n = func.count().label("n")
    return [(k, r, c) for k, r, c in conn.execute(
        select(g.c.kind, g.c.reason, n).select_from(g.join(o, o.c.id == g.c.order_id))
        .where(g.c.kind.in_([k.value for k in GateKind]), g.c.closed_at.is_(None),
               o.c.shop == shop)
        .group_by(g.c.kind, g.c.reason).order_by(n.desc()).limit(limit))]


def failed_effects(conn: Connection, shop: str) -> list[dict[str, Any]]:
    """Effects that failed for good, per kind: how many, the latest error and its order."""
    ob = t.outbox
    out = []
    for kind, n, last in conn.execute(
            select(ob.c.kind, func.count(), func.max(ob.c.id))
            .where(ob.c.status == "failed", ob.c.shop == shop).group_by(ob.c.kind)):
        r = conn.execute(select(ob.c.last_error, t.orders.c.order_number)
                         # outer: an alert digest (notify_staff) is about no order
                         .select_from(ob.join(t.orders, t.orders.c.id == ob.c.order_id,
                                              isouter=True))
                         .where(ob.c.id == last)).first()
        out.append({"kind": kind, "count": n, "last_error": r[0] if r else "",
                    "order_number": (r[1] or "") if r else ""})
    return out


def waiting_mails(conn: Connection, shop: str) -> tuple[int, str | None]:
    """Mails still pending with an error (e.g. the relay refused our login): count, latest."""
    ob = t.outbox
    n, last = conn.execute(
        select(func.count(), func.max(ob.c.id)).where(
            ob.c.status == "pending", ob.c.kind == "send_mail", ob.c.shop == shop,
            ob.c.last_error.is_not(None))).one()
    error = conn.execute(select(ob.c.last_error).where(ob.c.id == last)).scalar() if n else None
    return int(n), error


def failed_imports(conn: Connection, shop: str) -> tuple[int, str | None, str | None]:
    """Orders the import keeps failed (unreadable at RMS): count, one number and its reason."""
    ip = t.import_pending
    where = (ip.c.shop == shop, ip.c.reason == "failed")
    n = conn.execute(select(func.count()).where(*where)).scalar() or 0
    if not n:
        return 0, None, None
    row = conn.execute(select(ip.c.order_number, ip.c.last_error).where(*where)
                       .order_by(ip.c.first_seen_at.desc()).limit(1)).one()
    return int(n), row.order_number, row.last_error


def any_in_stage(conn: Connection, shop: str, stage: Stage) -> bool:
    o = t.orders
    return conn.execute(select(o.c.id).where(o.c.shop == shop, o.c.stage == stage.value)
                        .limit(1)).first() is not None


def reached(conn: Connection, shop: str, stage: Stage, since: datetime,
            until: datetime) -> dict[int, datetime]:
    """Orders that moved to `stage` in [since, until): id → when (the (stage_to, at)
    index). Orders imported in shadow mode are not counted: they have a rate of their own
    (`app.report.build_shadow`)."""
    e, o, sh = t.events, t.orders, t.shadow_orders
    rows = conn.execute(
        select(e.c.order_id, func.min(e.c.at)).select_from(e.join(o, o.c.id == e.c.order_id))
        .where(e.c.stage_to == stage.value, e.c.at >= since, e.c.at < until,
               o.c.shop == shop,
               e.c.order_id.not_in(select(sh.c.order_id).where(sh.c.shop == shop)))
        .group_by(e.c.order_id))
    return {oid: at for oid, at in rows}


def touched(conn: Connection, done: dict[int, datetime]) -> set[int]:
    """Of orders id → when done, those a person touched before (or when) they were done,
    or whose merged orders (同梱) a person touched — `domain/automation.py`'s definition,
    in SQL: only a person's events of the touch types are read."""
    e = t.events
    out: set[int] = set()
    ids = list(done)
    types = [x.value for x in TOUCH_TYPES]
    carried: dict[int, int] = {}  # merged order id → the order that carries it
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        for oid, first in conn.execute(
                select(e.c.order_id, func.min(e.c.at))
                .where(e.c.order_id.in_(chunk), e.c.actor == Actor.person.value,
                       e.c.type.in_(types))
                .group_by(e.c.order_id)):
            if first <= done[oid]:
                out.add(oid)
        for oid, data in conn.execute(
                select(e.c.order_id, e.c.data)
                .where(e.c.order_id.in_(chunk), e.c.type == EventType.merged_from.value)):
            for o in orjson.loads(data).get("orders", ()):
                if isinstance(o, dict) and o.get("id"):
                    carried[int(o["id"])] = oid
    merged = list(carried)
    for i in range(0, len(merged), CHUNK):
        for (mid,) in conn.execute(
                select(e.c.order_id).distinct()
                .where(e.c.order_id.in_(merged[i:i + CHUNK]),
                       e.c.actor == Actor.person.value, e.c.type.in_(types))):
            out.add(carried[mid])
    return out


def effect_attempts(conn: Connection, effect_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Every delivery attempt of the effects, oldest first."""
    a = t.effect_attempts
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in effect_ids}
    if effect_ids:
        for r in conn.execute(select(a).where(a.c.effect_id.in_(list(effect_ids)))
                              .order_by(a.c.id)):
            out[r.effect_id].append({"at": r.at, "ok": bool(r.ok), "error": r.error})
    return out
