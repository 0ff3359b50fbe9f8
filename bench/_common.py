"""Helpers shared by the benchmarks: a sandbox emulator in its own process, RSS, tables."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

SECRET = "SP-bench"
KEY = "SL-bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def emulator_process() -> Iterator[str]:
    """The RMS emulator in a separate process (so its CPU is not counted as the engine's)."""
    port = free_port()
    env = dict(os.environ, RMS_SERVICE_SECRET=SECRET, RMS_LICENSE_KEY=KEY)
    proc = subprocess.Popen([sys.executable, "-m", "unyo", "sandbox", "rms", "--port",
                             str(port), "--orders", "0"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/_sandbox/stats", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the RMS emulator did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def row(label: str, value: str, target: str = "") -> None:
    print(f"  {label:<44} {value:>18}   {target}")
