"""Money watch (issue 17, item 6): the dates after which the shop loses money or the
connection, as alerts for the staff.

- **payout**: Rakuten pays the shop only for orders at RMS 500 (発送済), which RMS sets
  the day after every package has complete shipping rows (reference/rakuten-rms.md,
  status codes). An order whose shipping report went out and that is not at 500 by the
  morning after the report (JST, `payout_deadline`) has something wrong at RMS.
- **auto_cancel**: an order still at RMS 100 within `auto_cancel_days` of Rakuten's 14-day
  auto-cancel (`confirmation.auto_cancel_of`, the counting of item 1).
- **payment_due** / **cancel_due**: a bank transfer or prepaid order's due date
  (`DueDateModelList`) or its `cancelDueDate` within `due_days` while the payment is not
  settled (RMS below 300).
- **license**: the RMS license key within `license_days` of its expiry (an expired key
  ends the connection).

An alert is a pure function of the facts and `now`: it is open while its condition holds,
whatever the clock did before (a jump forward fires it, a jump back or the fact going
away clears it). The app keeps which alerts are open and sends each once when it opens.
Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum

from unyo.domain.confirmation import auto_cancel_of

JST = timezone(timedelta(hours=9))

PAID_AT_RMS = 500
"""RMS 500 発送済 and every status after it (600/700 settlement) mean Rakuten will pay."""
SETTLED_AT_RMS = 300
"""Below RMS 300 the payment is not settled (reference/rakuten-rms.md, status codes)."""


class AlertKind(StrEnum):
    """The money watch's alerts, one line of meaning each."""

    payout = "payout"  # shipped and reported, not at RMS 500 by the next morning
    auto_cancel = "auto_cancel"  # still at RMS 100, Rakuten's 14-day cancel is near
    payment_due = "payment_due"  # a payment due date (DueDateModelList) is near, unpaid
    cancel_due = "cancel_due"  # cancelDueDate is near, payment not settled
    license = "license"  # the RMS license key expires soon


KIND_NAMES = {
    AlertKind.payout: "入金対象になっていない出荷（RMS 発送済 500 未到達）",
    AlertKind.auto_cancel: "自動キャンセルが近い注文（注文確認待ち）",
    AlertKind.payment_due: "支払期限が近い注文（入金待ち）",
    AlertKind.cancel_due: "キャンセル期限が近い注文（入金待ち）",
    AlertKind.license: "RMSライセンスキーの有効期限",
}
"""What staff read for each kind (Japanese)."""


@dataclass(frozen=True, slots=True)
class WatchSettings:
    """The thresholds (the shop file's `alerts:` section)."""

    payout_by: time = time(9, 0)  # the morning after the report, JST
    auto_cancel_days: int = 2
    due_days: int = 2
    license_days: int = 14


@dataclass(frozen=True, slots=True)
class MoneyAlert:
    """One open alert. `key` names what it is about: the same key while it stays open."""

    key: str
    kind: AlertKind
    level: str  # error | warning
    order_number: str = ""
    on: date | None = None  # the date that matters (deadline, due date, expiry)
    days_left: int | None = None
    detail: str = ""  # e.g. the RMS status seen

    @property
    def text(self) -> str:
        """One line for staff (Japanese, dates in JST)."""
        on = _jdate(self.on) if self.on else ""
        if self.kind is AlertKind.payout:
            return (f"注文 {self.order_number}: 発送完了報告のあと{on}朝までにRMSの発送済(500)に"
                    f"なっていません（現在 {self.detail}）。RMSで発送情報を確認してください。")
        if self.kind is AlertKind.auto_cancel:
            left = "本日" if not self.days_left else f"あと{self.days_left}日"
            return (f"注文 {self.order_number}: 注文確認待ちのまま。{on}に楽天が自動キャンセル"
                    f"します（{left}）。")
        if self.kind in (AlertKind.payment_due, AlertKind.cancel_due):
            what = "支払期限" if self.kind is AlertKind.payment_due else "キャンセル期限"
            left = _left(self.days_left)
            return f"注文 {self.order_number}: 入金前の{what}は{on}です（{left}）。"
        return (f"RMSライセンスキーの有効期限は{on}です（{_left(self.days_left)}）。"
                "RMSで新しいキーを発行してください。")


def _left(days: int | None) -> str:
    if days is None:
        return ""
    if days < 0:
        return f"{-days}日超過"
    return "本日" if days == 0 else f"あと{days}日"


def _jdate(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def jst_day(instant: datetime) -> date:
    return instant.astimezone(JST).date()


def payout_deadline(reported_at: datetime, by: time = time(9, 0)) -> datetime:
    """When an order reported at `reported_at` must be at RMS 500: `by` (JST) on the day
    after the report's JST day (RMS moves 300 → 500 the day after the rows are complete)."""
    day = jst_day(reported_at) + timedelta(days=1)
    return datetime.combine(day, by, tzinfo=JST)


@dataclass(frozen=True, slots=True)
class Reported:
    """A shipped order whose shipping report RMS accepted, and its RMS status seen last."""

    order_number: str
    reported_at: datetime
    rms_status: int


@dataclass(frozen=True, slots=True)
class Unsettled:
    """An open order (not shipped, not cancelled) as the watch needs it."""

    order_number: str
    ordered_at: datetime
    rms_status: int
    due_dates: tuple[date, ...] = ()
    cancel_due: date | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    reported: Sequence[Reported] = ()
    unsettled: Sequence[Unsettled] = ()
    license_expires: date | None = None


def payout_alert(r: Reported, now: datetime, s: WatchSettings) -> MoneyAlert | None:
    if r.rms_status >= PAID_AT_RMS or r.rms_status in (800, 900):
        return None
    deadline = payout_deadline(r.reported_at, s.payout_by)
    if now < deadline:
        return None
    return MoneyAlert(f"payout:{r.order_number}", AlertKind.payout, "error", r.order_number,
                      deadline.date(), None, f"RMS {r.rms_status}")


def order_alerts(u: Unsettled, now: datetime, s: WatchSettings) -> list[MoneyAlert]:
    out: list[MoneyAlert] = []
    if u.rms_status == 100:
        ac = auto_cancel_of(u.ordered_at, now)
        if ac.days_left <= s.auto_cancel_days:
            out.append(MoneyAlert(f"auto_cancel:{u.order_number}", AlertKind.auto_cancel,
                                  "error" if ac.days_left <= 1 else "warning", u.order_number,
                                  ac.on, ac.days_left))
    if u.rms_status >= SETTLED_AT_RMS or u.rms_status in (800, 900):
        return out
    today = jst_day(now)
    if u.due_dates:
        due = min(u.due_dates)
        left = (due - today).days
        if left <= s.due_days:
            out.append(MoneyAlert(f"payment_due:{u.order_number}", AlertKind.payment_due,
                                  "error" if left <= 0 else "warning", u.order_number, due,
                                  left))
    # At RMS 100 the auto-cancel alert speaks for the same date.
    if u.cancel_due is not None and u.rms_status != 100:
        left = (u.cancel_due - today).days
        if left <= s.due_days:
            out.append(MoneyAlert(f"cancel_due:{u.order_number}", AlertKind.cancel_due,
                                  "error" if left <= 0 else "warning", u.order_number,
                                  u.cancel_due, left))
    return out


def license_alert(expires: date | None, now: datetime, s: WatchSettings) -> MoneyAlert | None:
    if expires is None:
        return None
    left = (expires - jst_day(now)).days
    if left > s.license_days:
        return None
    return MoneyAlert("license", AlertKind.license, "error" if left <= 3 else "warning",
                      on=expires, days_left=left)


def money_alerts(facts: Facts, now: datetime, s: WatchSettings) -> list[MoneyAlert]:
    """Every alert open at `now`, in a stable order (kind, then key)."""
    out: list[MoneyAlert] = []
    for r in facts.reported:
        if (a := payout_alert(r, now, s)) is not None:
            out.append(a)
    for u in facts.unsettled:
        out.extend(order_alerts(u, now, s))
    if (a := license_alert(facts.license_expires, now, s)) is not None:
        out.append(a)
    order = list(AlertKind)
    return sorted(out, key=lambda a: (order.index(a.kind), a.key))


@dataclass(frozen=True, slots=True)
class Change:
    """What a turn of the watch changes: alerts that open (to send) and keys that clear."""

    opened: tuple[MoneyAlert, ...] = ()
    cleared: tuple[str, ...] = ()
    still_open: tuple[MoneyAlert, ...] = field(default=())


def compare(open_keys: Iterable[str], current: Sequence[MoneyAlert]) -> Change:
    """Alerts open now against those open before: an alert that stays open is not new."""
    before = set(open_keys)
    now_keys = {a.key for a in current}
    return Change(tuple(a for a in current if a.key not in before),
                  tuple(sorted(before - now_keys)),
                  tuple(a for a in current if a.key in before))


DIGEST_PER_KIND = 50
"""Alerts of a kind listed in one digest; the rest are counted (a chat message has a
size limit: Slack's is 40,000 characters)."""


def digest(shop_name: str, alerts: Sequence[MoneyAlert], now: datetime,
           per_kind: int = DIGEST_PER_KIND) -> tuple[str, str]:
    """(subject, body) of one message for several new alerts (Japanese, JST)."""
    at = now.astimezone(JST)
    subject = f"【{shop_name}】お金のアラート {len(alerts)}件（{at.month}月{at.day}日 {at:%H:%M}）"
    lines = [f"{shop_name} の運用で、新しいアラートが{len(alerts)}件あります"
             f"（{_jdate(at.date())} {at:%H:%M} 日本時間）。", ""]
    for kind in AlertKind:
        of_kind = [a for a in alerts if a.kind is kind]
        if not of_kind:
            continue
        lines.append(f"■ {KIND_NAMES[kind]}（{len(of_kind)}件）")
        lines.extend(f"・{a.text}" for a in of_kind[:per_kind])
        if len(of_kind) > per_kind:
            lines.append(f"・ほか{len(of_kind) - per_kind}件（ダッシュボードに一覧があります）")
        lines.append("")
    lines.append("ダッシュボードのアラート欄と `unyo doctor` でも確認できます。")
    return subject, "\n".join(lines)


__all__ = [
    "JST",
    "KIND_NAMES",
    "AlertKind",
    "Change",
    "Facts",
    "MoneyAlert",
    "Reported",
    "Unsettled",
    "WatchSettings",
    "compare",
    "digest",
    "jst_day",
    "license_alert",
    "money_alerts",
    "order_alerts",
    "payout_alert",
    "payout_deadline",
]
