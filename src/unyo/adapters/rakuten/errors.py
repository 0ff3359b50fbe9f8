"""What can go wrong talking to Rakuten RMS, as types a caller can act on.

    RmsError                      anything the RMS order API did not do
    ├── RmsAuthError              401 ES01-01 / ES04-01: license key rejected; never retried
    ├── RmsRequestError           400 (or 404/405): RMS refused the request; carries its messages
    ├── RmsUnavailableError       5xx, timeouts, connection errors, after the retries
    │   └── RmsThrottledError     429 / 503: RMS asked us to slow down, after the retries
    └── RmsMalformedResponseError the body is not JSON or lacks a key the API always sends

    MappingError (ValueError)     one OrderModel that cannot become a ChannelOrder

`MappingError` is not an `RmsError`: the call succeeded, one order in it is
bad, and the caller records that order as failed-to-import while the others
go on (DESIGN.md §8).

No exception here ever holds the service secret, the license key or the
Authorization header: they are built from status codes, RMS message codes and
texts only. `RmsMessage` lives here because `RmsRequestError` carries them.
Imports nothing from unyo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "MappingError",
    "RmsAuthError",
    "RmsError",
    "RmsMalformedResponseError",
    "RmsMessage",
    "RmsRequestError",
    "RmsThrottledError",
    "RmsUnavailableError",
]


@dataclass(frozen=True, slots=True)
class RmsMessage:
    """One entry of an RMS `MessageModelList`.

    `type` is INFO, WARNING or ERROR; `code` is e.g.
    `ORDER_EXT_API_CONFIRM_ORDER_INFO_101`. Per-order operations add the order
    number, shipping operations the 1-based request row (`data_number`) and
    the row's `shipping_detail_id`.
    """

    type: str
    code: str
    message: str
    order_number: str | None = None
    data_number: int | None = None
    shipping_detail_id: int | None = None

    @property
    def ok(self) -> bool:
        """Whether RMS did what was asked (INFO or WARNING, not ERROR)."""
        return self.type.upper() != "ERROR"

    def __str__(self) -> str:
        where = f" [{self.order_number}]" if self.order_number else ""
        return f"{self.code}{where}: {self.message}"


class RmsError(Exception):
    """The RMS order API did not do what was asked. `method` is the RMS method name."""

    def __init__(self, message: str, *, method: str = "", status_code: int | None = None) -> None:
        super().__init__(message)
        self.method = method
        self.status_code = status_code


AUTH_HELP = (
    "RMS rejected the license key — RMS license keys expire every 90 days; issue a new one "
    "in RMS (店舗様向け情報・サービス > WEB APIサービス) and set RMS_LICENSE_KEY; a new key "
    "may be rejected for 10–30 minutes. Also check that the service secret is right and that "
    "楽天ペイ受注API is enabled for the shop."
)


class RmsAuthError(RmsError):
    """RMS refused the credentials (ES01-01 Un-Authorised, ES04-01 Bad Request).

    Never retried: a rejected key stays rejected, and hammering RMS with it
    helps nobody. The message tells the user what to do; it never contains
    the secret or the key.
    """

    def __init__(self, *, method: str, status_code: int | None, error_code: str,
                 rms_message: str = "") -> None:
        detail = f"{error_code} {rms_message}".strip()
        super().__init__(f"{AUTH_HELP} (RMS {method}: HTTP {status_code}, {detail})",
                         method=method, status_code=status_code)
        self.error_code = error_code


class RmsRequestError(RmsError):
    """RMS refused the request as invalid (HTTP 400 validation); `messages` say why."""

    def __init__(self, *, method: str, status_code: int, messages: Sequence[RmsMessage]) -> None:
        self.messages = tuple(messages)
        shown = "; ".join(str(m) for m in self.messages[:5]) or "no message"
        more = f" (+{len(self.messages) - 5} more)" if len(self.messages) > 5 else ""
        super().__init__(f"RMS {method} refused the request (HTTP {status_code}): {shown}{more}",
                         method=method, status_code=status_code)


class RmsUnavailableError(RmsError):
    """RMS did not answer usefully (5xx, timeout, connection error), retries exhausted.

    `may_have_applied` is True when the last attempt reached RMS and its
    outcome is unknown (a read timeout, a 500): for a non-idempotent call such
    as updateOrderShipping the caller must re-read the order before sending
    again.
    """

    def __init__(self, message: str, *, method: str, status_code: int | None = None,
                 attempts: int = 1, may_have_applied: bool = False) -> None:
        super().__init__(message, method=method, status_code=status_code)
        self.attempts = attempts
        self.may_have_applied = may_have_applied


class RmsThrottledError(RmsUnavailableError):
    """RMS kept asking us to slow down (HTTP 429 / 503) after the retries."""


class RmsMalformedResponseError(RmsError):
    """The body is not JSON, or lacks a key the API always sends. `may_have_applied`: the
    call was a write RMS processed (the answer came, only unreadable)."""

    def __init__(self, message: str, *, method: str = "", status_code: int | None = None,
                 may_have_applied: bool = False) -> None:
        super().__init__(message, method=method, status_code=status_code)
        self.may_have_applied = may_have_applied


class MappingError(ValueError):
    """An RMS OrderModel that cannot be mapped; `reason` names the key."""

    def __init__(self, order_number: str | None, reason: str) -> None:
        super().__init__(f"order {order_number or '(no orderNumber)'}: {reason}")
        self.order_number = order_number
        self.reason = reason
