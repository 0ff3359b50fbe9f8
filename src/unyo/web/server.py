"""Serve the dashboard with uvicorn: in the foreground (`unyo serve`) or on a background
thread (the demo, the browser tests)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def uvicorn_config(app: FastAPI, host: str, port: int) -> uvicorn.Config:
    # uvicorn believes no proxy header: the app's ForwardedFor middleware does, and only
    # from the shop file's web.trusted_proxies (docs/dashboard.md).
    return uvicorn.Config(app, host=host, port=port, log_level="warning", proxy_headers=False,
                          server_header=False, access_log=False)


class BackgroundServer:
    """uvicorn on a thread; `url` once started. A context manager."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.server = uvicorn.Server(uvicorn_config(app, host, self.port))
        self.thread = threading.Thread(target=self.server.run, name="unyo-web", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
