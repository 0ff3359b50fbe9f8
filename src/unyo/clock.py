"""Injected time for every component.

Nothing in unyo reads the system clock directly: the runner, the RMS client's
rate limiter and the sandbox emulators all take a `Clock`. Production uses
`SystemClock`; the sandbox and tests use `SimClock`, which only moves when told.
Imports nothing from unyo.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol

JST = timezone(timedelta(hours=9), "JST")

__all__ = ["JST", "Clock", "SimClock", "SystemClock", "parse_instant"]


class Clock(Protocol):
    """Where the time comes from."""

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait; a simulated clock advances instead."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class SimClock:
    """A clock that moves only when set, advanced or slept on. Thread-safe."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock needs a timezone-aware start")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("SimClock.set needs a timezone-aware instant")
        with self._lock:
            if instant > self._now:
                self._now = instant

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now = self._now + timedelta(seconds=seconds)
            return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)


def parse_instant(text: str) -> datetime:
    """Parse an ISO-8601 instant; a value without offset is taken as JST."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=JST)
    return value
