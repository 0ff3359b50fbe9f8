"""Carriers (配送会社): RMS deliveryCompany codes, the names warehouses write, and what
a plausible tracking number (追跡番号 / 送り状番号) of each looks like.

Codes and names are RMS's table (reference/rakuten-rms.md, "deliveryCompany codes").
The tracking formats are the carriers' published slip-number formats *(unconfirmed:
not in the reference; Yamato and Sagawa slips carry 12 digits, Japan Post 11–13
characters — ゆうパック 12 digits, ゆうパケット / クリックポスト 11–13, international
"AB123456789JP")*; carriers without a known format take 6–30 letters, digits or '-'.
Standard library only.
"""

from __future__ import annotations

import re
import unicodedata

CARRIER_NAMES: dict[str, str] = {
    "1000": "その他", "1001": "ヤマト運輸", "1002": "佐川急便", "1003": "日本郵便",
    "1004": "西濃運輸", "1005": "セイノースーパーエクスプレス", "1006": "福山通運",
    "1007": "名鉄運輸", "1008": "トナミ運輸", "1009": "第一貨物", "1010": "新潟運輸",
    "1011": "中越運送", "1012": "岡山県貨物運送", "1013": "久留米運送",
    "1014": "山陽自動車運送", "1015": "NXトランスポート", "1016": "エコ配", "1017": "EMS",
    "1018": "DHL", "1019": "FedEx", "1020": "UPS", "1021": "日本通運", "1022": "TNT",
    "1023": "OCS", "1024": "USPS", "1025": "SFエクスプレス", "1026": "Aramex",
    "1027": "SGHグローバル・ジャパン", "1028": "Rakuten EXPRESS",
    "1029": "日本郵便 楽天倉庫出荷", "1030": "ヤマト運輸 クロネコゆうパケット",
    "1031": "名鉄NX運輸",
}
"""RMS deliveryCompany code → carrier name."""

# Names warehouse systems write for the common carriers, besides RMS's own names.
_ALIASES: dict[str, str] = {
    "ヤマト": "1001", "クロネコヤマト": "1001", "宅急便": "1001", "ヤマト宅急便": "1001",
    "yamato": "1001", "ネコポス": "1001", "クロネコゆうパケット": "1030",
    "佐川": "1002", "飛脚宅配便": "1002", "sagawa": "1002",
    "郵便": "1003", "ゆうパック": "1003", "ゆうパケット": "1003", "ゆうメール": "1003",
    "クリックポスト": "1003", "japanpost": "1003", "西濃": "1004", "福山": "1006",
}

# [0-9], never \d: \d also matches Arabic-Indic, Devanagari … digits, which RMS and the
# carriers' tracking pages do not read.
_DIGITS_12 = re.compile(r"[0-9]{12}")
_POST = re.compile(r"[0-9]{11,13}|[A-Z]{2}[0-9]{9}[A-Z]{2}")
_ANY = re.compile(r"[0-9A-Za-z-]{6,30}")
TRACKING_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "1001": (_DIGITS_12, "12桁の数字"),
    "1030": (_DIGITS_12, "12桁の数字"),
    "1002": (_DIGITS_12, "12桁の数字"),
    "1003": (_POST, "11〜13桁の数字"),
    "1029": (_POST, "11〜13桁の数字"),
    "1004": (re.compile(r"[0-9]{10,12}"), "10〜12桁の数字"),
    "1006": (re.compile(r"[0-9]{10,12}"), "10〜12桁の数字"),
}


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace(" ", "").replace("　", "").lower()


_BY_NAME: dict[str, str] = {_key(n): c for c, n in CARRIER_NAMES.items()} | {
    _key(n): c for n, c in _ALIASES.items()}


def carrier_code(text: str) -> str | None:
    """The RMS code for a carrier given by code ("1001") or name ("ヤマト運輸"), or None."""
    key = _key(text)
    if key in CARRIER_NAMES:
        return key
    return _BY_NAME.get(key)


# Full-width ASCII (Ｕ+FF01–FF5E, what Japanese input methods type) → half-width. Only
# these are folded: NFKC would also turn superscripts and circled digits ("²", "①")
# into digits, and other scripts' digits are not digits to a carrier at all.
_HALF_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def normalise_tracking(number: str) -> str:
    """The tracking number as carriers read it: half-width, no hyphens or spaces.
    Anything else is left as it is, for `tracking_problem` to refuse."""
    folded = number.translate(_HALF_WIDTH).replace(" ", "").replace("-", "")
    return folded.upper() if folded.isascii() else folded  # "ß".upper() is "SS"


def tracking_problem(code: str, number: str) -> str | None:
    """Why `number` cannot be a tracking number of carrier `code`, or None."""
    if not number:
        return "追跡番号が空です"
    odd = [ch for ch in number if not (ch.isascii() and (ch.isalnum() or ch == "-"))]
    if odd:
        shown = "".join(dict.fromkeys(odd))[:20]
        return f"追跡番号 {number[:40]!r} に使えない文字があります「{shown}」（半角の英数字のみ）"
    pattern, shown = TRACKING_FORMATS.get(code, (_ANY, "6〜30文字の英数字"))
    if not pattern.fullmatch(number):
        return f"{CARRIER_NAMES.get(code, code)}の追跡番号は{shown}です（{number!r}）"
    return None
