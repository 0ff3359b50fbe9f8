"""The buyer's own words in Rakuten's remarks (備考欄), apart from the template lines.

Rakuten writes its own lines into 備考欄: headers such as `[配送日時指定:]`, `[備考:]`
or `[メッセージ:]` (the colon full or half width), and under 配送日時指定 the date and
time slot from the order form (`2026-12-10(木)`, `午前中`, `14:00～16:00`, `指定なし`).
A shop may add its own questions to the form; their headers come from the shop file.
Everything else in the text, wherever it stands — before, between or after template
lines, after blank lines — is the buyer's, and a request a person should read.

`read_remarks` splits the text; `quote` gives the start of the request for a gate's
reason. Buyer text is hostile: nothing here interprets it, and `quote` drops control
and formatting characters (a bidi override could turn a reason around); showing it
escaped is the job of whoever shows it. Standard library only.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "FORM_SECTIONS",
    "MESSAGE_SECTIONS",
    "NO_TEMPLATE",
    "VALUE_SECTIONS",
    "Remarks",
    "RemarksTemplate",
    "quote",
    "read_remarks",
]

FORM_SECTIONS = frozenset({"配送日時指定", "お届け日時指定", "お届け希望日", "お届け時間帯",
                           "配達日時指定", "お届け希望日時"})
"""Sections Rakuten fills with the delivery date and time from the order form."""
VALUE_SECTIONS = frozenset({"配送方法", "お届け方法", "ギフト", "のし", "ラッピング",
                            "支払方法", "お支払い方法"})
"""Sections Rakuten fills with one value from the order form, on the line under the header."""
MESSAGE_SECTIONS = frozenset({"備考", "メッセージ", "ご要望", "ご意見・ご要望"})
"""Sections that hold what the buyer typed: every line under them is the buyer's."""

# `[配送日時指定:]`, `［備考：］`, `[メッセージ:] text`: after NFKC both colons are ':'.
_HEADER = re.compile(r"^\s*\[\s*([^\[\]\n]{1,60}?)\s*:\s*\]\s*(.*)$")
_WEEKDAY = r"(?:\s*\(\s*[月火水木金土日](?:曜日?)?\s*\))?"
_DAY = (r"(?:\d{4}\s*[-/年.]\s*\d{1,2}\s*[-/月.]\s*\d{1,2}\s*日?|\d{1,2}\s*月\s*\d{1,2}\s*日"
        r"|\d{1,2}/\d{1,2})" + _WEEKDAY)
_HOUR = r"\d{1,2}(?::\d{2}|\s*時(?:\s*\d{1,2}\s*分)?)?"
_SLOT = (rf"(?:午前中|午前|午後|夕方|夜間|{_HOUR}\s*[~〜\-−ー–]\s*{_HOUR}"
         rf"|{_HOUR}\s*(?:以降|まで|頃)|時間指定なし|日付指定なし|指定なし|なし)")
_FILLER = re.compile(rf"^(?:(?:{_DAY}|{_SLOT})[\s、,/]*)+$")
"""A line Rakuten fills in under a delivery-date header: dates and time slots only."""
_NOTHING = re.compile(r"^(?:特に|とくに)?(?:なし|無し|ナシ|ありません|指定なし|該当なし)[。.]?$")
"""A line that says there is nothing to say (Rakuten's 指定なし, a buyer's 特になし)."""


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


@dataclass(frozen=True)
class RemarksTemplate:
    """What the shop's own order form adds to 備考欄 (the shop file's
    `import.remarks_headers` and `import.remarks_answers`).

    `headers` are the shop's question headers (`ご利用目的` for `[ご利用目的:]`) or whole
    lines of its own prompt text; `answers` the fixed choices a buyer picks under them
    (`自宅用`), which are no request either. Compared after NFKC, spaces trimmed.
    """

    headers: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", tuple(_nfkc(h).strip() for h in self.headers))
        object.__setattr__(self, "answers", tuple(_nfkc(a).strip() for a in self.answers))


NO_TEMPLATE = RemarksTemplate()


@dataclass(frozen=True)
class Remarks:
    """備考欄 split: the buyer's request (lines as written, trimmed, joined by newlines;
    empty when there is none) and the template lines that were set aside."""

    request: str
    template: tuple[str, ...]


def read_remarks(text: str, shop: RemarksTemplate = NO_TEMPLATE) -> Remarks:
    """Split 備考欄 into the buyer's request and the template lines.

    Under a delivery-date header (FORM_SECTIONS) the date and time-slot lines are
    Rakuten's, until the first line that is not one; under a value header (VALUE_SECTIONS)
    the one line straight under it is. A blank line ends a section. Everything else
    that is not blank nor a 'nothing to say' line (`指定なし`, `特になし`) is the buyer's.
    """
    own_headers = frozenset(shop.headers)
    answers = frozenset(shop.answers)
    request: list[str] = []
    template: list[str] = []
    section = ""  # "form", "value" or "" (free text)
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _nfkc(raw).strip()
        header = _HEADER.match(line)
        if header or line in own_headers:
            name = header.group(1).strip() if header else line
            section = ("form" if name in FORM_SECTIONS else
                       "value" if name in VALUE_SECTIONS else "")
            template.append(raw.strip())
            rest = header.group(2).strip() if header else ""
            if not rest:
                continue
            line, raw = rest, rest  # a value on the header's own line
        if not line:
            section = ""
            continue
        if section == "form" and _FILLER.match(line):
            template.append(raw.strip())
            continue
        if section == "value":
            section = ""
            template.append(raw.strip())
            continue
        section = ""
        if _NOTHING.match(line) or line in answers:
            template.append(raw.strip())
            continue
        request.append(raw.strip())
    return Remarks("\n".join(request), tuple(template))


_BREAKS = "。．！？!?、,， "
_HIDDEN = frozenset({"Cc", "Cf", "Co", "Cs", "Zl", "Zp"})


def quote(text: str, limit: int = 30) -> str:
    """The start of `text` on one line, at most `limit` characters and an ellipsis.

    Line breaks and runs of spaces become one space; control and formatting characters
    are dropped. A longer text is cut after the last sentence or clause mark in the
    second half of the limit, else at the limit, and ends with '…'.
    """
    flat = " ".join("".join(ch if unicodedata.category(ch) not in _HIDDEN else " "
                            for ch in text).split())
    if len(flat) <= limit:
        return flat
    head = flat[:limit]
    cut = max(head.rfind(ch) for ch in _BREAKS)
    if cut >= limit // 2:
        head = head[:cut + 1]
    return head.rstrip(" 、,，") + "…"

