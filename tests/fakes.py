"""In-memory fake of the `OrderChannel` port, for app tests that need no HTTP."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from unyo.app.ports import ChannelUnavailable, ConfirmOutcome, FetchResult
from unyo.domain import ChannelOrder


class FakeChannel:
    def __init__(self, orders: Sequence[ChannelOrder] = ()) -> None:
        self.orders: dict[str, ChannelOrder] = {o.order_number: o for o in orders}
        self.calls: Counter[str] = Counter()
        self.broken: set[str] = set()  # numbers whose data cannot be read
        self.down = False
        self.fail_confirm: dict[str, ConfirmOutcome] = {}
        self.fetched: list[str] = []  # every number asked for, in order

    def put(self, order: ChannelOrder) -> None:
        self.orders[order.order_number] = order

    def search(self, start: datetime, end: datetime) -> list[str]:
        self.calls["searchOrder"] += 1
        if self.down:
            raise ChannelUnavailable("RMS is down")
        return [n for n, o in self.orders.items()
                if start <= o.ordered_at <= end and o.status in (100, 200, 300, 400)]

    def fetch(self, numbers: Sequence[str]) -> FetchResult:
        self.calls["getOrder"] += 1
        if self.down:
            raise ChannelUnavailable("RMS is down")
        self.fetched.extend(numbers)
        result = FetchResult()
        for n in numbers:
            if n in self.broken:
                result.failed[n] = "PackageModelList: missing"
            elif n in self.orders:
                result.orders.append(self.orders[n])
            else:
                result.missing.append(n)
        return result

    def confirm(self, numbers: Sequence[str]) -> dict[str, ConfirmOutcome]:
        self.calls["confirmOrder"] += 1
        if self.down:
            raise ChannelUnavailable("RMS is down")
        out = {}
        for n in numbers:
            if n in self.fail_confirm:
                out[n] = self.fail_confirm[n]
                continue
            o = self.orders[n]
            if o.status == 100:
                self.orders[n] = replace(o, status=200)
            out[n] = ConfirmOutcome(True, False, "INFO_101")
        return out
