"""RmsClient against the RMS emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from unyo.adapters.rakuten import (
    RmsAuthError,
    RmsClient,
    RmsRequestError,
    channel_order_from_rms,
    format_rms_datetime,
)
from unyo.clock import JST, SimClock
from unyo.sandbox.generator import GeneratedOrder, generate_orders

emulator_module = pytest.importorskip("unyo.sandbox.rms_emulator")

SECRET = "SP-emulator-secret"
KEY = "SL-emulator-license"
DAY = datetime(2026, 11, 26, tzinfo=JST)


class Sandbox:
    def __init__(self, orders: list[GeneratedOrder], clock: SimClock, base_url: str,
                 http: httpx.Client) -> None:
        self.orders = orders
        self.clock = clock
        self.base_url = base_url
        self.http = http

    def client(self, *, license_key: str = KEY, max_retries: int = 4) -> RmsClient:
        return RmsClient(self.http, base_url=self.base_url, service_secret=SECRET,
                         license_key=license_key, clock=self.clock, min_interval=0,
                         max_retries=max_retries)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    orders = generate_orders(2500, seed=7, start=DAY, end=DAY + timedelta(days=1))
    clock = SimClock(DAY + timedelta(days=1, minutes=1))
    emulator = emulator_module.RmsEmulator(clock, service_secret=SECRET, license_key=KEY,
                                           orders=orders)
    with emulator_module.RmsEmulatorServer(emulator) as server, \
            httpx.Client(timeout=30) as http:
        yield Sandbox(orders, clock, server.base_url, http)


def test_search_get_and_confirm_2500_orders_over_pages(sandbox: Sandbox) -> None:
    client = sandbox.client()

    numbers = client.search_order(start=DAY, end=DAY + timedelta(days=1))
    fetched = client.get_order(numbers)
    orders = [channel_order_from_rms(m) for m in fetched.orders]
    waiting = [o.order_number for o in orders if o.status == 100]
    first = client.confirm_order(waiting)
    second = client.confirm_order(waiting[:10])

    assert set(numbers) == {o.order_number for o in sandbox.orders}
    assert client.calls["searchOrder"] == 3
    assert client.calls["getOrder"] == 25
    assert fetched.missing == []
    assert len(orders) == 2500
    assert waiting
    assert all(m.ok for m in first.values()), [str(m) for m in first.values() if not m.ok][:3]
    assert set(first) == set(waiting)
    assert all(not m.ok and m.code.endswith("_ERROR_103") for m in second.values())
    assert client.calls["confirmOrder"] == 1 + (len(waiting) - 1) // 100 + 1
    refetched = client.get_order(waiting[:5])
    assert all(channel_order_from_rms(m).status >= 200 for m in refetched.orders)


def test_unknown_numbers_are_reported_missing(sandbox: Sandbox) -> None:
    known = sandbox.orders[0].order_number

    result = sandbox.client().get_order([known, "123456-20261126-0000000000"])

    assert [m["orderNumber"] for m in result.orders] == [known]
    assert result.missing == ["123456-20261126-0000000000"]


def test_a_wrong_license_key_is_an_explained_auth_error(sandbox: Sandbox) -> None:
    client = sandbox.client(license_key="SL-expired-key", max_retries=3)

    with pytest.raises(RmsAuthError, match="expire every 90 days") as info:
        client.search_order(start=DAY, end=DAY + timedelta(hours=1))

    assert "SL-expired-key" not in str(info.value) and SECRET not in str(info.value)
    assert client.calls["searchOrder"] == 1


def test_a_utc_window_selects_the_same_orders_as_in_jst(sandbox: Sandbox) -> None:
    start = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 12:00 JST
    end = start + timedelta(hours=2)
    expected = {o.order_number for o in sandbox.orders if start <= o.ordered_at <= end}

    numbers = sandbox.client().search_order(start=start, end=end)

    assert expected
    assert set(numbers) == expected


def test_the_emulator_rejects_other_datetime_formats_that_the_client_never_sends(
        sandbox: Sandbox) -> None:
    client = sandbox.client()
    colon = {"dateType": 1, "startDatetime": "2026-11-26T00:00:00+09:00",
             "endDatetime": format_rms_datetime(DAY + timedelta(hours=1))}

    with pytest.raises(RmsRequestError, match="startDatetime"):
        client._post("searchOrder", colon)
