"""Buyer mail: Jinja2 templates, message building, and sending over an SMTP relay.

May import `unyo.domain`, `unyo.flow` and the ports of `unyo.app.ports`; must not
import other adapters, the CLI or the web layer.
"""

from unyo.adapters.mail.carriers import carrier_name, tracking_url
from unyo.adapters.mail.message import MAIL_KIND_HEADER, BadRecipient, build_message
from unyo.adapters.mail.smtp import SENDER_NOT_REGISTERED, SmtpMailer, SmtpSession
from unyo.adapters.mail.templates import (
    MailTemplateError,
    MailTemplates,
    RenderedMail,
    mail_context,
    one_line,
    sample_orders,
)

__all__ = [
    "MAIL_KIND_HEADER",
    "SENDER_NOT_REGISTERED",
    "BadRecipient",
    "MailTemplateError",
    "MailTemplates",
    "RenderedMail",
    "SmtpMailer",
    "SmtpSession",
    "build_message",
    "carrier_name",
    "mail_context",
    "one_line",
    "sample_orders",
    "tracking_url",
]
