"""Build one buyer mail: the bytes that go to the relay, readable as an `EmailMessage`.

UTF-8 throughout, headers as `email.policy.SMTP` writes them (RFC 2047 for the
subject and display names, CRLF line ends, lines within 78 characters), `Date` and a
`Message-ID` derived from the mail's outbox key: a mail that is sent twice (the crash
window in docs/operations.md) carries the same Message-ID both times, which lets mail
clients and the relay's logs recognise the repeat.

The wire bytes are written here directly. Building an `EmailMessage` header by header
and flattening it costs ~2 ms a mail (bench/mail.py): the standard library parses every
value into a tree and folds it back. A buyer mail has few shapes, written by hand: short
ASCII as it is, Japanese text as base64 encoded words of at most 42 UTF-8 bytes, one
address as its display name in encoded words and `<addr-spec>`. Anything else (a long
ASCII subject, an ASCII display name too long for one line) goes through the standard
folder, and the per-shop headers (From, Reply-To) are written once and reused.

Buyer text reaches headers only as the subject and the To display name, both after
`one_line()`, and as Japanese or anything that looks like an encoded word (`=?`) it is
base64 on the wire: a CR or LF in a name can never start a new header. Addresses must
be plain ASCII `local@domain` (BadRecipient otherwise), so the envelope is exactly the
header's address.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from functools import lru_cache
from typing import Any

from unyo.adapters.mail.templates import RenderedMail, one_line
from unyo.domain import MailKind, Order
from unyo.flow.mail import MailSettings

MAIL_KIND_HEADER = "X-Unyo-Mail"
"""Names the mail kind (thanks, shipping) so the sandbox and shop staff can tell them apart."""

_MAX_LINE = 78  # RFC 5322's "SHOULD"; the standard policy's max_line_length
_WORD_BYTES = 42  # UTF-8 bytes per encoded word: "Reply-To: =?utf-8?b?…56…?=" is 78
_LOCAL = re.compile(r"[!-~]+")  # printable ASCII, no space; quoted when it needs to be
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                     r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*")
_PLAIN_MSG_ID = re.compile(r"<[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+>")
_MIME_HEAD = ('Content-Type: text/plain; charset="utf-8"\r\n',
              "Content-Transfer-Encoding: base64\r\n", "MIME-Version: 1.0\r\n")


class BadRecipient(ValueError):
    """The order has no usable buyer address."""


def _encoded_words(text: str) -> str:
    """RFC 2047 base64 encoded words of at most 42 UTF-8 bytes each (68 characters), one
    per line, never splitting a character: with a header name of up to 8 characters
    every line stays within 78."""
    data = text.encode("utf-8")
    words: list[str] = []
    start, size = 0, len(data)
    while start < size or not words:
        end = start + _WORD_BYTES
        while end < size and data[end] & 0xC0 == 0x80:  # inside a character: cut before it
            end -= 1
        words.append(f"=?utf-8?b?{binascii.b2a_base64(data[start:end], newline=False).decode()}?=")
        start = end
    return "\r\n ".join(words)


def _standard(name: str, value: Any) -> str:
    """The header as `email.policy.SMTP` folds it: for shapes the writers here leave to it."""
    return SMTP.fold_binary(name, SMTP.header_store_parse(name, value)[1]).decode("ascii")


def _plain(text: str) -> bool:
    """Text a header may carry as it is: ASCII, one line, nothing a reader would decode."""
    return text.isascii() and "=?" not in text and "\r" not in text and "\n" not in text


def _unstructured(name: str, text: str) -> str:
    """`Subject: …` (a name of at most 8 characters), folded, with its CRLF."""
    if not _plain(text):
        return f"{name}: {_encoded_words(text)}\r\n"
    if len(name) + len(text) + 2 <= _MAX_LINE:
        return f"{name}: {text}\r\n"
    return _standard(name, text)


def _mailbox(name: str, address: Address) -> str:
    """`To: name <addr>` (a name of at most 8 characters), folded, with its CRLF."""
    display = address.display_name
    if display and not _plain(display):
        return f"{name}: {_encoded_words(display)}\r\n <{address.addr_spec}>\r\n"
    text = str(address)  # quotes a display name with specials
    if len(name) + len(text) + 2 <= _MAX_LINE:
        return f"{name}: {text}\r\n"
    return _standard(name, address)


def _message_id_header(value: str) -> str:
    # The standard folder puts an id that does not fit after the name on a line of its
    # own when it fits there, else leaves it long (ids cannot be folded).
    if not _PLAIN_MSG_ID.fullmatch(value):
        return _standard("Message-ID", value)
    if len(value) + 12 <= _MAX_LINE or len(value) + 1 > _MAX_LINE:
        return f"Message-ID: {value}\r\n"
    return f"Message-ID:\r\n {value}\r\n"


def _address(display_name: str, addr_spec: str) -> Address:
    addr = one_line(addr_spec, 320)
    local, at, domain = addr.rpartition("@")
    if not at or not _LOCAL.fullmatch(local) or "@" in local or not _DOMAIN.fullmatch(domain):
        raise BadRecipient(f"not a mail address: {addr!r}")
    return Address(display_name=one_line(display_name, 100), username=local, domain=domain)


@lru_cache(maxsize=64)
def _shop_header(name: str, display_name: str, addr_spec: str) -> tuple[str, str]:
    """From and Reply-To are the same for every mail of a shop: (header, envelope address)."""
    address = _address(display_name, addr_spec)
    return _mailbox(name, address), address.addr_spec


def message_id(kind: MailKind, order: Order, from_address: str) -> str:
    """The same id for the same (shop, order, kind): a repeat is recognisable as one."""
    digest = hashlib.sha1(f"{order.shop}:{order.number}:{kind.value}".encode()).hexdigest()[:12]
    domain = from_address.rpartition("@")[2] or "unyo.invalid"
    return f"<{kind.value}.{order.number}.{digest}@{domain}>"


def _base64_body(text: str) -> bytes:
    """The body as `EmailMessage.set_content(text, charset="utf-8", cte="base64")` encodes
    it: CRLF line ends, then base64 in lines of 76 characters (57 bytes), here with CRLF."""
    lines = text.encode("utf-8").splitlines()
    encoded = binascii.b2a_base64(b"\r\n".join(lines) + b"\r\n", newline=False)
    return b"\r\n".join([encoded[i:i + 76] for i in range(0, len(encoded), 76)]) + b"\r\n"


class ComposedMail(EmailMessage):
    """One buyer mail as the bytes that go on the wire, and readable as an `EmailMessage`.

    It holds its headers and body as `email.parser` holds a mail it has read: the header
    text as written, decoded when asked for (`mail["Subject"]` is the Japanese subject),
    so whatever reads an `EmailMessage` reads it. `as_bytes()` is the bytes as built; a
    mail changed after it was built is written by the standard generator instead.
    `mail_from` and `rcpt_to` are the SMTP envelope.
    """

    _headers: list[tuple[str, Any]]  # email.message.Message's own, as the parser fills them
    _payload: Any
    mail_from: str = ""
    rcpt_to: str = ""
    _wire: bytes | None = None
    _built: tuple[list[tuple[str, str]], Any] | None = None

    @classmethod
    def from_lines(cls, header_lines: list[str], body: bytes, mail_from: str,
                   rcpt_to: str) -> ComposedMail:
        """From folded header lines (each `Name: value` with its CRLF) and the body as
        it goes on the wire (7-bit, CRLF line ends)."""
        mail = cls(policy=SMTP)
        for line in header_lines:
            name, _, value = line.partition(":")
            mail._headers.append((name, value.lstrip(" \t").rstrip("\r\n")))
        payload = body.decode("ascii")
        mail._payload = payload
        mail.mail_from, mail.rcpt_to = mail_from, rcpt_to
        mail._wire = "".join(header_lines).encode("ascii") + b"\r\n" + body
        mail._built = (list(mail._headers), payload)
        return mail

    @property
    def wire(self) -> bytes | None:
        """The bytes as built, None when the mail was changed since (or built elsewhere)."""
        built = self._built
        if built is None or self._payload is not built[1] or self._headers != built[0] \
                or self.policy is not SMTP:
            return None
        return self._wire

    def as_bytes(self, unixfrom: bool = False, policy: Any = None) -> bytes:
        wire = self.wire
        if wire is not None and not unixfrom and policy is None:
            return wire
        return super().as_bytes(unixfrom, policy)


def build_message(settings: MailSettings, shop_name: str, kind: MailKind, order: Order,
                  mail: RenderedMail, now: datetime) -> ComposedMail:
    """The mail to the buyer of `order` (BadRecipient when the order has no address)."""
    buyer = order.channel.buyer
    if not buyer.email:
        raise BadRecipient("the order has no buyer mail address")
    from_header, mail_from = _shop_header("From", settings.from_name or shop_name,
                                          settings.from_address)
    to = _address(f"{buyer.name} 様" if buyer.name else "", buyer.email)
    lines = [from_header, _mailbox("To", to)]
    if settings.reply_to:
        lines.append(_shop_header("Reply-To", "", settings.reply_to)[0])
    lines += [_unstructured("Subject", one_line(mail.subject, 300)),
              f"Date: {format_datetime(now)}\r\n",
              _message_id_header(message_id(kind, order, settings.from_address)),
              f"{MAIL_KIND_HEADER}: {kind.value}\r\n", *_MIME_HEAD]
    body = mail.body if mail.body.endswith("\n") else mail.body + "\n"
    return ComposedMail.from_lines(lines, _base64_body(body), mail_from, to.addr_spec)
