"""The remarks reader: Rakuten's template lines apart, every buyer's word a request."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unyo.domain.remarks import RemarksTemplate, quote, read_remarks

TEMPLATE_ONLY = [
    "",
    "[配送日時指定:]\n",
    "[配送日時指定：]\n",
    "［配送日時指定：］\n",
    "[配送日時指定:]\n2026-12-10(木)\n",
    "[配送日時指定:]\n2026-12-10(木)\n午前中\n",
    "[配送日時指定：]\n2026-12-10（木）\n14:00～16:00",
    "[配送日時指定:]\n2026-12-10(木) 14時～16時",
    "[配送日時指定:]\n２０２６－１２－１０(木)\n１８：００～２０：００\n",
    "[配送日時指定:]\n指定なし",
    "[配送日時指定:]\n\n\n",
    "[配送日時指定:]\r\n2026-11-30(月)\r\n19時以降\r\n",
    "[配送日時指定:]2026-12-10(木) 午前中",
    "[配送日時指定:]\n2026-12-10(木)\n[備考:]\n\n[メッセージ:]\n",
    "[備考:]\n",
    "[備考：]\n\n",
    "[メッセージ:]\n",
    "[メッセージ：]\n特になし",
    "[メッセージ:]\nなし",
    "[お届け日時指定:]\n12月10日(木)\n午後",
    "[ギフト:]\n希望する",
    "[のし:]\n御歳暮\n[配送日時指定:]\n指定なし",
    "\n\n[配送日時指定:]\n\n",
]

REQUESTS = [
    ("[配送日時指定:]\n\n\n注文を間違えました。キャンセルをお願いします。",
     "注文を間違えました。キャンセルをお願いします。"),
    ("[配送日時指定:]\n金額のわかる明細書は入れないでください",
     "金額のわかる明細書は入れないでください"),
    ("[配送日時指定:]\n2026-12-10(木)\n午前中\n\n領収書をお願いします（宛名: 株式会社サンプル）",
     "領収書をお願いします（宛名: 株式会社サンプル）"),
    ("[配送日時指定:]\n2026-12-10(木)\n領収書希望", "領収書希望"),
    ("領収書をお願いします\n[配送日時指定:]\n2026-12-10(木)", "領収書をお願いします"),
    ("[配送日時指定：]\n\n[メッセージ：]\nギフト包装をお願いします", "ギフト包装をお願いします"),
    ("[メッセージ:]\n2026-12-10(木)に届けてください", "2026-12-10(木)に届けてください"),
    ("[メッセージ:]\n12/10", "12/10"),  # under メッセージ a bare date is the buyer's
    ("[ギフト:]\n希望する\n赤いリボンで", "赤いリボンで"),
    ("[のし:]\n\n注文を間違えました", "注文を間違えました"),
    ("[備考:]\n<script>alert(1)</script>", "<script>alert(1)</script>"),
    ("急ぎです", "急ぎです"),
    ("[配送日時指定:]\n指定なし\n\n\n\nキャンセルしたいです\n[メッセージ:]\n\n前回分と同梱で",
     "キャンセルしたいです\n前回分と同梱で"),
    ("[ご利用目的:]\n自宅用", "自宅用"),  # not the shop's question here: a request
]


@pytest.mark.parametrize("text", TEMPLATE_ONLY)
def test_template_lines_alone_are_no_request(text: str) -> None:
    assert read_remarks(text).request == ""


@pytest.mark.parametrize(("text", "wanted"), REQUESTS)
def test_what_a_buyer_wrote_is_a_request_wherever_it_stands(text: str, wanted: str) -> None:
    assert read_remarks(text).request == wanted


def test_the_shops_own_questions_and_answers_are_template() -> None:
    shop = RemarksTemplate(("ご利用目的", "※ご要望があればご記入ください"), ("自宅用", "ギフト用"))
    text = "[ご利用目的：]\n自宅用\n※ご要望があればご記入ください\n"
    assert read_remarks(text, shop).request == ""
    assert read_remarks("[ご利用目的:]\nギフト用\nのしをお願いします", shop).request == (
        "のしをお願いします")


def test_quote_is_one_line_cut_at_a_mark_without_control_characters() -> None:
    text = "注文を間違えました。\nキャンセルを\u202eお願いします。"
    assert quote(text, 15) == "注文を間違えました。…"
    assert quote(text, 40) == "注文を間違えました。 キャンセルを お願いします。"
    assert quote("領収書をお願いします", 30) == "領収書をお願いします"
    assert quote("あ" * 40, 30) == "あ" * 30 + "…"


_TEMPLATE = st.sampled_from([
    "[配送日時指定:]", "[配送日時指定：]", "[備考:]", "[メッセージ：]", "2026-12-10(木)", "午前中",
    "14:00～16:00", "14時～16時", "指定なし", "", "  "])
_WORDS = st.text(alphabet="注文間違キャンセル領収書明細入れないでくださいお願いします。急ぎ",
                 min_size=1, max_size=20).map(lambda w: "領収書" + w)


@settings(max_examples=200, deadline=None)
@given(before=st.lists(_TEMPLATE, max_size=6), after=st.lists(_TEMPLATE, max_size=6),
       words=_WORDS)
def test_buyer_words_among_any_template_lines_are_found(before: list[str], after: list[str],
                                                        words: str) -> None:
    # Given Japanese buyer text among template lines and blank lines, wherever it stands
    text = "\n".join([*before, words, *after])
    # then the request holds it
    assert words.strip() in read_remarks(text).request


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.sampled_from(["[配送日時指定:]", "[配送日時指定：]", "[備考:]",
                                       "[メッセージ:]", ""]), max_size=8))
def test_headers_and_blank_lines_are_never_a_request(lines: list[str]) -> None:
    assert read_remarks("\n".join(lines)).request == ""
