"""Editing the recipient (送付先) from the order page (issue 18 item 1): through
`app.manual.edit_recipient` by the logged-in user, the form's version checked, typed
values normalised, hostile text shown as text, bad input said in Japanese and kept."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.conftest import SHOP
from tests.web.test_actions import form_of, stored
from unyo.adapters.db import Store
from unyo.app.manual import release
from unyo.clock import SimClock
from unyo.domain import EffectKind, GateKind

NEW = {"family_name": "佐藤", "first_name": "一郎", "family_name_kana": "サトウ",
       "first_name_kana": "イチロウ", "postal_code": "１００－０００１", "prefecture": "東京都",
       "city": "千代田区", "sub_address": "千代田１－１", "phone": "０９０－１２３４－５６７８",
       "note": "お客様から電話"}


def _post(client: TestClient, n: str, page: str, values: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post(f"/orders/{n}/recipient",
                       data=form_of(page, f"/orders/{n}/recipient") | values,
                       follow_redirects=False)


def test_an_edit_is_kept_recorded_and_queued_for_rms(client: TestClient, store: Store,
                                                     seeded: dict):
    n = seeded["ready"]
    page = client.get(f"/orders/{n}").text
    assert 'data-postal-lookup' in page
    r = _post(client, n, page, NEW)
    assert r.status_code == 303 and r.headers["location"] == f"/orders/{n}?done=1"
    order, events = stored(store, n)
    recipient = order.channel.packages[0].recipient
    assert (recipient.name, recipient.address.postal_code, recipient.address.sub_address,
            recipient.phone) == ("佐藤 一郎", "1000001", "千代田1-1", "090-1234-5678")
    edited = [e for e in events if e.type.value == "recipient_edited"][-1]
    assert edited.actor.value == "person" and edited.data["by"] == "suzuki"
    assert edited.data["note"] == "お客様から電話"
    assert edited.data["changes"]["city"] == ["渋谷区", "千代田区"]
    with store.transaction() as conn:
        effects = [e for e in store.effects_of(conn, order.id or 0)
                   if e.kind is EffectKind.update_at_rms]
    assert len(effects) == 1 and effects[0].payload["recipient"]["prefecture"] == "東京都"
    shown = client.get(f"/orders/{n}").text
    assert "送付先を変更: " in shown and "「千代田区」" in shown
    assert "楽天への変更の反映" in shown  # the effect, by its name


def test_a_stale_form_is_refused_and_keeps_what_was_typed(client: TestClient, store: Store,
                                                          seeded: dict, clock: SimClock):
    n = seeded["check"]
    page = client.get(f"/orders/{n}").text
    release(store, SHOP, n, GateKind.check, note="someone else", by="tanaka", now=clock.now())
    r = _post(client, n, page, NEW)
    assert r.status_code == 409 and "他の操作で更新されました" in r.text
    assert 'value="千代田１－１"' in r.text  # typed values back in the form
    order, _ = stored(store, n)
    assert order.channel.packages[0].recipient.address.city == "渋谷区"


def test_bad_values_are_said_in_japanese(client: TestClient, store: Store, seeded: dict):
    n = seeded["ready"]
    page = client.get(f"/orders/{n}").text
    r = _post(client, n, page, NEW | {"postal_code": "12-34", "prefecture": "トウキョウ"})
    assert r.status_code == 400
    assert "郵便番号は7桁の数字で入力してください" in r.text
    assert "都道府県を正しく入力してください" in r.text
    assert 'value="トウキョウ"' in r.text


def test_hostile_text_is_kept_as_text_and_shown_escaped(client: TestClient, store: Store,
                                                        seeded: dict):
    n = seeded["ready"]
    page = client.get(f"/orders/{n}").text
    hostile = '"><script>alert(1)</script>'
    r = _post(client, n, page, NEW | {"sub_address": "千代田1-1" + hostile})
    assert r.status_code == 303
    shown = client.get(f"/orders/{n}").text
    assert "<script>alert(1)</script>" not in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown


def test_the_postal_code_lookup(client: TestClient, anonymous: TestClient):
    r = client.get("/postal/１５０－０００１")
    assert r.status_code == 200
    assert r.json() | {} == {"found": True, "postal_code": "1500001", "prefecture": "東京都",
                             "city": "渋谷区", "town": "神宮前"}
    assert client.get("/postal/0000000").status_code == 404
    assert client.get("/postal/123").status_code == 404
    assert anonymous.get("/postal/1500001", follow_redirects=False).status_code in (302, 303,
                                                                                   401)


def test_memo_and_delivery_date_and_time(client: TestClient, store: Store, seeded: dict):
    n = seeded["ready"]
    page = client.get(f"/orders/{n}").text
    r = client.post(f"/orders/{n}/details",
                    data=form_of(page, f"/orders/{n}/details")
                    | {"memo": "<b>再配達</b>注意", "delivery_date": "2026-12-10",
                       "shipping_term": "1416", "note": "電話"}, follow_redirects=False)
    assert r.status_code == 303
    order, events = stored(store, n)
    assert [e for e in events if e.type.value == "details_edited"][-1].data["by"] == "suzuki"
    c = order.channel
    assert (c.memo, str(c.requested_delivery_date), c.shipping_term) == (
        "<b>再配達</b>注意", "2026-12-10", "1416")
    with store.transaction() as conn:
        (effect,) = [e for e in store.effects_of(conn, order.id or 0)
                     if e.kind is EffectKind.update_at_rms]
    assert effect.payload["values"]["shipping_term"] == "1416"
    shown = client.get(f"/orders/{n}").text
    assert "&lt;b&gt;再配達&lt;/b&gt;注意" in shown and "<b>再配達</b>" not in shown
    assert '<option value="1416" selected>14-16時</option>' in shown
    bad = client.post(f"/orders/{n}/details",
                      data=form_of(shown, f"/orders/{n}/details")
                      | {"memo": "x", "delivery_date": "2020-01-01", "shipping_term": "0"})
    assert bad.status_code == 400 and "お届け日が過ぎた日付です" in bad.text
