"""Correct mail on the wire: encoded headers, hostile buyer text, STARTTLS and AUTH."""

from __future__ import annotations

from dataclasses import replace
from email import message_from_bytes
from email.header import decode_header, make_header
from email.policy import compat32
from pathlib import Path

from tests.factories import BUYER, channel_order
from tests.mail.certs import make_cert
from tests.mail.conftest import MailWorld, make_world
from unyo.adapters.db.store import Store
from unyo.domain import GateKind, Item
from unyo.sandbox.smtp_sink import SmtpSink


def rfc2047(data: bytes, name: str) -> str:
    """A header decoded as RFC 2047 says: adjacent encoded words join without a space.

    (Python's address parser puts a space where a long encoded display name was split,
    which mail clients do not; this reads the header the way they do.)
    """
    raw = message_from_bytes(data, policy=compat32)[name]
    return str(make_header(decode_header(str(raw))))


HOSTILE_FAMILY = "悪意\r\nBcc: victim@example.invalid"
HOSTILE_FIRST = '<script>alert(1)</script>"\nSubject: 当選'


def test_hostile_buyer_names_cannot_add_headers_or_recipients(world: MailWorld) -> None:
    # given a buyer whose name carries CR/LF, a Bcc header, quotes and HTML
    buyer = replace(BUYER, family_name=HOSTILE_FAMILY, first_name=HOSTILE_FIRST)
    base = channel_order()
    item = Item(1, "x", "x", "湯呑み\r\n\r\n追加の行", 1500, 1)
    order = world.import_order(replace(base, buyer=buyer, packages=(
        replace(base.packages[0], recipient=buyer, items=(item,)),)))
    # when its thanks mail is sent
    world.deliver()
    # then the relay was asked to deliver to the buyer only
    [mail] = world.sink.messages()
    assert mail.rcpt_tos == (BUYER.email,)
    # and no header line was injected: every header line on the wire is one we wrote
    head = mail.data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    names = [line.split(":", 1)[0] for line in head.split("\r\n")
             if line and not line[0].isspace()]
    assert sorted(names) == sorted(["From", "To", "Subject", "Date", "Message-ID",
                                    "X-Unyo-Mail", "Content-Type",
                                    "Content-Transfer-Encoding", "MIME-Version"])
    msg = mail.message
    assert msg["Bcc"] is None
    assert msg["Subject"].startswith("【お茶の店】ご注文ありがとうございます")
    # and the name is kept as text, on one line, in the To display name and in the body
    name = '悪意 Bcc: victim@example.invalid <script>alert(1)</script>" Subject: 当選 様'
    assert rfc2047(mail.data, "To") == f"{name} <{BUYER.email}>"
    [to] = msg["To"].addresses
    assert to.addr_spec == BUYER.email
    first_line, second_line = mail.text.split("\n")[:2]
    assert first_line == name
    assert second_line == ""
    # and an item name with line breaks stays on its line
    assert "・湯呑み 追加の行\n" in mail.text
    assert order.number in msg["Subject"]


def test_headers_are_rfc2047_encoded_ascii_on_the_wire(world: MailWorld) -> None:
    # given an order
    world.import_order()
    # when its mail is sent
    world.deliver()
    # then the header block is 7-bit ASCII with encoded words, lines at most 78 characters
    [mail] = world.sink.messages()
    head = mail.data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"=?utf-8?" in head
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))


def test_starttls_and_auth_against_a_relay_with_a_generated_certificate(
        tmp_path: Path, store: Store) -> None:
    # given a relay that requires STARTTLS and AUTH, like sub.fw.rakuten.ne.jp:587
    cert = make_cert(tmp_path)
    with SmtpSink(tls_context=cert.server_context(),
                  credentials={"tea-shop": "s3cret-pass"}) as sink:
        world = make_world(store, sink, starttls=True, auth=True,
                           tls=cert.client_context(), username="tea-shop",
                           password="s3cret-pass")
        world.import_order()
        # when the outbox runs
        result = world.deliver()
        # then the mail was accepted over TLS, after logging in
        [mail] = sink.messages()
    assert result.delivered == {"send_mail:thanks": 1}
    assert mail.tls
    assert mail.login == "tea-shop"


def test_a_wrong_password_is_retried_and_says_what_to_fix(tmp_path: Path, store: Store) -> None:
    # given a relay that does not accept the password
    cert = make_cert(tmp_path)
    with SmtpSink(tls_context=cert.server_context(), credentials={"tea-shop": "right"}) as sink:
        world = make_world(store, sink, starttls=True, auth=True, tls=cert.client_context(),
                           username="tea-shop", password="wrong")
        order = world.import_order()
        # when the outbox runs
        result = world.deliver()
        # then nothing was sent; the mail waits, and the error names the variables to fix
        assert sink.messages() == []
    assert result.retried == 1
    [effect] = world.mail_effects(order.number)
    assert effect.status == "pending"
    assert effect.last_error is not None
    assert "refused the login (SMTP 535" in effect.last_error
    assert "RAKUTEN_SMTP_USERNAME / RAKUTEN_SMTP_PASSWORD" in effect.last_error
    # and the refused login spends none of the mail's attempts: it waits for the fix
    assert effect.attempts == 0


def test_a_refused_login_never_uses_up_the_mails(tmp_path: Path, store: Store) -> None:
    # given a relay that keeps refusing our password
    cert = make_cert(tmp_path)
    with SmtpSink(tls_context=cert.server_context(), credentials={"tea-shop": "right"}) as sink:
        world = make_world(store, sink, starttls=True, auth=True, tls=cert.client_context(),
                           username="tea-shop", password="wrong")
        order = world.import_order()
        # when the outbox runs every 10 minutes for a day
        for _ in range(144):
            world.deliver()
            world.advance(600)
        # then the mail still waits for the fix, and nobody was asked to look at the order
        [effect] = world.mail_effects(order.number)
        assert (effect.status, effect.attempts) == ("pending", 0)
        assert world.order(order.number).open_gate(GateKind.check) is None
        assert sink.messages() == []


def test_an_untrusted_certificate_is_refused(tmp_path: Path, store: Store) -> None:
    # given a relay whose certificate the system does not trust
    cert = make_cert(tmp_path)
    with SmtpSink(tls_context=cert.server_context()) as sink:
        world = make_world(store, sink, starttls=True)
        order = world.import_order()
        # when the outbox runs with the default trust store
        world.deliver()
        # then no mail leaves over an unverified connection
        assert sink.messages() == []
    [effect] = world.mail_effects(order.number)
    assert effect.status == "pending"
    assert effect.last_error is not None and "CERTIFICATE_VERIFY_FAILED" in effect.last_error


def test_long_japanese_headers_are_folded_within_78_and_read_back_whole() -> None:
    # given an order whose buyer has a long name, and a long Japanese subject
    from datetime import UTC, datetime
    from email.policy import default

    from unyo.adapters.mail.message import build_message
    from unyo.adapters.mail.templates import RenderedMail
    from unyo.domain import ImportOrder, MailKind, decide
    from unyo.flow.mail import MailSettings

    now = datetime(2026, 12, 3, tzinfo=UTC)
    buyer = replace(BUYER, family_name="長谷川" * 12, first_name="𠮷野﨑ｶﾅ" * 5)
    order = decide(None, ImportOrder("tea", replace(channel_order(), buyer=buyer), now)).order
    subject = "【お茶の店】ご注文ありがとうございます（" + "ご注文内容のご確認" * 8 + "）"
    settings = MailSettings(from_address="info@tea.example", from_name="お茶の店" * 10)
    # when its mail is written for the wire
    msg = build_message(settings, "お茶の店", MailKind.thanks, order,
                        RenderedMail(subject, "本文\n"), now)
    data = msg.as_bytes()
    # then every header line is 7-bit and at most 78 characters
    head = data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    # and the subject, the names and the addresses read back exactly as written
    back = message_from_bytes(data, policy=default)
    assert back["Subject"] == subject
    assert rfc2047(data, "To") == f"{buyer.family_name} {buyer.first_name} 様 <{BUYER.email}>"
    assert rfc2047(data, "From") == f"{'お茶の店' * 10} <info@tea.example>"
    assert back["Message-ID"] == msg["Message-ID"]
