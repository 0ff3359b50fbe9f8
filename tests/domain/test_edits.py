"""Typed recipient values (unyo.domain.edits), for the class of inputs: whatever is typed
is either a clean recipient RMS takes or a list of problems in Japanese; full-width
digits, hyphens and spaces in postal codes and phones are normalised."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unyo.adapters.rakuten.channel import sender_model
from unyo.domain.edits import (
    FIELDS,
    LIMITS,
    PREFECTURES,
    EditError,
    only_digits,
    person_values,
    recipient_from,
)
from unyo.sandbox.rms_emulator import _sender_error

GOOD = {"family_name": "山田", "first_name": "太郎", "family_name_kana": "ヤマダ",
        "first_name_kana": "タロウ", "postal_code": "1500001", "prefecture": "東京都",
        "city": "渋谷区", "sub_address": "神宮前1-2-3", "phone": "03-1234-5678"}
FULL = str.maketrans("0123456789-", "０１２３４５６７８９－")

texts = st.text(st.characters(codec="utf-8"), max_size=60)
hostile = st.sampled_from(['<script>alert(1)</script>', '"><img src=x>', "=1+2", "太\r\n郎",
                           "\x00\x1f", "‮rtl", "ｶﾀｶﾅ", "　全角　空白　"])


digits = st.text("0123456789０１２３４５６７８９-－ ", min_size=7, max_size=14)
VALUES = {k: st.one_of(texts, hostile, st.just(GOOD[k])) for k in FIELDS} | {
    "prefecture": st.one_of(st.sampled_from(PREFECTURES), texts),
    "postal_code": st.one_of(digits, texts), "phone": st.one_of(digits, texts)}


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries(VALUES))
def test_any_input_is_a_clean_recipient_rms_takes_or_problems_in_japanese(values):
    try:
        person = recipient_from(values)
    except EditError as e:
        assert e.problems and all(any(ord(ch) > 0x3000 for ch in p) for p in e.problems)
        return
    out = person_values(person)
    for k, v in out.items():
        assert v == v.strip() and not any(unicodedata.category(ch)[0] == "C" for ch in v)
        assert unicodedata.normalize("NFKC", v) == v
        assert len(v) <= LIMITS.get(k, 100)
    assert out["prefecture"] in PREFECTURES and len(out["postal_code"]) == 7
    assert _sender_error(sender_model(out)) is None  # what unyo accepts, RMS takes


@settings(max_examples=200, deadline=None)
@given(st.text("0123456789", min_size=7, max_size=7),
       st.text("0123456789", min_size=10, max_size=11),
       st.booleans(), st.sampled_from(["", "-", " ", "ー", "－"]))
def test_full_width_digits_and_hyphens_are_normalised(code, phone, wide, sep):
    typed_code = code[:3] + sep + code[3:]
    typed_phone = phone[:3] + sep + phone[3:7] + sep + phone[7:]
    if wide:
        typed_code, typed_phone = typed_code.translate(FULL), typed_phone.translate(FULL)
    person = recipient_from(GOOD | {"postal_code": typed_code, "phone": typed_phone})
    assert person.address.postal_code == code
    assert only_digits(person.phone) == phone
    assert all(part for part in person.phone.split("-")) and person.phone.count("-") == 2
    sender = sender_model(person_values(person))
    assert sender["zipCode1"] + sender["zipCode2"] == code
    assert _sender_error(sender) is None


@pytest.mark.parametrize("field", sorted(LIMITS))
def test_lengths_at_and_past_the_limit(field):
    limit = LIMITS[field]
    assert len(person_values(recipient_from(GOOD | {field: "あ" * limit}))[field]) == limit
    with pytest.raises(EditError) as e:
        recipient_from(GOOD | {field: "あ" * (limit + 1)})
    assert f"{limit}文字以内" in e.value.problems[0]


def test_half_width_kana_becomes_full_width_and_controls_go():
    person = recipient_from(GOOD | {"family_name_kana": "ﾔﾏﾀﾞ", "first_name": "太\r\n郎"})
    assert person.family_name_kana == "ヤマダ" and person.first_name == "太 郎"


# ---- the edit kept on the order until RMS shows it (decide) ---------------------------

from dataclasses import replace as _replace  # noqa: E402

from tests.factories import T0, channel_order, minutes  # noqa: E402
from unyo.domain import (  # noqa: E402
    DomainError,
    EditRecipient,
    EffectKind,
    EventType,
    GateKind,
    ImportOrder,
    RecordEffectFailed,
    RecordRmsUpdated,
    SyncOrder,
    decide,
)
from unyo.domain.decide import REASON_CHANGED  # noqa: E402


def _edited():  # type: ignore[no-untyped-def]
    channel = channel_order(status=300)
    order = decide(None, ImportOrder("shop", channel, T0)).order
    basket = channel.packages[0].basket_id
    d = decide(order, EditRecipient(basket, recipient_from(GOOD | {"city": "港区"}), T0,
                                    "電話", by="suzuki"))
    return channel, d


def _rms_shows(channel, city: str):  # type: ignore[no-untyped-def]
    p = channel.packages[0]
    r = _replace(p.recipient, address=_replace(p.recipient.address, city=city))
    return _replace(channel, packages=(_replace(p, recipient=r),), remarks="changed")


def test_an_edit_records_who_and_why_and_queues_one_write_back():
    _, d = _edited()
    (event,) = [e for e in d.events if e.type is EventType.recipient_edited]
    assert event.data["by"] == "suzuki" and event.data["note"] == "電話"
    assert event.data["changes"]["city"][1] == "港区"
    (effect,) = d.effects
    assert effect.kind is EffectKind.update_at_rms
    again = decide(d.order, EditRecipient(d.order.channel.packages[0].basket_id,
                                          recipient_from(GOOD | {"city": "港区"}), T0))
    assert not again.events and not again.effects  # the same edit again: nothing


def test_a_sync_before_rms_has_it_keeps_the_edit_and_opens_nothing():
    channel, d = _edited()
    synced = decide(d.order, SyncOrder(_rms_shows(channel, channel.packages[0].recipient
                                                  .address.city), T0 + minutes(1)))
    assert synced.order.channel.packages[0].recipient.address.city == "港区"
    assert not [g for g in synced.order.open_gates if g.reason == REASON_CHANGED]


def test_rms_showing_the_edit_ends_the_wait():
    channel, d = _edited()
    accepted = decide(d.order, RecordRmsUpdated(d.effects[0].dedupe_key, T0))
    assert [e.type for e in accepted.events] == [EventType.rms_updated]
    edited = _replace(channel, packages=d.order.channel.packages, remarks="changed")
    synced = decide(accepted.order, SyncOrder(edited, T0 + minutes(1)))
    assert not any(k.startswith("pending_recipient:") for k, _ in synced.order.settings)
    assert not [g for g in synced.order.open_gates if g.reason == REASON_CHANGED]


def test_a_change_at_rms_after_it_took_the_edit_wins():
    channel, d = _edited()
    accepted = decide(d.order, RecordRmsUpdated(d.effects[0].dedupe_key, T0)).order
    synced = decide(accepted, SyncOrder(_rms_shows(channel, "品川区"), T0 + minutes(1)))
    assert synced.order.channel.packages[0].recipient.address.city == "品川区"
    assert [g for g in synced.order.open_gates if g.reason == REASON_CHANGED]


def test_a_refused_write_back_waits_for_a_person():
    _, d = _edited()
    failed = decide(d.order, RecordEffectFailed(EffectKind.update_at_rms, "だめ; X", T0))
    (gate,) = [g for g in failed.order.open_gates if g.kind is GateKind.check]
    assert gate.reason.startswith("楽天で送付先を変更できませんでした（だめ; X）")


def test_an_edit_is_refused_past_rms_300_and_after_the_hand_off():
    channel = channel_order(status=500)
    order = decide(None, ImportOrder("shop", channel, T0)).order
    with pytest.raises(DomainError):
        decide(order, EditRecipient(channel.packages[0].basket_id, recipient_from(GOOD), T0))


def test_after_a_refusal_what_a_person_sets_in_rms_wins():
    channel, d = _edited()
    failed = decide(d.order, RecordEffectFailed(EffectKind.update_at_rms, "だめ", T0,
                                                d.effects[0].dedupe_key)).order
    still = decide(failed, SyncOrder(_rms_shows(channel, channel.packages[0].recipient
                                                .address.city), T0 + minutes(1)))
    assert still.order.channel.packages[0].recipient.address.city == "港区"  # not yet
    fixed = decide(failed, SyncOrder(_rms_shows(channel, "目黒区"), T0 + minutes(2)))
    assert fixed.order.channel.packages[0].recipient.address.city == "目黒区"
