"""Printable characters and substitution (unyo.domain.printing), and the hand-off's decision
on what it found (HandOff in decide())."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import T0, channel_order
from unyo.domain import Actor, CloseGate, EventType, GateKind, HandOff, ImportOrder, Stage, decide
from unyo.domain.printing import (
    DEFAULT_SUBSTITUTIONS,
    GETA,
    PrintSpec,
    Substitute,
    Substitution,
    Unprintable,
    check_fields,
    printable,
    substitute,
)

CP932 = PrintSpec()


def encodes(text: str, encoding: str = "cp932") -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def test_every_default_entry_replaces_a_character_cp932_lacks_by_text_it_holds():
    wrong = [f"U+{ord(ch):04X} → {sub}" for ch, sub in DEFAULT_SUBSTITUTIONS.items()
             if encodes(ch) or printable(ch, "cp932")
             or not (encodes(sub.name) and encodes(sub.other))
             or not all(printable(c, "cp932") for c in sub.name + sub.other)]
    assert len(DEFAULT_SUBSTITUTIONS) > 1000 and not wrong, wrong


@pytest.mark.parametrize("char", ["𠮷", "𡈽", "𣘺", "—", "–", "\u00a0", "\u200b", "\ufe0f"])
def test_the_keys_the_issue_names_are_not_in_cp932(char: str):
    assert not encodes(char)
    assert char in DEFAULT_SUBSTITUTIONS


@pytest.mark.parametrize(("text", "name", "expected", "substituted"), [
    ("𠮷田", True, "吉田", {"𠮷": "吉"}),
    ("𡈽屋", True, "土屋", {"𡈽": "土"}),
    ("𣘺本", True, "橋本", {"𣘺": "橋"}),
    ("ジョ—ジ", True, "ジョージ", {"—": "ー"}),  # a dash in a name is a long vowel
    ("神宮前1—2–3", False, "神宮前1－2－3", {"—": "－", "–": "－"}),  # in an address, a hyphen
    ("葛\U000e0100飾区", False, "葛飾区", {"\U000e0100": ""}),  # an IVS is dropped
    ("José", True, "Jose", {"é": "e"}),
    ("山田\u00a0太郎", True, "山田 太郎", {"\u00a0": " "}),
    ("〜", False, "〜", {}),  # CPython's cp932 writes it as the byte of ～
])
def test_substitutes(text: str, name: bool, expected: str, substituted: dict[str, str]):
    p = substitute(text, CP932, name=name)
    assert p.text == expected and dict(p.substituted) == substituted and not p.unprintable
    assert encodes(p.text)


@pytest.mark.parametrize("text", ["髙橋", "山﨑", "德川", "草彅", "濵田", "瀨戸", "㈱山田", "Ⅱ世",
                                  "ﾀｶﾊｼ", "①", "〒", "―‐", "～"])
def test_what_cp932_holds_is_never_changed(text: str):
    assert substitute(text, CP932) == substitute(text, CP932, name=True)
    assert substitute(text, CP932).text == text and not substitute(text, CP932).substituted


def test_a_character_with_no_substitute_is_reported_with_its_field_and_code_point():
    subs, bad = check_fields([("recipient_name", "😀田"), ("address", "𠮷\u202e")], CP932)
    assert subs == [Substitution("address", "𠮷", "吉"), Substitution("address", "\u202e", "")]
    assert [u.reason for u in bad] == ["送付先氏名に印字できない文字「😀」(U+1F600)"]
    # an invisible character is named by its code point only, never shown as itself
    assert Unprintable("address", "\x07").reason == "送付先住所に印字できない文字(U+0007)"


def test_utf8_holds_everything_but_control_characters():
    utf8 = PrintSpec("utf-8")
    assert substitute("𠮷田😀—", utf8).text == "𠮷田😀—"
    assert substitute("a\x07b", utf8).unprintable == ("\x07",)


def test_a_substitute_that_is_not_printable_is_no_substitute():
    spec = PrintSpec("cp932", {"😀": Substitute.same("😁")})
    assert substitute("😀", spec).unprintable == ("😀",)


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
SAMPLES = st.sampled_from(["𠮷", "—", "髙", "ｶ", "😀", "\u200b", "\x07", "〜", "é", "\U000e0100",
                           "㉑", "𝐀"])
MIXED = st.lists(st.one_of(TEXT, SAMPLES), max_size=6).map("".join)


@settings(max_examples=300, deadline=None)
@given(MIXED, st.sampled_from(["cp932", "utf-8"]), st.booleans())
def test_after_substitution_it_prints_or_the_rest_is_exactly_what_has_no_substitute(
        text: str, encoding: str, name: bool):
    spec = PrintSpec(encoding)
    p = substitute(text, spec, name=name)
    left = [ch for ch in dict.fromkeys(p.text) if not printable(ch, encoding)]
    assert list(p.unprintable) == left
    if not left:
        assert encodes(p.text, encoding)
    for ch in left:
        assert ch in text and (ch not in DEFAULT_SUBSTITUTIONS or encoding != "cp932")


@settings(max_examples=300, deadline=None)
@given(MIXED, st.sampled_from(["cp932", "utf-8"]), st.booleans())
def test_substitution_is_idempotent_and_never_changes_what_prints(
        text: str, encoding: str, name: bool):
    spec = PrintSpec(encoding)
    once = substitute(text, spec, name=name)
    twice = substitute(once.text, spec, name=name)
    assert twice.text == once.text and not twice.substituted
    # characters that print come through in order; only the others were replaced
    kept = [ch for ch in text if printable(ch, encoding)]
    replaced = dict(once.substituted)
    rebuilt = "".join(ch if printable(ch, encoding) else replaced.get(ch, ch) for ch in text)
    assert rebuilt == once.text
    assert all(ch not in replaced for ch in kept)


# ---- the hand-off's decision -------------------------------------------------------------

def _ready():
    order = decide(None, ImportOrder("shop", channel_order(status=300), T0, confirm=False,
                                     thanks_mail=False)).order
    assert order.stage is Stage.ready
    return order


def test_hand_off_records_the_substitutions_it_carries():
    subs = (Substitution("recipient_name", "𠮷", "吉"),)
    d = decide(_ready(), HandOff(T0, subs))
    assert d.order.stage is Stage.at_warehouse
    [event] = [e for e in d.events if e.type is EventType.characters_substituted]
    assert event.data["substitutions"] == [{"field": "送付先氏名", "char": "𠮷",
                                            "code": "U+20BB7", "replacement": "吉"}]
    assert not [e for e in decide(_ready(), HandOff(T0)).events
                if e.type is EventType.characters_substituted]


def test_hand_off_stops_on_an_unseen_character_and_goes_once_a_person_closed_its_gate():
    bad = (Unprintable("recipient_name", "😀"),)
    d = decide(_ready(), HandOff(T0, (), bad))
    assert d.order.stage is Stage.processing and not d.effects
    [gate] = d.order.open_gates
    assert gate.reason == "送付先氏名に印字できない文字「😀」(U+1F600)"
    # the system closing it is not a person seeing it
    closed_by_system = decide(d.order, CloseGate(GateKind.check, T0, Actor.system))
    assert decide(closed_by_system.order, HandOff(T0, (), bad)).order.stage is Stage.processing
    seen = decide(d.order, CloseGate(GateKind.check, T0, Actor.person))
    went = decide(seen.order, HandOff(T0, (), bad))
    assert went.order.stage is Stage.at_warehouse
    [event] = [e for e in went.events if e.type is EventType.characters_substituted]
    assert event.data["substitutions"][0]["replacement"] == GETA
