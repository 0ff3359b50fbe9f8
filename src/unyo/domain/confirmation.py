"""注文確認 (confirmOrder) as the domain sees it: when an order needs it, what keeps it
back, and how long Rakuten waits for it.

unyo confirms every order it imports at RMS 100, whatever the payment method
(選択制決済 such as 代引き included: reference/rakuten-rms.md, status codes). The
confirmation is decided once the shop's rules have run (`decide.ApplyRules`), never at
import: a rule's `confirm: wait` keeps it back until a person releases it, and postage
not fixed yet (-9999) is never sent (RMS refuses it with ERROR_105); the order waits with
`REASON_POSTAGE` until the sync sees the postage set. Both are gates of kind
`GateKind.confirm`. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from unyo.domain.order import NOT_FIXED, ChannelOrder, Order
from unyo.domain.vocabulary import BEFORE_HANDOFF, RmsStatus

REASON_POSTAGE = "送料を確定してください"
"""The confirmation waits for the postage (RMS -9999, 送料未確定): fix it in RMS."""
NOTE_POSTAGE_FIXED = "送料が確定しました"
NOTE_CONFIRMED_AT_RMS = "RMSで注文確認済み"

AUTO_CANCEL_DAYS = 14
"""Rakuten cancels an order nobody confirmed after 14 days (reference/rakuten-rms.md,
confirmOrder). How the 14 days are counted is not documented there *(unconfirmed)*: unyo
assumes calendar days in JST from the order date, so an order placed on 12/1 is cancelled
on 12/15 and has 14 days left on the day it was placed. Kept a constant here, with its
counting in `auto_cancel`, so a correction is one change."""

_JST = timezone(timedelta(hours=9))


def needs_confirmation(channel: ChannelOrder) -> bool:
    """RMS 100 needs 注文確認; so does a 選択制決済 order (e.g. 代引き) that RMS shows at 300
    without a confirmation date (reference/rakuten-rms.md)."""
    return channel.status == RmsStatus.awaiting_confirmation or (
        channel.status == RmsStatus.awaiting_shipment and channel.confirmed_at is None)


def still_to_confirm(order: Order) -> bool:
    """The order still needs unyo's confirmOrder: not confirmed at RMS (by unyo, by a
    person in RMS, or by RMS's own 自動注文確認) and not stopped."""
    return (order.stage in BEFORE_HANDOFF and order.confirmed_at is None
            and (order.rms_status == RmsStatus.awaiting_confirmation
                 or order.rms_status == RmsStatus.awaiting_shipment))


def postage_fixed(channel: ChannelOrder) -> bool:
    """Whether RMS has the postage (order and every destination): confirmOrder of an
    order whose postage is -9999 is refused with ERROR_105 (reference/rakuten-rms.md)."""
    return channel.amounts.postage != NOT_FIXED and all(
        p.postage_price != NOT_FIXED for p in channel.packages)


@dataclass(frozen=True, slots=True)
class AutoCancel:
    """When Rakuten cancels an unconfirmed order, and how many days are left (JST)."""

    on: date
    days_left: int

    @property
    def text(self) -> str:
        """What shop staff read (Japanese)."""
        if self.days_left <= 0:
            return "本日自動キャンセル予定（注文確認してください）"
        return f"自動キャンセルまで残り{self.days_left}日"


def auto_cancel(order: Order, now: datetime) -> AutoCancel | None:
    """Rakuten's 14-day auto-cancel of an order at RMS 100 (see AUTO_CANCEL_DAYS for the
    counting); None for an order past 100 or stopped."""
    if order.rms_status != RmsStatus.awaiting_confirmation or order.stage not in BEFORE_HANDOFF:
        return None
    return auto_cancel_of(order.channel.ordered_at, now)


def auto_cancel_of(ordered_at: datetime, now: datetime) -> AutoCancel:
    """The auto-cancel of an unconfirmed order placed at `ordered_at`, seen at `now`."""
    on = ordered_at.astimezone(_JST).date() + timedelta(days=AUTO_CANCEL_DAYS)
    return AutoCancel(on, max(0, (on - now.astimezone(_JST).date()).days))


__all__ = [
    "AUTO_CANCEL_DAYS",
    "NOTE_CONFIRMED_AT_RMS",
    "NOTE_POSTAGE_FIXED",
    "REASON_POSTAGE",
    "AutoCancel",
    "auto_cancel",
    "auto_cancel_of",
    "needs_confirmation",
    "postage_fixed",
    "still_to_confirm",
]
