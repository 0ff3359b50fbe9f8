"""send_mail effects delivered through the outbox to a real SMTP server on loopback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import Connection

from tests.factories import BUYER, T0, channel_order
from tests.mail.conftest import FROM, MailWorld, make_world
from unyo.adapters.db.store import Attempt, Store
from unyo.app.mailing import SKIPPED_CANCELLED
from unyo.clock import JST
from unyo.domain import (
    CancelOrder,
    Decision,
    Effect,
    EffectKind,
    EventType,
    GateKind,
    HandOff,
    MailKind,
    RecordShipment,
    Shipment,
    Stage,
    decide,
)
from unyo.flow import OutboxSettings
from unyo.flow.mail import MailKindSettings
from unyo.sandbox.smtp_sink import SmtpSink, free_port


def test_thanks_mail_goes_through_the_outbox_and_reads_in_japanese(world: MailWorld) -> None:
    # given an imported order (its thanks mail is queued in the outbox)
    order = world.import_order()
    # when the outbox step runs
    result = world.deliver()
    # then the SMTP server received one mail, addressed to the buyer only
    [mail] = world.sink.messages()
    assert result.delivered == {"send_mail:thanks": 1}
    assert mail.rcpt_tos == (BUYER.email,)
    assert mail.mail_from == FROM
    msg = mail.message
    assert msg["Subject"] == ("【お茶の店】ご注文ありがとうございます"
                              f"（注文番号：{order.number}）")
    assert msg["From"].addresses[0].display_name == "お茶の店 楽天市場店"
    assert msg["To"].addresses[0].display_name == "髙橋 花子 様"
    assert msg["Message-ID"].startswith(f"<thanks.{order.number}.")
    assert msg["Date"].datetime == T0
    assert msg.get_content_charset() == "utf-8"
    body = mail.text
    assert body.startswith("髙橋 花子 様\n")
    assert "・新潟県産コシヒカリ 5kg\n　3,980円 × 1 ＝ 3,980円" in body
    assert "ご請求金額　：3,980円" in body
    # and the effect is done, with its attempt recorded
    [effect] = world.mail_effects(order.number)
    assert (effect.status, effect.attempts, effect.last_error) == ("done", 1, None)


def test_a_batch_goes_over_one_connection(world: MailWorld) -> None:
    # given three orders
    for i in range(3):
        world.import_order(number=f"123456-20261127-000000000{i}")
    # when the outbox step runs once
    world.deliver()
    # then the three mails came over a single SMTP connection
    mails = world.sink.messages()
    assert len(mails) == 3
    assert len({m.peer for m in mails}) == 1


def test_the_dedupe_key_keeps_one_mail_per_order_and_kind(world: MailWorld) -> None:
    # given an order whose thanks mail is queued, and the same effect queued again
    order = world.import_order()
    again = Effect(EffectKind.send_mail, f"mail:thanks:tea:{order.number}",
                   {"mail": "thanks", "order_number": order.number})
    with world.store.transaction() as conn:
        world.store.apply(conn, order, Decision(order, (), (again,)), T0)
    # when the outbox runs twice
    world.deliver()
    world.advance(3600)
    world.deliver()
    # then the outbox holds one effect and the buyer got one mail
    assert len(world.mail_effects(order.number)) == 1
    assert len(world.sink.messages()) == 1


class CrashingStore(Store):
    """Dies between the relay's 250 and the commit that records it (a kill -9 there)."""

    crash_next = False

    def record_attempts(self, conn: Connection, attempts: Sequence[Attempt],
                        now: datetime) -> None:
        if self.crash_next:
            self.crash_next = False
            raise RuntimeError("killed before the attempt was recorded")
        super().record_attempts(conn, attempts, now)


def test_the_crash_window_repeats_at_most_the_one_mail_in_flight(database_url: str,
                                                                  sink: SmtpSink) -> None:
    # given an order, and an engine that dies right after the relay accepted its mail
    store = CrashingStore(Store.open(database_url).engine)
    world = make_world(store, sink)
    order = world.import_order()
    store.crash_next = True
    with pytest.raises(RuntimeError, match="killed before the attempt"):
        world.deliver()
    # then the mail was delivered but the outbox still has it pending
    assert len(sink.messages()) == 1
    assert world.mail_effects(order.number)[0].status == "pending"
    # when the engine restarts
    world.deliver()
    # then the mail went out once more — the documented repeat — with the same Message-ID,
    # and never again after that
    world.advance(3600)
    world.deliver()
    first, second = sink.messages()
    assert first.message["Message-ID"] == second.message["Message-ID"]
    assert world.mail_effects(order.number)[0].status == "done"
    store.close()


def test_a_temporary_failure_is_retried_with_backoff(world: MailWorld) -> None:
    # given a relay that answers 451 to the next DATA
    order = world.import_order()
    world.sink.faults.fail_data = 1
    # when the outbox runs
    result = world.deliver()
    # then nothing was delivered, the attempt is recorded and a retry is scheduled
    assert (result.retried, result.failed, world.sink.messages()) == (1, 0, [])
    [effect] = world.mail_effects(order.number)
    assert (effect.status, effect.attempts) == ("pending", 1)
    assert effect.last_error is not None and effect.last_error.startswith("SMTP 451")
    assert effect.next_attempt_at == T0 + timedelta(seconds=30)
    # and the retry is not made before its time
    world.advance(10)
    world.deliver()
    assert world.sink.messages() == []
    # when its time comes
    world.advance(30)
    world.deliver()
    # then the mail goes out and no gate was opened
    assert len(world.sink.messages()) == 1
    assert world.mail_effects(order.number)[0].status == "done"
    assert world.order(order.number).open_gate(GateKind.check) is None


def test_a_refused_connection_is_retried(store: Store, sink: SmtpSink) -> None:
    # given a relay address where nothing listens
    world = make_world(store, sink, port=free_port())
    order = world.import_order()
    # when the outbox runs
    result = world.deliver()
    # then the mail waits for a retry, with the reason
    assert result.retried == 1
    [effect] = world.mail_effects(order.number)
    assert effect.status == "pending"
    assert effect.last_error is not None and "cannot connect to the mail relay" in effect.last_error


def test_running_out_of_attempts_fails_for_good(store: Store, sink: SmtpSink) -> None:
    # given a shop that allows one attempt, and a relay that fails it
    world = make_world(store, sink, outbox=OutboxSettings(max_attempts=1))
    order = world.import_order()
    sink.faults.fail_data = 1
    # when the outbox runs
    result = world.deliver()
    # then the effect failed and a person is asked to look
    assert result.failed == 1
    assert world.mail_effects(order.number)[0].status == "failed"
    assert world.order(order.number).open_gate(GateKind.check) is not None


def test_a_rejected_sender_fails_for_good_with_an_explanation(world: MailWorld) -> None:
    # given Rakuten's answer to a From address not registered in RMS
    order = world.import_order()
    world.sink.faults.reject_sender = "552 5.2.0 sender rejected"
    # when the outbox runs
    result = world.deliver()
    # then the effect failed for good, with what to do
    assert (result.failed, result.retried) == (1, 0)
    [effect] = world.mail_effects(order.number)
    assert effect.status == "failed"
    assert effect.last_error == ("SMTP 552 5.2.0 sender rejected: the From address must be "
                                 "registered in RMS (R-Mail / あんしんメルアドサービス)")
    # and the order waits for a person (確認待ち) with the reason
    gate = world.order(order.number).open_gate(GateKind.check)
    assert gate is not None
    assert gate.reason.startswith("メール送信に失敗: SMTP 552 5.2.0 sender rejected")
    # and it is never retried
    world.advance(7200)
    world.sink.faults.reject_sender = None
    world.deliver()
    assert world.sink.messages() == []


def test_an_order_without_a_buyer_address_fails_for_good(world: MailWorld) -> None:
    # given an order whose buyer has no mail address
    order = world.import_order(buyer=replace(BUYER, email=""))
    # when the outbox runs
    world.deliver()
    # then nothing is sent and a person is asked to look
    assert world.sink.messages() == []
    assert world.mail_effects(order.number)[0].status == "failed"
    gate = world.order(order.number).open_gate(GateKind.check)
    assert gate is not None and "no buyer mail address" in gate.reason


def test_no_thanks_mail_for_an_order_cancelled_before_it_was_sent(world: MailWorld) -> None:
    # given an order cancelled before the outbox ran
    order = world.import_order()
    with world.store.transaction() as conn:
        world.store.apply(conn, order, decide(order, CancelOrder("buyer cancelled", T0)), T0)
    # when the outbox runs
    result = world.deliver()
    # then no mail is sent and the effect is settled with a note
    assert world.sink.messages() == []
    assert result.skipped == 1
    [effect] = world.mail_effects(order.number)
    assert (effect.status, effect.last_error) == ("done", SKIPPED_CANCELLED)


def test_a_disabled_mail_is_skipped_with_a_note(store: Store, sink: SmtpSink) -> None:
    # given a shop that turned the thanks mail off
    world = make_world(store, sink, thanks=MailKindSettings(enabled=False))
    order = world.import_order()
    # when the outbox runs
    world.deliver()
    # then nothing is sent and the effect says why
    assert sink.messages() == []
    [effect] = world.mail_effects(order.number)
    assert (effect.status, effect.last_error) == ("done",
                                                  "skipped: mail.thanks.enabled is false")


def test_a_delay_holds_the_mail_without_counting_an_attempt(store: Store,
                                                             sink: SmtpSink) -> None:
    # given a shop that sends the thanks mail an hour after import (as Next Engine does)
    world = make_world(store, sink, thanks=MailKindSettings(delay=3600))
    order = world.import_order()
    # when the outbox runs right away
    world.deliver()
    # then the mail waits until an hour after it was queued, no attempt counted
    assert sink.messages() == []
    [effect] = world.mail_effects(order.number)
    assert (effect.status, effect.attempts) == ("pending", 0)
    assert effect.next_attempt_at == T0 + timedelta(hours=1)
    # when the hour has passed
    world.advance(3600)
    world.deliver()
    # then it goes out
    assert len(sink.messages()) == 1


def test_quiet_hours_hold_mail_until_they_end(store: Store, sink: SmtpSink) -> None:
    # given a shop that sends no mail from 22:00 to 08:00 JST, and an order at 23:30
    world = make_world(store, sink, quiet_hours="22:00-08:00")
    world.clock.set(datetime(2026, 11, 27, 23, 30, tzinfo=JST))
    order = world.import_order()
    # when the outbox runs during the night
    world.deliver()
    world.clock.set(datetime(2026, 11, 28, 7, 59, tzinfo=JST))
    world.deliver()
    # then nothing went out and no attempt was counted
    assert sink.messages() == []
    assert world.mail_effects(order.number)[0].attempts == 0
    # when the morning comes
    world.clock.set(datetime(2026, 11, 28, 8, 0, tzinfo=JST))
    world.deliver()
    # then the mail goes out
    assert len(sink.messages()) == 1


def test_the_shipping_mail_carries_carrier_tracking_number_and_link(world: MailWorld) -> None:
    # given an order whose package shipped with Yamato, and its shipping mail queued
    base = channel_order()
    shipped = replace(base, packages=(replace(base.packages[0], shipments=(
        Shipment(None, "1001", "4321-0987-6543", date(2026, 11, 28)),)),))
    order = world.import_order(shipped)
    effect = Effect(EffectKind.send_mail, f"mail:shipping:tea:{order.number}",
                    {"mail": MailKind.shipping.value, "order_number": order.number})
    with world.store.transaction() as conn:
        world.store.apply(conn, order, Decision(order, (), (effect,)), T0)
    # when the outbox runs
    result = world.deliver()
    # then the buyer got the thanks mail and the shipping mail
    assert result.delivered == {"send_mail:thanks": 1, "send_mail:shipping": 1}
    assert world.sink.counts() == {"thanks": 1, "shipping": 1}
    [mail] = [m for m in world.sink.messages() if m.kind == "shipping"]
    body = mail.text
    assert mail.message["Subject"].startswith("【お茶の店】商品を発送いたしました")
    assert "配送会社：ヤマト運輸\n追跡番号：4321-0987-6543\n発送日　：2026年11月28日（土）" in body
    assert ("配送状況：https://toi.kuronekoyamato.co.jp/cgi-bin/tneko?number00=1&"
            "number01=432109876543") in body


def test_a_failed_mail_is_an_event_on_the_order(world: MailWorld) -> None:
    # given a relay that rejects every mail's content
    order = world.import_order()
    world.sink.faults.reject_data = "554 5.7.1 message refused"
    # when the outbox runs
    world.deliver()
    # then the order's log says which effect failed and why
    assert order.id is not None
    with world.store.transaction() as conn:
        events = world.store.events_of(conn, order.id)
    [failed] = [e for e in events if e.type is EventType.effect_failed]
    assert failed.data == {"effect": "send_mail", "error": "SMTP 554 5.7.1 message refused"}


def test_an_order_that_ships_gets_its_shipping_mail_once(world: MailWorld) -> None:
    # given a paid order whose thanks mail went out
    order = world.import_order(status=300)
    world.deliver()
    # when the warehouse hands it off and reports its parcel (twice, as results repeat)
    parcel = (Shipment(None, "1002", "1234-5678-9012", date(2026, 11, 28)),)
    for command in (HandOff(T0), RecordShipment(10001, parcel, T0),
                    RecordShipment(10001, parcel, T0)):
        current = world.order(order.number)
        with world.store.transaction() as conn:
            world.store.apply(conn, current, decide(current, command), T0)
    world.deliver()
    world.advance(3600)
    world.deliver()
    # then the buyer got one shipping mail with Sagawa's tracking link
    assert world.order(order.number).stage is Stage.shipped
    assert world.sink.counts() == {"thanks": 1, "shipping": 1}
    [mail] = [m for m in world.sink.messages() if m.kind == "shipping"]
    assert "配送会社：佐川急便\n追跡番号：1234-5678-9012" in mail.text
    assert "okurijoNo=123456789012" in mail.text


def test_a_mail_queued_too_long_ago_is_skipped(store: Store, sink: SmtpSink) -> None:
    # given a thanks mail queued four days ago, while the shop had mail turned off
    world = make_world(store, sink)
    order = world.import_order()
    world.advance(4 * 86400)
    # when mail is delivered now
    result = world.deliver()
    # then the buyer does not get a thanks mail for a four-day-old order
    assert (result.skipped, sink.messages()) == (1, [])
    [effect] = world.mail_effects(order.number)
    assert effect.status == "done"
    assert effect.last_error == ("skipped: queued at 2026-11-27 01:00 UTC, older than "
                                 "mail.thanks.max_age")
