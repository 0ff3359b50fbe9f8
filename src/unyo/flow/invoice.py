"""The `invoice:` section of the shop file: the 納品書 (packing slip) a shop that packs
itself prints (`warehouse.type: self`).

The shop's own name, address, contact and logo are `shop.*` keys; this section holds
what only the slip needs: the 適格請求書発行事業者 registration number (登録番号, T and 13
digits), the shop's own template, and when prices are left off (gift orders, and
orders carrying one of `no_prices_tags`, which a rule adds, e.g. when the buyer asked
for no prices in 備考欄).

May import `unyo.flow.config`; must not import `unyo.app` or adapters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

REGISTRATION = re.compile(r"^T[0-9]{13}$")


@dataclass(frozen=True)
class InvoiceSettings:
    registration_number: str = ""  # 登録番号 T + 13 digits; "" = not an invoice issuer
    template: str = ""  # the shop's template file (absolute once loaded); "" = shipped
    title: str = "納品書"
    message: str = "このたびはお買い上げいただき、誠にありがとうございます。"
    gift_prices: bool = False  # gift orders (ギフト) print prices too
    no_prices_tags: tuple[str, ...] = ("金額非表示",)  # an order with one prints no prices


def registration_problem(text: str) -> str | None:
    """Why `text` is not a 登録番号 (T followed by 13 digits), or None."""
    if not REGISTRATION.fullmatch(text):
        return f"{text!r} is not a registration number (登録番号: T followed by 13 digits)"
    return None


def normalise_registration(text: str) -> str:
    """Full-width letters and digits, spaces and hyphens as people type them: T1234…"""
    t = unicodedata.normalize("NFKC", text).upper()
    return "".join(ch for ch in t if ch not in " -ー")


def parse_invoice(node: Any, where: str, line: int, problems: list[str]) -> InvoiceSettings:
    """Validate the `invoice:` mapping; problems are appended as 'file:line: key: message'."""
    from unyo.flow import config as c
    from unyo.flow.sections import entries

    values: dict[str, Any] = {}
    base = Path(where).parent if where != "<text>" else Path.cwd()
    for name, value, at, _ in entries(node, "invoice", (f.name for f in fields(
            InvoiceSettings)), where, line, problems):
        try:
            if name == "gift_prices":
                if not isinstance(value, bool):
                    raise ValueError(f"expected true or false, got {c._shown(value)}")
                values[name] = value
            elif name == "no_prices_tags":
                values[name] = c._texts(value)
            elif not isinstance(value, str):
                raise ValueError("expected text")
            elif name == "registration_number":
                number = normalise_registration(value)
                problem = registration_problem(number) if number else None
                if problem:
                    raise ValueError(problem)
                values[name] = number
            elif name == "template":
                path = Path(value.strip()).expanduser()
                values[name] = str(path if path.is_absolute() else base / path) \
                    if value.strip() else ""
            else:
                values[name] = value.strip()
        except ValueError as e:
            problems.append(f"{at}: invoice.{name}: {e}")
    return InvoiceSettings(**values)
