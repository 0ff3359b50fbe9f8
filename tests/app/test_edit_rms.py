"""A person's edit of the recipient (送付先) reaches RMS (updateOrderSender) through the
outbox, the rules run again on the edited order, and a sync does not undo the edit before
RMS has it: against the RMS emulator over real HTTP (issue 18 item 1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from unyo.adapters.db import Store
from unyo.app.context import ShopContext
from unyo.app.importing import import_orders
from unyo.app.manual import EditError, StaleOrder, edit_recipient
from unyo.app.outbox import deliver_effects
from unyo.app.syncing import SyncResult, read_orders, sync_orders
from unyo.clock import SimClock
from unyo.domain import EffectKind, EventType, GateKind, Order, Stage
from unyo.domain.rules import compile_rules
from unyo.flow import Config, ImportSettings, RmsSettings
from unyo.sandbox import FaultConfig, RmsEmulator, RmsEmulatorServer, generate_orders
from unyo.wiring import build_context

from .test_engine_rms import DAY, ENV

RULES = compile_rules([
    {"name": "郵便番号", "when": {"field": "postal_code_valid", "op": "is_false"},
     "then": [{"check": "郵便番号と住所を確認"}]},
])
FIXED = {"postal_code": "１５０－０００１", "prefecture": "東京都", "city": "渋谷区",
         "sub_address": "神宮前１－２－３ ハイツ１０１"}


class EditRig:
    def __init__(self, store: Store) -> None:
        self.clock = SimClock(DAY)
        self.generated = generate_orders(30, seed=11, start=DAY, end=DAY + timedelta(days=1))
        self.emulator = RmsEmulator(self.clock, service_secret="SP-test",
                                    license_key="SL-test", orders=self.generated, seed=11)
        self.server = RmsEmulatorServer(self.emulator).start()
        self.config = Config(shop_id="shop", rules=RULES,
                             rms=RmsSettings(base_url=self.server.base_url, min_interval=0.0,
                                             timeout=5.0, max_retries=0),
                             import_=ImportSettings(lookback=2 * 86400.0))
        self.ctx: ShopContext = build_context(self.config, clock=self.clock, store=store,
                                              env=ENV)

    def order(self, number: str) -> Order:
        with self.ctx.store.transaction() as conn:
            order = self.ctx.store.load_order(conn, "shop", number)
        assert order is not None
        return order

    def effects(self, number: str) -> list[Any]:
        with self.ctx.store.transaction() as conn:
            return [e for e in self.ctx.store.effects_of(conn, self.order(number).id or 0)
                    if e.kind is EffectKind.update_at_rms]

    def sender(self, number: str) -> dict[str, Any]:
        return dict(self.emulator.order_model(number)["PackageModelList"][0]["SenderModel"])

    def edit(self, number: str, values: dict[str, str], **kw: Any) -> Order:
        kw.setdefault("version", self.order(number).version)
        return edit_recipient(self.ctx.store, self.config, self.clock, number, values,
                              note=kw.pop("note", "電話で確認"), by="suzuki", **kw)


@pytest.fixture
def rig(store: Store) -> Iterator[EditRig]:
    r = EditRig(store)
    yield r
    r.server.stop()


def _stopped_by_address(rig: EditRig) -> str:
    """An order paid at RMS whose recipient has a postal code Japan Post does not know:
    imported, it waits for 住所確認 only."""
    rig.clock.set(DAY + timedelta(days=1, hours=1))
    # 代金引換: at RMS 300 as soon as unyo has confirmed it (every order starts at 100)
    number = next(o.order_number for o in rig.generated
                  if o.model["SettlementModel"]["settlementMethodCode"] == 2
                  and len(o.model["PackageModelList"]) == 1
                  and rig.emulator.order_model(o.order_number)["orderProgress"] == 100)
    packages = rig.emulator.order_model(number)["PackageModelList"]
    packages[0]["SenderModel"].update(zipCode1="000", zipCode2="0000")
    rig.emulator.change_order(number, PackageModelList=packages)
    import_orders(rig.ctx)
    deliver_effects(rig.ctx)  # confirmOrder: 100 → 300
    rig.clock.advance(3600)
    sync_orders(rig.ctx)  # the payment wait closes
    order = rig.order(number)
    assert [g.rule for g in order.open_gates] == ["郵便番号"]
    return number


def test_an_edit_fixes_the_address_the_rules_release_it_and_rms_gets_it(rig: EditRig):
    number = _stopped_by_address(rig)
    order = rig.edit(number, FIXED)
    recipient = order.channel.packages[0].recipient
    assert recipient.address.postal_code == "1500001"  # full-width digits normalised
    assert recipient.address.sub_address == "神宮前1-2-3 ハイツ101"
    assert not order.open_gates and order.stage is Stage.ready  # the rule took its check back
    (closed,) = [g for g in rig.order(number).gates if g.rule]  # stays in the history
    assert closed.rule == "郵便番号" and not closed.is_open
    (effect,) = rig.effects(number)
    assert effect.status == "pending"
    assert effect.payload["by"] == "suzuki" and effect.payload["note"] == "電話で確認"
    assert rig.sender(number)["zipCode1"] == "000"  # nothing sent before delivery

    # a sync reading RMS before it has the edit does not undo it (the remarks changed at
    # RMS meanwhile, and the order is read again)
    rig.emulator.change_order(number, remarks="[配送日時指定:]\n午前中希望")
    sync_orders(rig.ctx)
    read_orders(rig.ctx, [number], SyncResult())
    kept = rig.order(number)
    assert "午前中希望" in kept.channel.remarks
    assert kept.channel.packages[0].recipient.address.postal_code == "1500001"
    assert not kept.open_gates and kept.stage is Stage.ready

    result = deliver_effects(rig.ctx)
    assert result.delivered.get("update_at_rms") == 1
    sender = rig.sender(number)
    assert (sender["zipCode1"], sender["zipCode2"], sender["city"],
            sender["subAddress"]) == ("150", "0001", "渋谷区", "神宮前1-2-3 ハイツ101")
    assert rig.effects(number)[0].status == "done"
    assert rig.ctx.channel.calls["updateOrderSender"] == 1
    deliver_effects(rig.ctx)  # once: a second delivery sends nothing
    assert rig.ctx.channel.calls["updateOrderSender"] == 1

    read_orders(rig.ctx, [number], SyncResult())  # RMS shows the edit: still ready
    after = rig.order(number)
    assert after.channel.packages[0].recipient.address.city == "渋谷区"
    assert after.stage is Stage.ready and not after.open_gates
    events = {e.type for e in _events(rig, after)}
    assert {EventType.recipient_edited, EventType.rms_updated} <= events


def _events(rig: EditRig, order: Order) -> list[Any]:
    with rig.ctx.store.transaction() as conn:
        return list(rig.ctx.store.events_of(conn, order.id or 0))


def test_a_wrong_edit_opens_the_address_check_again(rig: EditRig):
    number = _stopped_by_address(rig)
    order = rig.edit(number, FIXED)
    assert order.stage is Stage.ready
    order = rig.edit(number, {"postal_code": "999-9999"})
    assert [g.rule for g in order.open_gates] == ["郵便番号"]
    assert order.stage is Stage.processing


def test_a_stale_form_is_refused_and_changes_nothing(rig: EditRig):
    number = _stopped_by_address(rig)
    before = rig.order(number)
    with pytest.raises(StaleOrder):
        rig.edit(number, FIXED, version=before.version - 1)
    assert rig.order(number).version == before.version and not rig.effects(number)


def test_bad_values_are_refused_in_japanese(rig: EditRig):
    number = _stopped_by_address(rig)
    with pytest.raises(EditError) as e:
        rig.edit(number, {"postal_code": "12", "prefecture": "東京", "phone": "abc"})
    assert e.value.problems == ["郵便番号は7桁の数字で入力してください",
                                "都道府県を正しく入力してください（例: 東京都）",
                                "電話番号は10桁か11桁の数字で入力してください（ハイフン可）"]


def test_rms_refusing_the_edit_opens_a_check_in_japanese(rig: EditRig):
    number = _stopped_by_address(rig)
    rig.edit(number, FIXED)
    rig.emulator.corrupt(number, orderProgress=500)  # shipped at RMS meanwhile
    result = deliver_effects(rig.ctx)
    assert result.failed == 1 and rig.ctx.channel.calls["updateOrderSender"] == 1
    (effect,) = rig.effects(number)
    assert effect.status == "failed" and "_ERROR_103" in (effect.last_error or "")
    order = rig.order(number)
    (gate,) = [g for g in order.open_gates if g.kind is GateKind.check]
    assert gate.reason.startswith("楽天で送付先を変更できませんでした（楽天の受注ステータスが"
                                  "発送待ちより後のため変更できません")
    assert "RMSの受注管理で送付先を確認・変更してから" in gate.reason
    assert order.stage is Stage.processing


def test_rms_down_is_retried_until_it_answers(rig: EditRig):
    number = _stopped_by_address(rig)
    rig.edit(number, FIXED)
    rig.emulator.faults = FaultConfig(error_rate=1.0)
    first = deliver_effects(rig.ctx)
    assert first.retried == 1 and rig.effects(number)[0].status == "pending"
    rig.emulator.faults = FaultConfig()
    rig.clock.set(rig.clock.now() + timedelta(hours=1))
    deliver_effects(rig.ctx)
    assert rig.effects(number)[0].status == "done"
    assert rig.sender(number)["city"] == "渋谷区"


def test_the_emulator_refuses_what_rakuten_does_not_take(rig: EditRig):
    number = _stopped_by_address(rig)
    channel = rig.ctx.channel
    basket = rig.order(number).channel.packages[0].basket_id
    good = {"family_name": "山田", "first_name": "太郎", "family_name_kana": "ヤマダ",
            "first_name_kana": "タロウ", "postal_code": "1500001", "prefecture": "東京都",
            "city": "渋谷区", "sub_address": "神宮前1-2-3", "phone": "03-1234-5678"}
    for bad, why in (({"prefecture": "東京"}, "prefecture"),
                     ({"postal_code": "15000"}, "zipCode2"),
                     ({"family_name": ""}, "familyName"),
                     ({"city": "市" * 41}, "city"),
                     ({"phone": "03-12"}, "phoneNumber")):
        outcome = channel.update_recipient(number, basket, good | bad)  # type: ignore[attr-defined]
        assert not outcome.ok and outcome.permanent and why in outcome.message
    assert rig.sender(number)["zipCode1"] == "000"  # nothing applied
    outcome = channel.update_recipient(number, basket + 999, good)  # type: ignore[attr-defined]
    assert not outcome.ok and outcome.permanent
    outcome = channel.update_recipient(number, basket, good)  # type: ignore[attr-defined]
    assert outcome.ok
    sender = rig.sender(number)
    assert (sender["phoneNumber1"], sender["phoneNumber2"], sender["phoneNumber3"]) == (
        "03", "1234", "5678")


# ---- ひとことメモ, delivery date and time slot (updateOrderMemo) ------------------------


def test_memo_and_delivery_date_and_time_reach_rms_and_survive_a_sync(rig: EditRig):
    from unyo.app.manual import edit_details

    number = _stopped_by_address(rig)
    order = edit_details(rig.ctx.store, rig.config, rig.clock, number,
                         {"memo": "電話で住所確認済み\n再配達注意",
                          "delivery_date": "２０２６／１２／１０", "shipping_term": "14-16"},
                         note="お客様から電話", by="suzuki",
                         version=rig.order(number).version)
    c = order.channel
    assert (c.memo, str(c.requested_delivery_date), c.shipping_term) == (
        "電話で住所確認済み\n再配達注意", "2026-12-10", "1416")
    (effect,) = rig.effects(number)
    assert effect.payload["values"] == {"memo": "電話で住所確認済み\n再配達注意",
                                        "delivery_date": "2026-12-10", "shipping_term": "1416"}
    rig.emulator.change_order(number, remarks="[配送日時指定:]\n変更")  # read again
    read_orders(rig.ctx, [number], SyncResult())
    assert rig.order(number).channel.memo == "電話で住所確認済み\n再配達注意"  # not undone
    assert deliver_effects(rig.ctx).delivered.get("update_at_rms") == 1
    m = rig.emulator.order_model(number)
    assert (m["memo"], m["deliveryDate"], m["shippingTerm"]) == (
        "電話で住所確認済み\n再配達注意", "2026-12-10", 1416)
    read_orders(rig.ctx, [number], SyncResult())
    after = rig.order(number)
    assert after.channel.shipping_term == "1416" and after.channel.memo.endswith("再配達注意")
    # only what changes is sent the next time
    edit_details(rig.ctx.store, rig.config, rig.clock, number, {"shipping_term": "午前"},
                 note="", by="suzuki")
    assert rig.effects(number)[-1].payload["values"] == {"shipping_term": "1"}
    deliver_effects(rig.ctx)
    m = rig.emulator.order_model(number)
    assert (m["memo"], m["shippingTerm"]) == ("電話で住所確認済み\n再配達注意", 1)


def test_bad_memo_values_are_refused_in_japanese(rig: EditRig):
    from unyo.app.manual import edit_details

    number = _stopped_by_address(rig)
    with pytest.raises(EditError) as e:
        edit_details(rig.ctx.store, rig.config, rig.clock, number,
                     {"memo": "あ" * 1001, "delivery_date": "2026-11-01",
                      "shipping_term": "16-14"}, note="", by="suzuki")
    assert e.value.problems == ["ひとことメモは1000文字以内にしてください（1001文字）",
                                "お届け日が過ぎた日付です",
                                "お届け時間帯は 午前・午後・指定なし か 14-16 の形で"
                                "入力してください"]
    assert not rig.effects(number)


def test_the_emulator_refuses_memo_values_rakuten_does_not_take(rig: EditRig):
    number = _stopped_by_address(rig)
    client = rig.ctx.channel.client  # type: ignore[attr-defined]
    from unyo.adapters.rakuten.errors import RmsRequestError

    for bad in ({"memo": "あ" * 1001}, {"deliveryDate": "2026/12/10"},
                {"shippingTerm": 1614}, {"operator": "1234567"}, {"deliveryClass": 9}):
        with pytest.raises(RmsRequestError):
            client.update_order_memo(number, bad)
    assert client.update_order_memo(number, {"memo": "ok", "shippingTerm": 812}).ok
    assert rig.emulator.order_model(number)["shippingTerm"] == 812
