"""The order types between RmsClient and the RMS emulator over real HTTP: the keys of
getOrder versions 6–10 as the emulator serves them, read by the client's mapping, a
social gift's address arriving when its recipient answers, and older versions without
the keys they did not have yet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from unyo.adapters.rakuten import RmsClient, channel_order_from_rms
from unyo.clock import JST, SimClock
from unyo.sandbox.generator import generate_orders
from unyo.sandbox.rms_emulator import RmsEmulator, RmsEmulatorServer

SECRET, KEY = "SP-types", "SL-types"
DAY = datetime(2026, 12, 5, tzinfo=JST)
ORDERS = generate_orders(300, seed=1, start=DAY, end=DAY + timedelta(days=1))


@pytest.fixture
def rig() -> Iterator[tuple[RmsEmulator, RmsClient, SimClock, str, httpx.Client]]:
    clock = SimClock(DAY + timedelta(days=1))
    emulator = RmsEmulator(clock, service_secret=SECRET, license_key=KEY, orders=ORDERS)
    with RmsEmulatorServer(emulator) as server, httpx.Client(timeout=30) as http:
        client = RmsClient(http, base_url=server.base_url, service_secret=SECRET,
                           license_key=KEY, clock=clock, min_interval=0)
        yield emulator, client, clock, server.base_url, http


def _read(client: RmsClient, numbers: list[str]):
    return {m["orderNumber"]: channel_order_from_rms(m)
            for m in client.get_order(numbers).orders}


def test_every_type_served_is_read_by_the_client(rig) -> None:
    _, client, _, _, _ = rig
    read = _read(client, [g.order_number for g in ORDERS])
    served = {g.order_number: g.model for g in ORDERS}
    stores = [n for n, m in served.items()
              if any(p["DeliveryCvsModel"] for p in m["PackageModelList"])]
    assert stores and all(read[n].packages[0].pickup_store is not None
                          and read[n].packages[0].pickup_store.store_code for n in stores)
    drops = [n for n, m in served.items()
             if any(p["dropOffFlag"] for p in m["PackageModelList"])]
    assert drops and all(any(p.drop_off for p in read[n].packages) for n in drops)
    cautions = [n for n, m in served.items() if m["cautionDisplayType"]]
    assert cautions and all(read[n].caution in ("注意喚起", "キャンセル確定") for n in cautions)
    assert all(read[n].caution_detail for n in cautions
               if served[n]["cautionDisplayType"] == 1)
    same_day = [n for n, m in served.items() if m["oneDayOperationFlag"]]
    assert same_day and all(read[n].same_day for n in same_day)
    assert sum(o.same_day for o in read.values()) == len(same_day)


def test_a_social_gift_gets_its_address_when_the_recipient_answers(rig) -> None:
    _, client, clock, _, _ = rig
    gift = next(g for g in ORDERS if g.model["socialGiftFlag"] and g.gift_address_after)
    assert gift.gift_address_after is not None and gift.gift_recipient is not None
    clock.set(gift.ordered_at + gift.gift_address_after - timedelta(seconds=1))
    before = _read(client, [gift.order_number])[gift.order_number]
    assert before.social_gift and before.awaiting_gift_address
    assert before.packages[0].recipient.family_name == "入力待ち"
    clock.set(gift.ordered_at + gift.gift_address_after)
    after = _read(client, [gift.order_number])[gift.order_number]
    assert not after.awaiting_gift_address
    assert after.packages[0].recipient.family_name == gift.gift_recipient["familyName"]
    assert after.packages[0].social_gift is not None
    assert after.packages[0].social_gift.given_at == clock.now().replace(microsecond=0)
    assert after.fingerprint() != before.fingerprint()  # where it goes is known now


def test_older_versions_answer_without_the_keys_they_did_not_have(rig) -> None:
    _, _, _, base_url, http = rig
    import base64
    auth = "ESA " + base64.b64encode(f"{SECRET}:{KEY}".encode()).decode()
    gift = next(g for g in ORDERS if g.model["socialGiftFlag"])

    def served(version: int) -> dict:
        r = http.post(f"{base_url}/es/2.0/order/getOrder/", headers={"Authorization": auth},
                      content=json.dumps({"orderNumberList": [gift.order_number],
                                          "version": version}))
        return r.json()["OrderModelList"][0]

    v10, v9, v8, v5 = served(10), served(9), served(8), served(5)
    assert "socialGiftFlag" in v10 and "SocialGiftModel" in v10["PackageModelList"][0]
    assert "socialGiftFlag" not in v9 and "SocialGiftModel" not in v9["PackageModelList"][0]
    assert "dropOffFlag" in v9["PackageModelList"][0]
    assert "dropOffFlag" not in v8["PackageModelList"][0] and "oneDayOperationFlag" in v8
    assert "oneDayOperationFlag" not in v5 and "cautionDisplayDetailType" not in v5
    assert "cautionDisplayType" in v5
