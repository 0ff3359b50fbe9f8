"""A shop with the CSV warehouse in a temporary folder, on a simulated clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.factories import T0, channel_order
from tests.fakes import FakeChannel
from unyo.adapters.db import Store
from unyo.adapters.warehouse import CsvFolderWarehouse
from unyo.app.context import ShopContext
from unyo.app.ports import ConfirmOutcome
from unyo.clock import SimClock
from unyo.domain import ImportOrder, Order, Stage, decide
from unyo.flow import Config
from unyo.flow.warehouse import WarehouseSettings


class ShopChannel(FakeChannel):
    """RMS as the shop's orders are: the hand-off reads the ready orders once more; the
    results import never calls it. Searches and confirms are not used here."""

    def search(self, start: datetime, end: datetime) -> list[str]:
        raise AssertionError("not used")

    def confirm(self, numbers: Sequence[str]) -> dict[str, ConfirmOutcome]:
        raise AssertionError("not used")


class Shop:
    def __init__(self, store: Store, folder: Path, encoding: str = "cp932") -> None:
        self.clock = SimClock(T0)
        self.settings = WarehouseSettings(enabled=True, folder=str(folder), encoding=encoding,
                                          settle=0.0)
        self.warehouse = CsvFolderWarehouse(self.settings, self.clock, "shop")
        self.warehouse.ensure_folders()
        self.channel = ShopChannel()
        self.ctx = ShopContext(config=Config(shop_id="shop", warehouse=self.settings),
                               store=store, channel=self.channel, clock=self.clock,
                               warehouse=self.warehouse)
        self.folder = folder
        self._n = 0

    def add_ready(self, n: int = 1, **kw: Any) -> list[str]:
        decisions = []
        for _ in range(n):
            self._n += 1
            number = f"123456-20261127-{self._n:010d}"
            channel = channel_order(number, status=300, confirmed_at=T0, **kw)
            d = decide(None, ImportOrder("shop", channel, T0, confirm=False,
                                         thanks_mail=False))
            assert d.order.stage is Stage.ready
            self.channel.put(channel)
            decisions.append(d)
        with self.ctx.store.transaction() as conn:
            self.ctx.store.create_orders(conn, decisions, T0)
        return [d.order.number for d in decisions]

    def order(self, number: str) -> Order:
        with self.ctx.store.transaction() as conn:
            order = self.ctx.store.load_order(conn, "shop", number)
        assert order is not None
        return order

    def effects(self, number: str) -> dict[str, str]:
        with self.ctx.store.transaction() as conn:
            rows = self.ctx.store.effects_of(conn, self.order(number).id or 0)
        return {r.kind.value: r.status for r in rows}

    def request_files(self) -> list[Path]:
        return sorted(p for p in (self.folder / "requests").iterdir()
                      if p.name.startswith("unyo-") and not p.name.startswith("unyo-cancel"))

    def drop_result(self, name: str, rows: list[list[str]], encoding: str = "cp932") -> Path:
        header = ["受注番号", "送付先ID", "配送会社", "追跡番号", "出荷日", "出荷ステータス"]
        text = "\r\n".join(",".join(r) for r in [header, *rows]) + "\r\n"
        path = self.folder / "results" / name
        path.write_bytes(text.encode(encoding))
        return path


@pytest.fixture
def shop(store: Store, tmp_path: Path) -> Shop:
    return Shop(store, tmp_path / "wh")

