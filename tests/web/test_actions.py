"""Acting on orders from the dashboard: through `app.manual`, by the logged-in user; bad
input gets a clear Japanese message and loses nothing."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi.testclient import TestClient

from tests.web.conftest import SHOP, csrf_of, number
from unyo.adapters.db import Store
from unyo.app.manual import release
from unyo.clock import JST, SimClock
from unyo.domain import GateKind


def form_of(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to `action`."""
    start = page.index(f'action="{action}"')
    chunk = page[start:page.index("</form>", start)]
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', chunk))


def stored(store: Store, n: str):  # type: ignore[no-untyped-def]
    with store.transaction() as conn:
        order = store.load_order(conn, SHOP, n)
        assert order is not None
        events = store.events_of(conn, order.id or 0)
    return order, events


def test_release_a_gate_moves_the_order_to_ready(client: TestClient, store: Store,
                                                 seeded: dict):
    n = seeded["check"]
    page = client.get(f"/orders/{n}").text
    r = client.post(f"/orders/{n}/release",
                    data=form_of(page, f"/orders/{n}/release") | {"note": "確認しました"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/orders/{n}?done=1"
    order, events = stored(store, n)
    assert order.stage.value == "ready" and not order.open_gates
    closed = [e for e in events if e.type.value == "gate_closed"][-1]
    assert closed.actor.value == "person"
    assert closed.data["by"] == "suzuki" and closed.data["note"] == "確認しました"
    assert "操作しました" in client.get(f"/orders/{n}?done=1").text


def test_a_stale_page_is_refused_and_keeps_the_note(client: TestClient, store: Store,
                                                    seeded: dict, clock: SimClock):
    n = seeded["check"]
    page = client.get(f"/orders/{n}").text
    release(store, SHOP, n, GateKind.check, note="someone else", by="tanaka", now=clock.now())
    r = client.post(f"/orders/{n}/release",
                    data=form_of(page, f"/orders/{n}/release") | {"note": "私のメモ"})
    assert r.status_code == 409 and "他の操作で更新されました" in r.text
    assert '<span data-kept="note">私のメモ</span>' in r.text  # what was typed is kept


def test_a_gate_already_closed(client: TestClient, store: Store, seeded: dict):
    n = seeded["check"]
    page = client.get(f"/orders/{n}").text
    fields = form_of(page, f"/orders/{n}/release")
    client.post(f"/orders/{n}/release", data=fields | {"note": "1"})
    fields["version"] = str(stored(store, n)[0].version)
    r = client.post(f"/orders/{n}/release", data=fields | {"note": "2"})
    assert r.status_code == 409 and "このゲートはすでに解除されています" in r.text


def test_unknown_order(client: TestClient, seeded: dict):
    csrf = csrf_of(client.get("/").text)
    r = client.post("/orders/999999-20261127-0000000000/cancel",
                    data={"csrf_token": csrf, "version": "1", "note": "x"})
    assert r.status_code == 404 and "ページが見つかりません" in r.text


def test_hold_until_a_time(client: TestClient, store: Store, seeded: dict):
    n = seeded["ready"]
    action = f"/orders/{n}/hold"
    page = client.get(f"/orders/{n}").text
    bad = client.post(action, data=form_of(page, action) | {"until": "来週", "note": "発売日"})
    assert bad.status_code == 400 and "日時「来週」を読み取れません" in bad.text
    assert 'value="発売日"' in bad.text
    past = client.post(action, data=form_of(page, action) | {"until": "2020-01-01T09:00"})
    assert past.status_code == 400 and "未来の日時" in past.text
    ok = client.post(action, data=form_of(page, action) | {"until": "2026-12-01T09:00",
                                                            "note": "発売日待ち"},
                     follow_redirects=False)
    assert ok.status_code == 303
    order, _ = stored(store, n)
    (gate,) = order.open_gates
    assert gate.kind is GateKind.hold and gate.reason == "発売日待ち"
    assert gate.until == datetime(2026, 12, 1, 9, 0, tzinfo=JST)  # typed as JST
    assert order.stage.value == "processing"


def test_hold_until_a_release_date(client: TestClient, store: Store, seeded: dict):
    # given an order page with the hold form
    n = seeded["ready"]
    action = f"/orders/{n}/hold"
    page = client.get(f"/orders/{n}").text
    assert 'name="release_date" type="date"' in page
    bad = client.post(action, data=form_of(page, action) | {"release_date": "来月"})
    assert bad.status_code == 400 and "発売日「来月」を読み取れません" in bad.text
    # when a person gives the release date
    ok = client.post(action, data=form_of(page, action) | {"release_date": "2026-12-11"},
                     follow_redirects=False)
    # then the order is held until 00:00 JST of that day, the date kept on the order
    assert ok.status_code == 303
    order, _ = stored(store, n)
    (gate,) = order.open_gates
    assert gate.kind is GateKind.hold and gate.reason == "発売日待ち（2026-12-11）"
    assert gate.until == datetime(2026, 12, 11, tzinfo=JST)
    assert order.setting("release_date") == "2026-12-11"


def test_cancel_and_warehouse_note(client: TestClient, store: Store, seeded: dict):
    n = seeded["payment"]
    page = client.get(f"/orders/{n}").text
    action = f"/orders/{n}/warehouse-note"
    r = client.post(action, data=form_of(page, action) | {"warehouse_note": "ギフト包装 <b>"},
                    follow_redirects=False)
    assert r.status_code == 303
    order, events = stored(store, n)
    assert order.setting("warehouse_note") == "ギフト包装 <b>"
    assert events[-1].type.value == "field_set" and events[-1].data["by"] == "suzuki"
    assert 'value="ギフト包装 &lt;b&gt;"' in client.get(f"/orders/{n}").text
    too_long = client.post(action, data=form_of(client.get(f"/orders/{n}").text, action)
                           | {"warehouse_note": "x" * 201})
    assert too_long.status_code == 400 and "長すぎます" in too_long.text
    page = client.get(f"/orders/{n}").text
    action = f"/orders/{n}/cancel"
    # Rakuten's reasons are offered in Japanese; the reason and the confirmation are required
    assert '<option value="8">8 欠品</option>' in page and 'name="confirm"' in page
    no_reason = client.post(action, data=form_of(page, action)
                            | {"note": "お客様都合", "confirm": "1"})
    assert no_reason.status_code == 400 and "キャンセル理由を選んでください" in no_reason.text
    not_confirmed = client.post(action, data=form_of(page, action)
                                | {"note": "お客様都合", "reason": "8"})
    assert not_confirmed.status_code == 400 and "確認のチェック" in not_confirmed.text
    assert stored(store, n)[0].stage.value != "cancelled"
    r = client.post(action, data=form_of(page, action)
                    | {"note": "お客様都合", "reason": "8", "confirm": "1"},
                    follow_redirects=False)
    assert r.status_code == 303 and stored(store, n)[0].stage.value == "cancelled"
    cancel_event = stored(store, n)[1][-1]
    assert cancel_event.data["rms_reason"] == 8 and cancel_event.data["by"] == "suzuki"
    with store.transaction() as conn:
        effects = [e for e in store.effects_of(conn, stored(store, n)[0].id or 0)
                   if e.kind.value == "cancel_at_rms"]
    assert [e.payload["reason_code"] for e in effects] == [8]
    # A cancelled order's page offers no cancel (the stage table says so) ...
    cancelled = client.get(f"/orders/{n}").text
    assert f'action="{action}"' not in cancelled and "この段階の注文には操作できません" in cancelled
    # ... and a forged post is refused all the same.
    forged = {"csrf_token": csrf_of(cancelled), "version": str(stored(store, n)[0].version)}
    again = client.post(action, data=forged)
    assert again.status_code == 409 and "キャンセルできません" in again.text


def test_bulk_release_with_a_note(client: TestClient, store: Store, seeded: dict):
    page = client.get("/queue?tab=check").text
    csrf = csrf_of(page)
    empty = client.post("/queue/release", data={"csrf_token": csrf, "tab": "check",
                                                 "numbers": [number(1)], "note": ""})
    assert "解除の理由（メモ）を入力してください" in empty.text
    r = client.post("/queue/release", data={"csrf_token": csrf, "tab": "check",
                                            "numbers": [number(1), number(2), "nope"],
                                            "note": "まとめて確認"})
    assert r.status_code == 200 and "2件を解除しました" in r.text
    assert "1件は解除できませんでした" in r.text
    assert [n for n in (number(1), number(2), number(3))
            if stored(store, n)[0].stage.value == "ready"] == [number(1), number(2)]


# ---- working through a queue, one order after another (issue 18 item 4) ------------------

def nav(page: str) -> dict[str, str]:
    """The order page's links: back to the queue, previous and next order."""
    start = page.index('<nav class="order-nav"')
    chunk = page[start:page.index("</nav>", start)]
    return {cls: href.replace("&amp;", "&")
            for href, cls in re.findall(r'<a href="([^"]+)"[^>]*class="([a-z-]+)"', chunk)}


def test_an_order_opened_from_a_tab_links_its_neighbours_and_the_way_back(
        client: TestClient, seeded: dict):
    # given the 確認待ち tab (orders 3, 2, 1, newest first), filtered by day
    queue = client.get("/queue?tab=check&date=2026-11-27").text
    link = re.search(rf'href="(/orders/{number(2)}\?[^"]+)"', queue)
    assert link and "tab=check" in link.group(1)
    # when order 2 is opened from it
    links = nav(client.get(link.group(1).replace("&amp;", "&")).text)
    # then the previous (newer) one is 3, the next (older) one 1, and back is the same tab
    assert links == {"back": "/queue?tab=check&date=2026-11-27",
                     "prev": f"/orders/{number(3)}?tab=check&date=2026-11-27",
                     "next": f"/orders/{number(1)}?tab=check&date=2026-11-27"}
    # and the first order has no previous one, the last no next one
    assert set(nav(client.get(f"/orders/{number(3)}?tab=check").text)) == {"back", "next"}
    assert set(nav(client.get(f"/orders/{number(1)}?tab=check").text)) == {"back", "prev"}
    # an order opened on its own links only back to the queue
    assert nav(client.get(f"/orders/{number(2)}").text) == {"back": "/queue"}


def test_releasing_from_the_tab_offers_the_next_order(client: TestClient, store: Store,
                                                      seeded: dict):
    n = number(2)
    page = client.get(f"/orders/{n}?tab=check").text
    fields = form_of(page, f"/orders/{n}/release")
    assert fields["where"] == "tab=check"
    # when a person releases its check with a note
    r = client.post(f"/orders/{n}/release", data=fields | {"note": "確認しました"},
                    follow_redirects=False)
    # then they are back on the order, still in the tab, and offered the next one there
    assert r.status_code == 303
    assert r.headers["location"] == f"/orders/{n}?done=1&tab=check"
    done = client.get(r.headers["location"]).text
    assert f'href="/orders/{number(1)}?tab=check" class="go-next"' in done
    assert stored(store, n)[0].stage.value == "ready"  # it has left the tab


def test_a_forged_queue_context_is_dropped(client: TestClient, seeded: dict):
    n = number(2)
    fields = form_of(client.get(f"/orders/{n}?tab=check").text, f"/orders/{n}/release")
    evil = "tab=check&next=https://evil.example&after=x_y&q=%22%3E%3Cscript%3E"
    r = client.post(f"/orders/{n}/release", data=fields | {"note": "ok", "where": evil},
                    follow_redirects=False)
    location = r.headers["location"]
    assert location.startswith(f"/orders/{n}?done=1&tab=check")
    assert "evil" not in location and "after" not in location
    assert "<script>" not in client.get(location).text


def test_the_queue_says_how_many_orders_and_which_ones_are_shown(client: TestClient,
                                                                 store: Store, seeded: dict):
    from unyo.adapters.db import dashboard as q

    assert "全3件中 1〜3件目" in client.get("/queue?tab=check").text
    with store.transaction() as conn:
        first = q.queue_page(conn, SHOP, q.QueueFilter(), limit=3)
        second = q.queue_page(conn, SHOP, q.QueueFilter(), first.next, limit=3)
        third = q.queue_page(conn, SHOP, q.QueueFilter(), second.next, limit=3)
    assert [(p.total, p.start, len(p.rows)) for p in (first, second, third)] == [
        (8, 0, 3), (8, 3, 3), (8, 6, 2)]


def test_a_text_search_is_paged_but_not_counted(client: TestClient, store: Store,
                                                seeded: dict):
    # counting a search's matches would read every order that might match (bench/web.py)
    from unyo.adapters.db import dashboard as q
    from unyo.domain.search import query_words

    with store.transaction() as conn:
        page = q.queue_page(conn, SHOP, q.QueueFilter(words=tuple(query_words("髙橋"))),
                            limit=3)
    assert len(page.rows) == 3 and page.next is not None and not page.counted
    shown = client.get("/queue?tab=all&q=髙橋").text
    assert 'class="count"' not in shown and len(re.findall(r'<tr data-order=', shown)) == 8
    assert "全8件中 1〜8件目" in client.get("/queue?tab=all&date=2026-11-27").text
