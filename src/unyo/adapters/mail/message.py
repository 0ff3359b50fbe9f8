"""Build one buyer mail as a standards-correct `EmailMessage`.

UTF-8 throughout, headers encoded by `email.policy.SMTP` (RFC 2047 for the
subject and display names, CRLF line ends), `Date` and a `Message-ID` derived
from the mail's outbox key: a mail that is sent twice (the crash window in
docs/operations.md) carries the same Message-ID both times, which lets mail
clients and the relay's logs recognise the repeat.

Buyer text reaches headers only as `Address` display names after `one_line()`:
a CR or LF in a name can never start a new header.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from unyo.adapters.mail.templates import RenderedMail, one_line
from unyo.domain import MailKind, Order
from unyo.flow.mail import MailSettings

MAIL_KIND_HEADER = "X-Unyo-Mail"
"""Names the mail kind (thanks, shipping) so the sandbox and shop staff can tell them apart."""


class BadRecipient(ValueError):
    """The order has no usable buyer address."""


def _address(display_name: str, addr_spec: str) -> Address:
    addr = one_line(addr_spec, 320)
    if addr.count("@") != 1 or " " in addr:
        raise BadRecipient(f"not a mail address: {addr!r}")
    local, domain = addr.split("@")
    if not local or not domain:
        raise BadRecipient(f"not a mail address: {addr!r}")
    return Address(display_name=one_line(display_name, 100), username=local, domain=domain)


def message_id(kind: MailKind, order: Order, from_address: str) -> str:
    """The same id for the same (shop, order, kind): a repeat is recognisable as one."""
    digest = hashlib.sha1(f"{order.shop}:{order.number}:{kind.value}".encode()).hexdigest()[:12]
    domain = from_address.rpartition("@")[2] or "unyo.invalid"
    return f"<{kind.value}.{order.number}.{digest}@{domain}>"


def build_message(settings: MailSettings, shop_name: str, kind: MailKind, order: Order,
                  mail: RenderedMail, now: datetime) -> EmailMessage:
    """The mail to the buyer of `order` (BadRecipient when the order has no address)."""
    buyer = order.channel.buyer
    if not buyer.email:
        raise BadRecipient("the order has no buyer mail address")
    msg = EmailMessage(policy=SMTP)
    msg["From"] = _address(settings.from_name or shop_name, settings.from_address)
    msg["To"] = _address(f"{buyer.name} 様" if buyer.name else "", buyer.email)
    if settings.reply_to:
        msg["Reply-To"] = _address("", settings.reply_to)
    msg["Subject"] = one_line(mail.subject, 300)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(kind, order, settings.from_address)
    msg[MAIL_KIND_HEADER] = kind.value
    body = mail.body if mail.body.endswith("\n") else mail.body + "\n"
    msg.set_content(body, charset="utf-8", cte="base64")
    return msg
