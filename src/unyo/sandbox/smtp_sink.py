"""An SMTP server on 127.0.0.1 that keeps every mail it accepts (aiosmtpd).

It speaks real SMTP, with STARTTLS when given a TLS context and AUTH when given
credentials, so the engine's SMTP client is exercised exactly as against
Rakuten's relay. Faults can be switched on to test the client: a rejected
sender (`552 5.2.0 sender rejected`, what Rakuten's relay answers for an
unregistered From address) and temporary failures of the next DATA commands.

Runs in its own thread (aiosmtpd's Controller); `messages()` is safe to call
from any thread. Must not import `unyo.app`, `unyo.adapters` or the CLI.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

MAIL_KIND_HEADER = "X-Unyo-Mail"  # set by unyo's mail adapter on every buyer mail


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    """One accepted mail: the envelope and the bytes as they came over the wire."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    received_at: datetime
    tls: bool
    login: str | None
    peer: str  # the client's address and port: one value per SMTP connection

    @property
    def message(self) -> EmailMessage:
        """The mail parsed, headers decoded (`msg["Subject"]` is readable text)."""
        msg = message_from_bytes(self.data, policy=default)
        assert isinstance(msg, EmailMessage)
        return msg

    @property
    def text(self) -> str:
        """The plain-text body, decoded, with line ends as '\\n'."""
        content = self.message.get_content()
        return str(content).replace("\r\n", "\n")

    @property
    def kind(self) -> str:
        return str(self.message.get(MAIL_KIND_HEADER, "") or "")


@dataclass
class SinkFaults:
    reject_sender: str | None = None  # e.g. "552 5.2.0 sender rejected"
    fail_data: int = 0  # the next N DATA commands get a 451
    reject_data: str | None = None  # every DATA gets this answer (e.g. "554 5.7.1 spam")


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        faults = self.sink.faults
        if faults.reject_sender:
            return faults.reject_sender
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self.sink._accept(session, envelope)


class _Authenticator:
    def __init__(self, credentials: dict[str, str]) -> None:
        self.credentials = credentials

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            if self.credentials.get(login) == auth_data.password.decode("utf-8", "replace"):
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class SmtpSink:
    """The sandbox SMTP server. Use as a context manager, or `start()` / `stop()`."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0,
                 tls_context: ssl.SSLContext | None = None,
                 credentials: dict[str, str] | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.faults = SinkFaults()
        self._messages: list[ReceivedMail] = []
        self._lock = threading.Lock()
        kwargs: dict[str, Any] = {"tls_context": tls_context, "require_starttls":
                                  tls_context is not None}
        if credentials is not None:
            kwargs.update(authenticator=_Authenticator(credentials), auth_required=True,
                          auth_require_tls=tls_context is not None)
        self._controller = Controller(_Handler(self), hostname=host, port=self.port,
                                      ready_timeout=10.0, **kwargs)

    def _accept(self, session: Session, envelope: Envelope) -> str:
        faults = self.faults
        if faults.reject_data:
            return faults.reject_data
        with self._lock:
            if faults.fail_data > 0:
                faults.fail_data -= 1
                return "451 4.3.0 temporary failure, try again later"
            data = envelope.original_content or envelope.content or b""
            if isinstance(data, str):
                data = data.encode("utf-8")
            login = session.auth_data if isinstance(session.auth_data, str) else None
            self._messages.append(ReceivedMail(
                str(envelope.mail_from), tuple(envelope.rcpt_tos), data,
                datetime.now(UTC), session.ssl is not None, login, str(session.peer)))
        return "250 2.0.0 OK: queued"

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def messages(self) -> list[ReceivedMail]:
        """Every mail accepted so far, oldest first (a copy)."""
        with self._lock:
            return list(self._messages)

    def counts(self) -> Counter[str]:
        """Accepted mails per kind (the X-Unyo-Mail header; '' for other mail)."""
        return Counter(m.kind for m in self.messages())

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
