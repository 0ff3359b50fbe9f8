"""The order types of getOrder versions 6–10 (コンビニ受取, 置き配, ソーシャルギフト, 当日出荷,
注意表示) read into the domain: each key as Rakuten documents it, any value in them mapped
or named (Hypothesis), the fast path and the strict one agreeing, and the store keeping
what was read."""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.adapters.rakuten.rms_samples import order_model
from unyo.adapters.db.codec import channel_from_json, channel_to_json
from unyo.adapters.rakuten.errors import MappingError
from unyo.adapters.rakuten.mapping import (
    CAUTION_DETAILS,
    CAUTION_TYPES,
    CVS_CHAINS,
    DROP_OFF_UNSPECIFIED,
    _channel_order,
    channel_order_from_rms,
)
from unyo.clock import JST
from unyo.domain import PickupStore, SocialGift

CVS = {"cvsCode": 1, "storeGenreCode": "8895", "storeCode": "15358",
       "storeName": "ファミリーマート 楽天クリムゾンハウス店", "storeZip": "158-0094",
       "storePrefecture": "東京都", "storeAddress": "世田谷区玉川一丁目14番1号",
       "areaCode": "01", "depo": "07", "openTime": "06:00", "closeTime": "24:00",
       "cvsRemarks": "備考"}
GIFT = {"sgMngNumber": "123456-20261127-0000000001-sg", "inputDueDate": "2026-12-04",
        "inputFlag": 0, "inputCompDatetime": None,
        "receiverEmailAddress": "815db15ff6ee7c0285bf7f5ce8485450s1@pc.fw.rakuten.ne.jp"}


def _model(package: dict[str, Any] | None = None, **order: Any) -> dict[str, Any]:
    m = order_model(**order)
    m["PackageModelList"][0].update(package or {})
    return m


def test_each_type_is_read_as_rakuten_documents_it() -> None:
    store = channel_order_from_rms(_model({"DeliveryCvsModel": CVS}))
    assert store.packages[0].pickup_store == PickupStore(
        "ファミリーマート", "15358", "ファミリーマート 楽天クリムゾンハウス店", "1580094", "東京都",
        "世田谷区玉川一丁目14番1号", "備考")
    drop = channel_order_from_rms(_model({"dropOffFlag": 1, "dropOffLocation": "宅配ボックス"}))
    assert drop.packages[0].drop_off == "宅配ボックス"
    face = channel_order_from_rms(_model({"dropOffFlag": 0, "dropOffLocation": None}))
    assert face.packages[0].drop_off == ""  # 対面受取
    unnamed = channel_order_from_rms(_model({"dropOffFlag": 1, "dropOffLocation": None}))
    assert unnamed.packages[0].drop_off == DROP_OFF_UNSPECIFIED
    gift = channel_order_from_rms(_model({"SocialGiftModel": GIFT}, socialGiftFlag=1))
    assert gift.social_gift and gift.awaiting_gift_address
    assert gift.packages[0].social_gift == SocialGift(GIFT["sgMngNumber"], date(2026, 12, 4),
                                                      False)
    given_ = channel_order_from_rms(_model({"SocialGiftModel": {
        **GIFT, "inputFlag": 1, "inputCompDatetime": "2026-11-28T09:59:47+0900"}},
        socialGiftFlag=1))
    assert not given_.awaiting_gift_address
    assert given_.packages[0].social_gift.given_at == datetime(2026, 11, 28, 9, 59, 47,
                                                               tzinfo=JST)
    assert channel_order_from_rms(_model(oneDayOperationFlag=1)).same_day
    caution = channel_order_from_rms(_model(cautionDisplayType=1, cautionDisplayDetailType=102))
    assert (caution.caution, caution.caution_detail) == ("注意喚起", "受取拒否に注意")
    cancel = channel_order_from_rms(_model(cautionDisplayType=2, cautionDisplayDetailType=None))
    assert (cancel.caution, cancel.caution_detail) == ("キャンセル確定", "")
    unknown = channel_order_from_rms(_model(cautionDisplayType=3, cautionDisplayDetailType=199))
    assert (unknown.caution, unknown.caution_detail) == ("注意表示 3", "注意表示の詳細 199")
    plain = channel_order_from_rms(_model(cautionDisplayType=0))
    assert not (plain.caution or plain.same_day or plain.social_gift)
    assert not any(p.pickup_store or p.drop_off or p.social_gift for p in plain.packages)
    assert "cautionDisplayType" not in plain.extra  # typed: no raw key past the mapping


def test_an_empty_store_model_is_no_store_pickup() -> None:
    empty = dict.fromkeys(CVS)
    assert channel_order_from_rms(_model({"DeliveryCvsModel": empty})).packages[0] \
        .pickup_store is None


flags = st.sampled_from([0, 1, "0", "1", None, True, 2, -1, "x", 1.0, [], {}])
codes = st.none() | st.integers(-5, 300) | st.sampled_from(
    [*CAUTION_TYPES, *CAUTION_DETAILS, *CVS_CHAINS, "1", 1.5, True, [], 2**40])
words = st.none() | st.text(max_size=12) | st.integers() | st.sampled_from(
    ["158-0094", "１５８－００９４", "2026-12-04", "2026-11-28T09:59:47+0900", "x\x00y"])


def _maybe(keys: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.none() | st.fixed_dictionaries({}, optional=keys) | st.sampled_from(
        [[], "x", 1])


stores = _maybe({k: codes if k == "cvsCode" else words for k in CVS})
gifts = _maybe({"sgMngNumber": words, "inputDueDate": words,
                "inputFlag": flags, "inputCompDatetime": words})


@settings(max_examples=400, deadline=None)
@given(store=stores, gift=gifts, drop_flag=flags, drop_where=words, caution=codes,
       detail=codes, social=flags, same_day=flags)
def test_any_value_in_the_type_keys_maps_or_is_named(store: Any, gift: Any, drop_flag: Any,
                                                      drop_where: Any, caution: Any,
                                                      detail: Any, social: Any,
                                                      same_day: Any) -> None:
    model = _model({"DeliveryCvsModel": store, "SocialGiftModel": gift,
                    "dropOffFlag": drop_flag, "dropOffLocation": drop_where},
                   cautionDisplayType=caution, cautionDisplayDetailType=detail,
                   socialGiftFlag=social, oneDayOperationFlag=same_day)
    try:
        order = channel_order_from_rms(copy.deepcopy(model))
    except MappingError as e:
        assert e.reason and len(e.reason) < 400
        return
    # the fast path (when it took the order) and the strict readers read the same
    if not order.notes:
        assert _channel_order(model, order.order_number) == order
    # the store keeps every part of it
    again = channel_from_json(channel_to_json(order))
    assert again == order and again.packages == order.packages
    p = order.packages[0]
    assert (p.drop_off != "") is (drop_flag in (1, "1", True, 1.0))
    if type(caution) is int and caution in CAUTION_TYPES:
        assert order.caution == CAUTION_TYPES[caution]
    if type(detail) is int and detail in CAUTION_DETAILS:
        assert order.caution_detail == CAUTION_DETAILS[detail]
    if p.pickup_store is not None:
        assert p.pickup_store.postal_code.isdigit() or p.pickup_store.postal_code == ""
    assert (p.social_gift is None) is (gift is None)
