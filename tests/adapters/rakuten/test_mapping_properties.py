"""Any JSON value in any field of a getOrder answer: a mapped order the store can hold, or
a MappingError naming the key, never another exception (Hypothesis, fixed budget)."""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.adapters.rakuten.rms_samples import order_model
from unyo.adapters.db import Store
from unyo.adapters.db.codec import channel_from_json, channel_to_json
from unyo.adapters.rakuten.channel import RakutenChannel
from unyo.adapters.rakuten.errors import MappingError
from unyo.adapters.rakuten.mapping import (
    EARLIEST_YEAR,
    INT_LIMIT,
    LATEST_YEAR,
    ORDER_NUMBER,
    channel_order_from_rms,
)
from unyo.clock import JST
from unyo.domain import ChannelOrder, ImportOrder, decide

SAMPLE = order_model()

texts = st.text(max_size=30) | st.sampled_from(
    ["--5", "²", "٣", "१२", "1_000", " 7 ", "1e5", "0x10", "\ud800", "a\x00b", "-9999",
     "2026-11-26T10:00:00+0900", "0001-01-01T00:00:00+14:00", "9999-12-31", "NaN",
     "123456-20261126-0000000001", "x" * 70])
numbers = (st.integers() | st.integers(min_value=-(2**80), max_value=2**80)
           | st.sampled_from([2**31, 2**31 - 1, -(2**31), 2**63, 2**64, -9999, 0, -1])
           | st.floats(allow_nan=True, allow_infinity=True))
leaves = st.none() | st.booleans() | numbers | texts


def _deep(depth: int) -> Any:
    v: Any = 1
    for _ in range(depth):
        v = {"a": [v]}
    return v


json_values = st.recursive(leaves, lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(texts, children, max_size=3), max_leaves=10) \
    | st.integers(100, 400).map(_deep)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        out.append((*prefix, k))
        out += _paths(v, (*prefix, k))
    return out


PATHS = _paths(SAMPLE)


def _set(model: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    model = copy.deepcopy(model)
    d: Any = model
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value
    return model


def _assert_storable(order: ChannelOrder) -> None:
    """What the mapping lets through, every store can hold."""
    assert ORDER_NUMBER.fullmatch(order.order_number)
    text = channel_to_json(order)  # orjson: no lone surrogate, no integer past 64 bits
    assert "\\u0000" not in text and "\x00" not in text
    text.encode("utf-8")
    a = order.amounts
    for v in (order.status, a.goods, a.postage, a.delivery, a.payment_charge, a.total,
              a.request, a.coupon, a.points_used, order.payment.method_code):
        assert -INT_LIMIT <= v <= INT_LIMIT
    assert EARLIEST_YEAR <= order.ordered_at.year <= LATEST_YEAR
    assert channel_from_json(text).fingerprint() == order.fingerprint()


@settings(max_examples=600, deadline=None)
@given(path=st.sampled_from(PATHS), value=json_values)
def test_any_value_in_any_field_maps_or_is_named(path: tuple[Any, ...], value: Any) -> None:
    model = _set(SAMPLE, path, value)
    try:
        order = channel_order_from_rms(model)
    except MappingError as e:
        assert e.reason and len(e.reason) < 400
        return
    _assert_storable(order)
    problems = order.problems()  # never raises either
    assert all(len(p) <= 300 for p in problems)


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_any_value_as_the_whole_model_or_its_number(value: Any) -> None:
    for model in (value, _set(SAMPLE, ("orderNumber",), value)):
        with contextlib.suppress(MappingError):
            _assert_storable(channel_order_from_rms(model))


_serial = itertools.count(1)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), value=json_values)
def test_what_maps_is_stored_on_this_database(store: Store, path: tuple[Any, ...],
                                              value: Any) -> None:
    """On SQLite, and on PostgreSQL with UNYO_TEST_DATABASE=postgresql (NUL, lengths and
    32-bit columns are where they differ)."""
    model = _set(SAMPLE, path, value)
    if path != ("orderNumber",):
        model["orderNumber"] = f"123456-20261126-{next(_serial):010d}"
    try:
        order = channel_order_from_rms(model)
    except MappingError:
        return
    import datetime as dt
    now = dt.datetime(2026, 11, 27, 10, 0, tzinfo=JST)
    d = decide(None, ImportOrder("shop", order, now))
    with store.transaction() as conn:
        if store.known_numbers(conn, "shop", [order.order_number]):
            return
        (oid,) = store.create_orders(conn, [d], now)
    with store.transaction() as conn:
        back = store.load_orders(conn, "shop", [order.order_number])[order.order_number]
    assert back.id == oid and back.channel.fingerprint() == order.fingerprint()


def test_an_answer_the_fast_decoder_refuses_is_read_by_the_standard_one() -> None:
    """orjson refuses a lone surrogate escape and integers past 64 bits, which are valid
    JSON; the client reads such an answer with the standard decoder instead."""

    from unyo.adapters.rakuten.client import _NOT_JSON, _json
    body = json.dumps({"OrderModelList": [_set(SAMPLE, ("remarks",), "\ud800")]}).encode()
    try:
        orjson.loads(body)
        raise AssertionError("orjson took it")
    except orjson.JSONDecodeError:
        pass
    data = _json(body)
    assert data is not _NOT_JSON and data["OrderModelList"][0]["remarks"] == "\ud800"
    assert _json(b"[" * 5000 + b"]" * 5000) is _NOT_JSON
    assert RakutenChannel  # the channel bisects such answers (tests/app/test_poison.py)
