"""The dashboard's words: Japanese first, English switchable (`?lang=en`, kept in a cookie).

One catalogue, key → (日本語, English). Stage and gate names follow the glossary of
DESIGN.md §9. A missing key shows itself, so a forgotten entry is seen, not hidden.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LANGS = ("ja", "en")
DEFAULT_LANG = "ja"

MESSAGES: dict[str, tuple[str, str]] = {
    # navigation and frame
    "app": ("unyo 受注運用", "unyo order operations"),
    "home": ("ホーム", "Home"),
    "queue": ("受注一覧", "Queue"),
    "flow": ("運用フロー", "Flow"),
    "report": ("レポート", "Report"),
    "mails": ("メール", "Mails"),
    "users": ("ユーザー", "Users"),
    "settings": ("設定", "Settings"),
    "logout": ("ログアウト", "Log out"),
    "login": ("ログイン", "Log in"),
    "user_name": ("ユーザー名", "User name"),
    "password": ("パスワード", "Password"),
    "login_failed": ("ユーザー名またはパスワードが違います。", "Wrong user name or password."),
    "login_limited": ("ログインの失敗が続いたため、しばらく待ってからお試しください。",
                      "Too many failed logins; wait a few minutes and try again."),
    "login_expired": ("ログイン画面の有効期限が切れました。もう一度お試しください。",
                      "The login form expired; please try again."),
    "other_lang": ("English", "日本語"),
    "shadow_banner": ("シャドーモード", "Shadow mode"),
    "shadow_rate": ("本番なら自動化率", "automation rate it would have had"),
    "shadow_rate_note": ("シャドーモードで取り込んだ注文のうち、確認待ち・注文確認保留なしで"
                         "進むはずだった注文。本番の数字には含みません",
                         "orders imported in shadow mode that nothing sent to a person; not "
                         "in the live figures"),
    "shadow_banner_note": ("取り込みとルールだけを動かしています。楽天への注文確認・発送完了報告、"
                           "お客様へのメール、倉庫への連携は行いません。",
                           "Orders are imported and the rules run; nothing is confirmed or "
                           "reported to RMS, mailed to buyers or handed to the warehouse."),
    "shop": ("ショップ", "Shop"),
    "role_operator": ("オペレーター", "operator"),
    "role_admin": ("管理者", "admin"),
    # stages and gates (glossary)
    "stage_processing": ("受注処理", "Processing"),
    "stage_ready": ("出荷OK", "Ready"),
    "stage_at_warehouse": ("倉庫連携済", "At warehouse"),
    "stage_shipped": ("出荷済", "Shipped"),
    "stage_cancelled": ("キャンセル", "Cancelled"),
    "gate_payment": ("入金待ち", "Awaiting payment"),
    "gate_check": ("確認待ち", "To check"),
    "gate_hold": ("保留", "On hold"),
    "gate_confirm": ("注文確認保留", "Confirmation held"),
    "auto_cancel_left": ("自動キャンセルまで残り{n}日",
                         "{n} days left before Rakuten's automatic cancel"),
    "auto_cancel_today": ("本日自動キャンセル予定（注文確認してください）",
                          "Rakuten cancels it today unless it is confirmed"),
    "auto_cancel_hint": ("楽天は注文確認されない注文を14日後に自動キャンセルします（{on}）",
                         "Rakuten cancels an order nobody confirms after 14 days ({on})"),
    "tab_all": ("すべて", "All"),
    # home
    "automation_rate": ("自動化率", "Automation rate"),
    "today": ("今日", "Today"),
    "last_7": ("7日間", "7 days"),
    "last_30": ("30日間", "30 days"),
    "basis_shipped": ("出荷済になった受注のうち、人の操作なしで流れた割合",
                      "Share of orders that shipped with no manual action"),
    "basis_ready": ("まだ出荷済の受注がないため、出荷OKになった受注で計算しています",
                    "No order has shipped yet: counted on orders that became ready"),
    "trend": ("自動化率の推移（30日）", "Automation rate, last 30 days"),
    "orders_count": ("件", "orders"),
    "per_stage": ("ステージ別", "Orders per stage"),
    "per_gate": ("ゲート別（未解決）", "Open gates"),
    "waiting_reasons": ("待ちの理由", "Why orders wait"),
    "alerts": ("アラート", "Alerts"),
    "no_alerts": ("アラートはありません。", "No alerts."),
    "alert_failed_effects": ("外部連携の失敗", "Failed effects"),
    "alert_mail_failed": ("メール送信の失敗", "Mail failures"),
    "alert_mail_waiting": ("送信待ちのメール（エラーあり）", "Mails waiting after an error"),
    "alert_rms_auth": ("RMSの認証エラー", "RMS authentication failure"),
    "alert_license_expiry": ("RMSライセンスキーの有効期限", "RMS license key expiry"),
    "alert_warehouse_errors": ("倉庫ファイルのエラー", "Warehouse file errors"),
    "alert_import_failed": ("取り込めない注文（RMSのデータを読めません）",
                            "Orders that cannot be imported (RMS data unreadable)"),
    "license_days_left": ("あと{days_left}日で期限切れ（{expires}）",
                          "expires in {days_left} days ({expires})"),
    "license_expired": ("期限切れ（{expires}）。RMSで新しいキーを発行してください。",
                        "expired ({expires}); issue a new key in RMS"),
    # queue
    "search": ("検索", "Search"),
    "search_hint": ("注文番号・注文者名（前方一致）", "Order number or buyer name (prefix)"),
    "order_date": ("注文日", "Order date"),
    "clear": ("クリア", "Clear"),
    "order_number": ("注文番号", "Order number"),
    "ordered_at": ("注文日時", "Ordered at"),
    "buyer": ("注文者", "Buyer"),
    "total": ("合計", "Total"),
    "stage": ("ステージ", "Stage"),
    "reasons": ("理由", "Reasons"),
    "rms_status": ("RMS", "RMS"),
    "no_orders": ("該当する受注はありません。", "No orders."),
    "next_page": ("次のページ", "Next page"),
    "first_page": ("最初のページ", "First page"),
    "bulk_release": ("選択した受注を解除", "Release the selected orders"),
    "note": ("メモ", "Note"),
    "note_required": ("解除の理由（メモ）を入力してください。", "Give a note saying why."),
    "select_orders": ("受注を選択してください。", "Select orders first."),
    "released_n": ("{n}件を解除しました。", "Released {n} orders."),
    "release_failed_n": ("{n}件は解除できませんでした: {detail}",
                         "{n} orders could not be released: {detail}"),
    "live": ("自動更新", "live"),
    # order page
    "order": ("受注", "Order"),
    "back_to_queue": ("受注一覧へ", "Back to the queue"),
    "destinations": ("送付先", "Destinations"),
    "items": ("商品", "Items"),
    "item_name": ("商品名", "Item"),
    "price": ("単価", "Price"),
    "units": ("数量", "Units"),
    "amounts": ("金額", "Amounts"),
    "goods": ("商品合計", "Goods"),
    "postage": ("送料", "Postage"),
    "cod_fee": ("代引料", "COD fee"),
    "request_amount": ("請求金額", "Request amount"),
    "coupon": ("クーポン", "Coupon"),
    "points": ("ポイント", "Points"),
    "payment": ("支払方法", "Payment"),
    "remarks": ("備考欄", "Remarks"),
    "gates": ("ゲート", "Gates"),
    "merge": ("同梱", "Merged parcel"),
    "merged_into": ("この注文は同梱されました →", "This order was merged into"),
    "merged_from": ("この注文に同梱した注文:", "Orders merged into this one:"),
    "parcel_total": ("荷物の合計", "Parcel total"),
    "open": ("未解決", "open"),
    "closed_by": ("解除", "closed"),
    "until": ("期限", "until"),
    "timeline": ("履歴", "Timeline"),
    "substitutions": ("倉庫連携での文字置換", "Characters replaced for the warehouse"),
    "substitutions_hint": ("倉庫の文字コードにない文字を置き換えて送りました"
                           "（注文の元の文字はそのままです）",
                           "Sent with these substitutes for characters the warehouse's "
                           "encoding lacks (the order keeps the originals)"),
    "substitution_field": ("項目", "Field"),
    "substitution_char": ("元の文字", "Original"),
    "substitution_to": ("送った文字", "Sent as"),
    "substitution_removed": ("（削除）", "(removed)"),
    "substitution_seen": ("確認済み（代わりの文字なし）", "seen by a person (no substitute)"),
    "effects": ("外部連携", "Effects"),
    "attempts": ("試行", "Attempts"),
    "actions": ("操作", "Actions"),
    "release": ("解除", "Release"),
    "hold_until": ("保留（期限まで）", "Hold until"),
    "release_date": ("発売日（予約商品）", "Release date (pre-order)"),
    "hold": ("保留にする", "Hold"),
    "cancel_order": ("キャンセル（unyoと楽天）", "Cancel (in unyo and at Rakuten)"),
    "cancel_reason": ("楽天へのキャンセル理由", "Cancel reason for Rakuten"),
    "cancel_reason_pick": ("選んでください", "choose one"),
    "cancel_confirm": ("この注文を楽天でもキャンセルします（取り消せません）",
                       "Cancel this order at Rakuten too (cannot be undone)"),
    "no_actions_in_stage": ("この段階の注文には操作できません（倉庫連携後・出荷済・キャンセル）。",
                            "No action can be taken on an order in this stage (handed off, "
                            "shipped or cancelled)."),
    "cancel_hint": ("楽天（RMS）のキャンセルは自動で送られます。楽天が受け付けないとき"
                    "（発送日が設定済みなど）は確認待ちになります。8〜15は店舗都合の理由です。",
                    "The cancel is sent to Rakuten (RMS) by itself; where Rakuten refuses "
                    "(a ship date set, …) the order waits for a check. 8–15 are the shop's "
                    "reasons."),
    "warehouse_note": ("倉庫への指示", "Warehouse note"),
    "save": ("保存", "Save"),
    "tags": ("タグ", "Tags"),
    "phone": ("電話", "Phone"),
    "none": ("なし", "none"),
    "done_ok": ("操作しました。", "Done."),
    "your_input": ("入力した内容", "What you typed"),
    # errors on actions
    "err_no_order": ("注文番号 {number} の受注は見つかりません。", "No order {number}."),
    "err_gate_closed": ("このゲートはすでに解除されています。", "This gate is already closed."),
    "err_version": ("この受注は他の操作で更新されました。"
                    "最新の内容を確認してから、もう一度操作してください。",
                    "The order changed meanwhile; check it and try again."),
    "err_bad_date": ("日時「{value}」を読み取れません（例: 2026-12-01 09:00）。",
                     "Cannot read the time {value!r} (e.g. 2026-12-01 09:00)."),
    "err_past_date": ("保留の期限は未来の日時にしてください。", "A hold must end in the future."),
    "err_bad_release_date": ("発売日「{value}」を読み取れません（例: 2026-12-11）。",
                             "Cannot read the release date {value!r} (e.g. 2026-12-11)."),
    "err_until_and_release": ("保留の期限か発売日のどちらか一方を入力してください。",
                              "Give either a time to hold until or a release date."),
    "err_cannot_cancel": ("倉庫連携後・出荷後の受注はキャンセルできません。",
                          "Orders at the warehouse or shipped cannot be cancelled here."),
    "err_cancel_reason": ("楽天へのキャンセル理由を選んでください。",
                          "Choose the cancel reason for Rakuten."),
    "err_cancel_confirm": ("キャンセルするには確認のチェックを入れてください。",
                           "Tick the confirmation box to cancel."),
    "err_note_stage": ("倉庫連携後は倉庫への指示を変更できません。",
                       "The warehouse note cannot change after hand-off."),
    "err_too_long": ("入力が長すぎます（{max}文字まで）。", "Too long ({max} characters at most)."),
    "err_action": ("操作できませんでした: {detail}", "Could not do it: {detail}"),
    "forbidden": ("この操作の権限がありません。", "You may not do this."),
    "csrf_failed": ("フォームの有効期限が切れました。ページを開き直してください。",
                    "The form expired; reload the page."),
    "not_found": ("ページが見つかりません。", "Page not found."),
    # report, flow, mails
    "period": ("期間", "Period"),
    "since": ("開始", "From"),
    "show": ("表示", "Show"),
    "bottlenecks": ("ボトルネック（人の作業の理由）", "Bottlenecks (why people acted)"),
    "reason": ("理由", "Reason"),
    "count": ("件数", "Count"),
    "share": ("割合", "Share"),
    "dwell": ("滞留時間（分）", "Dwell time (minutes)"),
    "name": ("名前", "Name"),
    "automated": ("自動", "automated"),
    "flow_hint": ("運用ファイルから描いた図です。数字は過去{days}日分"
                  "（unyo flow draw --counts と同じ）。",
                  "Drawn from the shop file; the figures are the last {days} days "
                  "(as unyo flow draw --counts)."),
    "flow_download": ("SVG をダウンロード", "Download the SVG"),
    "mails_sandbox": ("サンドボックスのSMTPサーバーが受け取ったメール",
                      "Mails the sandbox SMTP server received"),
    "mails_none": ("メールのサンドボックスは動いていません（unyo demo で使えます）。",
                   "No sandbox mail server is running (see unyo demo)."),
    "received_at": ("受信日時", "Received"),
    "kind": ("種類", "Kind"),
    "to": ("宛先", "To"),
    "subject": ("件名", "Subject"),
    # admin
    "add_user": ("ユーザーを追加", "Add a user"),
    "role": ("権限", "Role"),
    "created_at": ("作成日時", "Created"),
    "disabled": ("無効", "disabled"),
    "disable": ("無効にする", "Disable"),
    "license_issued_on": ("RMSライセンスキー発行日", "RMS license key issued on"),
    "license_hint": ("ライセンスキーは発行から90日で期限切れになります。"
                     "14日前からホームに警告が出ます。",
                     "License keys expire 90 days after issue; the home page warns 14 days ahead."),
    "user_added": ("ユーザー {name} を追加しました。", "Added user {name}."),
    "user_disabled": ("ユーザー {name} を無効にしました。", "Disabled user {name}."),
    "saved": ("保存しました。", "Saved."),
}


def translator(lang: str) -> Callable[..., str]:
    """t(key, **params): the message in `lang`, with {params} filled in."""
    index = 1 if lang == "en" else 0

    def t(key: str, **params: Any) -> str:
        pair = MESSAGES.get(key)
        if pair is None:
            return key
        text = pair[index]
        return text.format(**params) if params else text

    return t
