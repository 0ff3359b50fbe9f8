"""What the engine needs from the outside, as small typed protocols.

Adapters implement these (`unyo.adapters.rakuten.channel.RakutenChannel`); tests
may pass in-memory fakes. Errors cross this boundary as the exceptions below:

    ChannelError
    ├── ChannelAuthError      credentials rejected; nothing will work until a person fixes them
    └── ChannelUnavailable    transient: outage, timeout, throttling; retry later
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from unyo.domain import ChannelOrder


class ChannelError(Exception):
    """The channel could not do what was asked."""


class ChannelAuthError(ChannelError):
    """The channel rejected the credentials."""


class ChannelUnavailable(ChannelError):
    """The channel is down, slow or throttling; try again later."""


@dataclass
class FetchResult:
    orders: list[ChannelOrder] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # number → why it could not be read
    missing: list[str] = field(default_factory=list)  # numbers the channel does not know


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
