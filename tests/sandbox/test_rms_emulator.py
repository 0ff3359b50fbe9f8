"""The RMS emulator over real HTTP: the protocol of reference/rakuten-rms.md and Rakuten's moves."""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from unyo.clock import JST, SimClock
from unyo.sandbox.generator import GeneratedOrder, format_rms_datetime, generate_orders
from unyo.sandbox.rms_emulator import RmsEmulator, RmsEmulatorServer

SECRET, KEY = "SP123456_abc", "SL123456_def"
AUTH = "ESA " + base64.b64encode(f"{SECRET}:{KEY}".encode()).decode()
DAY = datetime(2026, 11, 27, tzinfo=JST)
POOL = generate_orders(600, seed=11, start=DAY, end=DAY + timedelta(hours=6))


def pick(pred: Callable[[dict[str, Any]], bool], **changes: Any) -> GeneratedOrder:
    """The first pooled order whose model satisfies `pred`, with Rakuten-side changes."""
    order = next(o for o in POOL if pred(o.model))
    return dataclasses.replace(order, **changes)


def card(**changes: Any) -> GeneratedOrder:
    base: dict[str, Any] = {
        "payment_delay": timedelta(minutes=5),
        "self_cancel_after": None,
        "auth_fails": False,
    }
    base.update(changes)
    return pick(
        lambda m: (
            m["SettlementModel"]["settlementMethodCode"] == 1
            and m["postagePrice"] != -9999
            and len(m["PackageModelList"]) == 1
        ),
        **base,
    )


class Rms:
    """A running emulator, its clock and an httpx client speaking to it."""

    def __init__(self, orders: list[GeneratedOrder], now: datetime) -> None:
        self.clock = SimClock(now)
        self.emulator = RmsEmulator(
            self.clock, service_secret=SECRET, license_key=KEY, orders=orders, seed=3
        )
        self.server = RmsEmulatorServer(self.emulator).start()
        self.http = httpx.Client(base_url=self.server.base_url, timeout=5.0)

    def call(self, method: str, body: Any, auth: str | None = AUTH) -> httpx.Response:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if auth is not None:
            headers["Authorization"] = auth
        return self.http.post(f"/es/2.0/order/{method}/", json=body, headers=headers)

    def ok(self, method: str, body: Any) -> dict[str, Any]:
        response = self.call(method, body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def progress(self, number: str) -> int:
        models = self.ok("getOrder", {"orderNumberList": [number], "version": 10})
        return int(models["OrderModelList"][0]["orderProgress"])

    def advance(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta).total_seconds())

    def close(self) -> None:
        self.http.close()
        self.server.stop()


@pytest.fixture
def make_rms() -> Iterator[Callable[..., Rms]]:
    started: list[Rms] = []

    def make(orders: list[GeneratedOrder], now: datetime | None = None) -> Rms:
        rms = Rms(orders, now or DAY + timedelta(hours=12))
        started.append(rms)
        return rms

    yield make
    for rms in started:
        rms.close()


def codes(body: dict[str, Any]) -> list[str]:
    return [m["messageCode"] for m in body["MessageModelList"]]


def search_body(start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "dateType": 1,
        "startDatetime": format_rms_datetime(start),
        "endDatetime": format_rms_datetime(end),
        **extra,
    }


def ship_row(
    company: str = "1001", number: str = "123456789012", day: str = "2026-11-27", **extra: Any
) -> dict[str, Any]:
    return {"deliveryCompany": company, "shippingNumber": number, "shippingDate": day, **extra}


def ship(
    rms: Rms, order: GeneratedOrder, *rows: dict[str, Any], basket: int | None = None
) -> httpx.Response:
    basket_id = basket or order.model["PackageModelList"][0]["basketId"]
    return rms.call(
        "updateOrderShipping",
        {
            "orderNumber": order.order_number,
            "BasketidModelList": [{"basketId": basket_id, "ShippingModelList": list(rows)}],
        },
    )


# --- transport and validation ---------------------------------------------------------------


def test_wrong_credentials_get_the_es01_01_body(make_rms: Callable[..., Rms]) -> None:
    rms = make_rms([card()])
    bad = "ESA " + base64.b64encode(b"SP:wrong").decode()
    for auth in (bad, None):
        response = rms.call("searchOrder", search_body(DAY, DAY), auth=auth)
        assert response.status_code == 401
        assert response.json() == {"Results": {"errorCode": "ES01-01", "message": "Un-Authorised"}}


def test_routes_need_post_and_the_trailing_slash(make_rms: Callable[..., Rms]) -> None:
    rms = make_rms([card()])
    no_slash = rms.http.post("/es/2.0/order/searchOrder", headers={"Authorization": AUTH})
    unknown = rms.http.post("/es/2.0/order/noSuchMethod/", headers={"Authorization": AUTH})
    get = rms.http.get("/es/2.0/order/searchOrder/", headers={"Authorization": AUTH})
    assert no_slash.status_code == 404
    assert unknown.status_code == 404
    assert get.status_code == 405


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-27T00:00:00+09:00",
        "2026-11-27T00:00:00Z",
        "2026-11-27 00:00:00",
        "2026-11-27T00:00:00.000+0900",
    ],
)
def test_datetimes_must_be_exactly_rakuten_format(make_rms: Callable[..., Rms], value: str) -> None:
    rms = make_rms([card()])
    body = search_body(DAY, DAY + timedelta(days=1)) | {"startDatetime": value}
    response = rms.call("searchOrder", body)
    assert response.status_code == 400
    assert response.json()["MessageModelList"] == [
        {
            "messageType": "ERROR",
            "messageCode": "ORDER_EXT_API_SEARCH_ORDER_ERROR_011",
            "message": "startDatetimeの書式が不正です。",
        }
    ]


def test_missing_keys_are_400_error_009(make_rms: Callable[..., Rms]) -> None:
    order = card()
    rms = make_rms([order])
    no_version = rms.call("getOrder", {"orderNumberList": [order.order_number]})
    no_date_type = rms.call(
        "searchOrder",
        {"startDatetime": format_rms_datetime(DAY), "endDatetime": format_rms_datetime(DAY)},
    )
    bad_version = rms.call("getOrder", {"orderNumberList": [order.order_number], "version": 2})
    assert no_version.status_code == no_date_type.status_code == bad_version.status_code == 400
    assert codes(no_version.json()) == ["ORDER_EXT_API_GET_ORDER_ERROR_009"]
    assert no_version.json()["MessageModelList"][0]["message"] == "versionの項目を指定して下さい。"
    assert codes(no_date_type.json()) == ["ORDER_EXT_API_SEARCH_ORDER_ERROR_009"]
    assert codes(bad_version.json()) == ["ORDER_EXT_API_GET_ORDER_ERROR_012"]


def test_unknown_extra_keys_are_tolerated(make_rms: Callable[..., Rms]) -> None:
    rms = make_rms([card()])
    body = search_body(DAY, DAY + timedelta(days=1), someFutureKey={"x": 1})
    assert rms.ok("searchOrder", body)["orderNumberList"]


# --- searchOrder ------------------------------------------------------------------------------


def test_2500_orders_come_in_three_pages_of_1000(make_rms: Callable[..., Rms]) -> None:
    orders = generate_orders(2500, seed=5, start=DAY, end=DAY + timedelta(days=1))
    rms = make_rms(orders, DAY + timedelta(days=2))
    pages = []
    for page in (1, 2, 3):
        body = search_body(
            DAY,
            DAY + timedelta(days=1),
            PaginationRequestModel={
                "requestRecordsAmount": 1000,
                "requestPage": page,
                "SortModelList": [{"sortColumn": 1, "sortDirection": 1}],
            },
        )
        pages.append(rms.ok("searchOrder", body))
    assert [len(p["orderNumberList"]) for p in pages] == [1000, 1000, 500]
    assert pages[2]["PaginationResponseModel"] == {
        "totalRecordsAmount": 2500,
        "totalPages": 3,
        "requestPage": 3,
    }
    assert [n for p in pages for n in p["orderNumberList"]] == [o.order_number for o in orders]
    too_many = rms.call(
        "searchOrder",
        search_body(
            DAY, DAY + timedelta(days=1), PaginationRequestModel={"requestRecordsAmount": 1001}
        ),
    )
    assert too_many.status_code == 400


def test_default_page_is_30_newest_first_and_an_ascending_sort_reverses(
    make_rms: Callable[..., Rms],
) -> None:
    # Without SortModelList the hits come newest first (reference, searchOrder request)
    orders = generate_orders(100, seed=6, start=DAY, end=DAY + timedelta(hours=10))
    rms = make_rms(orders)
    plain = rms.ok("searchOrder", search_body(DAY, DAY + timedelta(days=1)))
    paged = rms.ok("searchOrder", search_body(DAY, DAY + timedelta(days=1),
                                              PaginationRequestModel={"requestPage": 2}))
    no_direction = rms.ok("searchOrder", search_body(
        DAY, DAY + timedelta(days=1),
        PaginationRequestModel={"SortModelList": [{"sortColumn": 1}]}))
    asc = rms.ok(
        "searchOrder",
        search_body(
            DAY,
            DAY + timedelta(days=1),
            PaginationRequestModel={"SortModelList": [{"sortColumn": 1, "sortDirection": 1}]},
        ),
    )
    newest = [o.order_number for o in reversed(orders)]
    assert plain["orderNumberList"] == no_direction["orderNumberList"] == newest[:30]
    assert paged["orderNumberList"] == newest[30:60]
    assert asc["orderNumberList"] == [o.order_number for o in orders[:30]]


def test_window_may_not_exceed_63_days(make_rms: Callable[..., Rms]) -> None:
    rms = make_rms([card()])
    ok = rms.call("searchOrder", search_body(DAY - timedelta(days=63), DAY))
    too_long = rms.call("searchOrder", search_body(DAY - timedelta(days=63, seconds=1), DAY))
    assert ok.status_code == 200
    assert too_long.status_code == 400
    assert codes(too_long.json())[0].startswith("ORDER_EXT_API_SEARCH_ORDER_ERROR_")


def test_orders_are_invisible_before_their_order_time(make_rms: Callable[..., Rms]) -> None:
    order = card()
    rms = make_rms([order], order.ordered_at - timedelta(seconds=1))
    body = search_body(DAY, DAY + timedelta(days=1))
    before = rms.ok("searchOrder", body)
    get_before = rms.ok("getOrder", {"orderNumberList": [order.order_number], "version": 10})
    rms.advance(seconds=1)
    after = rms.ok("searchOrder", body)
    assert before["orderNumberList"] == []
    assert before["PaginationResponseModel"] == {
        "totalRecordsAmount": None,
        "totalPages": None,
        "requestPage": None,
    }
    assert codes(before) == ["ORDER_EXT_API_SEARCH_ORDER_INFO_102"]
    assert get_before["OrderModelList"] == []
    assert get_before["MessageModelList"][0]["messageCode"] == "ORDER_EXT_API_GET_ORDER_INFO_102"
    assert get_before["MessageModelList"][0]["orderNumber"] == order.order_number
    assert after["orderNumberList"] == [order.order_number]


def test_filter_by_progress_and_by_confirmation_date(make_rms: Callable[..., Rms]) -> None:
    cod = pick(lambda m: m["SettlementModel"]["settlementMethodCode"] == 2)
    first = card()
    rms = make_rms([cod, first])
    window = search_body(DAY, DAY + timedelta(days=1))
    at_100 = rms.ok("searchOrder", window | {"orderProgressList": [100]})
    rms.ok("confirmOrder", {"orderNumberList": [first.order_number]})
    at_300 = rms.ok("searchOrder", window | {"orderProgressList": [300]})
    at_200 = rms.ok("searchOrder", window | {"orderProgressList": [200]})
    confirmed = rms.ok("searchOrder", window | {"dateType": 2})
    assert sorted(at_100["orderNumberList"]) == sorted([cod.order_number, first.order_number])
    assert at_300["orderNumberList"] == []
    assert at_200["orderNumberList"] == [first.order_number]
    assert confirmed["orderNumberList"] == [first.order_number]


def test_get_order_returns_version_10_models_and_limits_to_100(
    make_rms: Callable[..., Rms],
) -> None:
    order = card()
    rms = make_rms([order])
    body = rms.ok("getOrder", {"orderNumberList": [order.order_number], "version": 10})
    too_many = rms.call(
        "getOrder", {"orderNumberList": [f"x{i}" for i in range(101)], "version": 10}
    )
    assert body["OrderModelList"] == [order.model]
    assert too_many.status_code == 400


# --- confirmOrder and Rakuten's payment move --------------------------------------------------


def test_confirm_answers_200_with_per_order_results(make_rms: Callable[..., Rms]) -> None:
    good = card()
    unfixed = pick(lambda m: m["postagePrice"] == -9999)
    cancelled = pick(lambda m: m["SettlementModel"]["settlementMethodCode"] == 9)
    rms = make_rms([good, unfixed, cancelled])
    rms.ok(
        "cancelOrder",
        {
            "orderNumber": cancelled.order_number,
            "inventoryRestoreType": 1,
            "changeReasonDetailApply": 1,
        },
    )
    numbers = [good.order_number, unfixed.order_number, cancelled.order_number, "nope"]
    first = rms.ok("confirmOrder", {"orderNumberList": numbers})
    again = rms.ok("confirmOrder", {"orderNumberList": [good.order_number]})
    assert [
        (m["orderNumber"], m["messageCode"].removeprefix("ORDER_EXT_API_CONFIRM_ORDER_"))
        for m in first["MessageModelList"]
    ] == [
        (good.order_number, "INFO_101"),
        (unfixed.order_number, "ERROR_105"),
        (cancelled.order_number, "ERROR_102"),
        ("nope", "ERROR_101"),
    ]
    assert codes(again) == ["ORDER_EXT_API_CONFIRM_ORDER_ERROR_103"]
    model = rms.emulator.order_model(good.order_number)
    assert model["orderProgress"] == 200
    assert model["shopOrderCfmDatetime"] == format_rms_datetime(rms.clock.now())


def test_payment_moves_200_to_300_after_the_delay(make_rms: Callable[..., Rms]) -> None:
    order = card(payment_delay=timedelta(minutes=5))
    failing = pick(
        lambda m: (
            m["SettlementModel"]["settlementMethodCode"] == 1
            and m["orderNumber"] != order.order_number
            and m["postagePrice"] != -9999
        ),
        auth_fails=True,
        self_cancel_after=None,
    )
    rms = make_rms([order, failing])
    rms.ok("confirmOrder", {"orderNumberList": [order.order_number, failing.order_number]})
    rms.advance(minutes=4, seconds=59)
    before = rms.progress(order.order_number)
    rms.advance(seconds=1)
    assert before == 200
    assert rms.progress(order.order_number) == 300
    assert rms.emulator.order_model(order.order_number)["orderFixDatetime"] is not None
    rms.advance(days=3)
    assert rms.progress(failing.order_number) == 200


def test_unconfirmed_orders_are_never_paid(make_rms: Callable[..., Rms]) -> None:
    order = card()
    rms = make_rms([order])
    rms.advance(hours=5)
    assert rms.progress(order.order_number) == 100


def test_cash_on_delivery_starts_at_100_and_is_at_300_once_confirmed(
    make_rms: Callable[..., Rms],
) -> None:
    # 選択制決済 orders start at 100 and need 注文確認 (reference, status codes)
    cod = pick(lambda m: m["SettlementModel"]["settlementMethodCode"] == 2)
    assert cod.model["SettlementModel"]["rpaySettlementFlag"] == 0
    rms = make_rms([cod])
    assert rms.progress(cod.order_number) == 100
    rms.advance(days=1)
    assert rms.progress(cod.order_number) == 100  # nobody confirmed it
    confirmed = rms.ok("confirmOrder", {"orderNumberList": [cod.order_number]})
    assert codes(confirmed) == ["ORDER_EXT_API_CONFIRM_ORDER_INFO_101"]
    assert rms.progress(cod.order_number) == 300


def test_members_cancel_by_themselves_before_payment(make_rms: Callable[..., Rms]) -> None:
    order = card(self_cancel_after=timedelta(minutes=10))
    rms = make_rms([order], order.ordered_at + timedelta(minutes=1))
    rms.advance(minutes=8)
    before = rms.progress(order.order_number)
    rms.advance(minutes=2)
    confirmed = rms.ok("confirmOrder", {"orderNumberList": [order.order_number]})
    assert before == 100
    assert rms.progress(order.order_number) == 900
    assert codes(confirmed) == ["ORDER_EXT_API_CONFIRM_ORDER_ERROR_102"]


def test_a_paid_order_is_not_self_cancelled(make_rms: Callable[..., Rms]) -> None:
    order = card(self_cancel_after=timedelta(minutes=20), payment_delay=timedelta(minutes=2))
    rms = make_rms([order], order.ordered_at + timedelta(minutes=1))
    rms.ok("confirmOrder", {"orderNumberList": [order.order_number]})
    rms.advance(minutes=30)
    assert rms.progress(order.order_number) == 300


def test_change_order_fixes_postage_and_then_confirm_works(make_rms: Callable[..., Rms]) -> None:
    order = pick(lambda m: m["postagePrice"] == -9999 and m["PointModel"]["usedPoint"] == 0)
    rms = make_rms([order])
    changed = rms.emulator.change_order(order.order_number, postagePrice=1200)
    result = rms.ok("confirmOrder", {"orderNumberList": [order.order_number]})
    m = order.model
    assert changed["totalPrice"] == m["goodsPrice"] + 1200 + m["deliveryPrice"]
    assert changed["requestPrice"] == changed["totalPrice"] - m["couponAllTotalPrice"]
    assert changed["PackageModelList"][0]["postagePrice"] == 1200
    assert changed["modifyFlag"] == 1
    assert codes(result) == ["ORDER_EXT_API_CONFIRM_ORDER_INFO_101"]


# --- shipping -----------------------------------------------------------------------------


def paid(rms: Rms, order: GeneratedOrder) -> None:
    rms.ok("confirmOrder", {"orderNumberList": [order.order_number]})
    rms.advance(minutes=10)
    assert rms.progress(order.order_number) == 300


def test_shipping_rows_are_added_duplicated_updated_and_deleted(
    make_rms: Callable[..., Rms],
) -> None:
    order = card()
    rms = make_rms([order])
    paid(rms, order)
    first = ship(rms, order, ship_row())
    again = ship(rms, order, ship_row())  # the same row again: Rakuten adds a duplicate
    first_id = first.json()["MessageModelList"][0]["shippingDetailId"]
    updated = ship(rms, order, ship_row(number="999", shippingDetailId=first_id))
    rows = rms.emulator.order_model(order.order_number)["PackageModelList"][0]["ShippingModelList"]
    deleted = ship(rms, order, {"shippingDetailId": first_id, "shippingDeleteFlag": 1})
    left = rms.emulator.order_model(order.order_number)["PackageModelList"][0]["ShippingModelList"]
    assert first.status_code == 200
    assert (
        first.json()["MessageModelList"][0]["messageCode"]
        == "ORDER_EXT_API_UPDATE_ORDERSHIPPING_INFO_101"
    )
    assert first.json()["MessageModelList"][0]["dataNumber"] == 1
    assert again.json()["MessageModelList"][0]["shippingDetailId"] != first_id
    assert codes(updated.json()) == ["ORDER_EXT_API_UPDATE_ORDERSHIPPING_INFO_102"]
    assert [(r["shippingNumber"], r["deliveryCompanyName"]) for r in rows] == [
        ("999", "ヤマト運輸"),
        ("123456789012", "ヤマト運輸"),
    ]
    assert deleted.status_code == 200
    assert len(left) == 1


@pytest.mark.parametrize(
    "row",
    [
        ship_row(company="9999"),
        ship_row(day="2026/11/27"),
        ship_row(day="2026-11-31"),
        ship_row(shippingDetailId=1),
    ],
)
def test_bad_shipping_rows_are_refused_with_their_data_number(
    make_rms: Callable[..., Rms],
    row: dict[str, Any],
) -> None:
    order = card()
    rms = make_rms([order])
    paid(rms, order)
    response = ship(rms, order, ship_row(), row)
    assert response.status_code == 400
    assert [(m["messageCode"], m["dataNumber"]) for m in response.json()["MessageModelList"]] == [
        ("ORDER_EXT_API_UPDATE_ORDERSHIPPING_ERROR_011", 2)
    ]
    assert (
        rms.emulator.order_model(order.order_number)["PackageModelList"][0]["ShippingModelList"]
        == []
    )


def test_shipping_is_refused_for_cancelled_orders_and_past_20_rows(
    make_rms: Callable[..., Rms],
) -> None:
    order, other = card(), pick(lambda m: m["SettlementModel"]["settlementMethodCode"] == 2)
    rms = make_rms([order, other])
    paid(rms, order)
    assert ship(rms, order, *[ship_row(number=str(i)) for i in range(20)]).status_code == 200
    over = ship(rms, order, ship_row())
    rms.ok("cancelOrder", {"orderNumber": other.order_number, "changeReasonDetailApply": 8})
    cancelled = ship(rms, other, ship_row())
    assert over.status_code == 400
    assert cancelled.status_code == 400
    assert codes(cancelled.json()) == ["ORDER_EXT_API_UPDATE_ORDERSHIPPING_ERROR_102"]


def test_300_moves_to_500_at_midnight_after_shipping_is_complete(
    make_rms: Callable[..., Rms],
) -> None:
    order = card()
    rms = make_rms([order], DAY + timedelta(hours=14))
    paid(rms, order)
    ship(rms, order, ship_row())
    rms.clock.set(DAY + timedelta(hours=23, minutes=59, seconds=59))
    before = rms.progress(order.order_number)
    rms.advance(seconds=1)
    assert before == 300
    assert rms.progress(order.order_number) == 500


def test_every_package_needs_a_complete_row_before_500(make_rms: Callable[..., Rms]) -> None:
    order = pick(
        lambda m: (
            len(m["PackageModelList"]) >= 2
            and m["SettlementModel"]["settlementMethodCode"] == 1
            and m["postagePrice"] != -9999
        ),
        payment_delay=timedelta(minutes=1),
        auth_fails=False,
        self_cancel_after=None,
    )
    rms = make_rms([order])
    paid(rms, order)
    packages = order.model["PackageModelList"]
    ship(rms, order, ship_row(), basket=packages[0]["basketId"])
    ship(rms, order, ship_row(number=""), basket=packages[1]["basketId"])  # incomplete row
    rms.advance(days=1)
    partly = rms.progress(order.order_number)
    for package in packages[1:]:
        ship(rms, order, ship_row(), basket=package["basketId"])
    rms.advance(days=1)
    assert partly == 300
    assert rms.progress(order.order_number) == 500


def test_async_shipping_reports_results_after_a_delay(make_rms: Callable[..., Rms]) -> None:
    first = card()
    second = pick(lambda m: m["SettlementModel"]["settlementMethodCode"] == 2)
    rms = make_rms([first, second])
    paid(rms, first)
    paid(rms, second)
    requests = [
        {
            "orderNumber": o.order_number,
            "BasketidModelList": [
                {
                    "basketId": o.model["PackageModelList"][0]["basketId"],
                    "ShippingModelList": [ship_row()],
                }
            ],
        }
        for o in (first, second)
    ]
    accepted = rms.ok("updateOrderShippingAsync", {"OrderShippingModelList": requests})
    request_id = accepted["requestId"]
    pending = rms.ok("getResultUpdateOrderShippingAsync", {"requestId": request_id})
    rms.advance(seconds=10)
    done = rms.ok("getResultUpdateOrderShippingAsync", {"requestId": request_id})
    duplicate = rms.call("updateOrderShippingAsync", {"OrderShippingModelList": requests[:1] * 2})
    too_many = rms.call(
        "updateOrderShippingAsync",
        {
            "OrderShippingModelList": [
                {"orderNumber": f"n{i}", "BasketidModelList": [{}]} for i in range(101)
            ]
        },
    )
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}_\d{14}", request_id
    )
    assert codes(pending) == ["ORDER_EXT_API_GET_RESULT_UPDATE_ORDERSHIPPING_ASYNC_INFO_101"]
    assert [(r["orderNumber"], codes(r)) for r in done["ResultShippingModelList"]] == [
        (first.order_number, ["ORDER_EXT_API_UPDATE_ORDERSHIPPING_INFO_101"]),
        (second.order_number, ["ORDER_EXT_API_UPDATE_ORDERSHIPPING_INFO_101"]),
    ]
    assert duplicate.status_code == too_many.status_code == 400
    rms.advance(days=31)
    expired = rms.call("getResultUpdateOrderShippingAsync", {"requestId": request_id})
    assert expired.status_code == 400


# --- cancelOrder ----------------------------------------------------------------------------


def test_cancel_goes_800_then_900_and_only_before_a_ship_date(
    make_rms: Callable[..., Rms],
) -> None:
    order, shipped = card(), pick(lambda m: m["SettlementModel"]["settlementMethodCode"] == 2)
    rms = make_rms([order, shipped])
    paid(rms, order)
    paid(rms, shipped)
    body = {
        "orderNumber": order.order_number,
        "inventoryRestoreType": 1,
        "changeReasonDetailApply": 1,
    }
    cancelled = rms.ok("cancelOrder", body)
    at_once = rms.progress(order.order_number)
    rms.advance(minutes=5)
    ship(rms, shipped, {"deliveryCompany": "1002", "shippingDate": "2026-11-27"})
    with_date = rms.call("cancelOrder", body | {"orderNumber": shipped.order_number})
    twice = rms.call("cancelOrder", body)
    assert codes(cancelled) == ["ORDER_EXT_API_CANCEL_ORDER_INFO_101"]
    assert at_once == 800
    assert rms.progress(order.order_number) == 900
    assert with_date.status_code == twice.status_code == 400


def test_cancel_is_refused_once_shipped(make_rms: Callable[..., Rms]) -> None:
    order = card()
    rms = make_rms([order])
    paid(rms, order)
    ship(rms, order, ship_row())
    rms.advance(days=1)
    refused = rms.call(
        "cancelOrder", {"orderNumber": order.order_number, "changeReasonDetailApply": 1}
    )
    assert rms.progress(order.order_number) == 500
    assert refused.status_code == 400
    assert codes(refused.json()) == ["ORDER_EXT_API_CANCEL_ORDER_ERROR_103"]


# --- faults and control endpoints ---------------------------------------------------------


def test_injected_faults(make_rms: Callable[..., Rms]) -> None:
    order = card()
    rms = make_rms([order])
    window = search_body(DAY, DAY + timedelta(days=1))

    def faults(**values: Any) -> None:
        assert rms.http.post("/_sandbox/faults", json={"reset": True, **values}).status_code == 200

    faults(auth_expired=True)
    expired = rms.call("searchOrder", window)
    faults(error_rate=1.0)
    errored = rms.call("searchOrder", window)
    faults(throttle=True)
    throttled = rms.call("searchOrder", window)
    faults(malformed_rate=1.0)
    cut = rms.call("confirmOrder", {"orderNumberList": [order.order_number]})
    faults(timeout_rate=1.0, timeout_seconds=0.5)
    with pytest.raises(httpx.ReadTimeout):
        rms.http.post(
            "/es/2.0/order/searchOrder/", json=window, headers={"Authorization": AUTH}, timeout=0.1
        )
    faults()
    assert expired.status_code == 401
    assert expired.json()["Results"]["errorCode"] == "ES01-01"
    assert errored.status_code in (500, 503)
    assert throttled.status_code == 429
    with pytest.raises(ValueError, match=r"Expecting|Unterminated|Extra|Invalid"):
        cut.json()
    assert rms.progress(order.order_number) == 200  # the cut answer's work was done


def test_control_endpoints_drive_clock_orders_and_stats(make_rms: Callable[..., Rms]) -> None:
    rms = make_rms([], DAY)
    added = rms.http.post(
        "/_sandbox/orders",
        json={
            "count": 40,
            "seed": 9,
            "start": DAY.isoformat(),
            "end": (DAY + timedelta(hours=2)).isoformat(),
        },
    )
    moved = rms.http.post("/_sandbox/clock", json={"now": (DAY + timedelta(hours=3)).isoformat()})
    rms.ok("searchOrder", search_body(DAY, DAY + timedelta(days=1)))
    stats = rms.http.get("/_sandbox/stats").json()
    assert added.json() == {"added": 40, "orderCount": 40}
    assert moved.status_code == 200
    assert rms.clock.now() == DAY + timedelta(hours=3)
    assert stats["orderCount"] == 40
    assert stats["calls"] == {"searchOrder": 1}
    assert sum(stats["progress"].values()) == 40
    assert rms.http.post("/_sandbox/faults", json={"nonsense": 1}).status_code == 400
