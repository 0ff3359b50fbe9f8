"""RMS JSON samples for the rakuten adapter tests (shapes from reference/rakuten-rms.md)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import httpx

_ORDER: dict[str, Any] = {
    "orderNumber": "123456-20261127-0000000001",
    "orderProgress": 100,
    "subStatusId": None,
    "subStatusName": None,
    "orderDatetime": "2026-11-27T10:15:30+0900",
    "shopOrderCfmDatetime": None,
    "orderFixDatetime": None,
    "shippingInstDatetime": None,
    "shippingCmplRptDatetime": None,
    "cancelDueDate": "2026-12-11",
    "deliveryDate": "2026-11-30",
    "shippingTerm": 1416,
    "remarks": "[配送日時指定:]\n2026-11-30(月) 14:00～16:00",
    "giftCheckFlag": 0,
    "severalSenderFlag": 0,
    "equalSenderFlag": 1,
    "isolatedIslandFlag": 0,
    "rakutenMemberFlag": 1,
    "orderType": 1,
    "reserveNumber": None,
    "cautionDisplayType": 0,
    "asurakuFlag": 0,
    "deliveryCertPrgFlag": 0,
    "oneDayOperationFlag": 0,
    "goodsPrice": 3300,
    "postagePrice": 600,
    "deliveryPrice": 0,
    "paymentCharge": 0,
    "totalPrice": 3900,
    "requestPrice": 3700,
    "couponAllTotalPrice": 100,
    "memo": None,
    "operator": None,
    "modifyFlag": 0,
    "OrdererModel": {
        "zipCode1": "158", "zipCode2": "0094", "prefecture": "東京都", "city": "世田谷区",
        "subAddress": "玉川1-14-1", "familyName": "楽天", "firstName": "太郎",
        "familyNameKana": "ラクテン", "firstNameKana": "タロウ", "phoneNumber1": "03",
        "phoneNumber2": "1234", "phoneNumber3": "5678",
        "emailAddress": "0123456789abcdef0123456789abcdefs1@pc.fw.rakuten.ne.jp",
        "sex": "男", "birthYear": 1980,
    },
    "SettlementModel": {"settlementMethodCode": 1, "settlementMethod": "クレジットカード",
                        "rpaySettlementFlag": 1, "cardName": "VISA"},
    "DeliveryModel": {"deliveryName": "宅配便", "deliveryClass": 0},
    "PointModel": {"usedPoint": 100},
    "WrappingModel1": None,
    "WrappingModel2": None,
    "PackageModelList": [{
        "basketId": 10746402,
        "postagePrice": 600,
        "deliveryPrice": 0,
        "goodsPrice": 3300,
        "totalPrice": 3900,
        "noshi": None,
        "defaultDeliveryCompanyCode": "1001",
        "SenderModel": {
            "zipCode1": "530", "zipCode2": "0001", "prefecture": "大阪府", "city": "大阪市北区",
            "subAddress": "梅田1-1", "familyName": "山田", "firstName": "花子",
            "familyNameKana": "ヤマダ", "firstNameKana": "ハナコ", "phoneNumber1": "06",
            "phoneNumber2": "1111", "phoneNumber3": "2222", "isolatedIslandFlag": 0,
        },
        "ItemModelList": [{
            "itemDetailId": 555001, "itemName": "みかん 5kg", "itemId": 10000119,
            "itemNumber": "mikan-5", "manageNumber": "mikan", "price": 3300, "units": 1,
            "taxRate": 0.08, "selectedChoice": "サイズ:L", "inventoryType": 2,
            "delvdateInfo": "12月上旬発送",
            "SkuModelList": [{"variantId": "v1", "merchantDefinedSkuId": "MIKAN-5-L",
                              "skuInfo": "サイズ:L"}],
        }],
        "ShippingModelList": [],
        "DeliveryCvsModel": None,
    }],
    "CouponModelList": [],
    "ChangeReasonModelList": [],
    "TaxSummaryModelList": [],
}


def order_model(number: str | None = None, **changes: Any) -> dict[str, Any]:
    """A full, valid getOrder OrderModel; `changes` replace top-level keys."""
    model = copy.deepcopy(_ORDER)
    if number is not None:
        model["orderNumber"] = number
    model.update(changes)
    return model


def message(code: str, text: str, *, type_: str = "INFO", **extra: Any) -> dict[str, Any]:
    return {"messageType": type_, "messageCode": code, "message": text, **extra}


def reply(status: int = 200, body: Any = None,
          headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        body = {"MessageModelList": [message("OK_INFO_101", "ok")]}
    return httpx.Response(status, content=json.dumps(body, ensure_ascii=False).encode(),
                          headers={"Content-Type": "application/json", **(headers or {})})


def mock_http(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def body_of(request: httpx.Request) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(request.content)
    return data


def method_of(request: httpx.Request) -> str:
    return request.url.path.rstrip("/").rsplit("/", 1)[-1]
