"""入金督促 (issue 18 item 5): a reminder mail for bank transfers unpaid after N days.

Orders are imported through `decide()` into a SQLite store; the reminder step decides
through `move()` and the mail goes out through the outbox to a real SMTP server on
loopback, as in production.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.factories import T0, channel_order
from tests.mail.conftest import MailWorld, make_world
from unyo.adapters.db.store import Store
from unyo.app.mailing import SKIPPED_PAID
from unyo.app.processing import remind_payments
from unyo.clock import JST
from unyo.domain import (
    ChannelOrder,
    EventType,
    GateKind,
    ImportOrder,
    MailKind,
    Order,
    Payment,
    RemindPayment,
    Stage,
    SyncOrder,
    decide,
)
from unyo.domain.decide import PAYMENT_REMINDER_SETTING, payment_reminder_at
from unyo.flow.config import parse_config, render_init
from unyo.flow.mail import REMINDER_DEFAULT, MailSettings
from unyo.sandbox.smtp_sink import SmtpSink

BANK = Payment(9, "銀行振込", True)
ON = replace(REMINDER_DEFAULT, enabled=True)  # 3 days, 銀行振込


def bank_order(number: str = "123456-20261127-0000000001", status: int = 100) -> ChannelOrder:
    return channel_order(number, status=status, payment=BANK)


def reminder_world(store: Store, sink: SmtpSink, **policy: object) -> MailWorld:
    return make_world(store, sink, reminder=replace(ON, **policy))


def at_jst(days: int, hour: int, minute: int = 0) -> datetime:
    """`days` after T0's day (2026-11-27, JST), at hour:minute JST."""
    return datetime.combine(T0.date() + timedelta(days=days), time(hour, minute), JST)


def run_until(world: MailWorld, when: datetime) -> int:
    world.clock.set(when)
    return remind_payments(world.ctx)


def test_an_unpaid_bank_transfer_gets_one_reminder_on_its_day(store: Store,
                                                              sink: SmtpSink) -> None:
    # given a bank-transfer order unpaid since 2026-11-27 10:00 JST, reminders after 3 days
    world = reminder_world(store, sink)
    order = world.import_order(bank_order())
    world.deliver()  # its thanks mail
    # when the step runs on days 1 and 2, and on day 3 just before 10:00 JST
    assert [run_until(world, at_jst(d, h, m)) for d, h, m in
            ((1, 12, 0), (2, 23, 59), (3, 9, 59))] == [0, 0, 0]
    assert world.sink.counts() == {"thanks": 1}
    # then at 10:00 JST on day 3 the reminder is queued and sent, once
    assert run_until(world, at_jst(3, 10)) == 1
    assert run_until(world, at_jst(3, 11)) == 0
    world.deliver()
    run_until(world, at_jst(5, 10))
    world.deliver()
    assert world.sink.counts() == {"thanks": 1, "reminder": 1}
    [mail] = [m for m in world.sink.messages() if m.kind == "reminder"]
    assert mail.message["Subject"] == f"【お茶の店】ご入金のお願い（注文番号：{order.number}）"
    assert "本日までにご入金の確認ができておりません" in mail.text
    assert "お支払方法：銀行振込" in mail.text
    # and the order says so, still waiting for its payment
    now = world.order(order.number)
    assert now.setting(PAYMENT_REMINDER_SETTING) == "2026-11-30"
    assert now.open_gate(GateKind.payment) is not None
    assert now.id is not None
    with store.transaction() as conn:
        [event] = [e for e in store.events_of(conn, now.id)
                   if e.type is EventType.payment_reminder_queued]
    assert event.data == {"method": 9, "days": 3}


def test_only_the_configured_methods_and_only_unpaid_orders(store: Store,
                                                           sink: SmtpSink) -> None:
    # given a card order at 100, a paid bank transfer and an unpaid prepaid (13) order
    world = reminder_world(store, sink, methods=(9, 13))
    world.import_order(channel_order("123456-20261127-0000000001", status=100))
    world.import_order(bank_order("123456-20261127-0000000002", status=300))
    prepay = world.import_order(channel_order("123456-20261127-0000000003", status=100,
                                              payment=Payment(13, "セブン-イレブン（前払）",
                                                              True)))
    # when the step runs a week later
    assert run_until(world, at_jst(7, 10)) == 1
    world.deliver()
    # then only the unpaid order paid by a configured method is reminded
    reminders = [m for m in world.sink.messages() if m.kind == "reminder"]
    assert [prepay.number in m.message["Subject"] for m in reminders] == [True]


def test_a_payment_arriving_before_the_mail_goes_out_cancels_it(store: Store,
                                                              sink: SmtpSink) -> None:
    # given a reminder queued for an unpaid bank transfer
    world = reminder_world(store, sink)
    order = world.import_order(bank_order())
    world.deliver()
    assert run_until(world, at_jst(3, 10)) == 1
    # when RMS reports the payment before the outbox sends it
    current = world.order(order.number)
    paid = decide(current, SyncOrder(replace(current.channel, status=300), world.clock.now()))
    with store.transaction() as conn:
        store.apply(conn, current, paid, world.clock.now())
    result = world.deliver()
    # then no reminder reaches the buyer, and the outbox says why
    assert world.sink.counts() == {"thanks": 1}
    assert result.skipped == 1
    [effect] = [e for e in world.mail_effects(order.number) if e.payload["mail"] == "reminder"]
    assert (effect.status, effect.last_error) == ("done", SKIPPED_PAID)


def test_reminders_are_off_unless_the_shop_turns_them_on(store: Store, sink: SmtpSink) -> None:
    world = make_world(store, sink)
    world.import_order(bank_order())
    assert not MailSettings().reminder.enabled
    assert run_until(world, at_jst(30, 10)) == 0


# ---- the rule, over many times ------------------------------------------------------------

_times = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                      timezones=st.just(JST))


def _unpaid(opened: datetime, method: int = 9) -> Order:
    channel = channel_order(status=100, payment=Payment(method, "銀行振込", True),
                            ordered_at=opened)
    return decide(None, ImportOrder("tea", channel, opened, confirm=False)).order


@given(opened=_times, later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
       days=st.integers(1, 30))
def test_due_exactly_from_10_jst_on_the_nth_calendar_day(opened: datetime, later: timedelta,
                                                        days: int) -> None:
    order = _unpaid(opened)
    now = opened + later
    decision = decide(order, RemindPayment(frozenset({9}), days, now))
    due_day = opened.astimezone(JST).date() + timedelta(days=days)
    local = now.astimezone(JST)
    expected = (local.date(), local.time()) >= (due_day, time(10))
    assert payment_reminder_at(opened, days) == datetime.combine(due_day, time(10), JST)
    assert [e.payload["mail"] for e in decision.effects] == (["reminder"] if expected else [])
    # once queued, never again
    if expected:
        again = decide(decision.order, RemindPayment(frozenset({9}), days, now + later))
        assert again.effects == () and not again.changed


@given(method=st.integers(1, 30), stage_paid=st.booleans())
def test_never_for_other_methods_or_paid_orders(method: int, stage_paid: bool) -> None:
    order = _unpaid(T0, method)
    if stage_paid:
        order = decide(order, SyncOrder(replace(order.channel, status=300), T0)).order
    decision = decide(order, RemindPayment(frozenset({9}), 1, T0 + timedelta(days=10)))
    assert bool(decision.effects) == (method == 9 and not stage_paid)
    assert all(e.payload["mail"] == MailKind.reminder.value for e in decision.effects)
    assert decision.order.stage in (Stage.processing, Stage.ready)


# ---- the shop file ---------------------------------------------------------------------

SHIPPED = "    enabled: false\n    after_days: 3\n    methods: [9]\n"  # `unyo init`'s reminder

def test_the_shop_file_turns_reminders_on_with_days_and_methods() -> None:
    assert parse_config(render_init("tea")).mail.reminder == REMINDER_DEFAULT
    text = render_init("tea").replace(
        SHIPPED, "    enabled: true\n    after_days: 5\n    methods: [9, 14]\n", 1)
    reminder = parse_config(text).mail.reminder
    assert (reminder.enabled, reminder.after_days, reminder.methods) == (True, 5, (9, 14))


@pytest.mark.parametrize(("value", "message"), [
    ("after_days: 0", "mail.reminder.after_days: expected a whole number of days"),
    ("after_days: many", "mail.reminder.after_days: expected a whole number of days"),
    ("methods: [bank]", "mail.reminder.methods: expected a list of RMS payment method codes"),
    ("methods: []", "mail.reminder.methods: expected a list of RMS payment method codes"),
    ("every: 3", "mail.reminder.every: unknown key (known: delay, enabled, max_age, "
                 "template, after_days, methods)"),
])
def test_bad_reminder_settings_are_named(value: str, message: str) -> None:
    from unyo.flow.config import ConfigError

    text = render_init("tea").replace(SHIPPED, f"    {value}\n", 1)
    with pytest.raises(ConfigError) as e:
        parse_config(text)
    assert message in str(e.value)
