"""An emulator of Rakuten's RMS order API (楽天ペイ受注API), spoken over real HTTP.

The engine's RMS client runs unchanged against it: same paths, same
`Authorization: ESA` header, same JSON keys, message codes, HTTP statuses and
limits as reference/rakuten-rms.md. Rakuten's own moves (payment 200 → 300,
shipped 300 → 500 the next day, buyers' self-cancellation) are computed lazily
from the injected clock whenever a request touches an order, so a simulated
day needs no background thread.

`RmsEmulator` is the protocol core (`handle(method, body, authorization)`),
thread-safe behind one lock; `RmsEmulatorServer` puts it on 127.0.0.1 with
`http.server`, plus `/_sandbox/*` control endpoints for tests and the bench.

Where Rakuten's behaviour is not documented publicly the emulator makes a
choice and says so in a comment marked *(unconfirmed)*.

Imports only the standard library, `unyo.clock` and `unyo.sandbox.generator`.
"""

from __future__ import annotations

import base64
import bisect
import collections
import heapq
import json
import math
import random
import re
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from unyo.clock import JST, Clock, SimClock, parse_instant
from unyo.domain.carriers import CARRIER_NAMES
from unyo.sandbox.generator import GeneratedOrder, format_rms_datetime, generate_orders

__all__ = ["DELIVERY_COMPANIES", "FaultConfig", "RmsEmulator", "RmsEmulatorServer", "serve"]

DELIVERY_COMPANIES = CARRIER_NAMES  # the deliveryCompany codes RMS accepts
"""deliveryCompany codes (reference/rakuten-rms.md)."""

_OPS = {
    "searchOrder": "SEARCH_ORDER",
    "getOrder": "GET_ORDER",
    "confirmOrder": "CONFIRM_ORDER",
    "updateOrderShipping": "UPDATE_ORDERSHIPPING",
    "updateOrderShippingAsync": "UPDATE_ORDERSHIPPING_ASYNC",
    "getResultUpdateOrderShippingAsync": "GET_RESULT_UPDATE_ORDERSHIPPING_ASYNC",
    "cancelOrder": "CANCEL_ORDER",
    "updateOrderSender": "UPDATE_ORDER_SENDER",
    "updateOrderMemo": "UPDATE_ORDER_MEMO",
}
METHODS = frozenset(_OPS)
# Keys an error answer carries besides MessageModelList: searchOrder's error answer has
# both orderNumberList and PaginationResponseModel, null (reference/rakuten-rms.md,
# "searchOrder request", from Rakuten's searchOrder documentation).
_ERROR_KEYS: dict[str, dict[str, Any]] = {
    "searchOrder": {"orderNumberList": None, "PaginationResponseModel": None},
}

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0900$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UNAUTHORISED = {"Results": {"errorCode": "ES01-01", "message": "Un-Authorised"}}
# Throttling *(unconfirmed)*: Rakuten's answer under load is not documented publicly.
# The emulator answers HTTP 429 with the ES-style body other gateway errors use.
_THROTTLED = {"Results": {"errorCode": "ES04-02", "message": "Too Many Requests"}}
_SERVER_ERRORS = {  # bodies *(unconfirmed)*; the statuses are documented
    500: {"Results": {"errorCode": "ES03-01", "message": "Internal Server Error"}},
    503: {"Results": {"errorCode": "ES03-02", "message": "Service Unavailable"}},
}
_SEARCH_CAP = 15_000
_ASYNC_DELAY = timedelta(seconds=10)  # simulated processing time of updateOrderShippingAsync
_ASYNC_KEEP = timedelta(days=30)
_CANCEL_FIX_DELAY = timedelta(minutes=5)  # 800 → 900 after a shop cancel *(unconfirmed)*
_CANCELLED = (800, 900)
# changeReasonDetailApply codes (RmsClient.cancel_order): buyer's 1–6, shop's 8, 10, 13–15
_CANCEL_REASON_CODES = frozenset({1, 2, 3, 4, 5, 6, 8, 10, 13, 14, 15})


@dataclass
class FaultConfig:
    """Faults to inject into API answers (never into /_sandbox endpoints)."""

    error_rate: float = 0.0  # share answered 500 / 503 before any processing
    timeout_rate: float = 0.0  # share where the server sleeps `timeout_seconds` first
    timeout_seconds: float = 30.0  # real seconds (the client's timeout is real time)
    malformed_rate: float = 0.0  # share processed normally, then answered with a cut body
    throttle: bool | float = False  # True = every call throttled; a float = that share
    auth_expired: bool = False  # every call answered 401 ES01-01 (key expired)
    methods: tuple[str, ...] = ()  # the API methods the faults hit (empty: every method)


class _Reject(Exception):
    """Abort a request with an HTTP status and a body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _msg(op: str, kind: str, number: int, text: str, **extra: Any) -> dict[str, Any]:
    message = {
        "messageType": kind,
        "messageCode": f"ORDER_EXT_API_{op}_{kind}_{number:03d}",
        "message": text,
    }
    message.update(extra)
    return message


def _bad(op: str, number: int, text: str) -> _Reject:
    return _Reject(400, {"MessageModelList": [_msg(op, "ERROR", number, text)]})


def _parse_datetime(op: str, field: str, value: Any) -> datetime:
    if not isinstance(value, str) or not _DATETIME.match(value):
        raise _bad(op, 11, f"{field}の書式が不正です。")
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        raise _bad(op, 11, f"{field}の書式が不正です。") from None


def _require(op: str, body: dict[str, Any], field: str) -> Any:
    if field not in body or body[field] is None:
        raise _bad(op, 9, f"{field}の項目を指定して下さい。")
    value = body[field]
    if value == "" or value == []:
        raise _bad(op, 10, f"{field}の値を指定して下さい。")
    return value


def _int(op: str, field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(op, 11, f"{field}の書式が不正です。")
    if not low <= value <= high:
        # Out-of-range code *(unconfirmed)*: 012 for every range/limit violation.
        raise _bad(op, 12, f"{field}の値が範囲外です。")
    return value


def _next_midnight(instant: datetime) -> datetime:
    day = instant.astimezone(JST).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=JST)


@dataclass
class _Record:
    """One order and Rakuten's plan for it."""

    model: dict[str, Any]
    ordered_at: datetime
    payment_delay: timedelta | None
    self_cancel_after: timedelta | None
    auth_fails: bool
    confirmed_at: datetime | None = None
    complete_at: datetime | None = None  # every package got a complete shipping row
    cancel_fix_at: datetime | None = None
    cancel_request: dict[str, int] | None = None  # a shop's cancelOrder: reason, restore
    gift_address_after: timedelta | None = None  # ソーシャルギフト: the recipient answers
    gift_recipient: dict[str, Any] | None = None  # the SenderModel they give


@dataclass
class _AsyncJob:
    ready_at: datetime
    requests: list[dict[str, Any]]
    results: list[dict[str, Any]] | None = None


class RmsEmulator:
    """The RMS order API as a pure function of (request, clock, state). Thread-safe."""

    def __init__(
        self,
        clock: Clock,
        *,
        service_secret: str,
        license_key: str,
        orders: Iterable[GeneratedOrder] = (),
        seed: int = 0,
    ) -> None:
        self.clock = clock
        self.faults = FaultConfig()
        self.calls: collections.Counter[str] = collections.Counter()
        token = base64.b64encode(f"{service_secret}:{license_key}".encode()).decode()
        self._authorization = f"ESA {token}"
        self._license_key = license_key
        # License keys expire 90 days after issue (reference/rakuten-rms.md, Transport):
        # the emulator's key was issued when it started, unless a test sets another day.
        self.license_expires_at: datetime = (
            clock.now().astimezone(JST).replace(hour=23, minute=59, second=59, microsecond=0)
            + timedelta(days=90))
        self.license_api_enabled = True  # RMS enables each API function per shop
        self._lock = threading.RLock()  # one lock: every request sees one consistent state
        self._rng = random.Random(seed)
        self._orders: dict[str, _Record] = {}
        self._by_ordered: list[tuple[datetime, str]] = []  # sorted; searchOrder dateType 1
        self._by_confirmed: list[tuple[datetime, str]] = []  # sorted; dateType 2
        self._by_fixed: list[tuple[datetime, str]] = []  # sorted; dateType 3 and 6
        self._pay_queue: list[tuple[datetime, str]] = []  # heap: payments to come
        self._jobs: dict[str, _AsyncJob] = {}
        self._next_shipping_detail_id = 1_000_001
        self._next_change_id = 1
        self._handlers: dict[str, Callable[[dict[str, Any], datetime], dict[str, Any]]] = {
            "searchOrder": self._search_order,
            "getOrder": self._get_order,
            "confirmOrder": self._confirm_order,
            "updateOrderShipping": self._update_order_shipping,
            "updateOrderShippingAsync": self._update_order_shipping_async,
            "getResultUpdateOrderShippingAsync": self._get_result_async,
            "cancelOrder": self._cancel_order,
            "updateOrderSender": self._update_order_sender,
            "updateOrderMemo": self._update_order_memo,
        }
        self.add_orders(orders)

    # --- state for tests and the sandbox -------------------------------------------------------

    def add_orders(self, orders: Iterable[GeneratedOrder]) -> int:
        """Add generated orders (each visible from its orderDatetime); returns how many."""
        added = 0
        with self._lock:
            for order in orders:
                number = order.order_number
                if number in self._orders:
                    raise ValueError(f"duplicate order number {number}")
                model = _copy(order.model)  # own copy: the caller keeps the original
                self._orders[number] = _Record(
                    model,
                    order.ordered_at,
                    order.payment_delay,
                    order.self_cancel_after,
                    order.auth_fails,
                    gift_address_after=order.gift_address_after,
                    gift_recipient=_copy(order.gift_recipient),
                )
                self._by_ordered.append((order.ordered_at, number))
                added += 1
            self._by_ordered.sort()
        return added

    def order_model(self, number: str) -> dict[str, Any]:
        """The order's current OrderModel (a copy), whether visible yet or not."""
        with self._lock:
            record = self._orders[number]
            now = self.clock.now()
            self._run_due_jobs(now)
            self._settle(record, now)
            return _copy(record.model)

    def order_count(self) -> int:
        with self._lock:
            return len(self._orders)

    def progress_counts(self) -> dict[int, int]:
        """Orders per orderProgress among those visible now."""
        with self._lock:
            now = self.clock.now()
            counts: collections.Counter[int] = collections.Counter()
            end = bisect.bisect_right(self._by_ordered, (now, "\uffff"))
            for _, number in self._by_ordered[:end]:
                record = self._orders[number]
                self._settle(record, now)
                counts[record.model["orderProgress"]] += 1
            return dict(sorted(counts.items()))

    def change_order(self, number: str, **changes: Any) -> dict[str, Any]:
        """Change an order as the shop or Rakuten would in RMS (e.g. fix -9999 postage).

        Top-level keys are replaced. When amounts change and totalPrice is not given,
        totals are recomputed; postage fixed from -9999 goes to the first package.
        """
        with self._lock:
            record = self._orders[number]
            self._settle(record, self.clock.now())
            m = record.model
            m.update(changes)
            amount_keys = {
                "goodsPrice",
                "postagePrice",
                "deliveryPrice",
                "paymentCharge",
                "couponAllTotalPrice",
                "PointModel",
            }
            if amount_keys & changes.keys() and "totalPrice" not in changes:
                self._recompute_totals(m)
            m["modifyFlag"] = 1
            m["ChangeReasonModelList"].append(self._change_reason(5, self.clock.now()))
            return _copy(m)

    def corrupt(self, number: str, **values: Any) -> None:
        """Replace top-level keys of an order's model with anything at all, as a broken
        answer from RMS would carry (tests of the client's defences): no totals recomputed,
        no change recorded. Its status and order time must stay readable by the emulator."""
        with self._lock:
            record = self._orders[number]
            self._settle(record, self.clock.now())
            record.model.update(values)

    @staticmethod
    def _recompute_totals(m: dict[str, Any]) -> None:
        packages = m["PackageModelList"]
        if m["postagePrice"] != -9999 and any(p["postagePrice"] == -9999 for p in packages):
            for i, p in enumerate(packages):
                p["postagePrice"] = m["postagePrice"] if i == 0 else 0
        for p in packages:
            p["totalPrice"] = (
                -9999
                if p["postagePrice"] == -9999
                else p["goodsPrice"] + p["postagePrice"] + p["deliveryPrice"]
            )
        if m["postagePrice"] == -9999:
            m["totalPrice"] = m["requestPrice"] = -9999
            return
        m["totalPrice"] = (
            m["goodsPrice"] + m["postagePrice"] + m["deliveryPrice"] + m["paymentCharge"]
        )
        m["requestPrice"] = (
            m["totalPrice"] - m["PointModel"]["usedPoint"] - m["couponAllTotalPrice"]
        )

    # --- the protocol ---------------------------------------------------------------------------

    def handle(self, method: str, body: bytes, authorization: str | None) -> tuple[int, bytes]:
        """Answer one API call: (HTTP status, response body)."""
        with self._lock:
            self.calls[method] += 1
            faults = self.faults
            if faults.methods and method not in faults.methods:
                faults = FaultConfig()
            if faults.auth_expired or authorization != self._authorization:
                return 401, _dump(_UNAUTHORISED)
            throttle = faults.throttle
            if throttle is True or (
                not isinstance(throttle, bool) and self._rng.random() < throttle
            ):
                return 429, _dump(_THROTTLED)
            if faults.error_rate and self._rng.random() < faults.error_rate:
                status = self._rng.choice((500, 503))
                return status, _dump(_SERVER_ERRORS[status])
            sleep = (
                faults.timeout_seconds
                if (faults.timeout_rate and self._rng.random() < faults.timeout_rate)
                else 0.0
            )
        if sleep:
            time.sleep(sleep)  # outside the lock: a slow answer must not stall other callers
        with self._lock:
            status, payload = self._answer(method, body)
            if faults.malformed_rate and self._rng.random() < faults.malformed_rate:
                # Processed, but the answer is cut: the client cannot tell what happened.
                return status, payload[: max(1, len(payload) // 2)]
            return status, payload

    def license_expiry(self, authorization: str | None, license_key: str | None
                       ) -> tuple[int, bytes]:
        """ライセンス管理API: `GET /es/1.0/license-management/license-key/expiry-date
        ?licenseKey=<key>` with the ESA header → `{"expiryDate": "yyyy-MM-ddTHH:mm:ss"}`, JST
        without a zone (JakeJP/Rakuten.RMS.Api LicenseManagementAPI.cs; a shop's measured
        call: the expiry is 23:59:59 of the 90th day). A function not enabled for the key
        answers ES04-01 "Bad Request" like the order API's *(unconfirmed: the status)*."""
        with self._lock:
            self.calls["getLicenseExpiryDate"] += 1
            if self.faults.auth_expired or authorization != self._authorization:
                return 401, _dump(_UNAUTHORISED)
            if not self.license_api_enabled or license_key != self._license_key:
                return 400, _dump({"Results": {"errorCode": "ES04-01",
                                               "message": "Bad Request"}})
            at = self.license_expires_at.astimezone(JST)
            return 200, _dump({"expiryDate": at.strftime("%Y-%m-%dT%H:%M:%S")})

    def _answer(self, method: str, body: bytes) -> tuple[int, bytes]:
        handler = self._handlers.get(method)
        if handler is None:
            return 404, _dump({"Results": {"errorCode": "ES04-01", "message": "Bad Request"}})
        op = _OPS[method]
        try:
            request = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            request = None
        try:
            if not isinstance(request, dict):
                raise _bad(op, 11, "リクエストの書式が不正です。")
            now = self.clock.now()
            self._run_due_jobs(now)
            return 200, _dump(handler(request, now))
        except _Reject as reject:
            return reject.status, _dump({**reject.body, **_ERROR_KEYS.get(method, {})})

    # --- Rakuten's own moves, computed lazily ---------------------------------------------------

    def _visible(self, number: Any, now: datetime) -> _Record | None:
        record = self._orders.get(number) if isinstance(number, str) else None
        if record is None or record.ordered_at > now:
            return None
        self._settle(record, now)
        return record

    def _pay_at(self, record: _Record) -> datetime | None:
        if record.confirmed_at is None or record.payment_delay is None or record.auth_fails:
            return None
        return record.confirmed_at + record.payment_delay

    def _settle(self, record: _Record, now: datetime) -> None:
        """Apply every move Rakuten would have made by `now`, in time order."""
        m = record.model
        if record.gift_address_after is not None and record.gift_recipient is not None:
            self._gift_address(record, now)
        if m["orderProgress"] in (100, 200) and record.self_cancel_after is not None:
            cancel_at = record.ordered_at + record.self_cancel_after
            pay_at = self._pay_at(record)
            if cancel_at <= now and (pay_at is None or cancel_at < pay_at):
                # Rakuten members may cancel within 30 minutes (reference, status codes).
                m["orderProgress"] = 900
                m["ChangeReasonModelList"].append(self._change_reason(1, cancel_at))
                return
        if m["orderProgress"] == 200:
            pay_at = self._pay_at(record)
            if pay_at is not None and pay_at <= now:
                m["orderProgress"] = 300
                m["orderFixDatetime"] = format_rms_datetime(pay_at)
                fixed = self._sort_key(record, 3)
                if fixed is not None:
                    bisect.insort(self._by_fixed, (fixed, m["orderNumber"]))
        if (
            m["orderProgress"] == 300
            and record.complete_at is not None
            and _next_midnight(record.complete_at) <= now
        ):
            m["orderProgress"] = 500
        if (
            m["orderProgress"] == 800
            and record.cancel_fix_at is not None
            and record.cancel_fix_at <= now
        ):
            m["orderProgress"] = 900

    @staticmethod
    def _gift_address(record: _Record, now: datetime) -> None:
        """ソーシャルギフト: the recipient gives their address (getOrder version 10, Level 4
        SocialGiftModel and SenderModel): until then SenderModel holds Rakuten's placeholders
        (zip 999-9999, 入力待ち, ニュウリョクマチ, phone 999-9999-9999) and inputFlag is 0;
        then the SenderModel is theirs, inputFlag 1 and inputCompDatetime the time. Neither
        the orderProgress nor ChangeReasonModelList moves *(unconfirmed)*; past inputDueDate
        nothing comes (Rakuten's cancel of such orders is not emulated)."""
        assert record.gift_address_after is not None and record.gift_recipient is not None
        at = record.ordered_at + record.gift_address_after
        if at > now or record.model["orderProgress"] in _CANCELLED:
            return
        for package in record.model["PackageModelList"]:
            gift = package.get("SocialGiftModel")
            if isinstance(gift, dict) and gift.get("inputFlag") == 0:
                due = gift.get("inputDueDate")
                if isinstance(due, str) and at.astimezone(JST).date().isoformat() > due:
                    continue
                package["SenderModel"] = _copy(record.gift_recipient)
                gift["inputFlag"] = 1
                gift["inputCompDatetime"] = format_rms_datetime(at)
        record.gift_address_after = None

    def _change_reason(self, change_type: int, at: datetime) -> dict[str, Any]:
        # changeType: 0 キャンセル申請, 1 キャンセル確定, ..., 4 変更申請, 5 変更確定.
        change_id = self._next_change_id
        self._next_change_id += 1
        stamp = format_rms_datetime(at)
        return {
            "changeId": change_id,
            "changeType": change_type,
            "changeTypeFlag": 0,
            "changeTypeDetail": None,
            "changeReason": None,
            "changeReasonDetail": None,
            "changeApplyDatetime": stamp,
            "changeFixDatetime": stamp,
            "changeCmplDatetime": stamp,
        }

    # --- searchOrder ----------------------------------------------------------------------------

    def _search_order(self, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        op = "SEARCH_ORDER"
        date_type = _int(op, "dateType", _require(op, body, "dateType"), 1, 6)
        start = _parse_datetime(op, "startDatetime", _require(op, body, "startDatetime"))
        end = _parse_datetime(op, "endDatetime", _require(op, body, "endDatetime"))
        if end < start:
            raise _bad(op, 12, "endDatetimeの値が範囲外です。")
        if end - start > timedelta(days=63):
            # Code *(unconfirmed)*; the 63-day limit is documented.
            raise _bad(op, 13, "検索期間は63日以内で指定して下さい。")
        if start < now - timedelta(days=730):
            raise _bad(op, 12, "startDatetimeの値が範囲外です。")
        paging = body.get("PaginationRequestModel") or {}
        if not isinstance(paging, dict):
            raise _bad(op, 11, "PaginationRequestModelの書式が不正です。")
        amount = _int(op, "requestRecordsAmount", paging.get("requestRecordsAmount", 30), 1, 1000)
        page = _int(op, "requestPage", paging.get("requestPage", 1), 1, 10**6)
        # Without SortModelList the hits come newest first: sortDirection 2 (降順) is the
        # default (reference/rakuten-rms.md, "searchOrder request"). Only sortColumn 1
        # (注文日時) is documented; the emulator also sorts by the other date types.
        descending, sort_column = True, 1
        sorts = paging.get("SortModelList") or []
        if isinstance(sorts, list) and sorts and isinstance(sorts[0], dict):
            sort_column = _int(op, "sortColumn", sorts[0].get("sortColumn", 1), 1, 6)
            descending = _int(op, "sortDirection", sorts[0].get("sortDirection", 2), 1, 2) == 2
        match = self._filter(op, body)

        hits = [
            (key, number)
            for key, number in self._candidates(date_type, start, end, now)
            if match(self._orders[number])
        ]
        if sort_column != date_type:
            hits = [(self._sort_key(self._orders[n], sort_column), n) for _, n in hits]
            hits.sort(key=lambda h: (h[0] is None, h[0] or "", h[1]))
        if descending:
            hits.reverse()
        # Hits past 15,000 are dropped, and totalRecordsAmount counts only what can be
        # paged through (the cap) *(unconfirmed: Rakuten may report the full count)*.
        hits = hits[:_SEARCH_CAP]
        total = len(hits)
        if total == 0:
            return {
                "MessageModelList": [_msg(op, "INFO", 102, "注文検索結果が0件です。")],
                "orderNumberList": [],
                "PaginationResponseModel": {
                    "totalRecordsAmount": None,
                    "totalPages": None,
                    "requestPage": None,
                },
            }
        chunk = hits[(page - 1) * amount : page * amount]
        return {
            "MessageModelList": [_msg(op, "INFO", 101, "注文検索に成功しました。")],
            "orderNumberList": [n for _, n in chunk],
            "PaginationResponseModel": {
                "totalRecordsAmount": total,
                "totalPages": math.ceil(total / amount),
                "requestPage": page,
            },
        }

    def _candidates(
        self, date_type: int, start: datetime, end: datetime, now: datetime
    ) -> list[tuple[Any, str]]:
        """(sort key, number) of visible orders whose date of `date_type` is in [start, end]."""
        if date_type in (1, 2):
            index = self._by_ordered if date_type == 1 else self._by_confirmed
            low = bisect.bisect_left(index, (start, ""))
            high = bisect.bisect_right(index, (min(end, now), "\uffff"))
            found = index[low:high]
            for _, number in found:
                self._settle(self._orders[number], now)
            return found
        if date_type in (3, 6):
            # 注文確定日 / 決済確定日, both the payment move here: settle the payments due
            # by now, then read the index (an entry is current while the order still has
            # the date it was filed under)
            while self._pay_queue and self._pay_queue[0][0] <= now:
                _, number = heapq.heappop(self._pay_queue)
                self._settle(self._orders[number], now)
            low = bisect.bisect_left(self._by_fixed, (start, ""))
            high = bisect.bisect_right(self._by_fixed, (min(end, now), "\uffff"))
            return [(key, number) for key, number in self._by_fixed[low:high]
                    if self._sort_key(self._orders[number], 3) == key]
        # 4 発送日, 5 発送完了報告日: rare, so a full scan.
        found = []
        for record in self._orders.values():
            if record.ordered_at > now:
                continue
            self._settle(record, now)
            key = self._sort_key(record, date_type)
            if key is not None and start <= key <= end:
                found.append((key, record.model["orderNumber"]))
        found.sort()
        return found

    def _sort_key(self, record: _Record, column: int) -> datetime | None:
        m = record.model
        if column == 1:
            return record.ordered_at
        if column == 2:
            return record.confirmed_at
        if column == 4:
            dates = [
                s["shippingDate"]
                for p in m["PackageModelList"]
                for s in p["ShippingModelList"]
                if s.get("shippingDate")
            ]
            return datetime.fromisoformat(min(dates)).replace(tzinfo=JST) if dates else None
        # 3 注文確定日 and 6 決済確定日 are both the payment move here; 5 the shipping report.
        text = m["shippingCmplRptDatetime"] if column == 5 else m["orderFixDatetime"]
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z") if text else None

    def _filter(self, op: str, body: dict[str, Any]) -> Callable[[_Record], bool]:
        progress = body.get("orderProgressList")
        types = body.get("orderTypeList")
        settlement = body.get("settlementMethod")
        asuraku = body.get("asurakuFlag")
        sub_status = body.get("subStatusIdList")
        mail = body.get("ordererMailAddress")
        date_blank = body.get("shippingDateBlankFlag")
        number_blank = body.get("shippingNumberBlankFlag")
        for name, value in (
            ("orderProgressList", progress),
            ("orderTypeList", types),
            ("subStatusIdList", sub_status),
        ):
            if value is not None and not isinstance(value, list):
                raise _bad(op, 11, f"{name}の書式が不正です。")

        def rows(m: dict[str, Any]) -> list[dict[str, Any]]:
            return [s for p in m["PackageModelList"] for s in p["ShippingModelList"]]

        def match(record: _Record) -> bool:
            m = record.model
            if progress and m["orderProgress"] not in progress:
                return False
            if types and m["orderType"] not in types:
                return False
            if settlement and m["SettlementModel"]["settlementMethodCode"] != settlement:
                return False
            if asuraku == 1 and m["asurakuFlag"] != 1:
                return False
            if sub_status and not (
                (-1 in sub_status and m["subStatusId"] is None) or m["subStatusId"] in sub_status
            ):
                return False
            if mail and m["OrdererModel"]["emailAddress"] != mail:
                return False
            if date_blank == 1 and any(s.get("shippingDate") for s in rows(m)):
                return False
            return not (number_blank == 1 and any(s.get("shippingNumber") for s in rows(m)))

        return match

    # --- getOrder / confirmOrder ----------------------------------------------------------------

    def _numbers(self, op: str, body: dict[str, Any], limit: int) -> list[Any]:
        numbers = _require(op, body, "orderNumberList")
        if not isinstance(numbers, list):
            raise _bad(op, 11, "orderNumberListの書式が不正です。")
        if len(numbers) > limit:
            raise _bad(op, 12, f"orderNumberListは{limit}件以内で指定して下さい。")
        return numbers

    def _get_order(self, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        op = "GET_ORDER"
        numbers = self._numbers(op, body, 100)
        version = _int(op, "version", _require(op, body, "version"), 3, 10)
        messages, models = [], []
        for number in numbers:
            record = self._visible(number, now)
            if record is None:
                messages.append(
                    _msg(op, "INFO", 102, "該当する受注情報が存在しません。", orderNumber=number)
                )
                continue
            models.append(_for_version(record.model, version))
            messages.append(
                _msg(op, "INFO", 101, "受注情報の取得に成功しました。", orderNumber=number)
            )
        answer: dict[str, Any] = {"MessageModelList": messages, "OrderModelList": models}
        if version >= 6:  # echoed from version 6 on (reference/rakuten-rms.md, searchOrder)
            answer["version"] = version
        return answer

    def _confirm_order(self, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        op = "CONFIRM_ORDER"
        messages = []
        for number in self._numbers(op, body, 100):
            record = self._visible(number, now)
            m = record.model if record else None
            if record is None or m is None:
                # Code for an unknown number *(unconfirmed)*.
                messages.append(
                    _msg(op, "ERROR", 101, "対象の注文が存在しません。", orderNumber=number)
                )
            elif m["orderProgress"] in _CANCELLED:
                messages.append(
                    _msg(op, "ERROR", 102, "キャンセル済みの注文です。", orderNumber=number)
                )
            elif not (
                m["orderProgress"] == 100
                or (m["orderProgress"] == 300 and m["shopOrderCfmDatetime"] is None)
            ):
                messages.append(
                    _msg(op, "ERROR", 103, "注文確認待ちではありません。", orderNumber=number)
                )
            elif (m["postagePrice"] == -9999 or m["totalPrice"] == -9999
                  or any(p.get("postagePrice") == -9999 for p in m["PackageModelList"])):
                # Rakuten refuses 注文確認 while the postage is not set (-9999):
                # ORDER_EXT_API_CONFIRM_ORDER_ERROR_105 (reference/rakuten-rms.md,
                # confirmOrder; the answer is per order, in an HTTP 200 batch answer).
                messages.append(
                    _msg(op, "ERROR", 105, "送料が確定していません。", orderNumber=number)
                )
            else:
                # 選択制決済 (cash on delivery) orders exist at 300 unconfirmed; confirming
                # them records shopOrderCfmDatetime and leaves them at 300 *(unconfirmed)*.
                if m["orderProgress"] == 100:
                    m["orderProgress"] = 200
                m["shopOrderCfmDatetime"] = format_rms_datetime(now)
                record.confirmed_at = now.replace(microsecond=0)
                bisect.insort(self._by_confirmed, (record.confirmed_at, number))
                pay_at = self._pay_at(record)
                if pay_at is not None:
                    heapq.heappush(self._pay_queue, (pay_at, number))
                messages.append(
                    _msg(op, "INFO", 101, "注文確認に成功しました。", orderNumber=number)
                )
                self._settle(record, now)
        return {"MessageModelList": messages}

    # --- shipping -------------------------------------------------------------------------------

    def _update_order_shipping(self, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        op = "UPDATE_ORDERSHIPPING"
        messages, ok = self._apply_shipping(op, body, now)
        if not ok:
            # Whole request refused, nothing applied *(unconfirmed: Rakuten may apply the
            # good rows)*; the per-row messages say which rows were wrong.
            raise _Reject(400, {"MessageModelList": messages})
        return {"MessageModelList": messages}

    def _apply_shipping(
        self, op: str, body: dict[str, Any], now: datetime
    ) -> tuple[list[dict[str, Any]], bool]:
        """Validate every row, then apply all or nothing; (messages, applied)."""
        number = _require(op, body, "orderNumber")
        baskets = _require(op, body, "BasketidModelList")
        if not isinstance(baskets, list) or not all(isinstance(b, dict) for b in baskets):
            raise _bad(op, 11, "BasketidModelListの書式が不正です。")
        record = self._visible(number, now)
        if record is None:
            return [_msg(op, "ERROR", 101, "対象の注文が存在しません。", orderNumber=number)], False
        m = record.model
        if m["orderProgress"] in _CANCELLED:
            return [_msg(op, "ERROR", 102, "キャンセル済みの注文です。", orderNumber=number)], False
        if m["orderProgress"] in (100, 200):
            # Shipping can be reported from 発送待ち (300) on *(unconfirmed code)*.
            return [
                _msg(
                    op,
                    "ERROR",
                    103,
                    "発送待ち以降の注文のみ発送情報を更新できます。",
                    orderNumber=number,
                )
            ], False
        packages = {p["basketId"]: p for p in m["PackageModelList"]}
        plan: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
        errors: list[dict[str, Any]] = []
        data_number = 0
        for basket in baskets:
            package = packages.get(basket.get("basketId"))
            rows = basket.get("ShippingModelList")
            if not isinstance(rows, list):
                rows = [None]
            for row in rows:
                data_number += 1
                error = self._row_error(row, package)
                if error:
                    errors.append(
                        _msg(
                            op,
                            "ERROR",
                            11,
                            error,
                            orderNumber=number,
                            dataNumber=data_number,
                            shippingDetailId=None,
                        )
                    )
                elif package is not None and isinstance(row, dict):
                    plan.append((data_number, package, row))
        for basket_id, package in packages.items():
            added = sum(1 for _, p, r in plan if p is package and r.get("shippingDetailId") is None)
            if len(package["ShippingModelList"]) + added > 20:
                errors.append(
                    _msg(
                        op,
                        "ERROR",
                        104,
                        "発送明細は1送付先につき20件までです。",
                        orderNumber=number,
                        basketId=basket_id,
                    )
                )
        if errors:
            return errors, False
        messages = [self._apply_row(op, number, n, package, row) for n, package, row in plan]
        self._refresh_complete(record, now)
        return messages, True

    @staticmethod
    def _row_error(row: Any, package: dict[str, Any] | None) -> str | None:
        if package is None:
            return "basketIdの書式が不正です。"
        if not isinstance(row, dict):
            return "ShippingModelListの書式が不正です。"
        detail_id = row.get("shippingDetailId")
        if detail_id is not None and not any(
            s["shippingDetailId"] == detail_id for s in package["ShippingModelList"]
        ):
            return "shippingDetailIdの書式が不正です。"
        if row.get("shippingDeleteFlag") == 1:
            return None if detail_id is not None else "shippingDetailIdの書式が不正です。"
        company = row.get("deliveryCompany")
        if company is not None and company not in DELIVERY_COMPANIES:
            return "deliveryCompanyの書式が不正です。"
        shipping_date = row.get("shippingDate")
        if shipping_date is not None:
            try:
                if not isinstance(shipping_date, str) or not _DATE.match(shipping_date):
                    raise ValueError
                date.fromisoformat(shipping_date)
            except ValueError:
                return "shippingDateの書式が不正です。"
        # shippingNumber is optional (reference/rakuten-rms.md, "Shipping rows": a row
        # with deliveryCompany and shippingDate only is accepted, e.g. 定形外郵便)
        shipping_number = row.get("shippingNumber")
        if shipping_number is not None and (
            not isinstance(shipping_number, str) or len(shipping_number) > 64
        ):
            return "shippingNumberの書式が不正です。"
        return None

    def _apply_row(
        self, op: str, number: str, data_number: int, package: dict[str, Any], row: dict[str, Any]
    ) -> dict[str, Any]:
        rows = package["ShippingModelList"]
        detail_id = row.get("shippingDetailId")
        if detail_id is None:
            # A row without shippingDetailId is always added, even when a row with the
            # same carrier, number and date is there: re-sending makes a duplicate
            # (reference/rakuten-rms.md, updateOrderShipping) — with or without a
            # shippingNumber; RMS keys rows by the shippingDetailId it issues, nothing else.
            detail_id = self._next_shipping_detail_id
            self._next_shipping_detail_id += 1
            rows.append(
                {
                    "shippingDetailId": detail_id,
                    "shippingNumber": None,
                    "deliveryCompany": None,
                    "deliveryCompanyName": None,
                    "shippingDate": None,
                }
            )
            self._fill_row(rows[-1], row)
            return _msg(
                op,
                "INFO",
                101,
                "発送情報を登録しました。",
                orderNumber=number,
                dataNumber=data_number,
                shippingDetailId=detail_id,
            )
        target = next(s for s in rows if s["shippingDetailId"] == detail_id)
        if row.get("shippingDeleteFlag") == 1:
            rows.remove(target)
            # Delete answer *(unconfirmed)*: reported as an update.
            return _msg(
                op,
                "INFO",
                102,
                "発送情報を削除しました。",
                orderNumber=number,
                dataNumber=data_number,
                shippingDetailId=detail_id,
            )
        self._fill_row(target, row)
        return _msg(
            op,
            "INFO",
            102,
            "発送情報を更新しました。",
            orderNumber=number,
            dataNumber=data_number,
            shippingDetailId=detail_id,
        )

    @staticmethod
    def _fill_row(target: dict[str, Any], row: dict[str, Any]) -> None:
        for key in ("shippingNumber", "deliveryCompany", "shippingDate"):
            if key in row:
                target[key] = row[key]
        target["deliveryCompanyName"] = DELIVERY_COMPANIES.get(target["deliveryCompany"] or "")

    @staticmethod
    def _refresh_complete(record: _Record, now: datetime) -> None:
        """Track the moment every package first had a complete row (300 → 500 next day)."""
        # A row without shippingNumber is accepted but does not complete the package: one
        # vendor reports RMS completes an order only when every row has carrier, number
        # and date (reference/rakuten-rms.md, "Shipping rows"; the cautious reading).
        m = record.model
        complete = all(
            any(
                s["shippingNumber"] and s["deliveryCompany"] and s["shippingDate"]
                for s in p["ShippingModelList"]
            )
            for p in m["PackageModelList"]
        )
        if complete and record.complete_at is None:
            record.complete_at = now
            m["shippingCmplRptDatetime"] = format_rms_datetime(now)
        elif not complete and m["orderProgress"] < 500:
            record.complete_at = None
            m["shippingCmplRptDatetime"] = None

    def _update_order_shipping_async(self, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        op = "UPDATE_ORDERSHIPPING_ASYNC"
        requests = _require(op, body, "OrderShippingModelList")
        if not isinstance(requests, list) or not all(isinstance(r, dict) for r in requests):
            raise _bad(op, 11, "OrderShippingModelListの書式が不正です。")
        if len(requests) > 100:
            raise _bad(op, 12, "OrderShippingModelListは100件以内で指定して下さい。")
        numbers = [r.get("orderNumber") for r in requests]
        if len(set(map(str, numbers))) != len(numbers):
            raise _bad(op, 14, "orderNumberが重複しています。")
        for r in requests:
            _require(op, r, "orderNumber")
            _require(op, r, "BasketidModelList")
        request_id = (
            f"{uuid.UUID(int=self._rng.getrandbits(128), version=4)}"
            f"_{now.astimezone(JST):%Y%m%d%H%M%S}"
        )
        self._jobs[request_id] = _AsyncJob(now + _ASYNC_DELAY, requests)
        return {
            "MessageModelList": [_msg(op, "INFO", 101, "発送情報の更新を受け付けました。")],
            "requestId": request_id,
        }

    def _run_due_jobs(self, now: datetime) -> None:
        for request_id, job in list(self._jobs.items()):
            if job.results is None and job.ready_at <= now:
                job.results = []
                for request in job.requests:
                    try:
                        messages, _ = self._apply_shipping(
                            "UPDATE_ORDERSHIPPING", request, job.ready_at
                        )
                    except _Reject as reject:
                        messages = reject.body["MessageModelList"]
                    job.results.append(
                        {"orderNumber": request.get("orderNumber"), "MessageModelList": messages}
                    )
            elif job.ready_at + _ASYNC_KEEP <= now:
                del self._jobs[request_id]  # results are kept 30 days

    def _get_result_async(self, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        op = "GET_RESULT_UPDATE_ORDERSHIPPING_ASYNC"
        request_id = _require(op, body, "requestId")
        job = self._jobs.get(request_id) if isinstance(request_id, str) else None
        if job is None:
            raise _bad(op, 11, "requestIdの書式が不正です。")
        if job.results is None:
            return {
                "MessageModelList": [_msg(op, "INFO", 101, "処理結果がありません。")],
                "ResultShippingModelList": [],
            }
        return {
            "MessageModelList": [_msg(op, "INFO", 102, "処理結果を取得しました。")],
            "ResultShippingModelList": job.results,
        }

    # --- cancelOrder ----------------------------------------------------------------------------

    def _cancel_order(self, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        # Request keys from public clients: orderNumber, inventoryRestoreType (0 商品設定に
        # 合わせる, 1 連動する, 2 連動しない), changeReasonDetailApply (1 キャンセル … 8 欠品;
        # the list in RmsClient.cancel_order). Reference (reference/rakuten-rms.md,
        # cancelOrder): status 100/200/300 only, not once a ship date is set; the order
        # goes to 800 キャンセル確定待ち, then 900 キャンセル確定. Message codes other than the
        # success code are *(unconfirmed)*.
        op = "CANCEL_ORDER"
        number = _require(op, body, "orderNumber")
        reason = _int(op, "changeReasonDetailApply",
                      _require(op, body, "changeReasonDetailApply"), 1, 99)
        if reason not in _CANCEL_REASON_CODES:
            raise _bad(op, 12, "changeReasonDetailApplyの値が範囲外です。")
        restore = _int(op, "inventoryRestoreType", body.get("inventoryRestoreType", 0), 0, 2)
        record = self._visible(number, now)
        if record is None:
            raise _bad(op, 101, "対象の注文が存在しません。")
        m = record.model
        if m["orderProgress"] in _CANCELLED:
            raise _bad(op, 102, "キャンセル済みの注文です。")
        if m["orderProgress"] not in (100, 200, 300):
            raise _bad(op, 103, "このステータスの注文はキャンセルできません。")
        if any(
            s.get("shippingDate") for p in m["PackageModelList"] for s in p["ShippingModelList"]
        ):
            raise _bad(op, 104, "発送日が登録されている注文はキャンセルできません。")
        m["orderProgress"] = 800
        record.cancel_fix_at = now + _CANCEL_FIX_DELAY
        record.cancel_request = {"changeReasonDetailApply": reason,
                                 "inventoryRestoreType": restore}
        change = self._change_reason(0, now)
        change["changeReasonDetail"] = reason  # the reason given, as RMS shows it
        m["ChangeReasonModelList"].append(change)
        return {
            "MessageModelList": [
                _msg(op, "INFO", 101, "キャンセル申請に成功しました。", orderNumber=number)
            ]
        }

    # --- updateOrderMemo ------------------------------------------------------------------------

    def _update_order_memo(self, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        # Reference (reference/rakuten-rms.md, Writing back to RMS): orderNumber,
        # subStatusId, deliveryClass (0–8), deliveryDate (YYYY-MM-DD), shippingTerm, memo
        # (≤ 1,000 characters), operator (≤ 6), mailPlugSentence; only the fields given
        # change. Which statuses take it is not documented *(unconfirmed)*: the emulator
        # refuses a cancelled order (800/900) only. shippingTerm's accepted values as
        # getOrder shows them: 0, 1, 2, 9 or h1h2 (0 ≤ h1 < h2 ≤ 24). Message codes other
        # than the success code are *(unconfirmed)*.
        op = "UPDATE_ORDER_MEMO"
        number = _require(op, body, "orderNumber")
        record = self._visible(number, now)
        if record is None:
            raise _bad(op, 101, "対象の注文が存在しません。")
        m = record.model
        if m["orderProgress"] in _CANCELLED:
            raise _bad(op, 103, "キャンセルされた注文は更新できません。")
        changes: dict[str, Any] = {}
        if "memo" in body:
            memo = body["memo"]
            if memo is not None and (not isinstance(memo, str) or len(memo) > 1000):
                raise _bad(op, 11, "memoの書式が不正です。")
            changes["memo"] = memo
        if "operator" in body:
            operator = body["operator"]
            if operator is not None and (not isinstance(operator, str) or len(operator) > 6):
                raise _bad(op, 11, "operatorの書式が不正です。")
            changes["operator"] = operator
        if "deliveryDate" in body:
            day = body["deliveryDate"]
            try:
                if not isinstance(day, str) or not _DATE.match(day):
                    raise ValueError
                date.fromisoformat(day)
            except ValueError:
                raise _bad(op, 11, "deliveryDateの書式が不正です。") from None
            changes["deliveryDate"] = day
        if "shippingTerm" in body:
            term = _int(op, "shippingTerm", body["shippingTerm"], 0, 2424)
            if term not in (0, 1, 2, 9) and not 0 <= term // 100 < term % 100 <= 24:
                raise _bad(op, 11, "shippingTermの書式が不正です。")
            changes["shippingTerm"] = term
        if "deliveryClass" in body:
            changes["deliveryClass"] = _int(op, "deliveryClass", body["deliveryClass"], 0, 8)
        m.update(changes)
        return {
            "MessageModelList": [
                _msg(op, "INFO", 1, "受注情報の更新に成功しました。", orderNumber=number)
            ]
        }

    # --- updateOrderSender ----------------------------------------------------------------------

    def _update_order_sender(self, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        # Reference (reference/rakuten-rms.md, Writing back to RMS): status 100/200/300;
        # PackageModelList[{basketId, postagePrice, deliveryPrice, SenderModel,
        # ItemModelList, …}]. The emulator changes the recipient (SenderModel) of each
        # package given and keeps the amounts and items as they are (a change of those,
        # re-authorisation and 400 変更確定待ち, is not emulated). Message codes other than
        # the success code are *(unconfirmed)*; the whole request is refused on the first
        # bad value, nothing applied.
        op = "UPDATE_ORDER_SENDER"
        number = _require(op, body, "orderNumber")
        packages = _require(op, body, "PackageModelList")
        if not isinstance(packages, list):
            raise _bad(op, 11, "PackageModelListの書式が不正です。")
        record = self._visible(number, now)
        if record is None:
            raise _bad(op, 101, "対象の注文が存在しません。")
        m = record.model
        if m["orderProgress"] not in _SENDER_PROGRESS:
            raise _bad(op, 103, "このステータスの注文は送付先を変更できません。")
        known = {p["basketId"]: p for p in m["PackageModelList"]}
        plan: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for package in packages:
            if not isinstance(package, dict) or package.get("basketId") not in known:
                raise _bad(op, 11, "basketIdの書式が不正です。")
            sender = package.get("SenderModel")
            error = _sender_error(sender)
            if error or not isinstance(sender, dict):
                raise _bad(op, 11, error or "SenderModelの書式が不正です。")
            plan.append((known[package["basketId"]], sender))
        for target, sender in plan:
            model = target["SenderModel"]
            for key in (*_SENDER_REQUIRED, *_SENDER_TEXT):
                if key in sender:
                    model[key] = sender[key]
        return {
            "MessageModelList": [
                _msg(op, "INFO", 1, "受注情報の更新に成功しました。", orderNumber=number)
            ]
        }


# updateOrderSender's SenderModel (reference/rakuten-rms.md, Writing back to RMS; the keys
# as public RMS clients name them, SenderModelToUpdate): zipCode1 3 digits, zipCode2 4
# digits, prefecture one of the 47, city and subAddress, familyName required; phone in
# three parts of digits, 10 or 11 in all. Lengths *(unconfirmed at Rakuten: RMS's order
# screen)*: names and kana 20 characters, city 40, subAddress 100.
_SENDER_TEXT = {"familyName": 20, "firstName": 20, "familyNameKana": 20,
                "firstNameKana": 20, "city": 40, "subAddress": 100}
_SENDER_REQUIRED = ("zipCode1", "zipCode2", "prefecture", "city", "subAddress", "familyName",
                    "phoneNumber1", "phoneNumber2", "phoneNumber3")
_SENDER_PROGRESS = (100, 200, 300)  # updateOrderSender; 500–700 take …AfterShipping


def _sender_error(sender: Any) -> str | None:
    """Why RMS does not take this SenderModel, in its words, or None."""
    from unyo.domain.edits import PREFECTURES

    if not isinstance(sender, dict):
        return "SenderModelの書式が不正です。"
    for key in _SENDER_REQUIRED:
        value = sender.get(key)
        if not isinstance(value, str) or not value:
            return f"SenderModel.{key}の値を指定して下さい。"
    for key, limit in _SENDER_TEXT.items():
        value = sender.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > limit
                                  or any(ord(ch) < 32 for ch in value)):
            return f"SenderModel.{key}の書式が不正です。"
    if not (sender["zipCode1"].isascii() and sender["zipCode1"].isdigit()
            and len(sender["zipCode1"]) == 3):
        return "SenderModel.zipCode1の書式が不正です。"
    if not (sender["zipCode2"].isascii() and sender["zipCode2"].isdigit()
            and len(sender["zipCode2"]) == 4):
        return "SenderModel.zipCode2の書式が不正です。"
    if sender["prefecture"] not in PREFECTURES:
        return "SenderModel.prefectureの書式が不正です。"
    phone = [sender[f"phoneNumber{i}"] for i in (1, 2, 3)]
    if not all(p.isascii() and p.isdigit() for p in phone) or \
            not 10 <= len("".join(phone)) <= 11:
        return "SenderModel.phoneNumberの書式が不正です。"
    return None


# Keys by the getOrder version that added them (RMS WEB SERVICE, 楽天ペイ受注API getOrder,
# request `version`: 6 顧客・配送対応注意表示詳細対応, 8 配送品質向上制度対応, 9 置き配対応,
# 10 ソーシャルギフト対応; reference/rakuten-rms.md). An older version's answer has none.
_ORDER_KEYS_SINCE = {"cautionDisplayDetailType": 6, "deliveryCertPrgFlag": 8,
                     "oneDayOperationFlag": 8, "socialGiftFlag": 10}
_PACKAGE_KEYS_SINCE = {"dropOffFlag": 9, "dropOffLocation": 9, "SocialGiftModel": 10}
# What they mean (the same source; the client's reading is unyo.adapters.rakuten.mapping):
# cautionDisplayType 0 表示なし / 1 表示あり 注意喚起 / 2 表示あり キャンセル確定, and
# cautionDisplayDetailType (only with 1, since 2021-10-13) 101 前払い未払いに注意,
# 102 受取拒否に注意, 103 長期不在による受取拒否に注意, 104 開梱後の返品に注意,
# 105 高いサービスレベルの要望に注意; oneDayOperationFlag 1 = 1営業日以内出荷の注文 (当日出荷);
# deliveryCertPrgFlag 1 = 最強翌日配送対象注文; dropOffFlag 1 = 置き配注文 with
# dropOffLocation (宅配ボックス, 玄関前...; null otherwise); DeliveryCvsModel (コンビニ・
# 郵便局受取: cvsCode 1 ファミリーマート, 20 ミニストップ, 50 ローソン, 60 郵便局 …, storeCode,
# storeName, storeZip, storePrefecture, storeAddress); socialGiftFlag 1 with
# SocialGiftModel {sgMngNumber, inputDueDate, inputFlag, inputCompDatetime,
# receiverEmailAddress}.


def _for_version(model: dict[str, Any], version: int) -> dict[str, Any]:
    """The OrderModel as getOrder of `version` answers it (the stored one is version 10)."""
    if version >= 10:
        return model
    out = {k: v for k, v in model.items() if _ORDER_KEYS_SINCE.get(k, 0) <= version}
    packages = model.get("PackageModelList")
    if isinstance(packages, list):
        out["PackageModelList"] = [
            {k: v for k, v in p.items() if _PACKAGE_KEYS_SINCE.get(k, 0) <= version}
            if isinstance(p, dict) else p for p in packages]
    return out


def _copy(value: Any) -> Any:
    """Deep copy of JSON-shaped data; several times faster than copy.deepcopy or JSON."""
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    if type(value) is list:
        return [_copy(v) for v in value]
    return value


class RawJson:
    """A value written into the answer verbatim: JSON that Python's encoder would not write
    but Rakuten's answer may hold (nesting past any recursion limit, odd number forms).
    Tests put it into an order's model to serve what no Python value can."""

    live = 0  # instances made: `_dump` looks for them only when there are any

    def __init__(self, text: str) -> None:
        self.text = text
        RawJson.live += 1


def _dump(payload: dict[str, Any]) -> bytes:
    raws: list[str] = []
    if RawJson.live:
        payload = _with_tokens(payload, raws)
    try:
        out = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: valid JSON only as an escape, as RMS sends it
        out = json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("utf-8")
    for i, text in enumerate(raws):
        out = out.replace(f'"\\u0001raw{i}\\u0001"'.encode(), text.encode("utf-8"), 1)
    return out


def _with_tokens(value: Any, raws: list[str]) -> Any:
    if isinstance(value, RawJson):
        raws.append(value.text)
        return f"\x01raw{len(raws) - 1}\x01"
    if type(value) is dict:
        return {k: _with_tokens(v, raws) for k, v in value.items()}
    if type(value) is list:
        return [_with_tokens(v, raws) for v in value]
    return value


# --- HTTP -------------------------------------------------------------------------------------

_API_PREFIX = "/es/2.0/order/"
_LICENSE_PATH = "/es/1.0/license-management/license-key/expiry-date"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the bench reuses connections
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle plus the
    # client's delayed ACK adds ~40 ms to every keep-alive answer.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no line per request
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _api_method(self) -> str | None:
        path = self.path.split("?", 1)[0]
        if not path.startswith(_API_PREFIX) or not path.endswith("/"):
            return None
        method = path[len(_API_PREFIX) : -1]
        return method if method in METHODS else None

    def do_POST(self) -> None:
        body = self._body()
        emulator = self.server.emulator
        method = self._api_method()
        path = self.path.split("?", 1)[0]
        if method is not None:
            status, payload = emulator.handle(method, body, self.headers.get("Authorization"))
            self._send(status, payload)
        elif path.startswith("/_sandbox/"):
            self._control(path, body)
        else:
            self._send(404, _dump({"error": "not found"}))

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == _LICENSE_PATH:
            query = urllib.parse.parse_qs(self.path.split("?", 1)[1] if "?" in self.path
                                          else "")
            status, payload = self.server.emulator.license_expiry(
                self.headers.get("Authorization"), next(iter(query.get("licenseKey") or ()), None))
            self._send(status, payload)
        elif path == "/_sandbox/stats":
            self._send(200, _dump(_stats(self.server.emulator)))
        elif self._api_method() is not None:
            self._send(405, _dump({"error": "method not allowed"}), {"Allow": "POST"})
        else:
            self._send(404, _dump({"error": "not found"}))

    def _other_verb(self) -> None:
        self._body()
        if self._api_method() is not None:
            self._send(405, _dump({"error": "method not allowed"}), {"Allow": "POST"})
        else:
            self._send(404, _dump({"error": "not found"}))

    do_PUT = do_DELETE = do_PATCH = _other_verb

    def _control(self, path: str, body: bytes) -> None:
        emulator = self.server.emulator
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise ValueError("a JSON object is required")
            if path == "/_sandbox/clock":
                answer = _set_clock(emulator, request)
            elif path == "/_sandbox/faults":
                answer = _set_faults(emulator, request)
            elif path == "/_sandbox/orders":
                answer = _add_orders(emulator, request)
            else:
                self._send(404, _dump({"error": "not found"}))
                return
        except (ValueError, TypeError, KeyError) as error:
            self._send(400, _dump({"error": str(error)}))
            return
        self._send(200, _dump(answer))


def _stats(emulator: RmsEmulator) -> dict[str, Any]:
    with emulator._lock:
        return {
            "now": emulator.clock.now().isoformat(),
            "calls": dict(emulator.calls),
            "progress": {str(k): v for k, v in emulator.progress_counts().items()},
            "orderCount": emulator.order_count(),
            "faults": asdict(emulator.faults),
        }


def _set_clock(emulator: RmsEmulator, request: dict[str, Any]) -> dict[str, Any]:
    """Switch to a settable clock; `now` sets it (forward only), `advance` moves it."""
    with emulator._lock:
        clock = emulator.clock
        if not isinstance(clock, SimClock):
            start = parse_instant(request["now"]) if "now" in request else clock.now()
            clock = emulator.clock = SimClock(start)
        if "now" in request:
            clock.set(parse_instant(request["now"]))
        if "advance" in request:
            clock.advance(float(request["advance"]))
        return {"now": clock.now().isoformat()}


def _set_faults(emulator: RmsEmulator, request: dict[str, Any]) -> dict[str, Any]:
    """Update the given FaultConfig fields; `{"reset": true}` clears all faults first."""
    known = {f.name for f in fields(FaultConfig)}
    unknown = set(request) - known - {"reset"}
    if unknown:
        raise ValueError(f"unknown fault fields: {sorted(unknown)}")
    with emulator._lock:
        values = {} if request.get("reset") else asdict(emulator.faults)
        values.update({k: v for k, v in request.items() if k in known})
        emulator.faults = FaultConfig(**values)
        return asdict(emulator.faults)


def _add_orders(emulator: RmsEmulator, request: dict[str, Any]) -> dict[str, Any]:
    count = int(request["count"])
    start = parse_instant(request["start"])
    end = parse_instant(request["end"])
    orders = generate_orders(
        count,
        seed=int(request.get("seed", 0)),
        start=start,
        end=end,
        shop_number=str(request.get("shopNumber", "123456")),
    )
    added = emulator.add_orders(orders)
    return {"added": added, "orderCount": emulator.order_count()}


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stuck (timeout-fault) request never blocks shutdown
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: RmsEmulator) -> None:
        super().__init__(address, _Handler)
        self.emulator = emulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout fault) leaves a broken pipe: expected, not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class RmsEmulatorServer:
    """The emulator on a real loopback HTTP port (0 = pick a free one)."""

    def __init__(self, emulator: RmsEmulator, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("server not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> RmsEmulatorServer:
        """Listen and serve in a daemon thread; returns once the socket accepts."""
        if self._server is not None:
            return self
        self._server = _Server((self._host, self._port), self.emulator)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="rms-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> RmsEmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve(host: str, port: int, emulator: RmsEmulator) -> None:
    """Serve until interrupted (the `unyo sandbox rms` command)."""
    server = _Server((host, port), emulator)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
