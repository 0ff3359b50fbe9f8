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

__all__ = ["JST", "Clock", "ScaledClock", "SimClock", "SystemClock", "parse_instant"]


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


class ScaledClock:
    """Simulated time as a function of wall time: start + (wall − anchor) × speed.

    Processes given the same (start, anchor, speed) read one shared clock, which is
    how several `unyo run` workers and the sandbox emulators agree on a simulated day
    (`UNYO_SANDBOX_CLOCK=START@ANCHOR*SPEED`, e.g.
    `2026-11-27T09:00:00+09:00@1795000000.0*60`). For the sandbox only.
    """

    def __init__(self, start: datetime, anchor: float, speed: float) -> None:
        if start.tzinfo is None:
            raise ValueError("ScaledClock needs a timezone-aware start")
        if not speed > 0:
            raise ValueError("ScaledClock speed must be positive")
        self.start, self.anchor, self.speed = start, anchor, speed

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.anchor) * self.speed)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)

    def spec(self) -> str:
        return f"{self.start.isoformat()}@{self.anchor!r}*{self.speed!r}"

    @classmethod
    def parse(cls, text: str) -> ScaledClock:
        try:
            start, rest = text.strip().split("@", 1)
            anchor, speed = rest.split("*", 1)
            return cls(parse_instant(start), float(anchor), float(speed))
        except ValueError as e:
            raise ValueError(f"{text!r} is not START@ANCHOR*SPEED "
                             f"(e.g. 2026-11-27T09:00:00+09:00@1795000000.0*60): {e}") from None
