"""Printable characters and their substitutes: the one definition of 印字できない文字.

A character is *printable* when the warehouse's encoding (`warehouse.encoding`, cp932
by default) can hold it and it is not a control, format, private-use or unassigned
character (tab and line ends excepted). So 髙, 﨑, 德, 彅, 濵, 瀨, ㈱, Ⅱ and half-width
kana are printable under cp932 (the Windows code page holds the NEC and IBM
extensions); 𠮷, 𡈽, 𣘺, an em dash or an emoji are not.

A character that is not printable is replaced by its substitute from the shop's table
(`warehouse.substitutions`, over `DEFAULT_SUBSTITUTIONS`) when it has one whose text is
printable; otherwise it is *unprintable*. A printable character is never changed. The
rule fields (`unprintable_chars`, `unprintable`), the hand-off (the warehouse adapter's
`printing()`) and the substitution written into the request file all call `substitute`.

Python's codecs decide what an encoding holds. CPython's cp932 also writes 〜 (U+301C),
− (U+2212), ‖, ¢, £ and ¬ as the bytes of the JIS X 0208 characters Windows reads as
～ － ∥ ￠ ￡ ￢: for the warehouse they are the same characters, so they are printable
and not substituted.

Standard library only; the encoding is data (a codec name) passed in.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = [
    "DEFAULT_SUBSTITUTIONS",
    "FIELD_LABELS",
    "GETA",
    "NAME_FIELDS",
    "PrintSpec",
    "Printed",
    "Substitute",
    "Substitution",
    "Unprintable",
    "code_point",
    "printable",
    "substitute",
]

GETA = "〓"
"""What an unprintable character is sent as once a person has seen it (ゲタ, the JIS mark
for a character that cannot be set)."""

FIELD_LABELS: dict[str, str] = {
    "recipient_name": "送付先氏名",
    "recipient_kana": "送付先氏名カナ",
    "address": "送付先住所",
    "phone": "送付先電話番号",
    "delivery_method": "配送方法",
    "noshi": "のし",
    "note": "倉庫備考",
    "item_name": "商品名",
    "choice": "項目選択肢",
    "sku": "商品コード",
}
"""The texts a shipment request carries, key → the Japanese name reasons use."""

NAME_FIELDS = frozenset({"recipient_name", "recipient_kana"})
"""Fields that hold a person's name: a dash there is a long vowel (ジョ—ジ → ジョージ)."""


@dataclass(frozen=True, slots=True)
class Substitute:
    """What a character is replaced by: in names, and in every other text."""

    name: str
    other: str

    @classmethod
    def same(cls, text: str) -> Substitute:
        return cls(text, text)


def code_point(ch: str) -> str:
    return f"U+{ord(ch):04X}"


@dataclass(frozen=True, slots=True)
class Substitution:
    """One character replaced in one field (the order keeps the original)."""

    field: str  # a FIELD_LABELS key
    char: str
    replacement: str

    @property
    def label(self) -> str:
        return FIELD_LABELS.get(self.field, self.field)

    def as_data(self) -> dict[str, str]:
        return {"field": self.label, "char": self.char, "code": code_point(self.char),
                "replacement": self.replacement}


@dataclass(frozen=True, slots=True)
class Unprintable:
    """A character of a field that is not printable and has no substitute."""

    field: str  # a FIELD_LABELS key
    char: str

    @property
    def label(self) -> str:
        return FIELD_LABELS.get(self.field, self.field)

    @property
    def reason(self) -> str:
        """The check's reason, e.g. 送付先氏名に印字できない文字「𠮷」(U+20BB7)."""
        if unicodedata.category(self.char) in _HIDDEN or unicodedata.combining(self.char):
            # an invisible character (or one that would join the quote mark) shows as
            # its code point only, never as itself (e.g. a right-to-left override)
            return f"{self.label}に印字できない文字({code_point(self.char)})"
        return f"{self.label}に印字できない文字「{self.char}」({code_point(self.char)})"


@dataclass(frozen=True)
class PrintSpec:
    """The warehouse's encoding and the substitution table (character → Substitute), and
    the request columns its layout has (`columns`; None: unyo's default layout, which has
    every column)."""

    encoding: str = "cp932"
    substitutions: Mapping[str, Substitute] = field(
        default_factory=lambda: DEFAULT_SUBSTITUTIONS)
    columns: frozenset[str] | None = None

    def __hash__(self) -> int:  # the table is fixed once the shop file is read
        return hash((self.encoding, len(self.substitutions), self.columns))

    def has_columns(self, *keys: str) -> bool:
        """Whether the warehouse's request layout carries every one of `keys`."""
        return self.columns is None or all(k in self.columns for k in keys)


@dataclass(frozen=True, slots=True)
class Printed:
    """A text as the warehouse gets it, with what was replaced and what could not be."""

    text: str
    substituted: tuple[tuple[str, str], ...] = ()  # (character, replacement), once each
    unprintable: tuple[str, ...] = ()  # characters with no substitute, once each


_HIDDEN = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})
_LINE = frozenset("\t\r\n")


@lru_cache(maxsize=65536)
def printable(ch: str, encoding: str) -> bool:
    """Whether the warehouse can print `ch`: its encoding holds it and it is a visible
    character (or a tab or line end)."""
    if ch in _LINE:
        return True
    if unicodedata.category(ch) in _HIDDEN:
        return False
    try:
        ch.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


_KNOWN: dict[str, set[str]] = {}
"""Per encoding, characters already found printable: most names and addresses use only
these, so a text is usually answered by one set test."""
_KNOWN_MAX = 65536


def _all_printable(text: str, encoding: str) -> bool:
    known = _KNOWN.setdefault(encoding, set())
    if known.issuperset(text):
        return True
    for ch in dict.fromkeys(text):
        if ch in known:
            continue
        if not printable(ch, encoding):
            return False
        if len(known) < _KNOWN_MAX:
            known.add(ch)
    return True


def substitute(text: str, spec: PrintSpec, *, name: bool = False) -> Printed:
    """`text` with every character that is not printable replaced by its substitute
    (`name`: the text is a person's name, see `Substitute`). Characters with none are
    reported in `unprintable` and left in the text; printable characters never change."""
    if _all_printable(text, spec.encoding):
        return Printed(text)
    out: list[str] = []
    done: dict[str, str] = {}
    missing: dict[str, None] = {}
    for ch in text:
        if printable(ch, spec.encoding):
            out.append(ch)
            continue
        sub = spec.substitutions.get(ch)
        replacement = None if sub is None else (sub.name if name else sub.other)
        if replacement is not None and all(printable(c, spec.encoding) for c in replacement):
            out.append(replacement)
            done.setdefault(ch, replacement)
        else:
            out.append(ch)
            missing[ch] = None
    return Printed("".join(out), tuple(done.items()), tuple(missing))


def check_fields(texts: Iterable[tuple[str, str]], spec: PrintSpec
                 ) -> tuple[list[Substitution], list[Unprintable]]:
    """Substitutions and unprintable characters of (field key, text) pairs, once each."""
    subs: dict[Substitution, None] = {}
    bad: dict[Unprintable, None] = {}
    for key, text in texts:
        p = substitute(text, spec, name=key in NAME_FIELDS)
        for ch, rep in p.substituted:
            subs[Substitution(key, ch, rep)] = None
        for ch in p.unprintable:
            bad[Unprintable(key, ch)] = None
    return list(subs), list(bad)


# ---- the shipped table -------------------------------------------------------------------

_DASH = Substitute("ー", "－")  # a long vowel in a name, a hyphen in an address (1－2－3)
_DASHES = ("\u2011"  # NON-BREAKING HYPHEN
           "\u2012"  # FIGURE DASH
           "\u2013"  # EN DASH –
           "\u2014"  # EM DASH —
           "\u2043"  # HYPHEN BULLET
           "\u2e3a\u2e3b"  # TWO-EM / THREE-EM DASH
           "\ufe58"  # SMALL EM DASH
           "\ufe63"  # SMALL HYPHEN-MINUS
           "\u2796")  # HEAVY MINUS SIGN (emoji keyboards)

_VARIANTS = {
    # 異体字 outside cp932 → the usual form (JIS X 0213 / 2010 常用漢字 forms and others)
    "𠮷": "吉", "𡈽": "土", "𣘺": "橋", "𠮟": "叱", "剝": "剥",
    "頰": "頬", "塡": "填", "俱": "倶", "瘦": "痩", "繫": "繋", "搔": "掻", "醬": "醤",
    "蔣": "蒋", "鷗": "鴎", "揭": "掲", "禱": "祷", "吞": "呑", "嚙": "噛", "屛": "屏",
    "幷": "并", "姸": "妍", "卽": "即",
    # kana cp932 lacks
    "ゔ": "ヴ", "ゕ": "ヵ", "ゖ": "ヶ", "ヷ": "ヴァ", "ヸ": "ヴィ", "ヹ": "ヴェ", "ヺ": "ヴォ",
    "ゟ": "より", "ヿ": "コト", "〻": "々", "\u3099": "゛", "\u309a": "゜",
    # marks and symbols
    "∼": "～", "⁓": "～", "〰": "～", "¥": "￥", "¦": "￤", "‾": "￣", "·": "・", "•": "・",
    "‧": "・", "©": "(C)", "®": "(R)", "™": "TM", "‼": "!!", "⁉": "!?", "⁈": "?!",
    "㋿": "令和",
    # Latin letters that do not decompose to an ASCII letter and an accent
    "ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE", "đ": "d",
    "Đ": "D", "ł": "l", "Ł": "L", "ı": "i", "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D",
}
_SPACES = "\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u2028\u2029"
_INVISIBLE = ("\u00ad\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
              "\u2060\u2066\u2067\u2068\u2069\ufeff")


def _generated() -> dict[str, str]:
    """Entries the shipped table builds from Unicode data, for cp932:
    - variation selectors (U+FE00–FE0F, IVS U+E0100–E01EF: 葛󠄀, 辻󠄀) are dropped, leaving
      the base character;
    - combining accents (U+0300–036F) are dropped, and accented Latin letters (é, ü, ñ)
      become their ASCII letter;
    - CJK compatibility ideographs cp932 lacks become their canonical equivalent;
    - circled numbers 21–50 become (21)…(50);
    - mathematical letters and digits (𝐀, 𝓣: "fancy fonts" pasted into a name) become
      their plain ASCII letter or digit.
    """
    out: dict[str, str] = {}
    for cp in (*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0), *range(0x0300, 0x0370)):
        out[chr(cp)] = ""
    for cp in range(0x00C0, 0x0250):
        ch = chr(cp)
        base = unicodedata.normalize("NFD", ch)[0]
        if base != ch and base.isascii() and base.isalpha():
            out[ch] = base
    for cp in range(0xF900, 0xFB00):
        ch = chr(cp)
        canon = unicodedata.normalize("NFC", ch)
        if canon != ch and not printable(ch, "cp932") and printable(canon, "cp932"):
            out[ch] = canon
    for n, cp in enumerate((*range(0x3251, 0x3260), *range(0x32B1, 0x32C0)), start=21):
        out[chr(cp)] = f"({n})"
    for cp in range(0x1D400, 0x1D800):
        plain = unicodedata.normalize("NFKC", chr(cp))
        if len(plain) == 1 and plain.isascii() and plain.isalnum():
            out[chr(cp)] = plain
    return out


def _default() -> dict[str, Substitute]:
    table = {ch: Substitute.same(text) for ch, text in _generated().items()}
    table.update({ch: Substitute.same(text) for ch, text in _VARIANTS.items()})
    table.update({ch: Substitute.same(" ") for ch in _SPACES})
    table.update({ch: Substitute.same("") for ch in _INVISIBLE})
    table.update({ch: _DASH for ch in _DASHES})
    return table


DEFAULT_SUBSTITUTIONS: Mapping[str, Substitute] = _default()
"""The shipped table, built for cp932: every key is a character cp932 lacks, every value
text cp932 holds (tests/domain/test_printing.py checks each entry). docs/configuration.md
lists it."""
