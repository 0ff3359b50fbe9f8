"""The pages: queue tabs and search, the order page, home, report, mails, language."""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage

from fastapi.testclient import TestClient

from tests.web.conftest import HOSTILE_NAME, RULES, SHOP, login, number
from unyo.adapters.db import Store
from unyo.adapters.db import dashboard as q
from unyo.adapters.db.accounts import Accounts
from unyo.app.dashboard import LICENSE_ISSUED, RMS_AUTH_ALERT
from unyo.clock import JST, SimClock
from unyo.domain import EffectKind, GateKind, RecordEffectFailed, Stage, decide
from unyo.flow import Config
from unyo.sandbox.smtp_sink import SmtpSink
from unyo.web import create_app


def rows(html: str) -> list[str]:
    import re
    return re.findall(r'<tr data-order="([^"]+)"', html)


def test_queue_tabs_list_their_orders_with_the_gate_reasons(client: TestClient, seeded: dict):
    check = client.get("/queue?tab=check")
    assert rows(check.text) == [number(3), number(2), number(1)]  # newest first
    assert "確認待ち: 備考欄を確認" in check.text
    assert rows(client.get("/queue?tab=payment").text) == [number(5), number(4)]
    assert rows(client.get("/queue?tab=ready").text) == [number(8), number(7), number(6)]
    assert rows(client.get("/queue?tab=shipped").text) == []
    assert "該当する受注はありません" in client.get("/queue?tab=cancelled").text
    counts = client.get("/queue/counts?tab=check")  # what htmx polls
    assert 'data-count="check">3<' in counts.text and 'data-count="all">8<' in counts.text
    assert 'hx-trigger="every 5s"' in counts.text


def test_queue_search_by_number_name_and_date(client: TestClient, seeded: dict):
    assert rows(client.get(f"/queue?tab=all&q={number(4)}").text) == [number(4)]
    assert len(rows(client.get("/queue?tab=all&q=123456-2026").text)) == 8
    assert rows(client.get("/queue?tab=all&q=髙橋").text) != []
    assert rows(client.get("/queue?tab=check&q=\"><img").text) == [number(3)]
    assert len(rows(client.get("/queue?tab=all&date=2026-11-27").text)) == 8
    assert rows(client.get("/queue?tab=all&date=2026-11-28").text) == []
    bad = client.get("/queue?tab=all&date=2026-13-45")
    assert bad.status_code == 400 and "日時「2026-13-45」を読み取れません" in bad.text


def test_queue_pages_by_keyset(store: Store, seeded: dict):
    with store.transaction() as conn:
        first = q.queue_page(conn, SHOP, q.QueueFilter(), limit=3)
        second = q.queue_page(conn, SHOP, q.QueueFilter(), first.next, limit=3)
        third = q.queue_page(conn, SHOP, q.QueueFilter(), second.next, limit=3)
    numbers = [r.order_number for p in (first, second, third) for r in p.rows]
    assert numbers == [number(i) for i in range(8, 0, -1)] and third.next is None


def test_queue_next_page_link(client: TestClient, store: Store, seeded: dict):
    with store.transaction() as conn:
        page = q.queue_page(conn, SHOP, q.QueueFilter(), limit=2)
    assert page.next is not None
    after = f"{page.next.ordered_at.isoformat()}_{page.next.id}"
    shown = client.get("/queue", params={"tab": "all", "after": after})
    assert rows(shown.text)[0] == number(6)
    assert "最初のページ" in shown.text


def test_hostile_buyer_text_is_shown_as_text(client: TestClient, seeded: dict):
    queue = client.get("/queue?tab=check").text
    order = client.get(f"/orders/{seeded['hostile']}").text
    for html in (queue, order):
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "&lt;script&gt;alert(&#34;remarks&#34;)&lt;/script&gt;" in order
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in client.get("/queue?tab=check").text
    assert HOSTILE_NAME not in client.get("/queue?tab=check").text


def test_order_page_shows_everything(client: TestClient, seeded: dict):
    page = client.get(f"/orders/{seeded['check']}")
    assert page.status_code == 200
    text = page.text
    for expected in ("髙橋", "新潟県産コシヒカリ 5kg", "3,980円", "領収書希望", "備考欄を確認",
                     "楽天から取込（RMS 300、合計 3,980円）", "確認待ち: 備考欄を確認", "に該当",
                     "自動（unyo）", "メール送信", "〒1500001"):
        assert expected in text, expected
    for raw in ("order_imported", "gate_opened", "rule_matched", "send_mail", "kind=",
                "(system)"):  # the log in words, not keys
        assert raw not in text, raw
    missing = client.get("/orders/999999-20261127-0000000000")
    assert missing.status_code == 404 and "ページが見つかりません" in missing.text


def test_a_payment_wait_shows_the_method_and_the_days(client: TestClient, seeded: dict):
    import re

    queue = client.get("/queue?tab=payment").text
    assert re.search(r"入金待ち（[^（）・]+・\d+日目）", queue), "method and day in the queue"
    order = client.get(f"/orders/{seeded['payment']}").text
    assert re.search(r"入金待ち（[^（）・]+・\d+日目）", order)


def test_english_is_one_click_away_and_kept(client: TestClient, seeded: dict):
    en = client.get("/queue?lang=en")
    assert "To check" in en.text and "Order number" in en.text
    assert "To check" in client.get("/queue").text  # kept in a cookie
    assert "確認待ち" in client.get("/queue?lang=ja").text


def test_home_shows_rates_counts_and_alerts(app, client: TestClient, store: Store,
                                            seeded: dict, clock: SimClock):
    home = client.get("/")
    assert home.status_code == 200
    assert "自動化率" in home.text and "<svg" in home.text and "アラートはありません" in home.text
    assert 'data-gate="check">3<' in home.text and 'data-stage="ready">3<' in home.text
    # given a failed effect, RMS refusing the key and a license key issued 80 days ago
    with store.transaction() as conn:
        order = store.load_order(conn, SHOP, seeded["ready"])
        assert order is not None
        store.apply(conn, order, decide(order, RecordEffectFailed(
            EffectKind.confirm_order, "<b>boom</b>", clock.now())), clock.now())
        (effect,) = [e for e in store.effects_of(conn, order.id or 0)
                     if e.kind is EffectKind.confirm_order] or [None]
        if effect is not None:
            store.record_attempt(conn, effect, clock.now(), ok=False, error="<b>boom</b>")
    accounts = Accounts(store.engine)
    accounts.set_setting(SHOP, RMS_AUTH_ALERT, "RMS rejected the license key", by="t",
                         now=clock.now())
    from datetime import timedelta
    issued = (clock.now() - timedelta(days=80)).date().isoformat()
    accounts.set_setting(SHOP, LICENSE_ISSUED, issued, by="t", now=clock.now())
    home = client.get("/")
    assert "RMSの認証エラー" in home.text and "RMS rejected the license key" in home.text
    assert "RMSライセンスキーの有効期限" in home.text and "あと10日で期限切れ" in home.text
    if effect is not None:
        assert "外部連携の失敗" in home.text and "&lt;b&gt;boom&lt;/b&gt;" in home.text
        assert "注文確認: 1" in home.text and "confirm_order" not in home.text
    assert 'data-gate="check">4<' in client.get("/home/counts").text


def test_automation_rate_counts_manual_touches(client: TestClient, app, seeded: dict):
    auto = app.state.web.dashboard.automation()
    # nothing shipped yet: the basis is "became ready"; 3 ready by themselves
    assert auto.basis == "ready"
    assert auto.over(1) == (3, 3, 1.0)


def test_report_ranks_bottlenecks(client: TestClient, seeded: dict):
    page = client.get("/report?since=2026-11-20&until=2026-11-30")
    assert page.status_code == 200 and "ボトルネック" in page.text
    bad = client.get("/report?since=yesterday")
    assert bad.status_code == 400 and "読み取れません" in bad.text


def test_mails_page_shows_what_the_sink_received(store: Store, clock: SimClock, seeded: dict):
    with SmtpSink() as sink:
        msg = EmailMessage()
        msg["From"], msg["To"] = "shop@example.com", "buyer@example.com"
        msg["Subject"] = "【テスト店】ご注文ありがとうございます <script>"
        msg["X-Unyo-Mail"] = "thanks"
        msg.set_content("本文 <img src=x onerror=alert(1)>")
        with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
            smtp.send_message(msg)
        app = create_app(store, Config(shop_id=SHOP, rules=RULES), clock, smtp_sink=sink,
                         secure_cookies=False)
        with TestClient(app, base_url="http://127.0.0.1") as c:
            login(c)
            page = c.get("/mails")
    assert "ご注文ありがとうございます &lt;script&gt;" in page.text
    assert "本文 &lt;img src=x" in page.text and "buyer@example.com" in page.text
    assert "<td>サンクスメール</td>" in page.text and "<td>thanks</td>" not in page.text


def test_the_mails_page_pages_through_every_mail_with_its_total(store: Store, clock: SimClock,
                                                                seeded: dict):
    from unyo.web.pages import MAILS_PAGE

    with SmtpSink() as sink:
        with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
            for i in range(MAILS_PAGE * 2 + 5):
                msg = EmailMessage()
                msg["From"], msg["To"] = "shop@example.com", "buyer@example.com"
                msg["Subject"], msg["X-Unyo-Mail"] = f"件名 {i:03d}", "shipping"
                msg.set_content("本文")
                smtp.send_message(msg)
        app = create_app(store, Config(shop_id=SHOP, rules=RULES), clock, smtp_sink=sink,
                         secure_cookies=False)
        with TestClient(app, base_url="http://127.0.0.1") as c:
            login(c)
            pages = [c.get(f"/mails?page={n}").text for n in (1, 2, 3)]
            beyond = c.get("/mails?page=99").text
    subjects = [re.findall(r"<summary>件名 (\d+)</summary>", p) for p in pages]
    assert [len(s) for s in subjects] == [MAILS_PAGE, MAILS_PAGE, 5]
    assert subjects[0][0] == f"{MAILS_PAGE * 2 + 4:03d}"  # newest first
    assert sorted(int(x) for s in subjects for x in s) == list(range(MAILS_PAGE * 2 + 5))
    assert "全205件中 101〜200件目" in pages[1]
    assert 'href="/mails?page=3" rel="next"' in pages[1] and 'rel="next"' not in pages[2]
    assert "全205件中 201〜205件目" in beyond  # past the end: the last page


def test_flow_page_is_the_swimlane_svg_with_the_counts_of_flow_draw(
        client: TestClient, anonymous: TestClient, store: Store, clock: SimClock):
    from datetime import timedelta

    from unyo.diagram import build_diagram, diagram_counts, layout
    from unyo.diagram.svg import inline_svgs

    page = client.get("/flow")
    assert page.status_code == 200
    # the drawing of `unyo flow draw --counts` for the last 30 days, inline, byte for byte
    now = clock.now()
    counts = diagram_counts(store, SHOP, now - timedelta(days=30), now)
    cfg = Config(shop_id=SHOP, shop_name="テスト店", rules=RULES)
    expected = inline_svgs(layout(build_diagram(cfg, counts), title="テスト店 運用フロー図",
                                  made=now.astimezone(JST).strftime("%Y-%m-%d %H:%M")),
                           styled=False)
    assert len(expected) == 1 and expected[0] in page.text
    assert "待ち 3件" in page.text  # the rule's open checks (three orders)
    assert "<style" not in page.text and "mermaid" not in page.text
    assert re.findall(r'<script src="([^"]+)"', page.text) == ["/static/htmx/htmx.min.js",
                                                               "/static/app.js"]
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]
    css = client.get("/flow/diagram.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "svg.unyo-page .node.bottleneck rect{" in css.text
    svg = client.get("/flow/flow.svg")
    assert svg.status_code == 200 and svg.text.startswith("<?xml")
    assert "attachment" in svg.headers["content-disposition"]
    assert client.get("/flow/mermaid.js").status_code == 404  # the bundle is gone
    for path in ("/flow", "/flow/diagram.css", "/flow/flow.svg"):
        assert anonymous.get(path, follow_redirects=False).status_code == 303, path


def test_gate_counts_and_stage_counts_agree_with_the_store(store: Store, seeded: dict):
    with store.transaction() as conn:
        assert q.gate_counts(conn, SHOP) == {GateKind.check.value: 3, GateKind.payment.value: 2}
        assert q.stage_counts(conn, SHOP) == {Stage.processing.value: 5, Stage.ready.value: 3}


def test_order_page_lists_the_characters_replaced_for_the_warehouse(client: TestClient,
                                                                    store: Store, seeded: dict):
    from tests.factories import T0
    from unyo.app.moves import move
    from unyo.domain import HandOff
    from unyo.domain.printing import Substitution

    before = client.get(f"/orders/{seeded['ready']}").text
    assert "倉庫連携での文字置換" not in before
    with store.transaction() as conn:
        order = store.load_order(conn, SHOP, seeded["ready"])
        assert order is not None
        move(store, conn, [(order, HandOff(T0, (Substitution("recipient_name", "𠮷", "吉"),
                                                Substitution("address", "\u200b", ""))))], T0)
    text = client.get(f"/orders/{seeded['ready']}").text
    section = text[text.index("倉庫連携での文字置換"):text.index("履歴")]
    for expected in ("送付先氏名", "𠮷", "U+20BB7", "吉", "送付先住所", "U+200B", "（削除）"):
        assert expected in section, expected


def test_order_page_explains_each_rule_with_its_verdict_and_the_values_read(
        client: TestClient, seeded: dict):
    """The `--explain` panel (issue 15 item 6): the rule, its verdict, what it read."""
    page = client.get(f"/orders/{seeded['check']}")
    assert page.status_code == 200
    text = page.text
    assert "なぜこうなったか（ルールの判定）" in text and "ルールが読んだ値" in text
    assert re.search(r'data-rule="備考欄あり">\s*<td>備考欄あり<br><small>→ '
                     r'確認待ち「備考欄を確認」</small></td>\s*<td>該当</td>', text), text
    assert "該当: 備考欄（お客様の記入）あり <small>（領収書希望）</small>" in text
    assert '<dd data-key="remarks">領収書希望</dd>' in text
    ready = client.get(f"/orders/{seeded['ready']}").text
    assert re.search(r'<td>備考欄あり</td>\s*<td>該当せず</td>', ready)
    hostile = client.get(f"/orders/{seeded['hostile']}").text  # buyer text stays text
    assert "<script>alert" not in hostile and "&lt;script&gt;" in hostile


def test_order_page_shows_the_order_types(client: TestClient, store: Store, clock) -> None:
    from dataclasses import replace
    from datetime import date

    from tests.factories import BUYER, channel_order
    from tests.fakes import FakeChannel
    from unyo.app.context import ShopContext
    from unyo.app.importing import import_orders
    from unyo.domain import PickupStore, SocialGift
    from unyo.flow import Config

    base = channel_order("123456-20261127-0000000091", status=300, member=False,
                         buyer=replace(BUYER, phone="03-9999-0091"), caution="注意喚起",
                         caution_detail="受取拒否に注意", same_day=True)
    pkg = replace(base.packages[0], drop_off="宅配ボックス", pickup_store=PickupStore(
        "ローソン", "203040", "ローソン 梅田三丁目店", "5300001", "大阪府", "大阪市北区梅田3-2-2"),
        social_gift=SocialGift("123456-20261127-0000000091-sg", date(2026, 12, 4), False))
    channel = FakeChannel()
    channel.put(replace(base, packages=(pkg,)))
    import_orders(ShopContext(Config(shop_id=SHOP, shop_name="テスト店"), store, channel, clock))
    text = client.get("/orders/123456-20261127-0000000091").text
    for expected in ("コンビニ受取", "ローソン 梅田三丁目店", "〒5300001 大阪府大阪市北区梅田3-2-2",
                     "置き配: 宅配ボックス", "受取人の住所入力待ち（期限 2026-12-04）",
                     "楽天の注意表示", "受取拒否に注意", "当日出荷"):
        assert expected in text, expected
