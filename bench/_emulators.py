"""The whole sandbox — RMS emulator (real HTTP), SMTP sink (real SMTP) and warehouse
emulator (CSV folder) — in one child process, on a simulated clock the engine moves.

The engine's process then holds only the engine, so its CPU time and peak RSS are the
engine's alone. The child owns a `SimClock`; `EmulatorProcess.set(t)` moves it (forward
only) and steps the warehouse emulator, over a pipe. `LinkedClock` is the engine's
clock: whatever moves it (the runner loop, or the RMS client's wait for
getResultUpdateOrderShippingAsync) moves the child's clock too, so both sides always
read the same simulated time.

The SMTP sink keeps no mail: it notes (kind, order number, simulated time) for each mail
it accepts, read from the Message-ID unyo gives every mail (`<kind.number.digest@...>`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import re
import resource
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import Envelope, Session

from unyo.clock import SimClock
from unyo.sandbox.generator import GeneratedOrder, generate_orders
from unyo.sandbox.rms_emulator import RmsEmulator, RmsEmulatorServer
from unyo.sandbox.smtp_sink import SmtpSink
from unyo.sandbox.warehouse_emulator import WarehouseEmulator

SECRET = "SP-bench"
KEY = "SL-bench"

_MESSAGE_ID = re.compile(rb"\nMessage-ID:\s*<([a-z_]+)\.([^.>]+)\.", re.IGNORECASE)  # may be folded


def sale_orders(n: int, *, seed: int, start: datetime, span: timedelta = timedelta(hours=24),
                spike: timedelta = timedelta(hours=1), spike_share: float = 0.2
                ) -> list[GeneratedOrder]:
    """A sale day: `spike_share` of n in the first `spike` (the sale opens), the rest over
    the remaining span with the generator's hourly profile. Two generator runs (seeds
    `seed` and `seed + 1`); an order number the second run repeats is dropped, so a few
    fewer than n may come back."""
    first = round(n * spike_share)
    orders = generate_orders(first, seed=seed, start=start, end=start + spike)
    seen = {o.order_number for o in orders}
    orders += [o for o in generate_orders(n - first, seed=seed + 1, start=start + spike,
                                          end=start + span) if o.order_number not in seen]
    orders.sort(key=lambda o: (o.model["orderDatetime"], o.order_number))
    return orders


class ClockedSink(SmtpSink):
    """The SMTP sink, noting each accepted mail's (kind, order number, simulated time)."""

    def __init__(self, clock: SimClock) -> None:
        super().__init__()
        self.clock = clock
        self.accepted: list[tuple[str, str, datetime]] = []

    def _accept(self, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8")
        found = _MESSAGE_ID.search(data)
        kind, number = (found[1].decode(), found[2].decode()) if found else ("", "")
        with self._lock:
            self.accepted.append((kind, number, self.clock.now()))
        return "250 2.0.0 OK: queued"


@dataclass(frozen=True)
class SandboxPlan:
    orders: int
    seed: int
    start: datetime
    folder: str
    span: timedelta = timedelta(hours=24)


def _child(conn: Connection, plan: SandboxPlan) -> None:
    clock = SimClock(plan.start)
    emulator = RmsEmulator(clock, service_secret=SECRET, license_key=KEY, seed=plan.seed,
                           orders=sale_orders(plan.orders, seed=plan.seed, start=plan.start,
                                              span=plan.span))
    wms = WarehouseEmulator(plan.folder, clock, seed=plan.seed)
    sink = ClockedSink(clock)
    with RmsEmulatorServer(emulator) as server, sink:
        conn.send({"base_url": server.base_url, "smtp_port": sink.port,
                   "orders": emulator.order_count()})
        while True:
            command, arg = conn.recv()
            if command == "set":
                clock.set(arg)
                wms.step()
                conn.send(None)
            elif command == "in_flight":  # packages at the warehouse, RMS not at 500 yet
                conn.send((wms.pending(), emulator.progress_counts().get(500, 0)))
            elif command == "stats":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                with emulator._lock:
                    calls = dict(emulator.calls)
                conn.send({"calls": calls, "progress": emulator.progress_counts(),
                           "mails": list(sink.accepted),
                           "warehouse": {"packages": wms.stats.packages,
                                         "shipped": wms.stats.shipped,
                                         "stockouts": wms.stats.stockouts,
                                         "pending": wms.pending()},
                           "cpu": usage.ru_utime + usage.ru_stime,
                           "rss_mb": usage.ru_maxrss / 1024})
            else:
                conn.send(None)
                return


class EmulatorProcess:
    """The sandbox in a child process (spawned: it shares nothing with the engine)."""

    def __init__(self, plan: SandboxPlan) -> None:
        Path(plan.folder).mkdir(parents=True, exist_ok=True)
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_child, args=(child, plan), daemon=True)
        self._proc.start()
        deadline = time.monotonic() + 600  # 100,000 orders take a minute or two to generate
        while not self._conn.poll(0.5):
            if not self._proc.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox process did not start")
        info: dict[str, Any] = self._conn.recv()
        self.base_url: str = info["base_url"]
        self.smtp_port: int = info["smtp_port"]
        self.orders: int = info["orders"]

    def _ask(self, command: str, arg: Any = None) -> Any:
        self._conn.send((command, arg))
        return self._conn.recv()

    def set(self, instant: datetime) -> None:
        self._ask("set", instant)

    def in_flight(self) -> tuple[int, int]:
        result: tuple[int, int] = self._ask("in_flight")
        return result

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._ask("stats")
        return result

    def close(self) -> None:
        if self._proc.is_alive():
            with contextlib.suppress(BrokenPipeError, EOFError):
                self._ask("stop")
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(5)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LinkedClock(SimClock):
    """The engine's simulated clock; every move is passed on to the sandbox process."""

    def __init__(self, start: datetime, sandbox: EmulatorProcess) -> None:
        super().__init__(start)
        self.sandbox = sandbox
        self.sync_seconds = 0.0  # wall time spent telling the sandbox (not engine work)

    def set(self, instant: datetime) -> None:
        super().set(instant)
        self._tell()

    def advance(self, seconds: float) -> datetime:
        now = super().advance(seconds)
        self._tell()
        return now

    def _tell(self) -> None:
        w0 = time.perf_counter()
        self.sandbox.set(self.now())
        self.sync_seconds += time.perf_counter() - w0
