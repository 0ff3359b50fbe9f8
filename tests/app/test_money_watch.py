"""The money watch end to end (issue 17, item 6): the runner on a simulated clock, the RMS
emulator over HTTP, a real SMTP server on loopback (aiosmtpd) and a webhook receiver (a
real HTTP server on loopback). Each money alert fires once, reaches both, and clears; one
that fires again is sent again."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from tests.web.conftest import PASSWORD, login
from unyo.adapters.db import Store
from unyo.adapters.db.accounts import Accounts
from unyo.app.dashboard import Dashboard
from unyo.app.importing import import_orders
from unyo.app.outbox import deliver_effects
from unyo.app.runner import Runner
from unyo.app.shipping import report_shipping
from unyo.app.syncing import sync_orders
from unyo.app.users import Users
from unyo.app.watch import watch_money
from unyo.clock import JST, SimClock
from unyo.doctor import check_shop
from unyo.domain import EffectKind, Stage
from unyo.flow import AlertSettings, Config, ImportSettings, RmsSettings
from unyo.flow.mail import MailSettings
from unyo.flow.warehouse import WarehouseSettings
from unyo.metrics import StoreCollector
from unyo.sandbox import RmsEmulator, RmsEmulatorServer, generate_orders
from unyo.sandbox.smtp_sink import SmtpSink
from unyo.sandbox.warehouse_emulator import WarehouseEmulator
from unyo.web import create_app
from unyo.wiring import build_context

DAY = datetime(2026, 11, 26, tzinfo=JST)
STAFF = "staff@tea-shop.example"
HOOK_ENV = "UNYO_ALERTS_WEBHOOK_URL"


@dataclass
class Receiver:
    """A webhook receiver: records each JSON body; answers `fail` 503s first."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    fail: int = 0
    fail_status: int = 503
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/services/T000/B000/secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if got.fail:
                got.fail -= 1
                self.send_response(got.fail_status)
            else:
                assert self.headers["Content-Type"].startswith("application/json")
                got.posts.append(json.loads(body))
                self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    got.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=got.server.serve_forever, daemon=True)
    thread.start()
    yield got
    got.server.shutdown()
    got.server.server_close()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


class JumpClock(SimClock):
    """A simulated clock that can also be set back (an operator fixing the system time)."""

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = instant


class Rig:
    def __init__(self, store: Store, sink: SmtpSink, receiver: Receiver, n: int, *,
                 confirm: bool, folder: Path | None = None, seed: int = 11) -> None:
        self.clock = JumpClock(DAY)
        self.generated = generate_orders(n, seed=seed, start=DAY, end=DAY + timedelta(days=1))
        self.rms = RmsEmulator(self.clock, service_secret="SP-test", license_key="SL-test",
                               orders=self.generated, seed=seed)
        self.server = RmsEmulatorServer(self.rms).start()
        self.sink = sink
        self.receiver = receiver
        config = Config(
            shop_id="shop", shop_name="お茶の店",
            rms=RmsSettings(base_url=self.server.base_url, min_interval=0.0, timeout=5.0),
            import_=ImportSettings(lookback=2 * 86400.0, confirm=confirm, thanks_mail=False),
            alerts=AlertSettings(mail_to=(STAFF,)),
            mail=MailSettings(enabled=True, host="127.0.0.1", port=sink.port, starttls=False,
                              auth=False, from_address="info@tea-shop.example", timeout=5.0),
            warehouse=WarehouseSettings(enabled=folder is not None, folder=str(folder or ""),
                                        settle=0.0))
        self.env = {"RMS_SERVICE_SECRET": "SP-test", "RMS_LICENSE_KEY": "SL-test",
                    HOOK_ENV: receiver.url}
        self.ctx = build_context(config, clock=self.clock, store=store, env=self.env)
        self.runner = Runner.for_shop(self.ctx)
        self.wms = WarehouseEmulator(folder, self.clock, seed=seed) if folder else None

    def at(self, when: datetime) -> None:
        self.clock.set(when)

    def step(self, name: str) -> Any:
        (step,) = [s for s in self.runner.steps if s.name == name]
        self.runner.run_step(step)
        assert step.last_error is None, step.last_error
        return step.last_result

    def watch(self) -> Any:
        """The runner's money step, then its outbox step (the digests go out)."""
        result = self.step("money")
        self.step("outbox")
        return result

    def mails(self) -> list[Any]:
        return [m for m in self.sink.messages() if STAFF in m.rcpt_tos]

    def open_keys(self) -> set[str]:
        with self.ctx.store.transaction() as conn:
            return {a.alert.key for a in self.ctx.store.watch.open_alerts(conn, "shop")}


def shown_on_dashboard(rig: Rig, count: int, number: str) -> None:
    """The home page lists the money alerts by kind, in Japanese, escaped."""
    Users(Accounts(rig.ctx.store.engine)).add("suzuki", "operator", PASSWORD, rig.clock.now())
    app = create_app(rig.ctx.store, rig.ctx.config, rig.clock, secure_cookies=False)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert login(c).status_code == 303
        home = c.get("/").text
    assert "自動キャンセルが近い注文（注文確認待ち）" in home and number in home
    assert "RMSライセンスキーの有効期限" in home and "あと8日" in home
    if count - 1 > 5:  # five auto-cancel alerts listed, the rest counted
        assert f"ほか{count - 6}件" in home
    alerts = Dashboard(rig.ctx.store, rig.ctx.config, rig.clock).alerts()
    kinds = {a.kind: a.params["count"] for a in alerts if a.kind.startswith("money_")}
    assert kinds == {"money_auto_cancel": count - 1, "money_license": 1}


@pytest.fixture
def rig(store: Store, sink: SmtpSink, receiver: Receiver) -> Iterator[Rig]:
    r = Rig(store, sink, receiver, 30, confirm=False)
    yield r
    r.server.stop()


def test_auto_cancel_and_license_alerts_fire_once_reach_mail_and_webhook_and_clear(rig: Rig):
    # given orders nobody confirms (RMS 100) and a license key that expires in 20 days
    rig.at(DAY + timedelta(days=1, hours=1))
    rig.step("import")
    with rig.ctx.store.transaction() as conn:
        at_100 = sorted(u.order_number for u in rig.ctx.store.watch.unsettled(conn, "shop")
                        if u.rms_status == 100)
    assert at_100
    rig.rms.license_expires_at = DAY + timedelta(days=20)
    # when the watch runs on day 11 (3 days before the 14-day cancel): only the license
    rig.at(DAY + timedelta(days=11, hours=10))
    first = rig.watch()
    assert first.opened == ["license"]
    assert rig.ctx.channel.calls["getLicenseExpiryDate"] == 1
    # and on day 12 the auto-cancel of every order at 100 (2 days left) — in one digest
    rig.at(DAY + timedelta(days=12, hours=10))
    second = rig.watch()
    assert sorted(second.opened) == [f"auto_cancel:{n}" for n in at_100]
    mails = rig.mails()
    assert len(mails) == 2 and len(rig.receiver.posts) == 2
    digest = mails[1]
    assert digest.message["Subject"] == (f"【お茶の店】お金のアラート {len(at_100)}件"
                                         "（12月8日 10:00）")
    assert all(n in digest.text for n in at_100)
    assert "12月10日に楽天が自動キャンセルします（あと2日）" in digest.text
    assert "■ 自動キャンセルが近い注文（注文確認待ち）" in digest.text
    assert rig.receiver.posts[1]["text"].startswith(digest.message["Subject"])
    assert all(n in rig.receiver.posts[1]["text"] for n in at_100)
    assert "ライセンスキーの有効期限は2026年12月16日です" in mails[0].text
    # and the open alerts are on the dashboard, in `unyo doctor` and in the metrics
    shown_on_dashboard(rig, len(at_100) + 1, at_100[0])
    money = {c.name: c for c in check_shop(rig.ctx.config, clock=rig.clock, env=rig.env,
                                           store=rig.ctx.store)}["money"]
    assert money.status == "warn" and f"{len(at_100) + 1} open money alert" in money.message
    assert "自動キャンセルが近い注文" in money.text and at_100[0] in money.text
    registry = CollectorRegistry()
    registry.register(StoreCollector(rig.ctx.store))
    scraped = generate_latest(registry).decode()
    assert (f'unyo_money_alerts{{kind="auto_cancel",level="warning",shop="shop"}} '
            f'{float(len(at_100))}') in scraped
    assert 'unyo_money_alerts{kind="license",level="warning",shop="shop"} 1.0' in scraped
    # then an alert that stays open is not sent again
    rig.at(DAY + timedelta(days=12, hours=11))
    assert rig.watch().opened == []
    assert len(rig.mails()) == 2 and len(rig.receiver.posts) == 2
    assert rig.open_keys() == {"license", *(f"auto_cancel:{n}" for n in at_100)}
    # when a person confirms one in RMS and a new key is issued, those alerts clear
    confirmed = at_100[0]
    rig.rms.change_order(confirmed, orderProgress=200,
                         shopOrderCfmDatetime="2026-12-08T11:00:00+0900")
    rig.rms.license_expires_at = DAY + timedelta(days=110)
    rig.at(DAY + timedelta(days=12, hours=18))  # past the license re-read (6 h)
    sync_orders(rig.ctx)
    cleared = rig.watch()
    assert sorted(cleared.cleared) == sorted(["license", f"auto_cancel:{confirmed}"])
    # (confirmed but not paid, its cancelDueDate two days ahead is the next thing to watch)
    assert cleared.opened == [f"cancel_due:{confirmed}"]
    assert "入金前のキャンセル期限は2026年12月10日です（あと2日）" in rig.mails()[2].text
    # and a key that nears its expiry again is sent again
    rig.rms.license_expires_at = DAY + timedelta(days=14)
    rig.at(DAY + timedelta(days=13, hours=1))
    again = rig.watch()
    assert again.opened == ["license"]
    assert len(rig.mails()) == 4 and len(rig.receiver.posts) == 4
    assert "お金のアラート 1件" in rig.mails()[3].message["Subject"]
    # every digest is an outbox effect delivered once, with its attempt recorded
    with rig.ctx.store.transaction() as conn:
        counts = rig.ctx.store.outbox_counts(conn, "shop")["notify_staff"]
    assert counts == {"done": 8}


def test_a_payment_due_date_from_rms_fires_once_and_clears_when_paid(rig: Rig):
    # given an order at RMS 100 whose bank transfer is due on 11/30 (DueDateModelList)
    number = next(o.order_number for o in rig.generated
                  if o.model["orderProgress"] == 100 and o.self_cancel_after is None)
    rig.rms.change_order(number, DueDateModelList=[{"dueDateType": 1, "dueDate": "2026-11-30"}])
    rig.rms.license_expires_at = DAY + timedelta(days=300)
    rig.at(DAY + timedelta(days=1, hours=1))
    rig.step("import")
    # when the watch runs 3 days before, nothing; 2 days before, the due date alerts
    rig.at(DAY + timedelta(days=1, hours=10))
    assert rig.watch().opened == []
    rig.at(DAY + timedelta(days=2, hours=10))
    assert rig.watch().opened == [f"payment_due:{number}"]
    (mail,) = rig.mails()
    assert f"注文 {number}: 入金前の支払期限は2026年11月30日です（あと2日）" in mail.text
    assert "■ 支払期限が近い注文（入金待ち）（1件）" in mail.text
    (post,) = rig.receiver.posts
    assert number in post["text"]
    # then the payment reaches RMS (300): the sync sees it, the alert clears
    rig.rms.change_order(number, orderProgress=300,
                         shopOrderCfmDatetime="2026-11-28T11:00:00+0900",
                         orderFixDatetime="2026-11-28T11:00:00+0900")
    rig.at(DAY + timedelta(days=2, hours=11))
    rig.step("sync")
    assert rig.watch().cleared == [f"payment_due:{number}"]
    assert len(rig.mails()) == 1 and len(rig.receiver.posts) == 1


def test_a_webhook_outage_is_retried_and_the_digest_posted_once(rig: Rig):
    rig.rms.license_expires_at = DAY + timedelta(days=3)
    rig.receiver.fail = 1
    rig.at(DAY + timedelta(hours=1))
    assert rig.watch().opened == ["license"]
    assert rig.receiver.posts == [] and len(rig.mails()) == 1  # the mail went; the post waits
    rig.at(DAY + timedelta(hours=1, minutes=5))
    rig.step("outbox")
    assert len(rig.receiver.posts) == 1
    assert "あと3日" in rig.receiver.posts[0]["text"]
    rig.at(DAY + timedelta(hours=2))
    rig.step("outbox")
    rig.watch()
    assert len(rig.receiver.posts) == 1 and len(rig.mails()) == 1


def test_a_relay_answering_451_gets_the_digest_mail_again_later_once(rig: Rig):
    rig.rms.license_expires_at = DAY + timedelta(days=3)
    rig.sink.faults.fail_data = 1  # the next DATA gets 451
    rig.at(DAY + timedelta(hours=1))
    rig.watch()
    assert rig.mails() == [] and len(rig.receiver.posts) == 1
    with rig.ctx.store.transaction() as conn:
        (mail,) = [e for e in rig.ctx.store.due_effects(
            conn, "shop", EffectKind.notify_staff, rig.clock.now() + timedelta(days=1), 10)]
        assert mail.payload["channel"] == "mail" and "451" in (mail.last_error or "")
        rig.ctx.store.release_claims(conn, "shop", rig.ctx.store.worker)
    rig.at(DAY + timedelta(hours=2))
    rig.step("outbox")
    rig.step("outbox")
    (received,) = rig.mails()
    assert "RMSライセンスキーの有効期限" in received.text
    with rig.ctx.store.transaction() as conn:
        assert rig.ctx.store.outbox_counts(conn, "shop")["notify_staff"] == {"done": 2}


def test_with_mail_off_the_digest_waits_without_spending_attempts_and_goes_once_on(rig: Rig):
    rig.rms.license_expires_at = DAY + timedelta(days=3)
    mailer, rig.ctx.mail = rig.ctx.mail, None  # mail.enabled: false
    rig.at(DAY + timedelta(hours=1))
    rig.watch()
    for minutes in (10, 20, 30):  # turns of the outbox: it waits, spending nothing
        rig.at(DAY + timedelta(hours=1, minutes=minutes))
        rig.step("outbox")
    assert rig.mails() == [] and len(rig.receiver.posts) == 1
    with rig.ctx.store.transaction() as conn:
        counts = rig.ctx.store.outbox_counts(conn, "shop")["notify_staff"]
        attempts = conn.exec_driver_sql(
            "SELECT attempts, last_error FROM outbox WHERE kind = 'notify_staff' "
            "AND status = 'pending'").one()
    assert counts == {"done": 1, "pending": 1}
    assert attempts[0] == 0 and "mail.enabled: false" in attempts[1]
    rig.ctx.mail = mailer  # mail turned on
    rig.at(DAY + timedelta(hours=2))
    rig.step("outbox")
    rig.step("outbox")
    assert len(rig.mails()) == 1


def test_a_revoked_webhook_fails_for_good_and_shows_among_the_failed_effects(rig: Rig):
    rig.rms.license_expires_at = DAY + timedelta(days=3)
    rig.receiver.fail, rig.receiver.fail_status = 5, 404
    rig.at(DAY + timedelta(hours=1))
    rig.watch()
    with rig.ctx.store.transaction() as conn:
        counts = rig.ctx.store.outbox_counts(conn, "shop")["notify_staff"]
    assert counts == {"done": 1, "failed": 1} and rig.receiver.fail == 4  # tried once
    failed = [a for a in Dashboard(rig.ctx.store, rig.ctx.config, rig.clock).alerts()
              if a.kind == "failed_effects"]
    assert failed[0].params["kind"] == "notify_staff" and failed[0].params["order_number"] == ""
    assert "HTTP 404" in str(failed[0].params["last_error"])
    assert "secret" not in str(failed[0].params["last_error"])  # the URL is not shown


def test_without_the_license_api_the_configured_date_is_used(rig: Rig):
    rig.rms.license_api_enabled = False
    rig.ctx.config = replace(rig.ctx.config, alerts=replace(rig.ctx.config.alerts,
                                                            license_expires="2026-12-01"))
    rig.at(DAY + timedelta(hours=1))
    assert rig.watch().opened == ["license"]
    assert "2026年12月1日です（あと5日）" in rig.mails()[0].text


@pytest.fixture
def ship_rig(store: Store, sink: SmtpSink, receiver: Receiver, tmp_path: Path) -> Iterator[Rig]:
    r = Rig(store, sink, receiver, 60, confirm=True, folder=tmp_path / "wh")
    r.rms.license_expires_at = DAY + timedelta(days=300)
    yield r
    r.server.stop()


def test_a_shipped_order_not_at_500_by_the_next_morning_fires_once_and_clears(ship_rig: Rig):
    rig = ship_rig
    assert rig.wms is not None
    # given a day's orders confirmed, paid, handed off, shipped at 11:00 and reported
    rig.at(DAY + timedelta(days=1, hours=1))
    import_orders(rig.ctx)
    deliver_effects(rig.ctx)
    rig.at(DAY + timedelta(days=1, hours=6))
    sync_orders(rig.ctx)
    rig.step("handoff")
    rig.wms.step()
    rig.at(DAY + timedelta(days=1, hours=11, seconds=1))
    assert rig.wms.step() > 0
    rig.step("results")
    while report_shipping(rig.ctx).reported:
        pass
    with rig.ctx.store.transaction() as conn:
        shipped = rig.ctx.store.order_numbers_in_stages(conn, "shop", [Stage.shipped])
    assert len(shipped) > 5
    # and RMS does not complete one of them (its rows are not taken as complete)
    stuck = sorted(shipped)[0]
    rig.rms._orders[stuck].complete_at = None  # the emulator's state: RMS keeps it at 300
    # when the watch runs at 08:59 the next morning, nothing is due yet
    rig.at(DAY + timedelta(days=2, hours=8, minutes=59))
    assert watch_money(rig.ctx).opened == []
    # at 09:00 the stuck order alerts, and only it
    rig.at(DAY + timedelta(days=2, hours=9))
    calls = rig.ctx.channel.calls["getOrder"]
    fired = rig.watch()
    assert fired.opened == [f"payout:{stuck}"] and fired.read == len(shipped)
    (mail,) = rig.mails()
    assert stuck in mail.text and "現在 RMS 300" in mail.text
    assert "■ 入金対象になっていない出荷（RMS 発送済 500 未到達）（1件）" in mail.text
    (post,) = rig.receiver.posts
    assert stuck in post["text"]
    # an hour later: still open, not sent again, and only the stuck order is read again
    rig.at(DAY + timedelta(days=2, hours=10))
    calls = rig.ctx.channel.calls["getOrder"]
    again = rig.watch()
    assert again.opened == [] and again.read == 1
    assert rig.ctx.channel.calls["getOrder"] == calls + 1
    assert len(rig.mails()) == 1 and len(rig.receiver.posts) == 1
    # when RMS moves it to 500 the alert clears
    rig.rms._orders[stuck].complete_at = DAY + timedelta(days=1, hours=11)
    rig.at(DAY + timedelta(days=2, hours=11))
    assert rig.watch().cleared == [f"payout:{stuck}"]
    assert rig.open_keys() == set()


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=-40 * 24, max_value=40 * 24), min_size=1, max_size=6))
def test_clock_jumps_open_and_clear_the_alert_and_send_it_once_per_opening(
        rig: Rig, hours: list[int]):
    expires = DAY + timedelta(days=30)
    rig.rms.license_expires_at = expires
    for h in hours:  # forward and back, across JST midnights
        now = expires + timedelta(hours=h)
        was_open = "license" in rig.open_keys()
        sent = len(rig.mails()), len(rig.receiver.posts)
        rig.at(now)
        rig.watch()
        should = (expires.date() - now.astimezone(JST).date()).days <= 14
        assert ("license" in rig.open_keys()) == should
        opened = 1 if should and not was_open else 0
        assert (len(rig.mails()), len(rig.receiver.posts)) == (sent[0] + opened,
                                                               sent[1] + opened)
