"""What the engine needs from the outside, as small typed protocols.

Adapters implement these (`unyo.adapters.rakuten.channel.RakutenChannel`); tests
may pass in-memory fakes. Errors cross this boundary as the exceptions below:

    ChannelError
    ├── ChannelAuthError      credentials rejected; nothing will work until a person fixes them
    └── ChannelUnavailable    transient: outage, timeout, throttling; retry later
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from typing import Protocol, runtime_checkable

from unyo.domain import ChannelOrder, MailKind, Order, Shipment


class ChannelError(Exception):
    """The channel could not do what was asked."""


class ChannelAuthError(ChannelError):
    """The channel rejected the credentials."""


class ChannelUnavailable(ChannelError):
    """The channel is down, slow or throttling; try again later.

    `may_have_applied`: the request reached the channel and its outcome is unknown (a
    read timeout, a cut answer): a write may still be applied after the caller's next
    read, so the caller must wait before reading and sending again."""

    def __init__(self, message: str = "", *, may_have_applied: bool = False) -> None:
        super().__init__(message)
        self.may_have_applied = may_have_applied


@dataclass
class FetchResult:
    orders: list[ChannelOrder] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # number → why it could not be read
    missing: list[str] = field(default_factory=list)  # numbers the channel does not know
    # with `ChangedFetch.fetch_changed`: the numbers whose data is byte for byte what the
    # caller knew (not mapped, not in `orders`), and each returned order's data digest
    unchanged: list[str] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConfirmOutcome:
    ok: bool  # confirmed now, or already past confirmation
    permanent: bool  # a failure retrying will not fix (needs a person)
    message: str
    cancelled: bool = False  # the order was cancelled at the channel: nothing to confirm


class OrderChannel(Protocol):
    """A marketplace's order API, in domain terms."""

    @property
    def calls(self) -> Counter[str]:
        """Requests sent per channel method (for summaries and the bench)."""
        ...

    def search(self, start: datetime, end: datetime) -> list[str]:
        """Numbers of orders placed in [start, end] that are not cancelled or shipped."""
        ...

    def fetch(self, numbers: Sequence[str]) -> FetchResult:
        """Current state of these orders."""
        ...

    def confirm(self, numbers: Sequence[str]) -> dict[str, ConfirmOutcome]:
        """Confirm (注文確認) these orders."""
        ...


@runtime_checkable
class ChangedFetch(Protocol):
    """A fetch that skips mapping orders whose data has not changed since last read."""

    def fetch_changed(self, numbers: Sequence[str], known: Mapping[str, str]) -> FetchResult:
        ...


@runtime_checkable
class SyncSearch(Protocol):
    """Searches that spare the payment sync from re-reading every open order each turn
    (RMS has them; a channel without them gets every open order read every turn)."""

    def search_changes(self, start: datetime, end: datetime) -> list[str]:
        """Numbers of orders placed in [start, end] with a change waiting or cancelled."""
        ...

    def search_settled(self, start: datetime, end: datetime) -> list[str]:
        """Numbers of orders whose payment was settled in [start, end]."""
        ...


@dataclass(frozen=True, slots=True)
class BasketRows:
    """Rows to send for one basket: with `shipping_detail_id` they update, without they add."""

    basket_id: int
    shipments: tuple[Shipment, ...]


@dataclass(frozen=True, slots=True)
class ShippingUpdate:
    order_number: str
    baskets: tuple[BasketRows, ...]


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    ok: bool
    permanent: bool  # retrying will not help (cancelled, refused format): a person must look
    message: str = ""
    # the rows may have been taken and not applied yet (an answer lost after sending, an
    # async result not given): a re-read now could miss them and send them twice
    in_flight: bool = False


@runtime_checkable
class ShippingChannel(Protocol):
    """What the report needs from the channel besides `OrderChannel.fetch`."""

    def fetch(self, numbers: Sequence[str]) -> FetchResult:
        ...

    def update_shipping(self, updates: Sequence[ShippingUpdate]) -> dict[str, ReportOutcome]:
        """Send the rows; an outcome per order number (missing = unknown, retry)."""
        ...


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    ok: bool  # cancelled now, or already cancelled at the channel
    permanent: bool  # the channel refuses (shipped, ship date set): a person must look
    message: str = ""  # for a refusal: what happened, in words for the shop (Japanese)


@runtime_checkable
class CancelChannel(Protocol):
    """Cancelling an order at the channel (RMS cancelOrder)."""

    def cancel(self, number: str, reason_code: int, inventory_restore: int) -> CancelOutcome:
        """Cancel one order with the channel's reason code; `inventory_restore` is RMS's
        inventoryRestoreType (0 as the item is set, 1 restore, 2 do not)."""
        ...


@runtime_checkable
class LicenseChannel(Protocol):
    """The channel's own word on when its credentials expire (RMS ライセンス管理API)."""

    def license_expiry(self) -> date | None:
        """The expiry day (JST); None when the channel does not tell (use the configured
        date). ChannelUnavailable when it cannot be asked now."""
        ...


class WebhookError(Exception):
    """A webhook post was not accepted.

        WebhookError
        ├── WebhookUnavailable  transient: timeout, refused connection, 429, 5xx; retry later
        └── WebhookRejected     permanent: 4xx (a wrong or revoked URL); a person must look
    """


class WebhookUnavailable(WebhookError):
    """The receiver could not take the post now."""


class WebhookRejected(WebhookError):
    """The receiver refused the post for good."""


class StaffWebhook(Protocol):
    """A chat webhook for the staff (e.g. a Slack incoming webhook)."""

    def post(self, text: str) -> None:
        """Post one message; returns once the receiver accepted it (2xx)."""
@dataclass(frozen=True)
class UpdateOutcome:
    ok: bool  # RMS took the edit
    permanent: bool  # RMS refuses it (status, validation): a person must look
    message: str = ""  # for a refusal: what happened, in words for the shop (Japanese)


@runtime_checkable
class EditChannel(Protocol):
    """Writing a person's edit back to the channel (RMS updateOrderSender)."""

    def update_recipient(self, number: str, basket_id: int,
                         recipient: Mapping[str, str]) -> UpdateOutcome:
        """Change one package's recipient (送付先) to `recipient` (the keys of
        `unyo.domain.edits.FIELDS`, normalised)."""
        ...

    def update_memo(self, number: str, values: Mapping[str, str]) -> UpdateOutcome:
        """Change the order's ひとことメモ / delivery date / time slot: only the keys given
        (`unyo.domain.edits.DETAILS`)."""
        ...


class MailError(Exception):
    """A mail was not accepted by the relay.

        MailError
        ├── MailUnavailable     transient: 4xx, timeout, refused connection; retry later
        │   ├── MailConnectionLost  the connection is gone: the rest of the batch waits
        │   └── MailLoginRefused    the relay refuses our login: every mail waits for a fix
        └── MailRejected        permanent: 5xx for this mail (e.g. 552 sender rejected)
    """


class MailUnavailable(MailError):
    """The relay could not take the mail now; try again later."""


class MailConnectionLost(MailUnavailable):
    """The connection to the relay failed or dropped; nothing more can be sent on it."""


class MailLoginRefused(MailUnavailable):
    """The relay refused the login (or STARTTLS/AUTH is not offered): no mail can go out
    until a person fixes the settings, so mails wait without spending their attempts."""


class MailRejected(MailError):
    """The relay refused this mail for good; a person must look."""


class MailSession(Protocol):
    """One open connection to the relay, for a batch of mails."""

    def send(self, message: EmailMessage) -> None:
        """Hand one mail to the relay; returns once the relay accepted it."""
        ...


class MailSender(Protocol):
    """Buyer mail: render a mail kind for an order, and send over a relay."""

    def compose(self, kind: MailKind, order: Order, now: datetime) -> EmailMessage:
        """The mail of `kind` for `order`; ValueError when the order cannot have one."""
        ...

    def session(self) -> AbstractContextManager[MailSession]:
        """Connect (and log in) once for a batch; MailError when that fails."""
        ...
