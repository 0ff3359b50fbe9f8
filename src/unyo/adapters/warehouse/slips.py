"""納品書 (packing slips) as one A4 PDF per print batch, for shops that pack themselves.

The slips are HTML from a Jinja2 template — the shipped `templates/slip.html.j2`, or
the shop's own file (`invoice.template`) — printed by Chromium
(`unyo.diagram.pdf.html_to_pdf`). Buyer text is hostile: the template runs in Jinja's
sandbox with autoescape on, so a name or a remark is shown as text and never becomes
markup; the document's Content-Security-Policy allows no script and no fetch, only
inline styles and `data:` images (the logo is embedded). Japanese text is set in the
IPAex / IPA fonts (fonts-ipaexfont), which Chromium embeds as subsets.

`SlipPrinter.load()` compiles the template and renders it against sample slips, so a
syntax error or a misspelt variable is reported when unyo starts, never at print time.
"""

from __future__ import annotations

import base64
import mimetypes
from dataclasses import dataclass, replace
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from unyo.clock import JST
from unyo.diagram.pdf import html_to_pdf
from unyo.domain import (
    Address,
    Amounts,
    ChannelOrder,
    Item,
    Order,
    OrderType,
    Package,
    Payment,
    Person,
    Stage,
)
from unyo.domain.slips import BatchOutput, slips
from unyo.flow import Config
from unyo.flow.invoice import InvoiceSettings

__all__ = ["SlipPrinter", "SlipTemplateError", "default_template", "sample_slips"]

_WEEKDAYS = "月火水木金土日"
_LOGO_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"}
MAX_LOGO_BYTES = 2 * 1024 * 1024


class SlipTemplateError(Exception):
    """The template or the logo cannot be used; `problems` lists each as 'where: message'."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _yen(value: Any) -> str:
    if value is None:
        return "未確定"
    return f"{value:,}円" if isinstance(value, int) else str(value)


def _date_ja(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(JST).date()
    return f"{value.year}年{value.month}月{value.day}日（{_WEEKDAYS[value.weekday()]}）"


def _datetime_ja(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(JST)
    return f"{_date_ja(local)} {local:%H:%M}"


def _time_slot(term: Any) -> str:
    """RMS shippingTerm in words: 0 none, 1 午前, 2 午後, or 'h1h2' like 1416."""
    t = str(term or "").strip()
    if t in ("", "0"):
        return ""
    if t == "1":
        return "午前中"
    if t == "2":
        return "午後"
    if len(t) == 4 and t.isdigit():
        return f"{int(t[:2])}時〜{int(t[2:])}時"
    return "時間指定あり"


def _ns(value: Any) -> Any:
    """Slip data as attribute objects (so `s.items` is the items, not `dict.items`)."""
    if isinstance(value, dict):
        return SimpleNamespace(**{k: _ns(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_ns(v) for v in value]
    return value


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                               lstrip_blocks=True)
    env.filters.update(yen=_yen, date_ja=_date_ja, datetime_ja=_datetime_ja,
                       time_slot=_time_slot)
    return env


def default_template() -> str:
    return (resources.files("unyo.adapters.warehouse") / "templates" / "slip.html.j2") \
        .read_text(encoding="utf-8")


def _logo(path: str) -> str:
    """The logo file as a data: URI (the document fetches nothing)."""
    p = Path(path)
    kind = mimetypes.guess_type(p.name)[0] or ""
    if kind not in _LOGO_TYPES:
        raise ValueError("use a PNG, JPEG, GIF, WebP or SVG image")
    data = p.read_bytes()
    if len(data) > MAX_LOGO_BYTES:
        raise ValueError(f"larger than {MAX_LOGO_BYTES // 1024 // 1024} MiB")
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


@dataclass(frozen=True)
class ShopInfo:
    name: str
    address: str = ""
    phone: str = ""
    email: str = ""
    logo: str = ""  # a data: URI
    registration_number: str = ""


class SlipPrinter:
    """A shop's compiled 納品書 template and its details, checked against sample slips."""

    def __init__(self, template: Template, shop: ShopInfo, invoice: InvoiceSettings) -> None:
        self._template = template
        self.shop = shop
        self.invoice = invoice

    @classmethod
    def load(cls, config: Config) -> SlipPrinter:
        """Compile and check the template and read the logo; SlipTemplateError lists
        every problem."""
        inv = config.invoice
        problems: list[str] = []
        where = inv.template or "(shipped 納品書 template)"
        template: Template | None = None
        try:
            source = Path(inv.template).read_text(encoding="utf-8") if inv.template \
                else default_template()
            template = _environment().from_string(source)
        except (OSError, UnicodeDecodeError) as e:
            problems.append(f"{where}: invoice.template: cannot read it ({e})")
        except TemplateSyntaxError as e:
            problems.append(f"{where}:{e.lineno}: invoice.template: {e.message}")
        logo = ""
        if config.shop_logo:
            try:
                logo = _logo(config.shop_logo)
            except (OSError, ValueError) as e:
                problems.append(f"{config.shop_logo}: shop.logo: {e}")
        shop = ShopInfo(config.shop_name or config.shop_id, config.shop_address,
                        config.shop_phone, config.shop_email, logo, inv.registration_number)
        if template is not None:
            printer = cls(template, shop, inv)
            for reissue in (False, True):
                try:
                    printer.html(sample_slips(), batch=1, reissue=reissue,
                                 printed_at=datetime(2026, 11, 28, 9, 0, tzinfo=JST))
                except Exception as e:  # a template can fail in any way: report it
                    problems.append(f"{where}: invoice.template: {e} (with the sample slips)")
                    break
        if problems:
            raise SlipTemplateError(problems)
        return printer

    def html(self, slips: list[dict[str, Any]], *, batch: int, reissue: bool,
             printed_at: datetime) -> str:
        s = self.shop
        return self._template.render(
            shop=SimpleNamespace(name=s.name, address=s.address, phone=s.phone, email=s.email,
                                 logo=s.logo, registration_number=s.registration_number),
            title=self.invoice.title, message=self.invoice.message, reissue=reissue,
            batch=batch, printed_at=printed_at.astimezone(JST), slips=_ns(slips))

    def outputs(self, slips: list[dict[str, Any]], *, batch: int, reissue: bool,
                printed_at: datetime) -> list[BatchOutput]:
        """The batch's files: the 納品書 PDF (PdfUnavailable without Chromium)."""
        pdf = html_to_pdf(self.html(slips, batch=batch, reissue=reissue,
                                    printed_at=printed_at))
        stamp = printed_at.astimezone(JST).strftime("%Y%m%d-%H%M")
        suffix = "-再発行" if reissue else ""
        return [BatchOutput(f"納品書-{batch}-{stamp}{suffix}.pdf", "application/pdf", pdf)]


def sample_slips() -> list[dict[str, Any]]:
    """Slips that take every branch of the shipped template: prices and tax by rate, a
    reduced-rate item, cash on delivery, a second destination, a gift without prices."""
    buyer = Person("楽天", "太郎", "ラクテン", "タロウ", "03-0000-0000",
                   Address("1580094", "東京都", "世田谷区", "玉川一丁目14番1号"))
    friend = replace(buyer, family_name="佐藤", first_name="花子")
    tea = Item(1, "tea-001", "tea-001", "静岡県産 深蒸し煎茶 100g", 1080, 2, 0.08,
               "パッケージ:ギフト箱\nのし:不要", sku="tea-001-gift")
    cup = Item(2, "cup-01", "cup-01", "有田焼 湯呑み", 1500, 1, 0.1)
    one = Package(10001, buyer, (tea, cup), 3660, 660, 330, 4650)
    two = Package(10002, friend, (cup,), 1500, 660, 0, 2160, noshi="御歳暮")
    channel = ChannelOrder(
        order_number="123456-20261127-0000000001", status=300,
        ordered_at=datetime(2026, 11, 27, 10, 30, tzinfo=JST), order_type=OrderType.normal,
        member=True, next_day=False, next_day_cert=False, buyer=buyer,
        payment=Payment(2, "代金引換", False),
        amounts=Amounts(5160, 1320, 330, 0, 6810, 6510, coupon=100, points_used=200),
        packages=(one, two), delivery_name="宅配便", shipping_term="1416",
        requested_delivery_date=date(2026, 11, 30))
    order = Order(shop="sample", channel=channel, stage=Stage.ready)
    gift = order.with_(channel=replace(channel, gift=True, packages=(two,)))
    return [*slips(order), *slips(gift)]
