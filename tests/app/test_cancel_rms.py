"""A person's cancel in unyo reaches RMS (cancelOrder) through the outbox: against the RMS
emulator over real HTTP (issue 17, item 5)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from unyo.adapters.db import Store
from unyo.app.importing import import_orders
from unyo.app.manual import cancel
from unyo.app.outbox import deliver_effects
from unyo.domain import EffectKind, GateKind, Order, Stage
from unyo.sandbox.rms_emulator import RmsEmulator

from .test_engine_rms import DAY, Rig


@pytest.fixture
def rig(store: Store) -> Iterator[Rig]:
    r = Rig(store, 40, cancel_inventory_restore=2)
    yield r
    r.server.stop()


def _cancellable(rig: Rig) -> list[str]:
    rig.at(DAY + timedelta(days=1, hours=1))
    import_orders(rig.ctx)
    deliver_effects(rig.ctx)  # confirmations out of the way
    return sorted(n for n in rig.imported() if rig.rms_status(n) in (100, 200, 300)
                  and _order(rig, n).stage in (Stage.processing, Stage.ready))


def _order(rig: Rig, number: str) -> Order:
    with rig.ctx.store.transaction() as conn:
        order = rig.ctx.store.load_order(conn, "shop", number)
    assert order is not None
    return order


def _cancel_effect(rig: Rig, number: str):  # type: ignore[no-untyped-def]
    with rig.ctx.store.transaction() as conn:
        effects = rig.ctx.store.effects_of(conn, _order(rig, number).id or 0)
    (effect,) = [e for e in effects if e.kind is EffectKind.cancel_at_rms]
    return effect


def _cancel_request(emulator: RmsEmulator, number: str) -> dict[str, int] | None:
    return emulator._orders[number].cancel_request  # what RMS was asked (the emulator's)


def test_a_persons_cancel_reaches_rms_once_with_the_reason(rig: Rig):
    number = _cancellable(rig)[0]
    cancel(rig.ctx.store, "shop", number, note="お客様から電話", by="suzuki",
           now=rig.clock.now(), reason=8)
    assert rig.rms_status(number) in (100, 200, 300)  # nothing sent before delivery
    first = deliver_effects(rig.ctx)
    assert first.delivered.get("cancel_at_rms") == 1
    assert rig.rms_status(number) == 800  # キャンセル確定待ち
    assert _cancel_request(rig.emulator, number) == {"changeReasonDetailApply": 8,
                                                     "inventoryRestoreType": 2}
    change = rig.emulator.order_model(number)["ChangeReasonModelList"][-1]
    assert change["changeType"] == 0 and change["changeReasonDetail"] == 8
    effect = _cancel_effect(rig, number)
    assert effect.status == "done"
    assert effect.payload == {"order_number": number, "reason_code": 8, "by": "suzuki",
                              "note": "お客様から電話"}
    calls = rig.ctx.channel.calls["cancelOrder"]
    assert calls == 1
    second = deliver_effects(rig.ctx)  # a second delivery does not call again
    assert not second.delivered.get("cancel_at_rms")
    assert rig.ctx.channel.calls["cancelOrder"] == 1
    rig.at(rig.clock.now() + timedelta(minutes=10))
    assert rig.rms_status(number) == 900  # キャンセル確定
    order = _order(rig, number)
    assert order.stage is Stage.cancelled and not order.open_gates


def test_an_order_with_a_ship_date_is_refused_and_waits_for_a_person(rig: Rig):
    number = _cancellable(rig)[0]
    packages = rig.emulator.order_model(number)["PackageModelList"]
    packages[0]["ShippingModelList"] = [{"shippingDetailId": 1, "shippingNumber": "1234",
                                         "deliveryCompany": "1001",
                                         "shippingDate": "2026-11-27"}]
    rig.emulator.change_order(number, PackageModelList=packages)
    before = rig.rms_status(number)
    cancel(rig.ctx.store, "shop", number, note="", by="suzuki", now=rig.clock.now())
    result = deliver_effects(rig.ctx)
    assert result.failed == 1 and rig.ctx.channel.calls["cancelOrder"] == 1  # not retried
    assert rig.rms_status(number) == before
    effect = _cancel_effect(rig, number)
    assert effect.status == "failed" and "_ERROR_104" in (effect.last_error or "")
    order = _order(rig, number)
    gates = [g for g in order.open_gates if g.kind is GateKind.check]
    assert [g.reason.split(";")[0] for g in gates] == [
        "楽天でキャンセルできませんでした（発送日が設定済み"]
    assert gates[0].reason.endswith("）: RMSでキャンセルしてください")
    deliver_effects(rig.ctx)
    assert rig.ctx.channel.calls["cancelOrder"] == 1
