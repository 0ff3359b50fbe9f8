"""Search keys (`unyo.domain.search`): a name written in any kana form, width or 異体字
is found by any other; a phone by any hyphenation; nothing unrelated is."""

from __future__ import annotations

import unicodedata
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import BUYER, channel_order
from unyo.domain import Order, Stage
from unyo.domain.search import (
    VARIANTS,
    fold,
    number_terms,
    query_words,
    search_terms,
    terms_matching,
)

# Family names with their variants, given names, kana: the names shops meet.
FAMILIES = [("高橋", "タカハシ"), ("宮崎", "ミヤザキ"), ("斎藤", "サイトウ"), ("渡辺", "ワタナベ"),
            ("沢田", "サワダ"), ("浜田", "ハマダ"), ("徳永", "トクナガ"), ("桜井", "サクライ"),
            ("吉田", "ヨシダ"), ("島田", "シマダ"), ("広瀬", "ヒロセ"), ("佐藤", "サトウ"),
            ("鈴木", "スズキ"), ("田中", "タナカ"), ("中村", "ナカムラ"), ("山崎", "ヤマザキ")]
FIRSTS = [("花子", "ハナコ"), ("太郎", "タロウ"), ("恵", "メグミ"), ("真一", "シンイチ"),
          ("翔太", "ショウタ"), ("涼子", "リョウコ"), ("国男", "クニオ"), ("学", "マナブ")]

_FORMS: dict[str, set[str]] = {}
for _old, _new in VARIANTS.items():
    _FORMS.setdefault(_new, {_new}).add(_old)

_KATA = ("アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホ"
         "マミムメモヤユヨラリルレロワヲンァィゥェォャュョッー")
_HALF = "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｧｨｩｪｫｬｭｮｯｰ"
_TO_HALF = {ord(f): h for f, h in zip(_KATA, _HALF, strict=True)} | {0x3099: "ﾞ", 0x309A: "ﾟ"}


def test_variant_table_is_real_and_folds_the_issue_examples():
    assert len(VARIANTS) > 350  # the 常用漢字表's 旧字体 and the names' variants
    for variant, form in [("髙", "高"), ("﨑", "崎"), ("齋", "斎"), ("齊", "斎"), ("邊", "辺"),
                          ("邉", "辺"), ("澤", "沢"), ("濵", "浜"), ("濱", "浜"), ("德", "徳"),
                          ("櫻", "桜"), ("廣", "広"), ("國", "国"), ("𠮷", "吉")]:
        assert fold(variant) == fold(form) == form, variant
    assert all(fold(v) == v for v in VARIANTS.values()), "folding is one lookup"


@st.composite
def written(draw: st.DrawFn, text: str, kana: bool) -> str:
    """`text` as someone might write it: another 異体字 per character, hiragana, katakana
    or half-width kana, full-width or half-width, spaces in between."""
    out = []
    for ch in text:
        out.append(draw(st.sampled_from(sorted(_FORMS.get(ch, {ch})))))
    s = "".join(out)
    if len(s) > 1 and draw(st.booleans()):  # between two characters (not in a ｶﾞ)
        i = draw(st.integers(1, len(s) - 1))
        s = s[:i] + draw(st.sampled_from([" ", "\u3000"])) + s[i:]
    if kana:
        form = draw(st.sampled_from(["katakana", "hiragana", "half"]))
        if form == "hiragana":
            s = "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in s)
        elif form == "half":
            s = unicodedata.normalize("NFD", s).translate(_TO_HALF)
    return s


def order_of(family: str, first: str, family_kana: str, first_kana: str, *,
             phone: str = "03-1234-5678") -> Order:
    buyer = replace(BUYER, family_name=family, first_name=first, family_name_kana=family_kana,
                    first_name_kana=first_kana, phone=phone)
    channel = channel_order(buyer=buyer)
    channel = replace(channel, packages=tuple(replace(p, recipient=buyer)
                                              for p in channel.packages))
    return Order(shop="s", channel=channel, stage=Stage.processing)


def found(order: Order, text: str) -> bool:
    terms = search_terms(order)
    words = query_words(text)
    return bool(words) and (all(terms_matching(terms, w) for w in words)
                            or terms_matching(terms, "".join(words)))


@st.composite
def a_name_written_twice(draw: st.DrawFn) -> tuple[Order, str]:
    family, family_kana = draw(st.sampled_from(FAMILIES))
    first, first_kana = draw(st.sampled_from(FIRSTS))
    order = order_of(draw(written(family, False)), draw(written(first, False)),
                     draw(written(family_kana, True)), draw(written(first_kana, True)))
    which = draw(st.sampled_from(["family", "first", "full", "family kana", "first kana",
                                  "full kana", "full spaced"]))
    query = {"family": draw(written(family, False)), "first": draw(written(first, False)),
             "full": draw(written(family + first, False)),
             "family kana": draw(written(family_kana, True)),
             "first kana": draw(written(first_kana, True)),
             "full kana": draw(written(family_kana + first_kana, True)),
             "full spaced": draw(written(family, False)) + " " + draw(written(first, False)),
             }[which]
    return order, query


@settings(max_examples=400)
@given(a_name_written_twice())
def test_a_name_in_any_form_finds_the_order_written_in_any_other(case: tuple[Order, str]):
    order, query = case
    assert found(order, query), (order.channel.buyer, query)


@settings(max_examples=200)
@given(st.sampled_from(FAMILIES), st.sampled_from(FAMILIES), st.sampled_from(FIRSTS),
       st.data())
def test_no_match_on_an_unrelated_name(one: tuple[str, str], other: tuple[str, str],
                                      first: tuple[str, str], data: st.DataObject):
    if one == other:
        return
    order = order_of(data.draw(written(other[0], False)), first[0],
                     data.draw(written(other[1], True)), first[1])
    assert not found(order, data.draw(written(one[0], False))), (one, other)
    assert not found(order, data.draw(written(one[1], True))), (one, other)


@st.composite
def hyphenated(draw: st.DrawFn, number: str) -> str:
    """A phone number with hyphens, spaces or brackets anywhere, maybe full-width."""
    out = ""
    for i, d in enumerate(number):
        if i > 0 and draw(st.integers(0, 3)) == 0:
            out += draw(st.sampled_from(["-", " ", "‐", "－", "(", ")"]))
        out += d
    if draw(st.booleans()):
        out = out.translate({ord(c): chr(ord(c) + 0xFEE0) for c in "0123456789-"})
    return out


@settings(max_examples=300)
@given(st.from_regex(r"0[1-9][0-9]{8,9}", fullmatch=True), st.data())
def test_a_phone_in_any_hyphenation_finds_the_order(phone: str, data: st.DataObject):
    order = order_of("高橋", "花子", "タカハシ", "ハナコ", phone=data.draw(hyphenated(phone)))
    assert found(order, data.draw(hyphenated(phone)))
    assert found(order, phone[-4:]), "the last four digits"
    assert found(order, phone[:6])
    other = str((int(phone) + 1) % 10 ** len(phone)).zfill(len(phone))
    assert not found(order, data.draw(hyphenated(other[:-4] + "9" * 4)) if other[-4:] != "9999"
                     else "0000000000"), (phone, other)


@settings(max_examples=200)
@given(st.integers(1, 10 ** 10 - 1), st.integers(0, 9))
def test_an_order_number_by_any_part(serial: int, cut: int):
    number = f"123456-20261127-{serial:010d}"
    terms = number_terms(number)

    def hit(text: str) -> bool:
        words = query_words(text)
        return all(terms_matching(terms, w) for w in words) or terms_matching(
            terms, "".join(words))
    assert hit(number) and hit(number.replace("-", ""))
    assert hit(f"{serial:010d}") and hit(str(serial))  # the serial, with or without zeros
    assert hit(f"20261127-{serial:010d}"[: 9 + cut])  # from the date on
    assert hit(str(serial)[-4:] if serial >= 1000 else str(serial))  # 下4桁
    assert hit("１２３４５６－２０２６")  # full-width
    assert not hit(f"{(serial + 1) % 10 ** 10:010d}")


def test_items_are_found_by_name_from_any_word_or_kanji_and_by_sku():
    order = order_of("高橋", "花子", "タカハシ", "ハナコ")
    for text in ("コシヒカリ", "こしひかり", "ｺｼﾋｶﾘ", "新潟", "県産", "5kg", "ＫＯＭＥ-5",
                 "item-001"):
        assert found(order, text), text
    assert not found(order, "ササニシキ")


@given(st.text(max_size=80))
def test_folding_is_idempotent_and_never_keeps_a_control_character(text: str):
    once = fold(text)
    assert fold(once) == once
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in once)
