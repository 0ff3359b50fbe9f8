"""RmsClient against plain handler functions (httpx.MockTransport) on a SimClock."""

from __future__ import annotations

import base64
import itertools
import math
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.adapters.rakuten.rms_samples import (
    body_of,
    message,
    method_of,
    mock_http,
    order_model,
    reply,
)
from unyo.adapters.rakuten import (
    BasketShipping,
    RmsAuthError,
    RmsClient,
    RmsMalformedResponseError,
    RmsRequestError,
    RmsThrottledError,
    RmsUnavailableError,
)
from unyo.adapters.rakuten.mapping import parse_rms_datetime
from unyo.clock import JST, SimClock
from unyo.domain import Shipment

SECRET = "SP338531_secret_Zk2"
KEY = "SL338531_license_Qp9"
BASE = "https://rms.test"
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=JST)

Handler = Callable[[httpx.Request], httpx.Response]


def make_client(handler: Handler, clock: SimClock | None = None, **options: Any) -> RmsClient:
    options.setdefault("min_interval", 0)
    return RmsClient(mock_http(handler), base_url=BASE + "/", service_secret=SECRET,
                     license_key=KEY, clock=clock or SimClock(T0), **options)


def search_reply(numbers: list[str], total: int, pages: int, page: int = 1) -> httpx.Response:
    return reply(body={
        "MessageModelList": [message("ORDER_EXT_API_SEARCH_ORDER_INFO_101", "検索に成功")],
        "orderNumberList": numbers,
        "PaginationResponseModel": {"totalRecordsAmount": total, "totalPages": pages,
                                    "requestPage": page},
    })


def get_order_reply(request: httpx.Request) -> httpx.Response:
    numbers = body_of(request)["orderNumberList"]
    known = [n for n in numbers if not n.endswith("X")]
    return reply(body={
        "MessageModelList": [message("ORDER_EXT_API_GET_ORDER_INFO_102", "注文情報が存在しません。",
                                     orderNumber=n) for n in numbers if n.endswith("X")],
        "OrderModelList": [order_model(n) for n in known],
        "version": 10,
    })


# --- transport ---------------------------------------------------------------------------


def test_requests_carry_the_esa_header_json_and_the_trailing_slash_url() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return search_reply(["1-20261127-0000000001"], 1, 1)

    numbers = make_client(handler).search_order(start=T0, end=T0 + timedelta(hours=1))

    assert numbers == ["1-20261127-0000000001"]
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://rms.test/es/2.0/order/searchOrder/"
    expected = base64.b64encode(f"{SECRET}:{KEY}".encode()).decode()
    assert request.headers["Authorization"] == f"ESA {expected}"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    body = body_of(request)
    assert body["dateType"] == 1
    assert body["startDatetime"] == "2026-11-27T09:00:00+0900"
    assert body["endDatetime"] == "2026-11-27T10:00:00+0900"
    assert body["PaginationRequestModel"]["requestRecordsAmount"] == 1000
    assert body["PaginationRequestModel"]["requestPage"] == 1


def test_search_passes_progress_and_filters_and_converts_to_jst() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(body_of(request))
        return reply(body={"MessageModelList": [], "orderNumberList": [],
                           "PaginationResponseModel": {"totalRecordsAmount": None,
                                                       "totalPages": None,
                                                       "requestPage": None}})
    start = datetime(2026, 11, 27, 0, 0, 0, 999, tzinfo=JST).astimezone(tz=None)

    numbers = make_client(handler).search_order(start=start, end=start + timedelta(days=1),
                                                date_type=2, progress=[100, 200],
                                                orderTypeList=[1, 6])

    assert numbers == []
    assert bodies[0]["dateType"] == 2
    assert bodies[0]["orderProgressList"] == [100, 200]
    assert bodies[0]["orderTypeList"] == [1, 6]
    assert bodies[0]["startDatetime"] == "2026-11-27T00:00:00+0900"


def test_secret_and_key_are_not_in_the_repr() -> None:
    client = make_client(lambda r: reply())

    assert SECRET not in repr(client)
    assert KEY not in repr(client)


@pytest.mark.parametrize("body", [
    {"Results": {"errorCode": "ES01-01", "message": "Un-Authorised"}},
    "not json",
])
def test_401_explains_the_license_key_and_is_not_retried(body: object) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(401, content=body.encode())
        return reply(401, body)
    client = make_client(handler, max_retries=4)

    with pytest.raises(RmsAuthError, match="expire every 90 days") as info:
        client.get_order(["1-20261127-0000000001"])

    text = str(info.value) + repr(info.value) + repr(info.value.args)
    assert "RMS_LICENSE_KEY" in text and "WEB APIサービス" in text and "10–30 minutes" in text
    assert SECRET not in text and KEY not in text
    assert base64.b64encode(f"{SECRET}:{KEY}".encode()).decode() not in text
    assert client.calls["getOrder"] == 1


def test_es04_01_bad_request_is_an_auth_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return reply(400, {"Results": {"errorCode": "ES04-01", "message": "Bad Request"}})

    with pytest.raises(RmsAuthError, match="ES04-01") as info:
        make_client(handler).confirm_order(["1-20261127-0000000001"])

    assert info.value.error_code == "ES04-01"


def test_400_carries_rms_messages_and_is_not_retried() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return reply(400, {"MessageModelList": [
            message("ORDER_EXT_API_SEARCH_ORDER_ERROR_011", "startDatetimeの書式が不正です。",
                    type_="ERROR")]})
    client = make_client(handler, max_retries=4)

    with pytest.raises(RmsRequestError, match=r"ERROR_011.*startDatetimeの書式が不正です") as info:
        client.search_order(start=T0, end=T0)

    assert [(m.code, m.ok) for m in info.value.messages] == [
        ("ORDER_EXT_API_SEARCH_ORDER_ERROR_011", False)]
    assert info.value.status_code == 400
    assert client.calls["searchOrder"] == 1


# --- retries -----------------------------------------------------------------------------


def flaky(failures: list[httpx.Response | Exception], then: Handler) -> Handler:
    """A handler that fails as listed, then answers with `then`."""
    pending = list(failures)

    def handler(request: httpx.Request) -> httpx.Response:
        if pending:
            failure = pending.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        return then(request)
    return handler


def test_a_5xx_is_retried_with_backoff_on_the_clock() -> None:
    clock = SimClock(T0)
    client = make_client(flaky([reply(500, {}), reply(502, {})], get_order_reply), clock,
                         backoff_base=2.0)

    result = client.get_order(["1-20261127-0000000001"])

    assert [o["orderNumber"] for o in result.orders] == ["1-20261127-0000000001"]
    assert client.calls["getOrder"] == 3
    waited = (clock.now() - T0).total_seconds()
    assert 1.0 + 2.0 <= waited <= 2.0 + 4.0  # jittered halves of 2 s, then 4 s


def test_5xx_that_persists_raises_unavailable_after_max_retries() -> None:
    clock = SimClock(T0)
    client = make_client(lambda r: reply(500, {}), clock, max_retries=3, backoff_base=1.0,
                         backoff_max=3.0)

    with pytest.raises(RmsUnavailableError, match="HTTP 500 after 4 attempt") as info:
        client.get_order(["1-20261127-0000000001"])

    assert client.calls["getOrder"] == 4
    assert info.value.attempts == 4
    assert not isinstance(info.value, RmsThrottledError)
    assert (clock.now() - T0).total_seconds() <= 1 + 2 + 3


@pytest.mark.parametrize("failure", [
    httpx.ReadTimeout("timed out"),
    httpx.ConnectError("refused"),
    httpx.RemoteProtocolError("closed"),
])
def test_timeouts_and_connection_errors_are_retried_for_reads(failure: Exception) -> None:
    client = make_client(flaky([failure], get_order_reply))

    result = client.get_order(["1-20261127-0000000001"])

    assert len(result.orders) == 1
    assert client.calls["getOrder"] == 2


def test_a_timeout_that_persists_raises_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")
    client = make_client(handler, max_retries=2)

    with pytest.raises(RmsUnavailableError, match="ReadTimeout"):
        client.get_order(["1-20261127-0000000001"])

    assert client.calls["getOrder"] == 3


def test_throttling_honours_retry_after() -> None:
    clock = SimClock(T0)
    throttled = reply(429, {}, headers={"Retry-After": "7"})
    client = make_client(flaky([throttled], get_order_reply), clock, backoff_base=0.5)

    client.get_order(["1-20261127-0000000001"])

    assert clock.now() == T0 + timedelta(seconds=7)
    assert client.calls["getOrder"] == 2


def test_throttling_that_persists_raises_throttled() -> None:
    client = make_client(lambda r: reply(503, {}), max_retries=2)

    with pytest.raises(RmsThrottledError, match="throttled"):
        client.confirm_order(["1-20261127-0000000001"])

    assert client.calls["confirmOrder"] == 3


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    client = make_client(lambda r: reply(), backoff_base=1.0, backoff_max=10.0)

    delays = [client._backoff(attempt, None) for attempt in range(8)]

    ceilings = [min(10.0, 2.0 ** a) for a in range(8)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays) <= 10.0
    assert client._backoff(0, 500.0) == 10.0


@pytest.mark.parametrize("response", [
    httpx.Response(200, content=b"<html>gateway</html>"),
    httpx.Response(200, content=b'{"OrderModelList": ['),
    httpx.Response(200, content=b"[]"),
    httpx.Response(200, content=b'{"OrderModelList": []}'),
])
def test_a_malformed_body_is_retried_then_raised(response: httpx.Response) -> None:
    client = make_client(lambda r: response, max_retries=1)

    with pytest.raises(RmsMalformedResponseError, match="getOrder"):
        client.get_order(["1-20261127-0000000001"])

    assert client.calls["getOrder"] == 2


def test_a_transient_malformed_body_recovers() -> None:
    client = make_client(flaky([httpx.Response(200, content=b"{trunc")], get_order_reply))

    assert len(client.get_order(["1-20261127-0000000001"]).orders) == 1


def test_missing_pagination_with_hits_is_malformed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return reply(body={"MessageModelList": [], "orderNumberList": ["1-20261127-0000000001"]})

    with pytest.raises(RmsMalformedResponseError, match="PaginationResponseModel"):
        make_client(handler, max_retries=0).search_order(start=T0, end=T0)


# --- batching ----------------------------------------------------------------------------


def test_get_order_asks_100_at_a_time_and_reports_missing() -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        assert body["version"] == 10
        sizes.append(len(body["orderNumberList"]))
        return get_order_reply(request)
    numbers = [f"1-20261127-{i:010d}" for i in range(249)] + ["1-20261127-000000000X"]
    client = make_client(handler)

    result = client.get_order(numbers + numbers[:5])

    assert sizes == [100, 100, 50]
    assert client.calls["getOrder"] == 3
    assert len(result.orders) == 249
    assert result.missing == ["1-20261127-000000000X"]
    assert [m.code for m in result.messages] == ["ORDER_EXT_API_GET_ORDER_INFO_102"]


def test_search_follows_every_page() -> None:
    all_numbers = [f"1-20261127-{i:010d}" for i in range(2500)]
    pages: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        pagination = body_of(request)["PaginationRequestModel"]
        page, size = pagination["requestPage"], pagination["requestRecordsAmount"]
        assert pagination["SortModelList"] == [{"sortColumn": 1, "sortDirection": 1}]
        pages.append(page)
        return search_reply(all_numbers[(page - 1) * size:page * size], 2500, 3, page)
    client = make_client(handler)

    numbers = client.search_order(start=T0, end=T0 + timedelta(days=1))

    assert numbers == all_numbers
    assert pages == [1, 2, 3]
    assert client.calls["searchOrder"] == 3


def test_a_window_longer_than_63_days_is_split() -> None:
    windows: list[tuple[datetime, datetime]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        windows.append((parse_rms_datetime(body["startDatetime"]),
                        parse_rms_datetime(body["endDatetime"])))
        return search_reply([f"n-{len(windows)}", "shared"], 2, 1)
    start = datetime(2026, 1, 1, tzinfo=JST)
    end = start + timedelta(days=150)

    numbers = make_client(handler).search_order(start=start, end=end)

    assert len(windows) == 3
    assert windows[0][0] == start and windows[-1][1] == end
    assert all(e - s <= timedelta(days=63) for s, e in windows)
    assert all(b[0] - a[1] == timedelta(seconds=1) for a, b in itertools.pairwise(windows))
    assert numbers == ["n-1", "shared", "n-2", "n-3"]


def test_more_than_15000_hits_splits_the_window_in_halves() -> None:
    start = datetime(2026, 11, 1, tzinfo=JST)
    end = datetime(2026, 11, 30, 23, 59, 59, tzinfo=JST)
    # 20,000 orders, one every ~2 minutes, spread over the window.
    step = (end - start) / 20_000
    orders = [(start + step * i, f"1-20261101-{i:010d}") for i in range(20_000)]
    windows: list[tuple[datetime, datetime]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        s, e = (parse_rms_datetime(body["startDatetime"]),
                parse_rms_datetime(body["endDatetime"]))
        page = body["PaginationRequestModel"]["requestPage"]
        size = body["PaginationRequestModel"]["requestRecordsAmount"]
        if page == 1:
            windows.append((s, e))
        hits = [n for at, n in orders if s <= at.replace(microsecond=0) <= e]
        visible = hits[:15_000]  # RMS drops hits past 15,000
        return search_reply(visible[(page - 1) * size:page * size], len(hits),
                            math.ceil(len(visible) / size), page)

    numbers = make_client(handler).search_order(start=start, end=end)

    assert numbers == [n for _, n in orders]
    assert len(windows) == 3  # the whole window, then its two halves
    assert windows[1][1] + timedelta(seconds=1) == windows[2][0]


# --- confirm, shipping, cancel -----------------------------------------------------------


def test_confirm_reports_each_orders_message_and_prefers_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        a, b = body_of(request)["orderNumberList"]
        return reply(body={"MessageModelList": [
            message("ORDER_EXT_API_CONFIRM_ORDER_INFO_101", "注文確認に成功しました。",
                    orderNumber=a),
            message("ORDER_EXT_API_CONFIRM_ORDER_WARNING_001", "note", type_="WARNING",
                    orderNumber=b),
            message("ORDER_EXT_API_CONFIRM_ORDER_ERROR_103", "not in 100", type_="ERROR",
                    orderNumber=b),
        ]})

    result = make_client(handler).confirm_order(["A-1", "B-2"])

    assert result["A-1"].ok and result["A-1"].code.endswith("INFO_101")
    assert not result["B-2"].ok and result["B-2"].code.endswith("ERROR_103")
    assert result["B-2"].order_number == "B-2"


def test_confirm_is_chunked_and_retried_after_a_timeout() -> None:
    sizes: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        numbers = body_of(request)["orderNumberList"]
        sizes.append(len(numbers))
        return reply(body={"MessageModelList": [
            message("ORDER_EXT_API_CONFIRM_ORDER_INFO_101", "ok", orderNumber=n)
            for n in numbers]})
    client = make_client(flaky([httpx.ReadTimeout("slow")], answer))
    numbers = [f"1-20261127-{i:010d}" for i in range(150)]

    result = client.confirm_order(numbers)

    assert sizes == [100, 50]
    assert client.calls["confirmOrder"] == 3
    assert set(result) == set(numbers)


def shipping_basket() -> BasketShipping:
    return BasketShipping(10746402, (
        Shipment(None, "1001", "123456789012", date(2026, 11, 28)),
        Shipment(991, "1002", "999988887777", None),
    ))


def test_update_order_shipping_sends_the_documented_body() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(body_of(request))
        return reply(body={"MessageModelList": [
            message("ORDER_EXT_API_UPDATE_ORDERSHIPPING_INFO_101", "added",
                    orderNumber="O-1", dataNumber=1, shippingDetailId=1234),
            message("ORDER_EXT_API_UPDATE_ORDERSHIPPING_INFO_102", "updated",
                    orderNumber="O-1", dataNumber=2, shippingDetailId=991),
        ]})

    rows = make_client(handler).update_order_shipping("O-1", [shipping_basket()])

    assert bodies == [{"orderNumber": "O-1", "BasketidModelList": [{
        "basketId": 10746402,
        "ShippingModelList": [
            {"deliveryCompany": "1001", "shippingNumber": "123456789012",
             "shippingDate": "2026-11-28"},
            {"deliveryCompany": "1002", "shippingNumber": "999988887777",
             "shippingDetailId": 991},
        ]}]}]
    assert [(r.data_number, r.shipping_detail_id, r.ok) for r in rows] == [
        (1, 1234, True), (2, 991, True)]


def test_update_order_shipping_is_not_resent_after_a_read_timeout() -> None:
    client = make_client(flaky([httpx.ReadTimeout("slow")], lambda r: reply()), max_retries=4)

    with pytest.raises(RmsUnavailableError, match="re-read before sending again") as info:
        client.update_order_shipping("O-1", [shipping_basket()])

    assert info.value.may_have_applied is True
    assert client.calls["updateOrderShipping"] == 1


def test_update_order_shipping_is_not_resent_after_a_500() -> None:
    client = make_client(flaky([reply(500, {})], lambda r: reply()), max_retries=4)

    with pytest.raises(RmsUnavailableError) as info:
        client.update_order_shipping("O-1", [shipping_basket()])

    assert info.value.may_have_applied is True
    assert client.calls["updateOrderShipping"] == 1


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), reply(429, {})])
def test_update_order_shipping_is_retried_when_rms_surely_did_not_process_it(
        failure: httpx.Response | Exception) -> None:
    client = make_client(flaky([failure], lambda r: reply()))

    client.update_order_shipping("O-1", [shipping_basket()])

    assert client.calls["updateOrderShipping"] == 2


def test_more_than_20_rows_per_basket_are_refused_before_sending() -> None:
    client = make_client(lambda r: reply())
    basket = BasketShipping(1, tuple(Shipment(None, "1001", str(i), None) for i in range(21)))

    with pytest.raises(ValueError, match="more than 20 shipping rows"):
        client.update_order_shipping("O-1", [basket])


def test_async_shipping_returns_the_request_id_and_polls_for_results() -> None:
    polls = iter([
        {"MessageModelList": [message("ORDER_EXT_API_GET_RESULT_INFO_101", "no result")],
         "ResultShippingModelList": None},
        {"MessageModelList": [message("X_INFO_100", "ok")], "ResultShippingModelList": [
            {"orderNumber": "O-1", "MessageModelList": [
                message("ORDER_EXT_API_UPDATE_ORDERSHIPPING_INFO_101", "added", dataNumber=1,
                        shippingDetailId=5)]}]},
    ])
    bodies: dict[str, dict[str, Any]] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        bodies[method_of(request)] = body_of(request)
        if method_of(request) == "updateOrderShippingAsync":
            return reply(body={"MessageModelList": [], "requestId": "uuid_20261127100000"})
        return reply(body=next(polls))
    client = make_client(handler)

    request_id = client.update_order_shipping_async([("O-1", [shipping_basket()])])
    first = client.get_result_update_order_shipping_async(request_id)
    second = client.get_result_update_order_shipping_async(request_id)

    assert request_id == "uuid_20261127100000"
    assert bodies["updateOrderShippingAsync"]["OrderShippingModelList"][0]["orderNumber"] == "O-1"
    assert bodies["getResultUpdateOrderShippingAsync"] == {"requestId": request_id}
    assert first is None
    assert second is not None
    assert [(r.order_number, r.data_number, r.shipping_detail_id, r.ok) for r in second] == [
        ("O-1", 1, 5, True)]


def test_async_shipping_refuses_duplicate_orders() -> None:
    client = make_client(lambda r: reply())

    with pytest.raises(ValueError, match="appears twice"):
        client.update_order_shipping_async([("O-1", []), ("O-1", [])])


def test_cancel_order_sends_reason_and_inventory_choice() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(body_of(request))
        return reply(body={"MessageModelList": [
            message("ORDER_EXT_API_CANCEL_ORDER_INFO_001", "ok", orderNumber="O-1")]})

    result = make_client(handler).cancel_order("O-1", reason_code=8, restore_inventory=False)

    assert bodies == [{"orderNumber": "O-1", "inventoryRestoreType": 2,
                       "changeReasonDetailApply": 8}]
    assert result.ok and result.order_number == "O-1"


# --- pacing ------------------------------------------------------------------------------


def test_requests_are_spaced_by_min_interval_on_the_clock() -> None:
    clock = SimClock(T0)
    sent_at: list[datetime] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(clock.now())
        clock.advance(0.25)  # the request itself takes a quarter of a second
        return get_order_reply(request)
    client = make_client(handler, clock, min_interval=1.0)

    client.get_order([f"1-20261127-{i:010d}" for i in range(300)])

    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(sent_at)]
    assert gaps == [1.0, 1.0]


def test_pacing_does_not_wait_when_requests_are_already_far_apart() -> None:
    clock = SimClock(T0)
    client = make_client(get_order_reply, clock, min_interval=1.0)

    client.get_order(["1-20261127-0000000001"])
    clock.advance(5)
    client.get_order(["1-20261127-0000000002"])

    assert clock.now() == T0 + timedelta(seconds=5)


def test_min_interval_zero_disables_pacing() -> None:
    clock = SimClock(T0)
    client = make_client(get_order_reply, clock, min_interval=0)

    client.get_order([f"1-20261127-{i:010d}" for i in range(500)])

    assert clock.now() == T0
    assert client.calls["getOrder"] == 5
