"""Correct mail on the wire: encoded headers, hostile buyer text, STARTTLS and AUTH."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import SMTP, compat32, default
from pathlib import Path

import pytest

from tests.factories import BUYER, channel_order
from tests.mail.certs import make_cert
from tests.mail.conftest import MailWorld, make_world
from unyo.adapters.db.store import Store
from unyo.adapters.mail import MAIL_KIND_HEADER, BadRecipient, MailTemplates, build_message
from unyo.adapters.mail.message import message_id
from unyo.adapters.mail.templates import RenderedMail, one_line
from unyo.clock import JST
from unyo.domain import GateKind, ImportOrder, Item, MailKind, decide
from unyo.flow.mail import MailSettings
from unyo.sandbox.smtp_sink import SmtpSink


def rfc2047(data: bytes, name: str) -> str:
    """A header unfolded and decoded as RFC 2047 says: adjacent encoded words join without
    a space.

    (Python's address parser puts a space where a long encoded display name was split,
    which mail clients do not; this reads the header the way they do.)
    """
    raw = message_from_bytes(data, policy=compat32)[name]
    return str(make_header(decode_header(str(raw).replace("\r\n", "")))).strip()


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


# ---- the composed bytes, read back with the standard library ----------------------------

NOW = datetime(2026, 11, 27, 10, 30, tzinfo=JST)
SETTINGS = MailSettings(from_address="info@tea-shop.example", from_name="お茶の店 楽天市場店")
HEADERS = ["From", "To", "Subject", "Date", "Message-ID", "X-Unyo-Mail", "Content-Type",
           "Content-Transfer-Encoding", "MIME-Version"]
HOSTILE_NAMES = [
    (HOSTILE_FAMILY, HOSTILE_FIRST),
    ("=?utf-8?b?44GC?=", "=?ISO-2022-JP?B?GyRCJCIbKEI=?="),  # encoded words, as text
    ("長谷川" * 40, "𠮷野﨑ｶﾅ" * 10),  # past the 100-character limit of a display name
    ("😀🍣", "👨\u200d👩\u200d👧\u200d👦"),  # 4-byte UTF-8, joiners
    ("ﾀｶﾊｼ", "ﾊﾅｺﾞ"),  # half-width kana
    ("〜①②", "～Ⅻ㈱"),  # not in ISO-2022-JP
    ("O'Brien, \"Jr.\"", "(x) <y> @ ;:\\"),  # address specials in the display name
    ("Alexander " * 12, ""),  # ASCII once cut to 100 characters (様 falls off): folded
    ("\u2028行\u2029", "\x85改\x0b行\x0c\x00"),  # line and paragraph separators, C0, C1
    ("John", "Smith"),
    ("", ""),  # no name: the address alone
]


def head_and_body(data: bytes) -> tuple[list[bytes], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body


def header_names(lines: list[bytes]) -> list[str]:
    return [line.split(b":", 1)[0].decode() for line in lines if line[:1] not in (b" ", b"\t")]


def header_lines(lines: list[bytes], name: str) -> list[bytes]:
    """The lines of one header: its first line and the folded ones after it."""
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{name}:".encode()))
    end = start + 1
    while end < len(lines) and lines[end][:1] in (b" ", b"\t"):
        end += 1
    return lines[start:end]


def encoded_words(lines: list[bytes]) -> list[str]:
    """Each encoded word decoded on its own: RFC 2047 forbids splitting a character
    between words (some readers join the bytes of adjacent words, many do not)."""
    return [base64.b64decode(word).decode("utf-8")
            for word in re.findall(rb"=\?utf-8\?b\?([A-Za-z0-9+/=]*)\?=", b"".join(lines))]


@pytest.mark.parametrize(("family", "first"), HOSTILE_NAMES)
def test_a_composed_mail_reads_back_as_written(family: str, first: str) -> None:
    # given an order from a buyer with this name, and its rendered thanks mail
    buyer = replace(BUYER, family_name=family, first_name=first)
    order = decide(None, ImportOrder("tea", replace(channel_order(), buyer=buyer), NOW)).order
    mail = MailTemplates.load(SETTINGS, "お茶の店").render(MailKind.thanks, order)
    # when it is composed
    msg = build_message(SETTINGS, "お茶の店", MailKind.thanks, order, mail, NOW)
    data = msg.as_bytes()
    # then the bytes are 7-bit with CRLF line ends only, header lines within 78
    # and base64 lines within 76
    lines, body = head_and_body(data)
    assert data.isascii()
    assert b"\r" not in data.replace(b"\r\n", b"") and b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in lines) <= 78
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    assert all(encoded_words(lines))
    # and carry exactly our headers: a name can add none
    assert header_names(lines) == HEADERS
    # and the standard parser reads back what was written
    back = message_from_bytes(data, policy=default)
    display = one_line(f"{buyer.name} 様" if buyer.name else "", 100)
    assert rfc2047(data, "To") == (f"{display} <{BUYER.email}>" if display else BUYER.email)
    [to] = back["To"].addresses
    assert to.addr_spec == BUYER.email
    assert rfc2047(data, "From") == "お茶の店 楽天市場店 <info@tea-shop.example>"
    assert back["Subject"] == mail.subject
    assert back["Date"].datetime == NOW
    assert back["Message-ID"] == message_id(MailKind.thanks, order, SETTINGS.from_address)
    assert back[MAIL_KIND_HEADER] == "thanks"
    assert back.get_content_type() == "text/plain"
    assert back.get_content_charset() == "utf-8"
    assert back["Content-Transfer-Encoding"] == "base64"
    assert back.get_content().replace("\r\n", "\n") == mail.body
    assert mail.body.startswith(f"{one_line(buyer.name)} 様\n")
    # and the mail itself reads as that same EmailMessage
    assert msg["Subject"] == back["Subject"]
    assert msg["Message-ID"] == back["Message-ID"]
    assert msg.get_content() == back.get_content()
    assert (msg.mail_from, msg.rcpt_to) == ("info@tea-shop.example", BUYER.email)


@pytest.mark.parametrize("subject", [
    "Plain ASCII subject",
    "A long ASCII subject, folded at its spaces " * 4,
    "x" * 200,  # ASCII without a space to fold at
    "=?utf-8?b?44GC?= is text, not an encoded word",
    "【お茶の店】" + "ご注文内容のご確認" * 12,
    "😀" * 40,
    "混合 ASCII and 日本語 〜① with a long tail " * 4,
])
def test_subjects_read_back_whole_within_78(subject: str) -> None:
    # given a subject of this shape
    order = decide(None, ImportOrder("tea", channel_order(), NOW)).order
    # when the mail is composed
    msg = build_message(SETTINGS, "お茶の店", MailKind.thanks, order,
                        RenderedMail(subject, "本文\n"), NOW)
    # then it reads back as written, in lines of at most 78 characters
    data = msg.as_bytes()
    lines, _ = head_and_body(data)
    assert max(len(line) for line in lines) <= 78
    assert message_from_bytes(data, policy=default)["Subject"] == one_line(subject, 300)
    assert "".join(encoded_words(header_lines(lines, "Subject"))) in ("", one_line(subject, 300))
    assert header_names(lines) == HEADERS


@pytest.mark.parametrize("body", [
    "", "x", "一行\n", "a" * 57, "あ" * 19 + "\n", "長い行" * 700 + "\n", "a\r\nb\rc\n\nd",
    "行\u2028区切り\u2029\x0c\n", "末尾に改行なし",
])
def test_the_body_is_encoded_as_the_standard_library_encodes_it(body: str) -> None:
    # given a body of this shape
    order = decide(None, ImportOrder("tea", channel_order(), NOW)).order
    # when the mail is composed
    msg = build_message(SETTINGS, "お茶の店", MailKind.thanks, order, RenderedMail("件名", body),
                        NOW)
    # then its body is byte for byte what EmailMessage.set_content writes
    reference = EmailMessage(policy=SMTP)
    reference.set_content(body if body.endswith("\n") else body + "\n", charset="utf-8",
                          cte="base64")
    assert head_and_body(msg.as_bytes())[1] == head_and_body(reference.as_bytes())[1]
    for name in ("Content-Type", "Content-Transfer-Encoding", "MIME-Version"):
        assert msg[name] == reference[name]


@pytest.mark.parametrize("domain_length", range(1, 40))
def test_the_message_id_is_folded_as_the_standard_library_folds_it(domain_length: int) -> None:
    # given a From address whose domain makes the Message-ID this long (fits after the
    # name, fits only on a line of its own, or fits nowhere)
    settings = replace(SETTINGS, from_address=f"info@{'d' * domain_length}.example")
    order = decide(None, ImportOrder("tea", channel_order(), NOW)).order
    # when the mail is composed
    msg = build_message(settings, "お茶の店", MailKind.shipping, order,
                        RenderedMail("件名", "本文\n"), NOW)
    # then the Message-ID header is written as email.policy.SMTP writes it
    mid = message_id(MailKind.shipping, order, settings.from_address)
    expected = SMTP.fold_binary("Message-ID", SMTP.header_store_parse("Message-ID", mid)[1])
    data = msg.as_bytes()
    start = data.index(b"Message-ID:")
    assert data[start:start + len(expected)] == expected
    assert data[start + len(expected):].startswith(b"X-Unyo-Mail: ")


def test_shop_headers_follow_the_settings() -> None:
    # given two shops, one with a Reply-To and an ASCII display name with specials
    order = decide(None, ImportOrder("tea", channel_order(), NOW)).order
    other = MailSettings(from_address="shop@example.jp", from_name='Tea Shop, "Best"',
                         reply_to="support@example.jp")
    # when each composes a mail
    mails = [build_message(s, "お茶の店", MailKind.thanks, order, RenderedMail("件名", "本文\n"),
                           NOW) for s in (SETTINGS, other, SETTINGS)]
    # then each carries its own From (and Reply-To), read back by the standard parser
    backs = [message_from_bytes(m.as_bytes(), policy=default) for m in mails]
    assert [b["From"].addresses[0].display_name for b in backs] == [
        "お茶の店 楽天市場店", 'Tea Shop, "Best"', "お茶の店 楽天市場店"]
    assert [b["Reply-To"] for b in backs] == [None, "support@example.jp", None]
    assert header_names(head_and_body(mails[1].as_bytes())[0]) == [
        "From", "To", "Reply-To", *HEADERS[2:]]
    assert mails[1].mail_from == "shop@example.jp"


@pytest.mark.parametrize("address", [
    "テスト@example.jp", "a@ドメイン.jp", "a@ex>ample.jp", "a@ex(ample).jp", "a@b@example.jp",
    "@example.jp", "a@", "a b@example.jp", "a\r\nBcc: v@example.jp", "a@[127.0.0.1]",
    "a@example.jp.", "a@-example.jp",
])
def test_an_address_that_cannot_go_on_the_wire_as_it_is_is_refused(address: str) -> None:
    # given an order whose buyer address is not plain ASCII local@domain
    buyer = replace(BUYER, email=address)
    order = decide(None, ImportOrder("tea", replace(channel_order(), buyer=buyer), NOW)).order
    # when its mail is composed, then it is refused (the mail fails for good: 確認待ち)
    with pytest.raises(BadRecipient, match="not a mail address"):
        build_message(SETTINGS, "お茶の店", MailKind.thanks, order,
                      RenderedMail("件名", "本文\n"), NOW)


@pytest.mark.parametrize(("address", "addr_spec"), [
    ("a.b-c+d_e@ex-ample.co.jp", "a.b-c+d_e@ex-ample.co.jp"),
    (" padded@example.jp ", "padded@example.jp"),
    ("a,b@example.jp", '"a,b"@example.jp'),  # quoted where the local part needs it
])
def test_the_envelope_is_the_address_in_the_header(address: str, addr_spec: str) -> None:
    # given an order whose buyer has this address
    buyer = replace(BUYER, email=address)
    order = decide(None, ImportOrder("tea", replace(channel_order(), buyer=buyer), NOW)).order
    # when its mail is composed
    msg = build_message(SETTINGS, "お茶の店", MailKind.thanks, order,
                        RenderedMail("件名", "本文\n"), NOW)
    # then RCPT TO is the address the To header carries
    assert msg.rcpt_to == addr_spec
    back = message_from_bytes(msg.as_bytes(), policy=default)
    assert back["To"].addresses[0].addr_spec == addr_spec


def test_the_relay_gets_the_composed_bytes(world: MailWorld) -> None:
    # given an order, and its thanks mail as the shop's mailer composes it
    order = world.import_order()
    assert world.ctx.mail is not None
    composed = world.ctx.mail.compose(MailKind.thanks, order, world.clock.now())
    # when the outbox sends it
    world.deliver()
    # then the relay received exactly those bytes
    [mail] = world.sink.messages()
    assert mail.data == composed.as_bytes()


def test_a_composed_mail_changed_afterwards_is_sent_as_changed(world: MailWorld) -> None:
    # given a composed mail that someone changes before it is sent
    order = world.import_order()
    mailer = world.ctx.mail
    assert mailer is not None
    msg = mailer.compose(MailKind.thanks, order, world.clock.now())
    msg["X-Checked-By"] = "staff"
    # when it is sent
    with mailer.session() as session:
        session.send(msg)
    # then the change went with it, and the rest is as composed
    assert b"X-Checked-By: staff\r\n" in msg.as_bytes()
    [mail] = world.sink.messages()
    assert mail.message["X-Checked-By"] == "staff"
    assert mail.message["Subject"] == msg["Subject"]
    assert mail.rcpt_tos == (BUYER.email,)
    assert mail.text == str(msg.get_content()).replace("\r\n", "\n")


def test_a_composed_mail_is_written_the_standard_way_once_changed() -> None:
    # given a composed mail
    order = decide(None, ImportOrder("tea", channel_order(), NOW)).order
    msg = build_message(SETTINGS, "お茶の店", MailKind.thanks, order,
                        RenderedMail("件名", "本文\n"), NOW)
    built = msg.as_bytes()
    # when its policy is changed to LF line ends
    msg.policy = SMTP.clone(linesep="\n")
    # then it is written with them, and reads the same
    assert b"\r\n" not in msg.as_bytes()
    assert msg.as_bytes().replace(b"\n", b"\r\n") == built
