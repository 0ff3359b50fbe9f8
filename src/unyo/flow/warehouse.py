"""The `warehouse:` section of the shop file: how unyo talks to the warehouse (倉庫 / WMS).

The first connection type is `csv`: shipment requests are written as CSV files into
a folder the warehouse system reads, and its result files are read from another.
Column names are configurable (each WMS has its own layout); the defaults are the
usual Japanese headers. Off until the shop turns it on.

May import `unyo.flow.config`; must not import `unyo.app` or adapters.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

from unyo.domain.printing import DEFAULT_SUBSTITUTIONS, PrintSpec, Substitute, printable

REQUEST_COLUMNS: dict[str, str] = {
    "order_number": "受注番号",
    "basket_id": "送付先ID",
    "ordered_at": "注文日時",
    "recipient_name": "送付先氏名",
    "recipient_kana": "送付先氏名カナ",
    "postal_code": "送付先郵便番号",
    "address": "送付先住所",
    "phone": "送付先電話番号",
    "sku": "商品コード",
    "item_name": "商品名",
    "choice": "項目選択肢",
    "units": "数量",
    "delivery_method": "配送方法",
    "delivery_date": "配達希望日",
    "time_slot": "配達時間帯",
    "gift": "ギフト",
    "noshi": "のし",
    "note": "倉庫備考",
    "cod_amount": "代引金額",
    "pickup_store_code": "受取店舗コード",
    "pickup_store_name": "受取店舗名",
    "pickup_store_address": "受取店舗住所",
    "drop_off": "置き配場所",
    "social_gift": "ソーシャルギフト管理番号",
    "priority": "出荷優先",
}
"""Shipment-request columns (one row per item of a package), key → default header.
The last six carry the order types: コンビニ受取's store (chain and store code, name,
postal code and address; `unyo init`'s rule stops such orders for a layout without
them: unyo.domain.rules.PICKUP_STORE_COLUMNS), 置き配's place, ソーシャルギフト's number,
当日出荷 / 最強翌日配送."""

RESULT_COLUMNS: dict[str, str] = {
    "order_number": "受注番号",
    "basket_id": "送付先ID",
    "carrier": "配送会社",
    "tracking_number": "追跡番号",
    "ship_date": "出荷日",
    "status": "出荷ステータス",
}
"""Result columns, key → default header; `status` is optional (e.g. "出荷不可: 欠品")."""

WAREHOUSE_TYPES = ("csv", "self")
"""csv: a WMS reads request files; self: the shop prints 納品書 batches and packs itself."""

REQUIRED_RESULT_KEYS = ("order_number", "carrier", "tracking_number", "ship_date")
"""Result columns a file must have; `carrier` only while `default_carrier` is empty."""

UNTRACKED_METHODS: tuple[str, ...] = ("定形外", "定形郵便", "普通郵便", "ゆうメール",
                                      "スマートレター")
"""Delivery methods whose parcels have no tracking number (Japan Post's letter-post
services: 定形・定形外郵便 and ゆうメール carry none unless a paid option is added, nor
does スマートレター; クリックポスト, ゆうパケット and ネコポス do have one, so they are not here).
Matched as a part of the order's delivery method ("定形外郵便（追跡なし）" matches
"定形外"), after NFKC and without spaces."""


def method_key(text: str) -> str:
    """A delivery method name as it is compared: NFKC, no spaces, lower case."""
    return unicodedata.normalize("NFKC", text).replace(" ", "").replace("\u3000", "").lower()


@dataclass(frozen=True)
class WarehouseSettings:
    enabled: bool = False  # nothing is handed off until the shop turns it on
    # csv: files through folders to a WMS; self: the shop packs itself — ready orders are
    # printed in batches (納品書), no request file is written, result files still read
    type: str = "csv"
    folder: str = "warehouse"  # base of the folders below (relative to the shop file)
    requests: str = "requests"  # unyo writes shipment and cancel requests here
    results: str = "results"  # the WMS drops result files here; read ones go to done/, error/
    encoding: str = "cp932"  # cp932 (Shift_JIS, Windows) or utf-8
    interval: float = 300.0  # hand-off cadence
    results_interval: float = 300.0  # result import cadence
    settle: float = 2.0  # a result file is read once unyo has seen it unchanged this long
    # a result file whose last line has no line end is read once unchanged this long,
    # that line reported and not applied (a writer that stopped mid-line)
    incomplete_after: float = 1800.0
    batch: int = 1000  # orders per request file
    columns: dict[str, str] = field(default_factory=lambda: dict(REQUEST_COLUMNS))
    result_columns: dict[str, str] = field(default_factory=lambda: dict(RESULT_COLUMNS))
    # the shop's own substitutes for characters the encoding lacks, over the shipped table
    substitutions: dict[str, Substitute] = field(default_factory=dict)
    # delivery method (as on the order; "*" for any other) → RMS deliveryCompany code,
    # for result rows with no carrier (a file without the column, or an empty cell)
    default_carrier: dict[str, str] = field(default_factory=dict)
    # delivery methods without tracking numbers: their rows may leave it empty
    untracked_methods: tuple[str, ...] = UNTRACKED_METHODS

    def carrier_for(self, method: str) -> str | None:
        """The default carrier code for an order of delivery method `method`, or None."""
        key = method_key(method)
        for name, code in self.default_carrier.items():
            if name != "*" and method_key(name) == key:
                return code
        return self.default_carrier.get("*")

    def untracked(self, method: str) -> bool:
        """Whether parcels of delivery method `method` go without a tracking number."""
        key = method_key(method)
        return bool(key) and any(method_key(m) in key for m in self.untracked_methods
                                 if method_key(m))

    @property
    def required_result_keys(self) -> tuple[str, ...]:
        if self.default_carrier:
            return tuple(k for k in REQUIRED_RESULT_KEYS if k != "carrier")
        return REQUIRED_RESULT_KEYS

    @property
    def self_shipping(self) -> bool:
        """The shop packs itself (`type: self`): printing a batch is the hand-off."""
        return self.type == "self"

    @cached_property
    def printing(self) -> PrintSpec:
        """The encoding and the substitution table (shipped, then the shop's own)."""
        layout = None if self.columns == REQUEST_COLUMNS else frozenset(self.columns)
        return PrintSpec(self.encoding, {**DEFAULT_SUBSTITUTIONS, **self.substitutions},
                         layout)

    def path(self, name: str) -> Path:
        """A folder of the exchange: `requests`, `results`, `done` or `error`."""
        base = Path(self.folder)
        sub = {"requests": self.requests, "results": self.results}.get(name, name)
        return base / sub


def parse_warehouse(node: Any, where: str, line: int,
                    problems: list[str]) -> WarehouseSettings:
    """Validate the `warehouse:` mapping; problems are appended as 'file:line: key: message'."""
    from unyo.flow.sections import entries

    values: dict[str, Any] = {}
    subs_at = f"{where}:{line}"
    base = Path(where).parent if where != "<text>" else Path.cwd()
    for name, value, at, _ in entries(node, "warehouse", (f.name for f in fields(
            WarehouseSettings)), where, line, problems):
        if name == "substitutions":
            subs_at = at
        try:
            values[name] = _setting(name, value, base)
        except ValueError as e:
            problems.append(f"{at}: warehouse.{name}: {e}")
    for ch, sub in values.get("substitutions", {}).items():
        encoding = values.get("encoding", WarehouseSettings.encoding)
        for text in dict.fromkeys((sub.name, sub.other)):
            bad = [c for c in text if not printable(c, encoding)]
            if bad:
                problems.append(f"{subs_at}: warehouse.substitutions: {_shown_char(ch)}: "
                                f"the substitute {text!r} is not printable in {encoding} "
                                f"({_shown_char(bad[0])})")
    if "folder" not in values and where != "<text>":
        values["folder"] = str(base / WarehouseSettings.folder)  # beside the shop file
    return WarehouseSettings(**values)


def _setting(name: str, value: Any, base: Path) -> Any:
    from unyo.flow import config as c

    if name in ("interval", "results_interval", "settle", "incomplete_after"):
        return c.parse_duration(value)
    if name == "enabled":
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {c._shown(value)}")
        return value
    if name == "batch":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100_000:
            raise ValueError(f"expected a whole number from 1 to 100000, got {c._shown(value)}")
        return value
    if name in ("columns", "result_columns"):
        return _columns(name, value)
    if name == "substitutions":
        return _substitutions(value)
    if name == "default_carrier":
        return _default_carrier(value)
    if name == "untracked_methods":
        return _methods(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected text")
    text = value.strip()
    if name == "type" and text not in WAREHOUSE_TYPES:
        raise ValueError(f"{text!r} is not a warehouse type (known: {', '.join(WAREHOUSE_TYPES)})")
    if name == "encoding":
        try:
            canonical = codecs.lookup(text).name
        except LookupError:
            raise ValueError(f"{text!r} is not an encoding (use cp932 or utf-8)") from None
        if canonical not in ("cp932", "utf-8"):
            raise ValueError(f"{text!r}: use cp932 or utf-8")
        return canonical
    if name == "folder":
        path = Path(text).expanduser()
        return str(path if path.is_absolute() else base / path)
    if "/" in text or "\\" in text or text in (".", ".."):
        raise ValueError("expected a folder name inside warehouse.folder")
    return text


def _columns(name: str, value: Any) -> dict[str, str]:
    """A mapping key → header; for requests it is the full list, in order."""
    defaults = REQUEST_COLUMNS if name == "columns" else RESULT_COLUMNS
    if not isinstance(value, dict) or not value:
        raise ValueError(f"expected a mapping of column keys to headers "
                         f"(keys: {', '.join(defaults)})")
    out: dict[str, str] = {}
    for key, header in value.items():
        if key not in defaults:
            raise ValueError(f"{key!r} is not a column (known: {', '.join(defaults)})")
        if not isinstance(header, str) or not header.strip():
            raise ValueError(f"{key}: expected a header name")
        out[str(key)] = header.strip()
    if len(set(out.values())) != len(out):
        raise ValueError("two columns have the same header")
    if name == "columns":
        missing = [k for k in ("order_number", "basket_id") if k not in out]
        if missing:
            raise ValueError(f"request files need {', '.join(missing)}")
        return out
    merged = {**RESULT_COLUMNS, **out}
    return merged


def _default_carrier(value: Any) -> dict[str, str]:
    """`delivery method: carrier` (an RMS deliveryCompany code or a carrier name)."""
    from unyo.domain.carriers import carrier_code

    if not isinstance(value, dict) or not value:
        raise ValueError("expected a mapping of delivery methods (as on the order, or * "
                         "for any) to a carrier (e.g. 宅配便: ヤマト運輸, \"*\": \"1003\")")
    out: dict[str, str] = {}
    for method, carrier in value.items():
        name = str(method).strip()
        if not name or isinstance(method, bool):
            raise ValueError(f"{method!r}: expected a delivery method name or *")
        if any(method_key(name) == method_key(k) for k in out):
            raise ValueError(f"{name}: given twice")
        text = str(carrier).strip() if isinstance(carrier, str | int) and not isinstance(
            carrier, bool) else ""
        code = carrier_code(text) if text else None
        if code is None:
            raise ValueError(f"{name}: {carrier!r} is not a carrier unyo knows (an RMS "
                             "deliveryCompany code such as 1001, or a name such as "
                             "ヤマト運輸, 佐川急便, 日本郵便)")
        out[name] = code
    return out


def _methods(value: Any) -> tuple[str, ...]:
    """A list of delivery method names (empty or null: every row needs its number)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
            isinstance(v, str) and v.strip() for v in value):
        raise ValueError("expected a list of delivery method names (e.g. [定形外, ゆうメール])")
    return tuple(dict.fromkeys(v.strip() for v in value))


_CODE_POINT = re.compile(r"^U\+([0-9A-Fa-f]{4,6})$")


def _shown_char(ch: str) -> str:
    return f"U+{ord(ch):04X}" if not ch.isprintable() or ch.isspace() else f"{ch} (U+{ord(ch):04X})"


def _substitutions(value: Any) -> dict[str, Substitute]:
    """`character: replacement`, or `character: {name: …, other: …}` for a substitute that
    differs in names (氏名, カナ) from every other text; a character may be written as
    U+XXXX (for invisible ones). An empty replacement removes the character."""
    if not isinstance(value, dict):
        raise ValueError("expected a mapping of characters to their substitutes "
                         "(e.g. 𠮷: 吉)")
    out: dict[str, Substitute] = {}
    for key, sub in value.items():
        text = str(key)
        m = _CODE_POINT.match(text)
        if m:
            cp = int(m.group(1), 16)
            if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                raise ValueError(f"{text}: not a character")
            text = chr(cp)
        if len(text) != 1:
            raise ValueError(f"{key!r}: a key is one character (or U+XXXX)")
        if isinstance(sub, str | int) and not isinstance(sub, bool):
            out[text] = Substitute.same(str(sub))
        elif sub is None:
            out[text] = Substitute.same("")
        elif isinstance(sub, dict) and set(sub) == {"name", "other"} and all(
                isinstance(v, str) for v in sub.values()):
            out[text] = Substitute(sub["name"], sub["other"])
        else:
            raise ValueError(f"{key}: expected the substitute text, or {{name: …, other: …}}")
        if max(len(out[text].name), len(out[text].other)) > 10:
            raise ValueError(f"{key}: a substitute is at most 10 characters")
    return out
