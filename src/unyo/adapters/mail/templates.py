"""Mail templates: Jinja2, plain text, Japanese; shipped defaults and the shop's own files.

A template is the whole mail as text: its first line is `Subject: …` (or `件名: …`),
the rest is the body. Autoescape is off (this is text, not HTML); instead every
piece of buyer text reaches the template as one clean line (control characters and
line breaks replaced), so a name or a choice text can neither add lines nor
headers. Templates run in Jinja's sandbox with undefined names as errors.

`MailTemplates.load()` compiles every enabled template and renders it against
sample orders (card, cash on delivery, bank transfer, after-pay, several
destinations with shipments), so a missing file, a syntax error or a misspelt
variable is reported when unyo starts, never at send time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from unyo.adapters.mail.carriers import carrier_name, tracking_url
from unyo.domain import (
    NOT_FIXED,
    Address,
    Amounts,
    ChannelOrder,
    Item,
    MailKind,
    Order,
    OrderType,
    Package,
    Payment,
    Person,
    PickupStore,
    Shipment,
    SocialGift,
    Stage,
)
from unyo.flow.mail import MailKindSettings, MailSettings

JST = timezone(timedelta(hours=9), "JST")
_SUBJECT = re.compile(r"^(?:Subject|件名)\s*[:：]\s*(.*)$")
_WEEKDAYS = "月火水木金土日"
# Unicode categories Cc (C0, DEL, C1), Zl and Zp, and white space (\s is str.isspace)
_BREAKS_AND_SPACES = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\s]+")


class MailTemplateError(Exception):
    """Templates that cannot be used; `problems` lists each as 'where: message'."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class RenderedMail:
    subject: str
    body: str


def one_line(text: object, limit: int = 200) -> str:
    """Buyer text as one line: control and line-break characters (Unicode Cc, Zl, Zp)
    become spaces, and every run of white space one space."""
    s = str(text or "")
    # printable text has no white space but " " (str.isprintable): most text is one line
    if s.isprintable() and "  " not in s and s[:1] != " " and s[-1:] != " ":
        return s[:limit]
    return _BREAKS_AND_SPACES.sub(" ", s).strip()[:limit]


def yen(value: int | None) -> str:
    if value is None or value == NOT_FIXED:
        return "未確定（確定後にご連絡いたします）"
    return f"{value:,}円"


def date_ja(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(JST).date()
    return f"{value.year}年{value.month}月{value.day}日（{_WEEKDAYS[value.weekday()]}）"


def datetime_ja(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(JST)
    return f"{date_ja(local)} {local:%H:%M}"


def delivery_time(term: str) -> str:
    """RMS shippingTerm in words: 0 none, 1 午前, 2 午後, 9 other, or 'h1h2' like 1416."""
    term = (term or "").strip()
    if term in ("", "0"):
        return ""
    if term == "1":
        return "午前中"
    if term == "2":
        return "午後"
    if len(term) == 4 and term.isdigit():
        return f"{int(term[:2])}時〜{int(term[2:])}時"
    return "指定あり"


def payment_kind(code: int) -> str:
    """settlementMethodCode as the variant the templates speak about."""
    return {1: "card", 12: "card", 17: "card", 2: "cod", 9: "bank", 13: "prepay",
            14: "prepay", 21: "afterpay", 7: "invoice", 8: "points"}.get(code, "other")


def mail_context(order: Order, shop_name: str) -> dict[str, Any]:
    """What a template sees: plain values, buyer text already one-lined. Attribute objects,
    not dicts, so `p.items` is the items and not `dict.items`."""
    c = order.channel
    ns = SimpleNamespace

    def person(p: Person) -> SimpleNamespace:
        a = p.address
        zip_ = a.postal_code
        return ns(name=one_line(p.name), family_name=one_line(p.family_name),
                  first_name=one_line(p.first_name),
                  postal_code=f"{zip_[:3]}-{zip_[3:]}" if len(zip_) == 7 else one_line(zip_),
                  address=one_line(f"{a.prefecture}{a.city}{a.sub_address}"),
                  phone=one_line(p.phone))

    packages = []
    for p in c.packages:
        # 同梱: the parcel also holds the items of the orders merged into this one
        carried = p.items + tuple(i for m in order.merged for i in m.items)
        items = [ns(name=one_line(i.name), choice=one_line(i.selected_choice.replace(
                    "\n", " / ")), item_number=one_line(i.item_number), price=i.price,
                    units=i.units, subtotal=i.price * i.units,
                    delivery_info=one_line(i.delivery_info)) for i in carried]
        shipments = [ns(carrier_code=s.carrier_code, carrier=carrier_name(s.carrier_code),
                        tracking_number=one_line(s.tracking_number, 40),
                        tracking_url=tracking_url(s.carrier_code, s.tracking_number),
                        ship_date=s.ship_date) for s in p.shipments]
        store = p.pickup_store  # コンビニ受取: the parcel goes to the store, not home
        packages.append(ns(recipient=person(p.recipient), items=items,
                           goods=p.goods_price, postage=p.postage_price,
                           delivery=p.delivery_price, total=p.total_price,
                           noshi=one_line(p.noshi), shipments=shipments,
                           store=None if store is None else ns(
                               chain=one_line(store.chain), name=one_line(store.name),
                               code=one_line(store.store_code),
                               postal_code=f"{store.postal_code[:3]}-{store.postal_code[3:]}"
                               if len(store.postal_code) == 7 else one_line(store.postal_code),
                               address=one_line(store.full_address)),
                           drop_off=one_line(p.drop_off),
                           # ソーシャルギフト: the recipient gave the address to Rakuten, not
                           # to the buyer; the shipped templates do not show it to the buyer
                           social_gift=p.social_gift is not None,
                           gift_waiting=p.awaiting_address))
    a = order.parcel_amounts
    return {
        "shop": ns(name=one_line(shop_name)),
        # a parcel may go without a tracking number (定形外, ゆうメール): no link, no hint
        "tracked": any(s.tracking_number for p in c.packages for s in p.shipments),
        "order": ns(number=c.order_number, ordered_at=c.ordered_at,
                    requested_delivery_date=c.requested_delivery_date,
                    delivery_time=delivery_time(c.shipping_term),
                    delivery_name=one_line(c.delivery_name), gift=c.gift,
                    several_destinations=c.several_destinations,
                    merged=[m.order_number for m in order.merged]),
        "buyer": person(c.buyer),
        "payment": ns(code=c.payment.method_code, name=one_line(c.payment.method_name),
                      kind=payment_kind(c.payment.method_code),
                      rakuten_pay=c.payment.rakuten_pay),
        "amounts": ns(goods=a.goods, postage=a.postage, delivery=a.delivery,
                      payment_charge=a.payment_charge, total=a.total,
                      request=a.request, coupon=a.coupon, points_used=a.points_used,
                      any_not_fixed=a.any_not_fixed),
        "packages": packages,
    }


# What mail_context puts in its attribute objects: data, never a callable
_DATA = frozenset({str, int, float, bool, type(None), date, datetime, list, SimpleNamespace})
_MISSING = object()


class _MailSandbox(SandboxedEnvironment):
    """Jinja's sandbox, reading the attributes of `mail_context`'s own objects directly.

    The sandbox checks every attribute a template reads (≈40 a mail); for a public
    attribute of a `SimpleNamespace` holding plain data the checks always pass, so they
    are skipped there. Anything else (other objects, `_` names, unexpected values) takes
    the sandbox's own way.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is SimpleNamespace and attribute[:1] != "_":
            value = obj.__dict__.get(attribute, _MISSING)
            if type(value) in _DATA:
                return value
        return super().getattr(obj, attribute)


def _environment() -> SandboxedEnvironment:
    env = _MailSandbox(autoescape=False, undefined=StrictUndefined, trim_blocks=True,
                       lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(yen=yen, date_ja=date_ja, datetime_ja=datetime_ja, one_line=one_line)
    return env


def default_source(kind: MailKind) -> str:
    """The shipped template of a mail kind."""
    return (resources.files("unyo.adapters.mail") / "templates" / f"{kind.value}.txt.j2") \
        .read_text(encoding="utf-8")


class MailTemplates:
    """The compiled templates of one shop, checked against sample orders."""

    def __init__(self, templates: dict[MailKind, Template], shop_name: str) -> None:
        self._templates = templates
        self.shop_name = shop_name

    @classmethod
    def load(cls, settings: MailSettings, shop_name: str) -> MailTemplates:
        """Compile and check the templates; MailTemplateError lists every problem."""
        env = _environment()
        problems: list[str] = []
        compiled: dict[MailKind, Template] = {}
        for kind in MailKind:
            policy = settings.kind(kind.value)
            path = policy.template if policy else ""
            where = path or f"(shipped {kind.value} template)"
            try:
                source = Path(path).read_text(encoding="utf-8") if path else default_source(kind)
            except (OSError, UnicodeDecodeError) as e:
                problems.append(f"{where}: mail.{kind.value}.template: cannot read it ({e})")
                continue
            try:
                compiled[kind] = env.from_string(source)
            except TemplateSyntaxError as e:
                problems.append(f"{where}:{e.lineno}: mail.{kind.value}.template: {e.message}")
        templates = cls(compiled, shop_name)
        for kind in compiled:
            for sample in sample_orders(kind):
                try:
                    templates.render(kind, sample)
                except Exception as e:  # a template can fail in any way: report, never crash
                    line = _template_line(e)
                    where = (settings.kind(kind.value) or MailKindSettings()).template or \
                        f"(shipped {kind.value} template)"
                    problems.append(f"{where}{line}: mail.{kind.value}.template: {e} "
                                    f"(with a sample {sample.channel.payment.method_name} order)")
                    break
        if problems:
            raise MailTemplateError(problems)
        return templates

    def render(self, kind: MailKind, order: Order) -> RenderedMail:
        """The subject and body of `kind` for `order` (ValueError: no subject line)."""
        text = self._templates[kind].render(mail_context(order, self.shop_name))
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        first, _, body = text.lstrip("\n").partition("\n")
        m = _SUBJECT.match(first)
        if not m or not one_line(m.group(1)):
            raise ValueError("the first line must be the subject: 'Subject: …' or '件名: …'")
        return RenderedMail(one_line(m.group(1), 300), body.lstrip("\n"))


def _template_line(e: Exception) -> str:
    tb = e.__traceback__
    line = None
    while tb is not None:  # Jinja rewrites tracebacks so template frames carry their line
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return f":{line}" if line else ""


# ---- sample orders for validation and `unyo mail preview` --------------------------------

_SAMPLE_AT = datetime(2026, 11, 27, 10, 30, tzinfo=JST)


def sample_orders(kind: MailKind) -> list[Order]:
    """Orders that take every branch of the shipped templates."""
    base = _sample()
    cod = replace(base, payment=Payment(2, "代金引換", False),
                  amounts=replace(base.amounts, delivery=330, total=4310, request=4310))
    bank = replace(base, payment=Payment(9, "銀行振込", True),
                   amounts=replace(base.amounts, postage=NOT_FIXED, total=NOT_FIXED,
                                   request=NOT_FIXED))
    after = replace(base, payment=Payment(21, "後払い決済", True), shipping_term="1416",
                    requested_delivery_date=date(2026, 11, 30))
    prepay = replace(base, payment=Payment(13, "セブン-イレブン（前払）", True),
                     shipping_term="1")
    two = replace(base, packages=(*base.packages, replace(
        base.packages[0], basket_id=20002, recipient=replace(
            base.buyer, family_name="佐藤", first_name="一郎", email=""), noshi="御歳暮")))
    store = replace(base, delivery_name="コンビニ受取", packages=(replace(
        base.packages[0], pickup_store=PickupStore(
            "ファミリーマート", "012345", "ファミリーマート 新宿西口店", "1600023", "東京都",
            "新宿区西新宿1-1-3")),))
    drop_off = replace(base, packages=(replace(base.packages[0], drop_off="宅配ボックス"),))
    gift = replace(base, social_gift=True, gift=True, packages=(replace(
        base.packages[0], recipient=replace(base.buyer, family_name="佐藤", first_name="一郎",
                                            email=""),
        social_gift=SocialGift("123456-20261127-0000000001-sg", date(2026, 12, 4),
                               kind is MailKind.shipping)),))
    orders = [base, cod, bank, after, prepay, two, store, drop_off, gift]
    if kind is MailKind.shipping:
        orders = [_shipped(o) for o in orders]
    return [Order(shop="sample", channel=o, stage=Stage.processing, id=0) for o in orders]


def _sample() -> ChannelOrder:
    buyer = Person("楽天", "太郎", "ラクテン", "タロウ", "03-0000-0000",
                   Address("1580094", "東京都", "世田谷区", "玉川一丁目14番1号"),
                   "0123456789abcdef0123456789abcdefs1@pc.fw.rakuten.ne.jp")
    items = (Item(1, "tea-001", "tea-001", "静岡県産 深蒸し煎茶 100g", 1080, 2, 0.08,
                  "パッケージ:ギフト箱\nのし:不要"),
             Item(2, "cup-01", "cup-01", "有田焼 湯呑み", 1500, 1, 0.1))
    pkg = Package(10001, buyer, items, 3660, 0, 0, 3660)
    return ChannelOrder(
        order_number="123456-20261127-0000000001", status=300, ordered_at=_SAMPLE_AT,
        order_type=OrderType.normal, member=True, next_day=False, next_day_cert=False,
        buyer=buyer, payment=Payment(1, "クレジットカード", True),
        amounts=Amounts(3660, 0, 0, 0, 3660, 3360, coupon=100, points_used=200),
        packages=(pkg,), delivery_name="宅配便")


def _shipped(c: ChannelOrder) -> ChannelOrder:
    ship = date(2026, 11, 28)
    codes = ("1001", "1003", "1000")
    return replace(c, packages=tuple(
        replace(p, shipments=(Shipment(None, codes[i % 3], f"4321-0987-{6543 + i}", ship),))
        for i, p in enumerate(c.packages)))

