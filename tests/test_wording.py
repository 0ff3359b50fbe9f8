"""What people read for what unyo records (`unyo.wording`): every event type, actor,
effect, stage and gate in words, in Japanese and English, whatever the data."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unyo import wording
from unyo.domain import Actor, EffectKind, EventType, GateKind, MailKind, Stage

KEYS = re.compile(r"\b[a-z]+_[a-z_]+\b")  # an internal key such as order_imported
REPR = re.compile(r"[{}]|\[\s*'|'\s*\]|None\b|True\b|False\b")


def _clean(text: str) -> None:
    assert text.strip()
    assert not KEYS.search(text), text
    assert not REPR.search(text), text


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_event_type_has_a_sentence(lang: str):
    assert set(wording.SENTENCES) == {t.value for t in EventType}
    for t in EventType:
        _clean(wording.event_text(t, {}, lang))


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_name_is_words(lang: str):
    for kinds, say in ((Stage, wording.stage_name), (GateKind, wording.gate_name),
                       (EffectKind, wording.effect_name), (MailKind, wording.mail_name),
                       (Actor, wording.actor_text)):
        names = [say(k, lang=lang) for k in kinds]  # type: ignore[operator]
        for n in names:
            _clean(n)
        assert len(set(names)) == len(names), names
    for status in ("pending", "done", "failed"):
        _clean(wording.effect_status(status, lang))


def test_the_sentences_people_read():
    say = wording.event_text
    assert say("order_imported", {"rms_status": 100, "total": 4400}) == \
        "楽天から取込（RMS 100、合計 4,400円）"
    assert say("gate_opened", {"kind": "check", "reason": "備考欄を確認", "rule": "備考欄あり"}) \
        == "確認待ち: 備考欄を確認（ルール「備考欄あり」）"
    assert say("stage_changed", {"from": "processing", "to": "ready"}) == "段階: 受注処理 → 出荷OK"
    assert say("field_set", {"field": "warehouse_note", "value": "割れ物"}) == \
        "倉庫への指示を「割れ物」に設定"
    assert say("effect_failed", {"effect": "confirm_order", "error": "ERROR_105"}) == \
        "注文確認に失敗: ERROR_105"
    assert say("order_imported", {"rms_status": 100, "total": 4400}, "en") == \
        "Imported from Rakuten (RMS 100, total ¥4,400)"
    assert wording.actor_text("person", {"by": "山田"}) == "担当者: 山田"
    assert wording.actor_text(Actor.channel) == "楽天RMS"


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(alphabet="あいう注文 12", max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["number", "id", "x"]), inner, max_size=3),
                    max_leaves=8)
FIELDS = st.dictionaries(st.sampled_from(
    ["rms_status", "total", "kind", "reason", "rule", "until", "note", "from", "to", "merged",
     "order_number", "field", "value", "tag", "baskets", "parcels", "shipped_packages",
     "packages", "into", "orders", "effect", "error", "command", "rms", "by", "other"]),
    JSON, max_size=6)


@settings(max_examples=300, deadline=None)
@given(type_=st.sampled_from([t.value for t in EventType] + ["some_new_event"]), data=FIELDS,
       lang=st.sampled_from(["ja", "en"]))
def test_any_data_gives_a_sentence_without_keys_or_reprs(type_: str, data: dict, lang: str):
    """Old or odd data never shows a key, a dict or None, and never raises."""
    text = wording.event_text(type_, data, lang)
    assert text.strip()
    assert type_ not in text
    assert "{'" not in text and "None" not in text and "some_new_event" not in text


def test_a_payment_wait_says_the_method_and_the_day():
    """Days are JST calendar days; the day the wait began is day 1."""
    from datetime import UTC, datetime

    opened = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 10:00 JST on the 1st
    wait = wording.payment_wait
    assert wait(9, opened, opened) == "入金待ち（銀行振込・1日目）"
    assert wait(9, opened, datetime(2026, 12, 5, 14, 59, tzinfo=UTC)) == \
        "入金待ち（銀行振込・5日目）"  # 23:59 JST on the 5th
    assert wait(9, opened, datetime(2026, 12, 5, 15, 0, tzinfo=UTC)) == \
        "入金待ち（銀行振込・6日目）"  # midnight JST: the 6th
    assert wait(1, opened, opened, "en") == "Awaiting payment (credit card, day 1)"
    assert wait(99, None, opened) == "入金待ち（その他の支払方法）"
