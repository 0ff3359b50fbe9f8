"""The vocabulary of unyo: one StrEnum per family, one line of meaning per member.

Names follow the glossary of DESIGN.md §9. Standard library only.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Stage(StrEnum):
    """Where an order is in the flow. `ready` is derived, never set by hand."""

    processing = "processing"  # 受注処理: gates are being resolved
    ready = "ready"  # 出荷OK / 印刷待ち: processing with no open gate
    at_warehouse = "at_warehouse"  # 印刷済 / 出荷指示済: handed to the WMS
    shipped = "shipped"  # 出荷済: the WMS reported tracking
    cancelled = "cancelled"  # キャンセル: stopped before shipping


OPEN_STAGES = frozenset({Stage.processing, Stage.ready, Stage.at_warehouse})
"""Stages whose orders the payment sync keeps re-reading."""

BEFORE_HANDOFF = frozenset({Stage.processing, Stage.ready})
"""Stages in which an order can still be stopped without the warehouse."""


class GateKind(StrEnum):
    """What an open gate waits for; any open gate blocks processing → ready."""

    payment = "payment"  # 入金待ち: payment not settled (RMS below 300)
    check = "check"  # 確認待ち: a person must look
    hold = "hold"  # 保留: waiting for a time or a person
    confirm = "confirm"  # 注文確認保留: confirmOrder kept back (a rule's confirm: wait, postage)


class EventType(StrEnum):
    """What happened to an order; events are appended, never changed."""

    order_imported = "order_imported"  # created from the channel
    order_confirmed = "order_confirmed"  # RMS confirmOrder succeeded (100 → 200)
    confirm_requested = "confirm_requested"  # confirmOrder put in the outbox, after the rules
    gate_opened = "gate_opened"  # a gate was opened, with its reason
    gate_closed = "gate_closed"  # a gate was closed, by whom
    stage_changed = "stage_changed"  # the stage moved (data: from, to)
    payment_settled = "payment_settled"  # RMS reached 300
    payment_reverted = "payment_reverted"  # RMS fell back below 300 (re-authorisation failed)
    order_changed = "order_changed"  # amounts or items changed at the channel
    order_updated = "order_updated"  # details the rules read changed (remarks, dates...)
    channel_status_changed = "channel_status_changed"  # RMS status moved (data: from, to)
    order_cancelled = "order_cancelled"  # stopped; reason in data
    cancel_after_handoff = "cancel_after_handoff"  # channel cancelled an order the WMS has
    effect_failed = "effect_failed"  # an outside effect failed permanently
    rule_matched = "rule_matched"  # a shop rule's condition held and it acted (data: rule)
    tag_added = "tag_added"  # a tag was added (data: tag, rule)
    field_set = "field_set"  # a field for the warehouse was set (data: field, value, rule)
    handed_off = "handed_off"  # shipment requests sent to the WMS (data: baskets)
    # characters the warehouse's encoding lacks, replaced in what it gets (data:
    # substitutions: field, char, code, replacement); the order keeps the original
    characters_substituted = "characters_substituted"
    shipment_recorded = "shipment_recorded"  # the WMS shipped a package (data: tracking, partial)
    warehouse_rejected = "warehouse_rejected"  # the WMS cannot ship a package (出荷不可)
    merged_into = "merged_into"  # 同梱: this order goes in another's parcel (data: into, rule)
    merged_from = "merged_from"  # 同梱: this order carries others (data: orders, rule, totals)
    merged_order_cancelled = "merged_order_cancelled"  # RMS cancelled an order merged into this
    merged_order_changed = "merged_order_changed"  # an order merged into this changed at RMS
    command_refused = "command_refused"  # a step's command did not fit (data: command, reason)
    # 入金督促: a reminder mail queued for an order unpaid too long (data: method, days)
    payment_reminder_queued = "payment_reminder_queued"
    slips_printed = "slips_printed"  # 納品書 printed in a batch (自社出荷; data: batch, baskets)
    taken_out_of_batch = "taken_out_of_batch"  # out of its print batch, back to 出荷OK
    # a person edited a package's recipient (送付先; data: basket_id, changes, note, by)
    recipient_edited = "recipient_edited"
    # a person edited ひとことメモ / delivery date / time slot (data: changes, note, by)
    details_edited = "details_edited"
    rms_updated = "rms_updated"  # RMS accepted an edit's write-back (data: what)


class EffectKind(StrEnum):
    """Outside actions, written to the outbox with the change that caused them."""

    confirm_order = "confirm_order"  # RMS confirmOrder (注文確認)
    send_mail = "send_mail"  # a mail to the buyer (サンクスメール, 発送連絡メール)
    hand_off_to_warehouse = "hand_off_to_warehouse"  # shipment request to the WMS
    report_shipping = "report_shipping"  # RMS updateOrderShipping (発送完了報告)
    cancel_at_warehouse = "cancel_at_warehouse"  # cancel request to the WMS (出荷停止)
    cancel_at_rms = "cancel_at_rms"  # RMS cancelOrder: a person's cancel in unyo
    notify_staff = "notify_staff"  # the money watch's alert digest to the staff (mail, webhook)
    update_at_rms = "update_at_rms"  # RMS updateOrderSender: a person's edit in unyo


class MailKind(StrEnum):
    """Mails unyo sends to buyers."""

    thanks = "thanks"  # サンクスメール, on import
    shipping = "shipping"  # 発送連絡メール, on shipped
    reminder = "reminder"  # 入金督促メール, for an order unpaid after `mail.reminder.after_days`


class Actor(StrEnum):
    """Who caused a change, for the automation rate."""

    system = "system"  # unyo's own steps
    channel = "channel"  # what the marketplace reported
    person = "person"  # a manual action (counted against automation)


class OrderType(StrEnum):
    """Rakuten orderType, in words."""

    normal = "normal"  # 1 通常
    subscription = "subscription"  # 4 定期購入
    distribution = "distribution"  # 5 頒布会
    reservation = "reservation"  # 6 予約


class RmsStatus(IntEnum):
    """Rakuten orderProgress codes."""

    awaiting_confirmation = 100  # 注文確認待ち
    rakuten_processing = 200  # 楽天処理中
    awaiting_shipment = 300  # 発送待ち
    awaiting_change = 400  # 変更確定待ち
    shipped = 500  # 発送済
    payment_in_progress = 600  # 支払手続き中
    payment_done = 700  # 支払手続き済
    awaiting_cancel = 800  # キャンセル確定待ち
    cancelled = 900  # キャンセル確定


CANCEL_REASONS: dict[int, str] = {
    # RMS cancelOrder changeReasonDetailApply (reference/rakuten-rms.md, cancelOrder; the
    # codes as the RMS client documents them). 1–6 are the buyer's reasons, 8–15 the
    # shop's: shop-caused cancellations count against the shop at Rakuten.
    1: "キャンセル（お客様都合）",
    2: "受取後の返品",
    3: "長期不在による受取拒否",
    4: "未入金",
    5: "代引決済の受取拒否",
    6: "その他（お客様都合）",
    8: "欠品",
    10: "その他（店舗都合）",
    13: "発送遅延",
    14: "顧客・配送対応注意表示",
    15: "返品（破損・品間違い）",
}
DEFAULT_CANCEL_REASON = 1

CANCELLED_RMS = frozenset({RmsStatus.awaiting_cancel, RmsStatus.cancelled})
