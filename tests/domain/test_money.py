"""The money watch's date logic (issue 17, item 6): payout deadlines, the 14-day
auto-cancel, due dates and the license expiry, across clock jumps and JST day
boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from unyo.domain.money import (
    JST,
    AlertKind,
    Facts,
    Reported,
    Unsettled,
    WatchSettings,
    compare,
    digest,
    license_alert,
    money_alerts,
    order_alerts,
    payout_alert,
    payout_deadline,
)

S = WatchSettings()
instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1),
                        timezones=st.just(UTC))
mornings = st.times().map(lambda t: t.replace(microsecond=0))


@given(instants, mornings)
def test_the_payout_deadline_is_the_morning_of_the_next_jst_day(reported: datetime, by: time):
    deadline = payout_deadline(reported, by)
    local = deadline.astimezone(JST)
    assert local.date() == reported.astimezone(JST).date() + timedelta(days=1)
    assert local.time() == by
    assert reported < deadline <= reported + timedelta(days=2)


@given(instants, instants, mornings)
def test_a_later_report_never_has_an_earlier_deadline(a: datetime, b: datetime, by: time):
    first, second = sorted((a, b))
    assert payout_deadline(first, by) <= payout_deadline(second, by)


def test_jst_midnight_is_the_day_boundary_not_utc():
    # 23:59 JST on the 1st and 00:01 JST on the 2nd are 2 minutes apart, a day apart in deadline
    late = datetime(2026, 12, 1, 23, 59, tzinfo=JST)
    early = datetime(2026, 12, 2, 0, 1, tzinfo=JST)
    assert payout_deadline(late) == datetime(2026, 12, 2, 9, 0, tzinfo=JST)
    assert payout_deadline(early) == datetime(2026, 12, 3, 9, 0, tzinfo=JST)


@given(instants, st.lists(instants, min_size=1, max_size=8),
       st.sampled_from([300, 400, 500, 600, 700, 900]))
def test_a_payout_alert_depends_only_on_now_whatever_the_clock_did(
        reported: datetime, jumps: list[datetime], status: int):
    r = Reported("100000-20261201-0000000001", reported, status)
    deadline = payout_deadline(reported, S.payout_by)
    for now in jumps:  # forward, back: each answer is the same function of now
        alert = payout_alert(r, now, S)
        assert (alert is not None) == (now >= deadline and status < 500 and status != 900)
        if alert is not None:
            assert alert.kind is AlertKind.payout and alert.key == f"payout:{r.order_number}"


@given(instants, st.integers(min_value=0, max_value=40 * 24 * 60))
def test_the_auto_cancel_alert_opens_within_two_days_of_the_14th(ordered: datetime,
                                                                 minutes: int):
    now = ordered + timedelta(minutes=minutes)
    u = Unsettled("100000-20261201-0000000002", ordered, 100)
    alerts = [a for a in order_alerts(u, now, S) if a.kind is AlertKind.auto_cancel]
    on = ordered.astimezone(JST).date() + timedelta(days=14)
    left = max(0, (on - now.astimezone(JST).date()).days)
    assert bool(alerts) == (left <= S.auto_cancel_days)
    if alerts:
        assert alerts[0].on == on and alerts[0].days_left == left
    # once confirmed (RMS 200) the auto-cancel alert is gone
    assert not [a for a in order_alerts(Unsettled(u.order_number, ordered, 200), now, S)
                if a.kind is AlertKind.auto_cancel]


@given(st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 1, 1)), instants,
       st.sampled_from([100, 200, 300, 500]))
def test_due_date_alerts_are_for_unsettled_orders_within_the_days(due: date, now: datetime,
                                                                  status: int):
    u = Unsettled("100000-20261201-0000000003", now - timedelta(days=1), status,
                  due_dates=(due,), cancel_due=due)
    kinds = {a.kind: a for a in order_alerts(u, now, S)}
    left = (due - now.astimezone(JST).date()).days
    near = left <= S.due_days and status < 300
    assert (AlertKind.payment_due in kinds) == near
    # at RMS 100 the auto-cancel alert speaks for the cancel date
    assert (AlertKind.cancel_due in kinds) == (near and status != 100)
    if near:
        assert kinds[AlertKind.payment_due].days_left == left


@given(st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 1, 1)), instants)
def test_the_license_alert_opens_14_days_before_the_expiry(expires: date, now: datetime):
    alert = license_alert(expires, now, S)
    left = (expires - now.astimezone(JST).date()).days
    assert (alert is not None) == (left <= 14)
    if alert is not None:
        assert alert.level == ("error" if left <= 3 else "warning")
        assert "ライセンスキー" in alert.text
    assert license_alert(None, now, S) is None


@given(st.sets(st.integers(0, 9)), st.sets(st.integers(0, 9)))
def test_compare_sends_only_new_alerts_and_clears_the_gone(before: set[int], now: set[int]):
    t = datetime(2026, 12, 1, tzinfo=JST)
    current = money_alerts(Facts(reported=[
        Reported(f"100000-20261201-000000000{i}", t - timedelta(days=3), 300)
        for i in sorted(now)]), t, S)
    change = compare([f"payout:100000-20261201-000000000{i}" for i in before], current)
    assert {a.key[-1] for a in change.opened} == {str(i) for i in now - before}
    assert {k[-1] for k in change.cleared} == {str(i) for i in before - now}
    assert {a.key[-1] for a in change.still_open} == {str(i) for i in now & before}


def test_a_digest_is_japanese_with_every_alert_grouped_by_kind():
    now = datetime(2026, 12, 6, 9, 30, tzinfo=JST)
    alerts = money_alerts(Facts(
        reported=[Reported("100000-20261204-0000000001", now - timedelta(days=2), 300)],
        unsettled=[Unsettled("100000-20261123-0000000002", now - timedelta(days=13), 100)],
        license_expires=date(2026, 12, 10)), now, S)
    subject, body = digest("お茶の店", alerts, now)
    assert subject == "【お茶の店】お金のアラート 3件（12月6日 09:30）"
    assert "■ 入金対象になっていない出荷（RMS 発送済 500 未到達）（1件）" in body
    assert "100000-20261204-0000000001" in body and "現在 RMS 300" in body
    assert "楽天が自動キャンセルします（あと1日）" in body
    assert "2026年12月10日です（あと4日）" in body


@given(instants, mornings, st.integers(min_value=-7200, max_value=7200))
def test_the_payout_alert_opens_exactly_at_the_deadline(reported: datetime, by: time,
                                                        offset: int):
    settings = WatchSettings(payout_by=by)
    r = Reported("100000-20261201-0000000001", reported, 300)
    now = payout_deadline(reported, by) + timedelta(seconds=offset)
    assert (payout_alert(r, now, settings) is not None) == (offset >= 0)


def test_a_large_digest_lists_the_first_of_each_kind_and_counts_the_rest():
    now = datetime(2026, 12, 6, 9, 30, tzinfo=JST)
    alerts = money_alerts(Facts(reported=[
        Reported(f"100000-20261204-{i:010d}", now - timedelta(days=2), 300)
        for i in range(120)]), now, S)
    _, body = digest("店", alerts, now, per_kind=50)
    assert body.count("・注文 ") == 50 and "・ほか70件" in body
    assert "（120件）" in body
