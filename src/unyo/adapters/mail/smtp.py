"""Send buyer mail through an SMTP relay with the standard library's smtplib.

One connection per batch (connect, EHLO, STARTTLS, EHLO, AUTH once, then every
mail of the batch), a timeout on every socket operation. The relay's answers
are sorted into the port's errors (`unyo.app.ports`):

- 4xx, a timeout, a refused or dropped connection → `MailUnavailable` (retried
  with backoff by the outbox); a dead connection is `MailConnectionLost`, so
  the rest of the batch waits for the next turn instead of failing one by one;
- 5xx for a mail → `MailRejected` (failed for good, a 確認待ち gate). Rakuten's
  relay answers `552 5.2.0 sender rejected` when the From address is not
  registered in RMS (reference/rakuten-rms.md): that answer is explained;
- AUTH refused (535) → `MailUnavailable` with what to fix: the credentials are
  wrong for every mail alike, and once a person fixes them the mails should go.

A mail composed here (`ComposedMail`) goes as the bytes it was built as, with
`sendmail`: `send_message` would flatten it again through `email.generator`.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from email.message import EmailMessage

from unyo.adapters.mail.message import ComposedMail, build_message
from unyo.adapters.mail.templates import MailTemplates
from unyo.app.ports import (
    MailConnectionLost,
    MailLoginRefused,
    MailRejected,
    MailUnavailable,
)
from unyo.domain import MailKind, Order
from unyo.flow.mail import MailSettings

SENDER_NOT_REGISTERED = ("the From address must be registered in RMS "
                         "(R-Mail / あんしんメルアドサービス)")


def _text(resp: bytes | str) -> str:
    return (resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)).strip()


def explain(code: int, text: str) -> str:
    """The relay's answer, with what to do about it where we know."""
    message = f"SMTP {code} {text}".strip()
    lowered = text.lower()
    if code == 552 or (code in (550, 553, 554) and "sender" in lowered):
        message += f": {SENDER_NOT_REGISTERED}"
    return message[:300]


def _as_built(message: EmailMessage) -> tuple[str, list[str], bytes] | None:
    """(MAIL FROM, RCPT TO, data) of a composed mail not changed since it was built."""
    if isinstance(message, ComposedMail) and (wire := message.wire) is not None:
        return message.mail_from, [message.rcpt_to], wire
    return None


class SmtpSession:
    """One open, logged-in connection; `send` maps the relay's answers to the port's errors."""

    def __init__(self, smtp: smtplib.SMTP) -> None:
        self._smtp = smtp
        self.sent = 0

    def send(self, message: EmailMessage) -> None:
        built = _as_built(message)
        try:
            if built is not None:
                refused = self._smtp.sendmail(*built)
            else:  # any other message, or a composed one changed since: the standard way
                refused = self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as e:
            code, resp = next(iter(e.recipients.values()))
            self._raise(code, _text(resp))
        except smtplib.SMTPResponseException as e:  # sender refused, data refused
            self._raise(e.smtp_code, _text(e.smtp_error))
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            raise MailConnectionLost(f"connection to the mail relay lost: {e}") from e
        except smtplib.SMTPException as e:
            raise MailUnavailable(f"SMTP: {e}") from e
        if refused:  # one recipient per mail: a partial refusal cannot happen, but be sure
            code, resp = next(iter(refused.values()))
            self._raise(code, _text(resp))
        self.sent += 1

    @staticmethod
    def _raise(code: int, text: str) -> None:
        if code == 421:  # the relay is closing the connection
            raise MailConnectionLost(f"SMTP {code} {text}")
        if 500 <= code < 600:
            raise MailRejected(explain(code, text))
        raise MailUnavailable(f"SMTP {code} {text}")


class SmtpMailer:
    """The shop's `MailSender`: its templates and its relay."""

    def __init__(self, settings: MailSettings, templates: MailTemplates, *,
                 username: str | None = None, password: str | None = None,
                 tls_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.templates = templates
        self._username = username
        self._password = password
        self._tls = tls_context

    def compose(self, kind: MailKind, order: Order, now: datetime) -> ComposedMail:
        mail = self.templates.render(kind, order)
        return build_message(self.settings, self.templates.shop_name, kind, order, mail, now)

    @contextmanager
    def session(self) -> Iterator[SmtpSession]:
        s = self.settings
        try:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        except (OSError, smtplib.SMTPException) as e:
            raise MailConnectionLost(f"cannot connect to the mail relay {s.host}:{s.port}: "
                                     f"{e}") from e
        try:
            self._start(smtp)
            yield SmtpSession(smtp)
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()

    def _start(self, smtp: smtplib.SMTP) -> None:
        s = self.settings
        try:
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=self._tls or ssl.create_default_context())
                smtp.ehlo()
            if s.auth:
                smtp.login(self._username or "", self._password or "")
        except smtplib.SMTPAuthenticationError as e:
            raise MailLoginRefused(
                f"the mail relay refused the login (SMTP {e.smtp_code} {_text(e.smtp_error)}): "
                f"check {s.username_env} / {s.password_env} (RMS > メールサーバ設定情報)") from e
        except UnicodeEncodeError as e:  # smtplib sends AUTH as ASCII only
            raise MailLoginRefused(f"the SMTP ID and password in {s.username_env} / "
                                  f"{s.password_env} must be ASCII") from e
        except smtplib.SMTPNotSupportedError as e:
            raise MailLoginRefused(f"the mail relay {s.host}:{s.port} does not offer "
                                  f"{'STARTTLS' if s.starttls else 'AUTH'}: {e}") from e
        except (smtplib.SMTPServerDisconnected, ssl.SSLError, OSError) as e:
            raise MailConnectionLost(f"mail relay {s.host}:{s.port}: {e}") from e
        except smtplib.SMTPException as e:
            raise MailUnavailable(f"mail relay {s.host}:{s.port}: {e}") from e
