"""A shop that packs itself prints a batch of 納品書 from the dashboard, in real Chromium
against uvicorn on loopback: the PDF downloaded and read back, printed again (再発行),
an order taken out of the batch."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdf
import pytest

from tests.web.conftest import PASSWORD, RULES, SHOP, number
from unyo.adapters.db import Store
from unyo.clock import SimClock
from unyo.domain import Stage
from unyo.flow import Config
from unyo.flow.warehouse import WarehouseSettings
from unyo.web import create_app
from unyo.web.server import BackgroundServer

READY = [number(6), number(7), number(8)]  # the seeded ready orders


@pytest.fixture
def url(store: Store, clock: SimClock, seeded: dict[str, str], tmp_path: Path) -> Iterator[str]:
    config = Config(shop_id=SHOP, shop_name="テスト店", shop_address="東京都千代田区1-1",
                    rules=RULES, warehouse=WarehouseSettings(
                        enabled=True, type="self", folder=str(tmp_path / "wh")))
    with BackgroundServer(create_app(store, config, clock)) as server:
        yield server.url


def pdf_pages(path: str) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(Path(path).read_bytes()))
    return [unicodedata.normalize("NFKC", p.extract_text()) for p in reader.pages]


def stage(store: Store, n: str) -> Stage:
    with store.transaction() as conn:
        order = store.load_order(conn, SHOP, n)
    assert order is not None
    return order.stage


def test_print_a_batch_download_it_print_it_again_and_take_an_order_out(
        browser: Any, url: str, store: Store):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP",
                                  accept_downloads=True)
    page = context.new_page()
    try:
        # given an operator on the print page, with the three ready orders waiting
        page.goto(url + "/batches")
        page.fill("input[name=user]", "suzuki")
        page.fill("input[name=password]", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url(url + "/batches")
        assert "出荷OKの注文: 3件" in page.inner_text("main")
        # when they print the ready orders
        page.click("text=出荷OKの注文を印刷")
        page.wait_for_url(url + "/batches/1?done=printed_now")
        assert all(stage(store, n) is Stage.at_warehouse for n in READY)
        with page.expect_download() as info:
            page.click(".outputs a")
        first = pdf_pages(info.value.path())
        # then the PDF has one slip per order, with its number, and no 再発行 mark
        assert len(first) == 3
        assert [next(n for n in READY if n in p) for p in first] == READY
        assert not any("再発行" in p for p in first) and "テスト店" in first[0]
        # when they print it again: the same slips, each marked 再発行
        page.click("button[name=reprint]")
        page.wait_for_url(url + "/batches/1?done=reprinted")
        with page.expect_download() as info:
            page.click(".outputs a")
        again = pdf_pages(info.value.path())
        assert [p.replace("再発行", "").split() for p in again] == [p.split() for p in first]
        assert all("再発行" in p for p in again)
        # when they take the first order out of the batch, it is ready again
        row = page.locator(f"tr[data-order='{READY[0]}']")
        row.locator("input[name=note]").fill("欠品のため")
        row.locator("button[name=take_out]").click()
        page.wait_for_url(url + "/batches/1?done=taken_out")
        assert stage(store, READY[0]) is Stage.ready
        assert "外しました（suzuki）" in page.locator(f"tr[data-order='{READY[0]}']").inner_text()
        assert "出荷OKの注文: 1件" in page.inner_text("main")
    finally:
        context.close()
