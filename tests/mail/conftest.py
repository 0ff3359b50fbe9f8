"""Buyer mail against a real SMTP server on loopback (the sandbox sink, aiosmtpd).

`MailWorld` is a shop with a SQLite store, a simulated clock and the real
`SmtpMailer` pointed at the sink; orders are imported through `decide()` and
the store, and mail goes out through the outbox step exactly as in production.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from tests.cli.conftest import cli, imported, rms  # noqa: F401  (CLI fixtures for test_cli)
from tests.factories import T0, channel_order
from tests.fakes import FakeChannel
from unyo.adapters.db.store import EffectRow, Store
from unyo.adapters.mail import MailTemplates, SmtpMailer
from unyo.app.context import ShopContext
from unyo.app.outbox import DeliveryResult, deliver_effects
from unyo.clock import SimClock
from unyo.domain import ChannelOrder, EffectKind, ImportOrder, Order, decide
from unyo.flow import Config, OutboxSettings
from unyo.flow.mail import MailSettings
from unyo.sandbox.smtp_sink import SmtpSink

FROM = "info@tea-shop.example"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


@dataclass
class MailWorld:
    ctx: ShopContext
    clock: SimClock
    sink: SmtpSink

    @property
    def store(self) -> Store:
        return self.ctx.store

    def import_order(self, channel: ChannelOrder | None = None, **changes: Any) -> Order:
        channel = channel or channel_order(**changes)
        decision = decide(None, ImportOrder(self.ctx.shop, channel, self.clock.now(),
                                            confirm=False))
        with self.store.transaction() as conn:
            self.store.create_orders(conn, [decision], self.clock.now())
        return self.order(channel.order_number)

    def order(self, number: str) -> Order:
        with self.store.transaction() as conn:
            found = self.store.load_order(conn, self.ctx.shop, number)
        assert found is not None
        return found

    def mail_effects(self, number: str) -> list[EffectRow]:
        order = self.order(number)
        assert order.id is not None
        with self.store.transaction() as conn:
            return [e for e in self.store.effects_of(conn, order.id)
                    if e.kind is EffectKind.send_mail]

    def deliver(self) -> DeliveryResult:
        return deliver_effects(self.ctx)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)


def make_world(store: Store, sink: SmtpSink, *, tls: ssl.SSLContext | None = None,
               username: str | None = None, password: str | None = None,
               outbox: OutboxSettings | None = None, **mail: Any) -> MailWorld:
    settings = replace(MailSettings(enabled=True, host="127.0.0.1", port=sink.port,
                                    starttls=False, auth=False, from_address=FROM,
                                    from_name="お茶の店 楽天市場店", timeout=5.0), **mail)
    config = Config(shop_id="tea", shop_name="お茶の店", mail=settings,
                    outbox=outbox or OutboxSettings())
    clock = SimClock(T0)
    mailer = SmtpMailer(settings, MailTemplates.load(settings, config.shop_name),
                        username=username, password=password, tls_context=tls)
    ctx = ShopContext(config=config, store=store, channel=FakeChannel(), clock=clock,
                      mail=mailer)
    return MailWorld(ctx, clock, sink)


@pytest.fixture
def world(store: Store, sink: SmtpSink) -> MailWorld:
    return make_world(store, sink)
