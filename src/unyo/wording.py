"""The words people read for what unyo records (issue 18 item 3): stages, gates, actors,
outside effects, mails, and every event of an order's log as one sentence — in Japanese
(the default) or English. The dashboard and the CLI's text output both use these; JSON
output keeps the keys.

Buyer and RMS text quoted in a sentence (a reason, a note, a tag) is returned as it is:
the caller escapes it for where it is shown (HTML, Rich). Unknown values — an event type
added later, data an older version wrote — get a plain sentence of their own, never a
raw key or a Python repr.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

_JST = timezone(timedelta(hours=9), "JST")

Lang = str  # "ja" or "en"

_STAGES = {
    "processing": ("受注処理", "Processing"),
    "ready": ("出荷OK", "Ready"),
    "at_warehouse": ("倉庫連携済", "At warehouse"),
    "shipped": ("出荷済", "Shipped"),
    "cancelled": ("キャンセル", "Cancelled"),
}
_GATES = {
    "payment": ("入金待ち", "Awaiting payment"),
    "check": ("確認待ち", "To check"),
    "hold": ("保留", "On hold"),
    "confirm": ("注文確認保留", "Confirmation held"),
}
_EFFECTS = {
    "confirm_order": ("注文確認", "Order confirmation"),
    "send_mail": ("メール送信", "Mail"),
    "hand_off_to_warehouse": ("倉庫連携", "Warehouse hand-off"),
    "report_shipping": ("発送完了報告", "Shipping report"),
    "cancel_at_warehouse": ("倉庫へのキャンセル連絡", "Cancel at the warehouse"),
    "cancel_at_rms": ("楽天でのキャンセル", "Cancel at Rakuten"),
    "notify_staff": ("スタッフへのアラート通知", "Alert to the staff"),
    "update_at_rms": ("楽天への変更の反映", "Edit written back to Rakuten"),
}
_EFFECT_STATUS = {
    "pending": ("送信待ち", "Pending"),
    "done": ("完了", "Done"),
    "failed": ("失敗", "Failed"),
}
_MAILS = {
    "thanks": ("サンクスメール", "Thank-you mail"),
    "shipping": ("発送連絡メール", "Shipping mail"),
    "reminder": ("入金督促メール", "Payment reminder mail"),
}
# RMS settlementMethodCode (reference/rakuten-rms.md, SettlementModel)
_PAYMENT_METHODS = {
    "1": ("クレジットカード", "credit card"), "2": ("代金引換", "cash on delivery"),
    "4": ("ショッピングクレジット", "shopping credit"), "5": ("オートローン", "auto loan"),
    "6": ("リース", "lease"), "7": ("請求書払い", "invoice"), "8": ("ポイント", "points"),
    "9": ("銀行振込", "bank transfer"), "12": ("Apple Pay", "Apple Pay"),
    "13": ("セブン-イレブン（前払）", "7-Eleven (prepaid)"),
    "14": ("ローソン・郵便局ATM等（前払）", "Lawson / post office ATM (prepaid)"),
    "16": ("Alipay", "Alipay"), "17": ("PayPal", "PayPal"), "21": ("後払い決済", "pay later"),
    "27": ("Alipay（支付宝）", "Alipay"),
}
_FIELDS = {
    "warehouse_note": ("倉庫への指示", "Warehouse note"),
    "delivery_method": ("配送方法", "Delivery method"),
    "release_date": ("発売日", "Release date"),
    "payment_reminder": ("入金督促メール", "Payment reminder"),
}
_COMMANDS = {
    "RecordShipment": ("出荷実績", "shipping result"),
    "RecordWarehouseRejection": ("倉庫の出荷不可", "warehouse rejection"),
    "HandOff": ("倉庫連携", "hand-off"),
    "PrintSlips": ("納品書の印刷", "printing the packing slips"),
    "TakeOutOfBatch": ("印刷バッチから外す", "taking out of the print batch"),
    "CloseGate": ("解除", "release"),
    "OpenGate": ("保留・確認待ち", "hold or check"),
    "CancelOrder": ("キャンセル", "cancel"),
    "SetField": ("項目の設定", "setting a field"),
    "ImportOrder": ("取込", "import"),
    "SyncOrder": ("楽天の変更の反映", "RMS update"),
    "RecordConfirmed": ("注文確認の結果", "confirmation result"),
    "RecordEffectFailed": ("外部連携の失敗", "failed effect"),
    "EditRecipient": ("送付先の変更", "recipient edit"),
    "EditDetails": ("ひとことメモ・お届け日時の変更", "memo or delivery edit"),
    "RecordRmsUpdated": ("楽天への反映の結果", "write-back result"),
}


def _pick(table: Mapping[str, tuple[str, str]], key: object, lang: Lang,
          unknown: tuple[str, str]) -> str:
    pair = table.get(str(key))
    i = 1 if lang == "en" else 0
    return pair[i] if pair else unknown[i]


def stage_name(stage: object, lang: Lang = "ja") -> str:
    return _pick(_STAGES, getattr(stage, "value", stage), lang, ("不明な段階", "unknown stage"))


def gate_name(kind: object, lang: Lang = "ja") -> str:
    return _pick(_GATES, getattr(kind, "value", kind), lang, ("待ち", "gate"))


def effect_name(kind: object, lang: Lang = "ja") -> str:
    return _pick(_EFFECTS, getattr(kind, "value", kind), lang, ("外部連携", "effect"))


def effect_status(status: object, lang: Lang = "ja") -> str:
    return _pick(_EFFECT_STATUS, status, lang, ("不明", "unknown"))


def mail_name(kind: object, lang: Lang = "ja") -> str:
    return _pick(_MAILS, getattr(kind, "value", kind), lang, ("メール", "mail"))


def payment_method_codes() -> list[int]:
    """The settlementMethodCodes with a name (the queue's payment filter offers them)."""
    return [int(k) for k in _PAYMENT_METHODS]


def payment_method_name(code: object, lang: Lang = "ja") -> str:
    return _pick(_PAYMENT_METHODS, code, lang, ("その他の支払方法", "other payment"))


def payment_wait(method_code: object, opened_at: datetime | None, now: datetime,
                 lang: Lang = "ja") -> str:
    """What a payment gate waits for, and since when: 入金待ち（銀行振込・5日目）. Days are
    JST calendar days, the day the wait began being day 1."""
    method = payment_method_name(method_code, lang)
    if opened_at is None:
        return f"Awaiting payment ({method})" if lang == "en" else f"入金待ち（{method}）"
    day = (now.astimezone(_JST).date() - opened_at.astimezone(_JST).date()).days + 1
    day = max(day, 1)
    return (f"Awaiting payment ({method}, day {day})" if lang == "en"
            else f"入金待ち（{method}・{day}日目）")


def field_name(name: object, lang: Lang = "ja") -> str:
    return _pick(_FIELDS, name, lang, ("項目", "field"))


def actor_text(actor: object, data: Mapping[str, Any] | None = None, lang: Lang = "ja") -> str:
    """Who did it: 自動（unyo）, 楽天RMS, 担当者: 山田."""
    value = str(getattr(actor, "value", actor))
    by = str((data or {}).get("by") or "")
    en = lang == "en"
    if value == "person":
        return (f"Staff: {by}" if by else "Staff") if en else (f"担当者: {by}" if by else "担当者")
    if value == "channel":
        return "Rakuten RMS" if en else "楽天RMS"
    return "Automatic (unyo)" if en else "自動（unyo）"


def _yen(value: object, lang: Lang) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return "?"
    return f"¥{value:,}" if lang == "en" else f"{value:,}円"


def _text(value: object) -> str:
    """A value quoted in a sentence: text as it is, anything else shown plainly."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:,}" if isinstance(value, int) else f"{value:g}"
    if isinstance(value, list | tuple):
        return "、".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "、".join(_text(v) for v in value.values())
    return str(value)


def _status(value: object) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "?"


# RMS orderProgress (reference/rakuten-rms.md, "Order status"), as RMS's own screens name it
_RMS_STATUSES = {
    "100": ("注文確認待ち", "awaiting order confirmation"),
    "200": ("楽天処理中", "Rakuten processing"),
    "300": ("発送待ち", "awaiting shipment"), "400": ("変更確定待ち", "awaiting change"),
    "500": ("発送済", "shipped"), "600": ("支払手続き中", "payment in progress"),
    "700": ("支払手続き済", "payment done"), "800": ("キャンセル確定待ち", "cancel pending"),
    "900": ("キャンセル確定", "cancelled"),
}


def rms_status_name(code: object, lang: Lang = "ja") -> str:
    """RMS 300 発送待ち: the status number, as shops know it, with its name."""
    name = _pick(_RMS_STATUSES, code, lang, ("", ""))
    return f"RMS {_status(code)} {name}".rstrip()


def _opt(cond: object, ja: str, en: str, lang: Lang) -> str:
    return (en if lang == "en" else ja) if cond else ""


Sentence = Callable[[Mapping[str, Any], Lang], str]


def _imported(d: Mapping[str, Any], lang: Lang) -> str:
    s, total = _status(d.get("rms_status")), _yen(d.get("total"), lang)
    return (f"Imported from Rakuten (RMS {s}, total {total})" if lang == "en"
            else f"楽天から取込（RMS {s}、合計 {total}）")


def _gate_opened(d: Mapping[str, Any], lang: Lang) -> str:
    gate, reason = gate_name(d.get("kind"), lang), _text(d.get("reason"))
    rule = _text(d.get("rule"))
    until = _text(d.get("until"))[:16].replace("T", " ")
    if lang == "en":
        return (f"{gate}: {reason}" + (f" (rule {rule})" if rule else "")
                + (f" until {until}" if until else ""))
    return (f"{gate}: {reason}" + (f"（ルール「{rule}」）" if rule else "")
            + (f"（{until}まで）" if until else ""))


def _gate_closed(d: Mapping[str, Any], lang: Lang) -> str:
    gate, reason, note = gate_name(d.get("kind"), lang), _text(d.get("reason")), \
        _text(d.get("note"))
    if lang == "en":
        return f"{gate} released: {reason}" + (f" (note: {note})" if note else "")
    return f"{gate}を解除: {reason}" + (f"（メモ: {note}）" if note else "")


def _stage_changed(d: Mapping[str, Any], lang: Lang) -> str:
    a, b = stage_name(d.get("from"), lang), stage_name(d.get("to"), lang)
    return f"Stage: {a} → {b}" if lang == "en" else f"段階: {a} → {b}"


def _merged_part(d: Mapping[str, Any], lang: Lang) -> str:
    number = _text(d.get("merged") or d.get("order_number"))
    if not number:
        return ""
    return f" (merged order {number})" if lang == "en" else f"（同梱した注文 {number}）"


def _payment(settled: bool) -> Sentence:
    def say(d: Mapping[str, Any], lang: Lang) -> str:
        s, part = _status(d.get("rms_status")), _merged_part(d, lang)
        if settled:
            return (f"Payment confirmed at RMS (RMS {s}){part}" if lang == "en"
                    else f"入金確認（RMS {s}）{part}")
        return (f"Payment taken back at RMS (RMS {s}){part}" if lang == "en"
                else f"入金が取り消されました（RMS {s}）{part}")
    return say


def _changed(d: Mapping[str, Any], lang: Lang) -> str:
    a, b = _yen(d.get("total_before"), lang), _yen(d.get("total_after"), lang)
    part = _merged_part(d, lang)
    return (f"Order changed at Rakuten (total {a} → {b}){part}" if lang == "en"
            else f"楽天で注文内容が変更されました（合計 {a} → {b}）{part}")


def _status_changed(d: Mapping[str, Any], lang: Lang) -> str:
    a, b = _status(d.get("from")), _status(d.get("to"))
    part = _merged_part(d, lang)
    return (f"RMS status {a} → {b}{part}" if lang == "en"
            else f"RMSのステータス {a} → {b}{part}")


def _cancelled(d: Mapping[str, Any], lang: Lang) -> str:
    reason = _text(d.get("reason"))
    not_rms = _opt(d.get("rms"), "（楽天ではキャンセルしていません）",
                   " (not cancelled at Rakuten)", lang)
    code = d.get("rms_reason")
    rms = ""
    if isinstance(code, int):
        from unyo.domain import CANCEL_REASONS
        rms = (f" (to Rakuten: {code})" if lang == "en"
               else f"（楽天へ: {CANCEL_REASONS.get(code, code)}）")
    return (f"Cancelled: {reason}{not_rms}{rms}" if lang == "en"
            else f"キャンセル: {reason}{not_rms}{rms}")


def _field_set(d: Mapping[str, Any], lang: Lang) -> str:
    name, value, rule = field_name(d.get("field"), lang), _text(d.get("value")), \
        _text(d.get("rule"))
    by_rule = (f" (rule {rule})" if lang == "en" else f"（ルール「{rule}」）") if rule else ""
    if not value:
        return f"{name} removed{by_rule}" if lang == "en" else f"{name}を削除{by_rule}"
    return (f"{name} set to “{value}”{by_rule}" if lang == "en"
            else f"{name}を「{value}」に設定{by_rule}")


def _tag(d: Mapping[str, Any], lang: Lang) -> str:
    tag, rule = _text(d.get("tag")), _text(d.get("rule"))
    if lang == "en":
        return f"Tag “{tag}”" + (f" (rule {rule})" if rule else "")
    return f"タグ「{tag}」" + (f"（ルール「{rule}」）" if rule else "")


def _handed_off(d: Mapping[str, Any], lang: Lang) -> str:
    baskets = d.get("baskets")
    n = len(baskets) if isinstance(baskets, list) else 1
    return (f"Shipment requested from the warehouse ({n} package(s))" if lang == "en"
            else f"倉庫へ出荷依頼（{n}個口）")


def _shipment(d: Mapping[str, Any], lang: Lang) -> str:
    # parcels are [carrier, tracking number, ship date]; 定形外 and the like have no number
    parcels = d.get("parcels")
    none, sep = ("none", ", ") if lang == "en" else ("なし", "、")
    tracking = sep.join((_text(p[1]) or none) if isinstance(p, list) and len(p) > 1
                         else _text(p) for p in parcels) if isinstance(parcels, list) else ""
    shipped, total = _text(d.get("shipped_packages")), _text(d.get("packages"))
    count = f"{shipped}/{total}" if shipped and total else ""
    if lang == "en":
        return ("Shipped by the warehouse" + (f" ({count} packages)" if count else "")
                + (f", tracking {tracking}" if tracking else ""))
    return ("倉庫から出荷実績" + (f"（{count}個口）" if count else "")
            + (f"、伝票番号 {tracking}" if tracking else ""))


def _rejected(d: Mapping[str, Any], lang: Lang) -> str:
    reason = _text(d.get("reason"))
    return (f"The warehouse cannot ship it: {reason}" if lang == "en"
            else f"倉庫が出荷できません: {reason}")


def _merged_into(d: Mapping[str, Any], lang: Lang) -> str:
    into, rule = _text(d.get("into")), _text(d.get("rule"))
    return (f"Merged into order {into} (rule {rule})" if lang == "en"
            else f"同梱: 注文 {into} の荷物にまとめました（ルール「{rule}」）")


def _merged_from(d: Mapping[str, Any], lang: Lang) -> str:
    orders = d.get("orders")
    numbers = "、".join(_text(o.get("number")) for o in orders if isinstance(o, dict)) \
        if isinstance(orders, list) else ""
    total = _yen(d.get("total"), lang)
    return (f"Merged {numbers} into this parcel (total {total})" if lang == "en"
            else f"同梱: {numbers} をこの荷物にまとめました（合計 {total}）")


def _merged_cancelled(d: Mapping[str, Any], lang: Lang) -> str:
    number, s = _text(d.get("order_number")), _status(d.get("rms_status"))
    return (f"Merged order {number} cancelled at Rakuten (RMS {s})" if lang == "en"
            else f"同梱した注文 {number} が楽天でキャンセル（RMS {s}）")


def _effect_failed(d: Mapping[str, Any], lang: Lang) -> str:
    what, error = effect_name(d.get("effect"), lang), _text(d.get("error"))
    return f"{what} failed: {error}" if lang == "en" else f"{what}に失敗: {error}"


def _refused(d: Mapping[str, Any], lang: Lang) -> str:
    what = _pick(_COMMANDS, str(d.get("command", "")).split("+")[0], lang,
                 ("指示", "instruction"))
    reason = _text(d.get("reason"))
    return (f"Not applied ({what}): {reason}" if lang == "en"
            else f"処理できなかった指示（{what}）: {reason}")


def _substituted(d: Mapping[str, Any], lang: Lang) -> str:
    subs = d.get("substitutions")
    parts = []
    for x in subs if isinstance(subs, list) else ():
        if isinstance(x, dict):
            parts.append(f"{_text(x.get('field'))} 「{_text(x.get('char'))}」"
                         f"({_text(x.get('code'))}) → 「{_text(x.get('replacement'))}」")
    listed = "、".join(parts)
    return (f"Characters the warehouse cannot print replaced: {listed}" if lang == "en"
            else f"印字できない文字を置き換えました: {listed}")


_RECIPIENT_FIELDS = {
    "family_name": ("姓", "family name"), "first_name": ("名", "given name"),
    "family_name_kana": ("姓（カナ）", "family name (kana)"),
    "first_name_kana": ("名（カナ）", "given name (kana)"),
    "postal_code": ("郵便番号", "postal code"), "prefecture": ("都道府県", "prefecture"),
    "city": ("市区町村", "city"), "sub_address": ("番地・建物名", "street address"),
    "phone": ("電話番号", "phone"),
}


def _recipient_edited(d: Mapping[str, Any], lang: Lang) -> str:
    changed = d.get("changes")
    parts = []
    for k, v in (changed.items() if isinstance(changed, dict) else ()):
        name = _pick(_RECIPIENT_FIELDS, str(k), lang, ("項目", "field"))
        if isinstance(v, list) and len(v) == 2:
            parts.append(f"{name} 「{_text(v[0])}」→「{_text(v[1])}」")
    listed = "、".join(parts)
    note = _text(d.get("note"))
    if lang == "en":
        return f"Recipient edited: {listed}" + (f" (note: {note})" if note else "")
    return f"送付先を変更: {listed}" + (f"（メモ: {note}）" if note else "")


_DETAIL_FIELDS = {"memo": ("ひとことメモ", "memo"), "delivery_date": ("お届け日", "delivery date"),
                  "shipping_term": ("お届け時間帯", "delivery time")}


def _details_edited(d: Mapping[str, Any], lang: Lang) -> str:
    changed = d.get("changes")
    parts = []
    for k, v in (changed.items() if isinstance(changed, dict) else ()):
        name = _pick(_DETAIL_FIELDS, str(k), lang, ("項目", "field"))
        if isinstance(v, list) and len(v) == 2:
            new = _text(v[1]) or ("（なし）" if lang != "en" else "(none)")
            parts.append(f"{name} → 「{new[:60]}」")
    listed = "、".join(parts)
    return f"Edited: {listed}" if lang == "en" else f"変更: {listed}"


def _fixed(ja: str, en: str) -> Sentence:
    return lambda d, lang: en if lang == "en" else ja


SENTENCES: dict[str, Sentence] = {
    "order_imported": _imported,
    "order_confirmed": _fixed("注文確認（楽天へ送信済み）", "Order confirmed at Rakuten"),
    "confirm_requested": lambda d, lang: (
        ("Order confirmation queued" + (" (released)" if d.get("after") == "released"
                                        else " (after the rules)")) if lang == "en" else
        ("注文確認を送信予定" + ("（解除されたため）" if d.get("after") == "released"
                          else "（ルールの確認後）"))),
    "gate_opened": _gate_opened,
    "gate_closed": _gate_closed,
    "stage_changed": _stage_changed,
    "payment_settled": _payment(True),
    "payment_reverted": _payment(False),
    "order_changed": _changed,
    "order_updated": _fixed("楽天で注文の詳細が更新されました（備考・お届け日など）",
                            "Order details updated at Rakuten (remarks, dates…)"),
    "channel_status_changed": _status_changed,
    "order_cancelled": _cancelled,
    "cancel_after_handoff": lambda d, lang: (
        f"Cancelled at Rakuten after the hand-off (RMS {_status(d.get('rms_status'))})"
        if lang == "en" else
        f"倉庫連携の後に楽天でキャンセル（RMS {_status(d.get('rms_status'))}）"),
    "effect_failed": _effect_failed,
    "rule_matched": lambda d, lang: (f"Rule {_text(d.get('rule'))} matched" if lang == "en"
                                     else f"ルール「{_text(d.get('rule'))}」に該当"),
    "tag_added": _tag,
    "field_set": _field_set,
    "handed_off": _handed_off,
    "shipment_recorded": _shipment,
    "warehouse_rejected": _rejected,
    "merged_into": _merged_into,
    "merged_from": _merged_from,
    "merged_order_cancelled": _merged_cancelled,
    "merged_order_changed": _changed,
    "command_refused": _refused,
    "characters_substituted": _substituted,
    "recipient_edited": _recipient_edited,
    "details_edited": _details_edited,
    "rms_updated": lambda d, lang: (
        ("Edit written back to Rakuten" + (" (memo, delivery date and time)"
                                           if d.get("what") == "details" else " (recipient)"))
        if lang == "en" else
        ("楽天に変更を反映しました" + ("（ひとことメモ・お届け日時）" if d.get("what") == "details"
                                 else "（送付先）"))),
    "payment_reminder_queued": lambda d, lang: (
        f"Payment reminder mail queued ({payment_method_name(d.get('method'), lang)}, "
        f"unpaid for {_text(d.get('days'))} days)" if lang == "en" else
        f"入金督促メールを送信予定（{payment_method_name(d.get('method'), lang)}・"
        f"{_text(d.get('days'))}日間未入金）"),
    "slips_printed": lambda d, lang: (
        f"Packing slip printed (batch {_text(d.get('batch'))})" if lang == "en"
        else f"納品書を印刷（印刷バッチ {_text(d.get('batch'))}）"),
    "taken_out_of_batch": lambda d, lang: (
        (f"Taken out of print batch {_text(d.get('batch'))}, back to ready"
         + (f" (note: {_text(d.get('note'))})" if d.get("note") else "")) if lang == "en"
        else (f"印刷バッチ {_text(d.get('batch'))} から外し、出荷OKに戻しました"
              + (f"（メモ: {_text(d.get('note'))}）" if d.get("note") else ""))),
}


def event_text(type_: object, data: Mapping[str, Any] | None, lang: Lang = "ja") -> str:
    """One event of the order's log as a sentence."""
    d: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
    say = SENTENCES.get(str(getattr(type_, "value", type_)))
    if say is None:  # a type added after this module: its values, plainly
        values = "、".join(t for t in (_text(v) for k, v in d.items() if k != "by") if t)
        head = "Recorded" if lang == "en" else "記録"
        return f"{head}: {values}" if values else head
    try:
        return say(d, lang)
    except Exception:  # data of an unexpected shape: never a traceback on a screen
        return "Recorded" if lang == "en" else "記録"


__all__ = [
    "SENTENCES",
    "actor_text",
    "effect_name",
    "effect_status",
    "event_text",
    "field_name",
    "gate_name",
    "mail_name",
    "payment_method_name",
    "payment_wait",
    "stage_name",
]
