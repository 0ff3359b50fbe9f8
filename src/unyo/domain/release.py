"""Release dates of pre-orders (予約商品), read the way shops write them.

Shops name the release date in the item name (「【予約】12/8(火)発売」), in the item's
納期情報 field (RMS `delvdateInfo`, 「2026年12月11日発売予定」) or in the remarks, in many
spellings: with or without the year, `M/D`, `M月D日`, `2026/12/11`, full-width digits,
a weekday in brackets, or only a third of a month (「12月中旬発送予定」) or a month.

The reading is conservative, so that nothing ships early: a third of a month is its
last day (上旬 the 10th, 中旬 the 20th, 下旬 and 月末 the last day), a month alone its
last day, and a date without a year the next such date on or after the order date.
Where a text says the date is not decided (「発売日未定」), there is no date.
Standard library only.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

__all__ = ["ReleaseReading", "read_release", "release_dates", "undecided"]

_YEAR = r"(?P<y>20\d\d)\s*(?:年|/|-|\.)\s*"
_MONTH_DAY = (r"(?P<m>\d{1,2})\s*(?:月\s*(?:(?P<d>\d{1,2})\s*日?|(?P<t>上旬|初旬|中旬|下旬|末))?"
              r"|(?P<sep>[/\-.])\s*(?P<d2>\d{1,2})(?![\d/]))")
_WEEKDAY = r"(?:\s*\(\s*[月火水木金土日](?:曜日?)?\s*\))?"
_DATE = re.compile(rf"(?<![\d/.\-])(?:{_YEAR})?{_MONTH_DAY}{_WEEKDAY}")
# The words that make a date a release date in free text (item names, remarks):
# the date right before them (「12/8発売」, 「12月中旬頃入荷予定」, 「12月11日より順次発送」)...
_AFTER = re.compile(r"\s*(?:頃|ごろ|予定|以降|より|から|順次|~|〜|中|に|の|\s)*"
                    r"(?:発売|発送|入荷|出荷|リリース|販売開始)")
# ...or right after them (「発売日：2026年12月11日」, 「【予約】12/8」, 「発送予定 12月中旬」).
_BEFORE = re.compile(r"(?:発売|発送|入荷|出荷|リリース|予約)(?:商品)?(?:予定)?(?:日|時期)?"
                     r"(?:予定)?[\s:は\])】》」>]*(?:\(予定\))?[\s:]*$")
# A date after such a word must end there (「【予約】12/8】」, not 「【予約】1/12スケール」).
_END = re.compile(r"(?:$|[\s)】\]」》>、,。~〜/]|頃|ごろ|予定|以降|より|から|順次|発|入|出)")
_UNDECIDED = re.compile(r"(?:発売|発送|入荷|出荷|お届け|リリース)(?:予定)?(?:日|時期|日程)?"
                        r"(?:は|が)?\s*(?:未定|未確定|不明|調整中|決まり次第)")


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def undecided(text: str) -> bool:
    """The text says the release date is not decided yet (「発売日未定」, 「入荷時期未定」)."""
    return _UNDECIDED.search(_nfkc(text)) is not None


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _day_of(year: int, month: int, day: int | None, third: str | None) -> date | None:
    if not 1 <= month <= 12:
        return None
    if day is None:
        day = {"上旬": 10, "初旬": 10, "中旬": 20}.get(third or "", _last_day(year, month))
    if not 1 <= day <= _last_day(year, month):
        return None
    return date(year, month, day)


def _resolve(m: re.Match[str], ordered: date) -> date | None:
    month = int(m["m"])
    day = m["d"] or m["d2"]
    d = int(day) if day else None
    if m["y"]:
        return _day_of(int(m["y"]), month, d, m["t"])
    # No year: the next such date on or after the order date (29 February may be years off).
    for year in range(ordered.year, ordered.year + 9):
        found = _day_of(year, month, d, m["t"])
        if found is not None and found >= ordered:
            return found
    return None


def release_dates(text: str, ordered: date, *, keyword: bool = True) -> list[date]:
    """Every release date named in `text`, in order. With `keyword`, only dates next to a
    word that makes them one (発売, 発送, 入荷, 出荷, 予約...): free text such as an item
    name holds other numbers (「1/12スケール」). Without it every date counts (the item's
    納期情報 is about delivery only)."""
    t = _nfkc(text)
    out = []
    for m in _DATE.finditer(t):
        if m["sep"] and m["sep"] != "/" and m["y"] is None:
            continue  # 12-11 or 12.11 without a year is a part number more often than a day
        if keyword and not (_AFTER.match(t, m.end()) or (
                _BEFORE.search(t, 0, m.start()) and _END.match(t, m.end()))):
            continue
        found = _resolve(m, ordered)
        if found is not None:
            out.append(found)
    return out


@dataclass(frozen=True)
class ReleaseReading:
    """What the texts of an order say about its release date: the latest date named
    (None if none), and whether any of them says the date is not decided."""

    day: date | None
    undecided: bool

    @property
    def known(self) -> date | None:
        """The date to hold until, or None when a person must set it."""
        return None if self.undecided else self.day


def read_release(ordered: date, fields: Iterable[str], free_texts: Iterable[str]) -> ReleaseReading:
    """The release date of an order from its items' 納期情報 (`fields`, any date counts)
    and its item names and remarks (`free_texts`, only dates next to a release word).
    Several dates: the latest (the parcel waits for its last item)."""
    days: list[date] = []
    open_ = False
    for text, keyword in [*((f, False) for f in fields), *((t, True) for t in free_texts)]:
        if not text:
            continue
        open_ = open_ or undecided(text)
        days += release_dates(text, ordered, keyword=keyword)
    return ReleaseReading(max(days) if days else None, open_)
