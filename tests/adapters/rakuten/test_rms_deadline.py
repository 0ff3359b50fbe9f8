"""A slow RMS: headers at once, then one byte every 0.2 s (or the headers themselves a
byte at a time), from a real server on loopback. The per-read timeout never trips; the
deadline per call does, and callers go on."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import KEY, NOW, SECRET
from unyo.adapters.rakuten import RmsClient, RmsUnavailableError
from unyo.clock import SimClock
from unyo.flow.config import parse_config

BODY = json.dumps({"MessageModelList": [], "orderNumberList": []}).encode() + b" " * 2000


def _read_request(handler: socketserver.BaseRequestHandler) -> bool:
    """Read the request's head and count it; False when the client hung up first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = handler.request.recv(65536)
        if not chunk:
            return False
        data += chunk
    handler.server.requests += 1  # type: ignore[attr-defined]
    return True


class _Trickle(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        if not _read_request(self):
            return
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(BODY))
        try:  # for 5 s at most, then hang up (without a deadline the body is incomplete)
            for i in range(25):
                sock.sendall(BODY[i:i + 1])
                time.sleep(0.2)
        except OSError:  # the client gave up
            return


class _TrickledHeaders(socketserver.BaseRequestHandler):
    """The status line, then a header a byte every 0.2 s for 3 s, then a whole answer."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        if not _read_request(self):
            return
        try:
            sock.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            for _ in range(15):
                sock.sendall(b"a")
                time.sleep(0.2)
            sock.sendall(b"\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY)
        except OSError:
            return


class SlowRms(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _serve(handler: type[socketserver.BaseRequestHandler]) -> Iterator[SlowRms]:
    server = SlowRms(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def slow_rms() -> Iterator[SlowRms]:
    yield from _serve(_Trickle)


@pytest.fixture
def slow_headers() -> Iterator[SlowRms]:
    yield from _serve(_TrickledHeaders)


def test_a_trickling_answer_fails_at_the_deadline_and_is_retried(slow_rms: SlowRms):
    clock = SimClock(NOW)
    with httpx.Client(timeout=5.0) as http:  # each byte comes well within the read timeout
        client = RmsClient(http, base_url=slow_rms.url, service_secret=SECRET,
                           license_key=KEY, clock=clock, min_interval=0, max_retries=1,
                           backoff_base=0, deadline=1.0)
        started = time.monotonic()
        with pytest.raises(RmsUnavailableError, match=r"within the 1s deadline.*2 attempt"):
            client.search_order(start=NOW, end=NOW)
    assert time.monotonic() - started < 4.0  # two attempts of about 1 s each
    assert slow_rms.requests == 2


def test_trickled_headers_fail_at_the_deadline_too(slow_headers: SlowRms):
    with httpx.Client(timeout=5.0) as http:
        client = RmsClient(http, base_url=slow_headers.url, service_secret=SECRET,
                           license_key=KEY, clock=SimClock(NOW), min_interval=0,
                           max_retries=0, deadline=1.0)
        started = time.monotonic()
        with pytest.raises(RmsUnavailableError, match=r"within the 1s deadline \(no headers"):
            client.search_order(start=NOW, end=NOW)
        assert time.monotonic() - started < 2.0
        # a whole answer in time goes through the same path
        client.deadline = 10.0
        assert client.search_order(start=NOW, end=NOW) == []


def test_the_deadline_is_a_setting():
    assert parse_config("").rms.deadline == 60.0
    assert parse_config("rms:\n  deadline: 1.5s\n").rms.deadline == 1.5


def test_run_once_goes_on_past_a_slow_rms(slow_rms: SlowRms, tmp_path: Path):
    from typer.testing import CliRunner

    from unyo.cli import app

    config = tmp_path / "unyo.yaml"
    config.write_text("shop: {id: slow}\nrms:\n  min_interval: 0\n  timeout: 5s\n"
                      "  deadline: 1s\n  max_retries: 0\n", encoding="utf-8")
    env = {"UNYO_RMS_BASE_URL": slow_rms.url, "RMS_SERVICE_SECRET": SECRET,
           "RMS_LICENSE_KEY": KEY, "UNYO_DATABASE_URL": f"sqlite:///{tmp_path / 'u.db'}"}
    started = time.monotonic()
    result = CliRunner().invoke(app, ["run", "-c", str(config), "--once", "--now",
                                      NOW.isoformat(), "--json"], env=env)
    assert time.monotonic() - started < 4.0  # one attempt of about 1 s
    doc = json.loads(result.stdout)
    assert "deadline" in doc["steps"]["import"]["error"]
    assert len(doc["steps"]) > 1  # the other steps ran
