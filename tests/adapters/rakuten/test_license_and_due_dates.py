"""The RMS license management API (client against the emulator over real HTTP), and the
money watch's dates in getOrder (DueDateModelList, cancelDueDate): read, stored, and
never a reason to refuse an order (issue 17, item 6)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.adapters.rakuten.rms_samples import order_model
from unyo.adapters.db.codec import channel_from_json, channel_to_json
from unyo.adapters.rakuten import RmsAuthError, RmsClient, channel_order_from_rms
from unyo.adapters.rakuten.channel import RakutenChannel
from unyo.clock import JST, SimClock
from unyo.sandbox import RmsEmulator, RmsEmulatorServer

DAY = datetime(2026, 11, 26, 10, 0, tzinfo=JST)


class Sandbox:
    def __init__(self) -> None:
        self.clock = SimClock(DAY)
        self.rms = RmsEmulator(self.clock, service_secret="SP-s", license_key="SL-k")
        self.server = RmsEmulatorServer(self.rms).start()
        self.http = httpx.Client(timeout=5)

    def client(self, key: str = "SL-k") -> RmsClient:
        return RmsClient(self.http, base_url=self.server.base_url, service_secret="SP-s",
                         license_key=key, clock=self.clock, min_interval=0)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    s = Sandbox()
    yield s
    s.http.close()
    s.server.stop()


def test_the_license_expiry_is_read_as_jst_and_a_new_key_is_seen(sandbox: Sandbox):
    client = sandbox.client()
    assert client.get_license_expiry_date() == datetime(2027, 2, 24, 23, 59, 59, tzinfo=JST)
    sandbox.rms.license_expires_at = datetime(2027, 5, 1, 23, 59, 59, tzinfo=JST)
    assert RakutenChannel(client).license_expiry() == date(2027, 5, 1)
    assert client.calls["getLicenseExpiryDate"] == 2


def test_a_key_without_the_license_api_reads_as_unknown_and_a_wrong_key_is_refused(
        sandbox: Sandbox):
    sandbox.rms.license_api_enabled = False
    assert RakutenChannel(sandbox.client()).license_expiry() is None
    wrong = sandbox.client("SL-wrong")
    with pytest.raises(RmsAuthError, match="getLicenseExpiryDate: HTTP 401") as raised:
        wrong.get_license_expiry_date()
    assert "SL-wrong" not in str(raised.value)


def test_an_answer_without_expiry_date_is_malformed():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "GET" and request.url.params["licenseKey"] == "SL-k"
        assert request.headers["Authorization"].startswith("ESA ")
        return httpx.Response(200, json={"expiryDate": "soon"})

    client = RmsClient(httpx.Client(transport=httpx.MockTransport(handler)),
                       base_url="http://rms.test", service_secret="SP-s", license_key="SL-k",
                       clock=SimClock(DAY), min_interval=0)
    with pytest.raises(Exception, match="expiryDate is missing or not a date"):
        client.get_license_expiry_date()


def test_due_dates_and_cancel_due_date_are_mapped_and_stored():
    model = order_model(DueDateModelList=[{"dueDateType": 1, "dueDate": "2026-12-03"},
                                          {"dueDateType": 2, "dueDate": "2026-12-01"}],
                        cancelDueDate="2026-12-10")
    order = channel_order_from_rms(model)
    assert order.due_dates == (date(2026, 12, 1), date(2026, 12, 3))
    assert order.cancel_due == date(2026, 12, 10)
    back = channel_from_json(channel_to_json(order))
    assert (back.due_dates, back.cancel_due) == (order.due_dates, order.cancel_due)
    plain = channel_order_from_rms(order_model(DueDateModelList=[], cancelDueDate=None))
    assert (plain.due_dates, plain.cancel_due) == ((), None)


junk: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.integers(), st.text(max_size=12), st.dates().map(date.isoformat),
    st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=5),
                       st.fixed_dictionaries({"dueDate": st.one_of(
                           st.none(), st.integers(), st.text(max_size=12),
                           st.dates().map(date.isoformat))})), max_size=4))


@given(junk, junk)
def test_unreadable_money_dates_never_refuse_an_order(dues: Any, cancel_due: Any):
    order = channel_order_from_rms(order_model(DueDateModelList=dues, cancelDueDate=cancel_due))
    assert all(isinstance(d, date) and 2000 <= d.year <= 2199 for d in order.due_dates)
    assert list(order.due_dates) == sorted(set(order.due_dates))
    assert order.cancel_due is None or isinstance(order.cancel_due, date)
    if isinstance(cancel_due, str) and len(cancel_due) == 10:
        try:
            expected = date.fromisoformat(cancel_due)
        except ValueError:
            expected = None
        if expected is not None and 2000 <= expected.year <= 2199:
            assert order.cancel_due == expected


def test_the_key_in_the_license_api_query_is_masked_in_httpx_logs(
        sandbox: Sandbox, caplog: pytest.LogCaptureFixture):
    caplog.set_level("INFO", logger="httpx")
    sandbox.client().get_license_expiry_date()
    assert "expiry-date?licenseKey=***" in caplog.text and "SL-k" not in caplog.text
