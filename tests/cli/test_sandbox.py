"""`unyo sandbox rms` as a real process: it listens, answers searchOrder, and stops."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx

from unyo.clock import JST
from unyo.demo import DEMO_LICENSE_KEY, DEMO_SERVICE_SECRET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"sandbox exited early: {proc.communicate()[1]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


@contextmanager
def sandbox(*args: str, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", "from unyo.cli import main; main()",
                             "sandbox", "rms", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def search(port: int, secret: str, key: str) -> httpx.Response:
    now = datetime.now(UTC).astimezone(JST)
    token = base64.b64encode(f"{secret}:{key}".encode()).decode()
    body = {"dateType": 1,
            "startDatetime": (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S+0900"),
            "endDatetime": now.strftime("%Y-%m-%dT%H:%M:%S+0900"),
            "PaginationRequestModel": {"requestRecordsAmount": 1000, "requestPage": 1}}
    return httpx.post(f"http://127.0.0.1:{port}/es/2.0/order/searchOrder/", json=body,
                      headers={"Authorization": f"ESA {token}"}, timeout=10)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RMS_SERVICE_SECRET",
                                                             "RMS_LICENSE_KEY")}
    return {**env, **extra}


def test_sandbox_serves_generated_orders_with_demo_credentials() -> None:
    port = free_port()
    with sandbox("--port", str(port), "--orders", "25", "--seed", "4", env=clean_env()) as proc:
        wait_for_port(port, proc)
        answer = search(port, DEMO_SERVICE_SECRET, DEMO_LICENSE_KEY)
        assert answer.status_code == 200
        body = answer.json()
        assert body["PaginationResponseModel"]["totalRecordsAmount"] == 25
        assert len(body["orderNumberList"]) == 25
        assert search(port, DEMO_SERVICE_SECRET, "SL000000_wrong").status_code == 401
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert f"RMS emulator on http://127.0.0.1:{port} with 25 orders" in stderr
    assert f"RMS_SERVICE_SECRET={DEMO_SERVICE_SECRET}" in stderr
    assert f"RMS_LICENSE_KEY={DEMO_LICENSE_KEY}" in stderr


def test_sandbox_accepts_credentials_from_the_environment_and_never_prints_them() -> None:
    port = free_port()
    secret, key = "SP999999_env-secret", "SL999999_env-key"
    env = clean_env(RMS_SERVICE_SECRET=secret, RMS_LICENSE_KEY=key)
    with sandbox("--port", str(port), "--orders", "3", env=env) as proc:
        wait_for_port(port, proc)
        assert search(port, secret, key).status_code == 200
        assert search(port, DEMO_SERVICE_SECRET, DEMO_LICENSE_KEY).status_code == 401
        proc.terminate()
        stdout, stderr = proc.communicate(timeout=10)
    assert secret not in stdout + stderr and key not in stdout + stderr
    assert "credentials:" not in stderr


def test_sandbox_on_a_busy_port_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-c", "from unyo.cli import main; main()",
                               "sandbox", "rms", "--port", str(port), "--orders", "1"],
                              env=clean_env(), capture_output=True, text=True, timeout=30,
                              check=False)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
