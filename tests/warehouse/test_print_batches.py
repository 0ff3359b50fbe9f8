"""Print batches of a shop that packs itself (warehouse.type: self), on a real SQLite
store; the 納品書 PDF printed by real Chromium and read back with pypdf."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pypdf
import pytest

from tests.factories import BUYER, T0
from tests.warehouse.conftest import Shop
from unyo.adapters.db import Store
from unyo.adapters.warehouse.slips import SlipPrinter
from unyo.app.batches import (
    BatchError,
    Printing,
    batch_outputs,
    print_batch,
    reprint_batch,
    take_out,
)
from unyo.app.warehouse import hand_off_orders, import_results
from unyo.domain import EffectKind, Item, Package, Stage, TakeOutOfBatch, decide
from unyo.domain.slips import BatchOutput
from unyo.flow import Config
from unyo.flow.invoice import InvoiceSettings

TEA = Item(1, "tea-001", "tea-001", "深蒸し煎茶 100g", 1080, 2, 0.08, "袋:ギフト", sku="tea-g")
CUP = Item(2, "cup-01", "cup-01", "有田焼 湯呑み", 1500, 1, 0.1)


class HtmlSlips:
    """The real template without Chromium: the batch's 'PDF' is its HTML (for the
    batch logic; the PDF tests below use `SlipPrinter` itself)."""

    def __init__(self, config: Config) -> None:
        self.printer = SlipPrinter.load(config)

    def outputs(self, slips: list[dict[str, Any]], *, batch: int, reissue: bool,
                printed_at: datetime) -> list[BatchOutput]:
        html = self.printer.html(slips, batch=batch, reissue=reissue, printed_at=printed_at)
        return [BatchOutput(f"{batch}.html", "text/html", html.encode())]


def self_shop(store: Store, tmp_path: Path, **invoice: Any) -> Shop:
    shop = Shop(store, tmp_path / "wh")
    shop.settings = replace(shop.settings, type="self")
    shop.ctx.config = Config(shop_id="shop", shop_name="テスト茶舗", shop_address="静岡県静岡市1-2",
                             shop_phone="054-000-0000", warehouse=shop.settings,
                             invoice=InvoiceSettings(**invoice))
    return shop


def mixed(**kw: Any) -> dict[str, Any]:
    """Two rates, postage, 代引料, a coupon and points: the amounts add up."""
    pkg = Package(10001, BUYER, (TEA, CUP), 3660, 660, 330, 4650)
    from unyo.domain import Amounts, Payment
    return {"packages": (pkg,), "payment": Payment(2, "代金引換", False),
            "amounts": Amounts(3660, 660, 330, 0, 4650, 4350, coupon=100, points_used=200),
            **kw}


def pdf_text(content: bytes) -> tuple[pypdf.PdfReader, list[str]]:
    reader = pypdf.PdfReader(io.BytesIO(content))
    # IPA fonts map some ideographs to Kangxi radicals in the PDF's text: NFKC reads them
    return reader, [unicodedata.normalize("NFKC", p.extract_text()) for p in reader.pages]


def test_self_hand_off_writes_no_request_file_and_leaves_ready_orders(store: Store,
                                                                      tmp_path: Path):
    shop = self_shop(store, tmp_path)
    [number] = shop.add_ready(1)
    result = hand_off_orders(shop.ctx)
    assert result.handed_off == 0 and result.batches == []
    assert shop.order(number).stage is Stage.ready
    assert shop.request_files() == []


def test_a_batch_makes_the_orders_printed_with_no_warehouse_request(store: Store,
                                                                    tmp_path: Path):
    shop = self_shop(store, tmp_path)
    numbers = shop.add_ready(3)
    result = print_batch(Printing.of(shop.ctx), HtmlSlips(shop.ctx.config), by="yamada")
    assert result.batch is not None and result.orders == numbers and result.slips == 3
    assert not result.reissue and result.outputs[0].name.endswith(".html")
    for n in numbers:
        order = shop.order(n)
        assert order.stage is Stage.at_warehouse
        assert EffectKind.hand_off_to_warehouse.value not in shop.effects(n)
    assert shop.request_files() == []
    assert print_batch(Printing.of(shop.ctx), HtmlSlips(shop.ctx.config), by="yamada").batch is None
    assert batch_outputs(Printing.of(shop.ctx), result.batch) == result.outputs  # kept to download


def test_a_printed_order_ships_by_the_result_file(store: Store, tmp_path: Path):
    shop = self_shop(store, tmp_path)
    [number] = shop.add_ready(1)
    print_batch(Printing.of(shop.ctx), HtmlSlips(shop.ctx.config), by="yamada")
    shop.drop_result("r.csv", [[number, "10001", "ヤマト運輸", "1234-5678-9012", "2026/11/27", ""]])
    assert import_results(shop.ctx).shipped_packages == 1
    assert shop.order(number).stage is Stage.shipped


def test_only_a_self_shop_prints(store: Store, tmp_path: Path):
    shop = Shop(store, tmp_path / "wh")
    shop.add_ready(1)
    with pytest.raises(BatchError, match="自社出荷"):
        print_batch(Printing.of(shop.ctx), HtmlSlips(shop.ctx.config), by="yamada")


def test_an_order_taken_out_goes_back_to_ready_and_into_the_next_batch(store: Store,
                                                                        tmp_path: Path):
    shop = self_shop(store, tmp_path)
    a, b = shop.add_ready(2)
    printer = HtmlSlips(shop.ctx.config)
    first = print_batch(Printing.of(shop.ctx), printer, by="yamada")
    assert first.batch is not None
    order = take_out(Printing.of(shop.ctx), first.batch, a, by="suzuki", note="欠品")
    assert order.stage is Stage.ready and shop.order(a).stage is Stage.ready
    with pytest.raises(BatchError, match="入っていません"):
        take_out(Printing.of(shop.ctx), first.batch, a, by="suzuki")
    again = reprint_batch(Printing.of(shop.ctx), printer, first.batch, by="yamada")
    assert again.orders == [b] and again.slips == 1
    assert a not in again.outputs[0].content.decode()
    second = print_batch(Printing.of(shop.ctx), printer, by="yamada")
    assert second.orders == [a] and second.batch != first.batch


def test_an_order_handed_to_a_wms_cannot_be_taken_out_of_a_batch(store: Store,
                                                                 tmp_path: Path):
    shop = Shop(store, tmp_path / "wh")
    [number] = shop.add_ready(1)
    hand_off_orders(shop.ctx)
    order = shop.order(number)
    assert order.stage is Stage.at_warehouse
    with pytest.raises(Exception, match="not in print batch"):
        decide(order, TakeOutOfBatch(1, T0, "suzuki"))
    with pytest.raises(BatchError, match="入っていません"):
        take_out(Printing.of(shop.ctx), 1, number, by="suzuki")


def test_a_shipped_order_cannot_be_taken_out(store: Store, tmp_path: Path):
    shop = self_shop(store, tmp_path)
    [number] = shop.add_ready(1)
    batch = print_batch(Printing.of(shop.ctx), HtmlSlips(shop.ctx.config), by="yamada").batch
    assert batch is not None
    shop.drop_result("r.csv", [[number, "10001", "ヤマト運輸", "1234-5678-9012", "2026/11/27", ""]])
    import_results(shop.ctx)
    with pytest.raises(BatchError, match="外せません"):
        take_out(Printing.of(shop.ctx), batch, number, by="suzuki")


def test_hostile_buyer_text_is_shown_as_text(store: Store, tmp_path: Path):
    shop = self_shop(store, tmp_path)
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    recipient = replace(BUYER, family_name=evil, first_name="&amp;")
    item = replace(CUP, name='"><iframe src=//x>', selected_choice="</style><b>x</b>")
    pkg = Package(10001, recipient, (item,), 1500, 0, 0, 1500)
    shop.add_ready(1, packages=(pkg,), buyer=recipient)
    result = print_batch(Printing.of(shop.ctx), HtmlSlips(shop.ctx.config), by="y")
    html = result.outputs[0].content.decode()
    assert "<script" not in html and "<iframe" not in html and "<img src=x" not in html
    assert "</style><b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&amp;amp;" in html


def _fonts(reader: pypdf.PdfReader) -> list[tuple[str, bool]]:
    """Every font of every page: its name and whether its program is in the file."""
    found = []
    for page in reader.pages:
        fonts = page["/Resources"].get_object().get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            desc = font.get("/FontDescriptor")
            if desc is None and "/DescendantFonts" in font:
                desc = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            desc = desc.get_object() if desc is not None else {}
            found.append((str(font.get("/BaseFont")),
                          any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3"))))
    return found


def test_the_pdf_has_a_page_per_slip_the_order_amounts_and_tax_by_rate(store: Store,
                                                                       tmp_path: Path):
    shop = self_shop(store, tmp_path, registration_number="T1234567890123")
    mixed_number, plain = shop.add_ready(1, **mixed()) + shop.add_ready(1)
    printer = SlipPrinter.load(shop.ctx.config)
    result = print_batch(Printing.of(shop.ctx), printer, by="yamada")
    [pdf] = result.outputs
    assert pdf.media_type == "application/pdf" and pdf.name.endswith(".pdf")
    reader, pages = pdf_text(pdf.content)
    assert len(reader.pages) == 2
    first, second = pages
    assert mixed_number in first and plain in second
    assert "テスト茶舗" in first and "静岡県静岡市1-2" in first and "054-000-0000" in first
    assert "髙橋 花子 様" in first  # the recipient, with a cp932 extension character
    # the order's amounts, as RMS gave them
    for label, value in (("商品合計", "3,660円"), ("送料", "660円"), ("代引手数料", "330円"),
                         ("合計", "4,650円"), ("クーポン利用", "-100円"),
                         ("ポイント利用", "-200円"), ("ご請求額", "4,350円")):
        assert f"{label} {value}" in first, label
    # items with SKU, options, units and prices
    assert "深蒸し煎茶 100g" in first and "tea-g" in first and "袋:ギフト" in first
    assert "2 1,080円 2,160円" in first
    # tax by rate: 10 % on the cup, postage and 代引料 (1,500 + 660 + 330), 8 % on the tea
    assert "10%対象 2,490円(内消費税 226円)" in first
    assert "8%対象 2,160円(内消費税 160円)" in first
    assert "軽減税率" in first and "登録番号 T1234567890123" in first and "適格簡易請求書" in first
    # the plain order: its one item at 8 %, nothing at 10 %
    assert "8%対象 3,980円(内消費税 294円)" in second and "10%対象" not in second
    fonts = _fonts(reader)
    assert fonts and all(embedded for _, embedded in fonts), fonts
    assert any("IPAex" in name or "IPA" in name for name, _ in fonts)


def test_a_reprint_is_the_same_slips_marked_reissued(store: Store, tmp_path: Path):
    shop = self_shop(store, tmp_path)
    shop.add_ready(2, **mixed())
    printer = SlipPrinter.load(shop.ctx.config)
    first = print_batch(Printing.of(shop.ctx), printer, by="yamada")
    assert first.batch is not None
    _, before = pdf_text(first.outputs[0].content)
    assert not any("再発行" in p for p in before)
    again = reprint_batch(Printing.of(shop.ctx), printer, first.batch, by="suzuki")
    assert again.reissue and again.outputs[0].name.endswith("-再発行.pdf")
    _, after = pdf_text(again.outputs[0].content)
    assert len(after) == len(before)
    assert all(p.count("再発行") == 1 for p in after)
    assert [p.replace("再発行", "").split() for p in after] == [p.split() for p in before]
    assert batch_outputs(Printing.of(shop.ctx), first.batch) == again.outputs  # the latest is kept


def test_an_order_cancelled_at_rms_after_printing_is_checked_and_taken_out(store: Store,
                                                                           tmp_path: Path):
    from unyo.app.syncing import SyncResult, read_orders
    from unyo.domain import GateKind

    shop = self_shop(store, tmp_path)
    [number] = shop.add_ready(1)
    batch = print_batch(Printing.of(shop.ctx), HtmlSlips(shop.ctx.config), by="y").batch
    assert batch is not None
    shop.channel.put(replace(shop.channel.orders[number], status=900))
    read_orders(shop.ctx, [number], SyncResult())
    order = shop.order(number)
    assert order.stage is Stage.at_warehouse
    assert [g.reason for g in order.open_gates if g.kind is GateKind.check] == [
        "倉庫連携後にキャンセルされました"]
    # no WMS to tell: the cancel request is settled without a file
    assert hand_off_orders(shop.ctx).cancels == 1
    assert shop.effects(number)["cancel_at_warehouse"] == "done"
    assert not list((tmp_path / "wh" / "requests").iterdir())
    # taken out, it waits in 受注処理 for the person to finish it
    assert take_out(Printing.of(shop.ctx), batch, number, by="y").stage is Stage.processing


def test_a_batch_prints_only_the_orders_asked_for(store: Store, tmp_path: Path):
    shop = self_shop(store, tmp_path)
    a, b = shop.add_ready(2)
    result = print_batch(Printing.of(shop.ctx), HtmlSlips(shop.ctx.config), by="y",
                         numbers=[b, "123456-20261127-9999999999"])
    assert result.orders == [b]
    assert result.skipped == {"123456-20261127-9999999999": "出荷OKではありません"}
    assert shop.order(a).stage is Stage.ready
