"""RmsClient against the RMS emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from unyo.adapters.rakuten import (
    BasketShipping,
    RmsAuthError,
    RmsClient,
    RmsRequestError,
    RmsThrottledError,
    channel_order_from_rms,
    format_rms_datetime,
)
from unyo.clock import JST, SimClock
from unyo.domain import NOT_FIXED, Shipment
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
    postage_open = {o.order_number for o in orders
                    if o.status == 100 and NOT_FIXED in (o.amounts.postage, o.amounts.total)}
    first = client.confirm_order(waiting)
    confirmed = [n for n in waiting if n not in postage_open]
    second = client.confirm_order(confirmed[:10])

    assert set(numbers) == {o.order_number for o in sandbox.orders}
    assert client.calls["searchOrder"] == 3
    assert client.calls["getOrder"] == 25
    assert fetched.missing == []
    assert len(orders) == 2500
    assert set(first) == set(waiting)
    assert postage_open and confirmed
    assert all(first[n].ok for n in confirmed)
    assert all(first[n].code.endswith("_ERROR_105") for n in postage_open)
    assert all(not m.ok and m.code.endswith("_ERROR_103") for m in second.values())
    refetched = client.get_order(confirmed[:5])
    assert all(channel_order_from_rms(m).confirmed_at is not None for m in refetched.orders)


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


# --- writes and faults, each on a fresh emulator -----------------------------------------


@pytest.fixture
def small() -> Iterator[tuple[Sandbox, Any]]:
    orders = generate_orders(20, seed=3, start=DAY, end=DAY + timedelta(hours=6))
    clock = SimClock(DAY + timedelta(hours=7))
    emulator = emulator_module.RmsEmulator(clock, service_secret=SECRET, license_key=KEY,
                                           orders=orders)
    with emulator_module.RmsEmulatorServer(emulator) as server, \
            httpx.Client(timeout=30) as http:
        yield Sandbox(orders, clock, server.base_url, http), emulator


def _awaiting_shipment(sandbox: Sandbox, emulator: Any) -> tuple[str, int]:
    number = sandbox.orders[0].order_number
    emulator.change_order(number, orderProgress=300)
    model = sandbox.client().get_order([number]).orders[0]
    return number, model["PackageModelList"][0]["basketId"]


def test_shipping_report_adds_a_row_and_a_resend_would_duplicate_it(
        small: tuple[Sandbox, Any]) -> None:
    sandbox, emulator = small
    client = sandbox.client()
    number, basket_id = _awaiting_shipment(sandbox, emulator)
    row = Shipment(None, "1001", "123456789012", date(2026, 11, 26))

    result = client.update_order_shipping(number, [BasketShipping(basket_id, (row,))])

    assert [(r.ok, r.data_number) for r in result] == [(True, 1)]
    detail_id = result[0].shipping_detail_id
    order = channel_order_from_rms(client.get_order([number]).orders[0])
    assert [(s.shipping_detail_id, s.carrier_code, s.tracking_number)
            for s in order.packages[0].shipments] == [(detail_id, "1001", "123456789012")]


def test_async_shipping_report_is_none_until_processed(small: tuple[Sandbox, Any]) -> None:
    sandbox, emulator = small
    client = sandbox.client()
    number, basket_id = _awaiting_shipment(sandbox, emulator)
    row = Shipment(None, "1002", "999988887777", date(2026, 11, 26))

    request_id = client.update_order_shipping_async([(number, [BasketShipping(basket_id,
                                                                             (row,))])])
    pending = client.get_result_update_order_shipping_async(request_id)
    sandbox.clock.advance(60)
    done = client.get_result_update_order_shipping_async(request_id)

    assert pending is None
    assert done is not None
    assert [(r.order_number, r.ok) for r in done] == [(number, True)]


def test_cancel_then_cancel_again(small: tuple[Sandbox, Any]) -> None:
    sandbox, _ = small
    client = sandbox.client()
    number = sandbox.orders[1].order_number

    first = client.cancel_order(number, reason_code=10)
    with pytest.raises(RmsRequestError, match="ERROR_102"):
        client.cancel_order(number, reason_code=10)

    assert first.ok and first.order_number == number


def test_throttling_by_the_emulator_raises_after_retries(small: tuple[Sandbox, Any]) -> None:
    sandbox, emulator = small
    emulator.faults = emulator_module.FaultConfig(throttle=True)
    client = sandbox.client(max_retries=2)
    before = sandbox.clock.now()

    with pytest.raises(RmsThrottledError):
        client.search_order(start=DAY, end=DAY + timedelta(hours=6))

    assert client.calls["searchOrder"] == 3
    assert sandbox.clock.now() > before  # backed off on the simulated clock


def test_transient_server_errors_and_cut_bodies_are_ridden_out(
        small: tuple[Sandbox, Any]) -> None:
    sandbox, emulator = small
    emulator.faults = emulator_module.FaultConfig(
        error_rate=0.3, malformed_rate=0.2)
    client = sandbox.client(max_retries=10)
    numbers = [o.order_number for o in sandbox.orders]

    results = [client.get_order(numbers[i:i + 1]) for i in range(len(numbers))]

    assert [r.orders[0]["orderNumber"] for r in results] == numbers
    assert sum(client.calls.values()) > len(numbers)


# --- where the emulator follows Rakuten's documentation (issue 17 item 8) -----------------


def _raw(sandbox: Sandbox, method: str, body: dict[str, Any]) -> httpx.Response:
    import base64

    auth = "ESA " + base64.b64encode(f"{SECRET}:{KEY}".encode()).decode()
    return sandbox.http.post(f"{sandbox.base_url}/es/2.0/order/{method}/", json=body,
                             headers={"Authorization": auth})


def test_a_search_error_answer_carries_null_lists_and_the_client_reports_rms_message(
        sandbox: Sandbox) -> None:
    # reference/rakuten-rms.md: on an error answer orderNumberList and
    # PaginationResponseModel are present and null
    old = sandbox.clock.now() - timedelta(days=800)
    body = {"dateType": 1, "startDatetime": format_rms_datetime(old),
            "endDatetime": format_rms_datetime(old + timedelta(days=1))}
    answer = _raw(sandbox, "searchOrder", body)
    data = answer.json()
    assert answer.status_code == 400
    assert "orderNumberList" in data and data["orderNumberList"] is None
    assert "PaginationResponseModel" in data and data["PaginationResponseModel"] is None
    with pytest.raises(RmsRequestError, match="SEARCH_ORDER_ERROR_012") as info:
        sandbox.client().search_order(start=old, end=old + timedelta(days=1))
    assert [m.code for m in info.value.messages] == ["ORDER_EXT_API_SEARCH_ORDER_ERROR_012"]
    # a good answer keeps its lists
    ok = _raw(sandbox, "searchOrder", body | {
        "startDatetime": format_rms_datetime(DAY),
        "endDatetime": format_rms_datetime(DAY + timedelta(hours=1))}).json()
    assert isinstance(ok["orderNumberList"], list) and ok["PaginationResponseModel"]


def test_get_order_echoes_version_from_6_and_the_client_reads_either(sandbox: Sandbox) -> None:
    number = sandbox.orders[0].order_number
    answers = {v: _raw(sandbox, "getOrder", {"orderNumberList": [number], "version": v}).json()
               for v in (5, 6, 10)}
    assert "version" not in answers[5]
    assert answers[6]["version"] == 6 and answers[10]["version"] == 10
    fetched = sandbox.client().get_order([number])
    assert [m["orderNumber"] for m in fetched.orders] == [number] and not fetched.missing


def test_search_is_newest_first_by_default_and_the_client_asks_oldest_first(
        sandbox: Sandbox) -> None:
    start, end = DAY + timedelta(hours=10), DAY + timedelta(hours=12)
    by_time = [o.order_number for o in sorted(sandbox.orders, key=lambda o: o.ordered_at)
               if start <= o.ordered_at <= end]
    plain = _raw(sandbox, "searchOrder", {
        "dateType": 1, "startDatetime": format_rms_datetime(start),
        "endDatetime": format_rms_datetime(end),
        "PaginationRequestModel": {"requestRecordsAmount": 1000, "requestPage": 1}}).json()
    assert len(by_time) > 30
    assert plain["orderNumberList"] == by_time[::-1]
    assert sandbox.client().search_order(start=start, end=end) == by_time


def test_cash_on_delivery_at_100_is_confirmed_by_the_client_and_reaches_300(
        small: tuple[Sandbox, Any]) -> None:
    sandbox, emulator = small
    cod = next(o for o in generate_orders(200, seed=3, start=DAY, end=DAY + timedelta(hours=6))
               if o.model["SettlementModel"]["rpaySettlementFlag"] == 0
               and o.model["postagePrice"] != -9999)
    emulator.add_orders([cod])
    client = sandbox.client()
    before = channel_order_from_rms(client.get_order([cod.order_number]).orders[0])
    answer = client.confirm_order([cod.order_number])
    after = channel_order_from_rms(client.get_order([cod.order_number]).orders[0])
    assert before.status == 100 and not before.payment.rakuten_pay
    assert answer[cod.order_number].ok
    assert after.status == 300


def test_a_cancel_is_800_at_once_then_900(small: tuple[Sandbox, Any]) -> None:
    sandbox, _ = small
    client = sandbox.client()
    number = sandbox.orders[2].order_number
    assert client.cancel_order(number, reason_code=10).ok
    at_once = channel_order_from_rms(client.get_order([number]).orders[0]).status
    sandbox.clock.advance(600)
    later = channel_order_from_rms(client.get_order([number]).orders[0]).status
    assert (at_once, later) == (800, 900)


def test_a_row_without_tracking_number_is_sent_without_shipping_number(
        small: tuple[Sandbox, Any]) -> None:
    # shippingNumber is optional in updateOrderShipping (reference/rakuten-rms.md,
    # "Shipping rows"): a 定形外 parcel goes with carrier and date only
    sandbox, emulator = small
    client = sandbox.client()
    number, basket_id = _awaiting_shipment(sandbox, emulator)
    row = Shipment(None, "1003", "", date(2026, 11, 26))
    result = client.update_order_shipping(number, [BasketShipping(basket_id, (row,))])
    assert [r.ok for r in result] == [True]
    [stored] = emulator.order_model(number)["PackageModelList"][0]["ShippingModelList"]
    assert stored["shippingNumber"] is None and stored["deliveryCompany"] == "1003"
    assert stored["shippingDate"] == "2026-11-26"
    [read] = channel_order_from_rms(client.get_order([number]).orders[0]).packages[0].shipments
    assert (read.carrier_code, read.tracking_number, read.ship_date) == (
        "1003", "", date(2026, 11, 26))
