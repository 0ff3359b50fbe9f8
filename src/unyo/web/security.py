"""The dashboard's defences that are not about orders: headers, login throttling, CSRF.

- Every response carries a Content-Security-Policy without inline scripts (the pages
  load only /static scripts; htmx is told not to inject styles or evaluate code),
  X-Frame-Options DENY, nosniff, a strict Referrer-Policy, and no caching of pages.
- Logins are throttled per client address and user name: after `MAX_FAILURES` failures
  within `WINDOW` seconds, further attempts get 429 until the oldest failure ages out.
- CSRF: each session has a random token; every POST must carry it, as the form field
  `csrf_token` or the `X-CSRF-Token` header (htmx sends it from `hx-headers`). The
  login form, before any session, uses a double-submit cookie. Cookies are SameSite=Strict
  on top of that.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'; object-src 'none'")
CSP_FLOW = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
"""The flow page: mermaid puts <style> into the SVG it draws (styles only, never scripts)."""

MAX_FAILURES = 5
WINDOW = 300.0


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens; False when either is missing."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


class LoginThrottle:
    """Failed logins per (address, user name) in a sliding window; thread-safe."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def retry_after(self, address: str, user: str) -> int:
        """Seconds until another attempt is allowed; 0 if it is allowed now."""
        now = self.clock()
        with self._lock:
            q = self._recent((address, user.lower()), now)
            if len(q) < self.max_failures:
                return 0
            return max(1, int(q[0] + self.window - now) + 1)

    def failed(self, address: str, user: str) -> None:
        now = self.clock()
        with self._lock:
            self._recent((address, user.lower()), now).append(now)
            if len(self._failures) > 10_000:  # forget idle keys rather than grow forever
                for k in [k for k, q in self._failures.items() if not q]:
                    del self._failures[k]

    def succeeded(self, address: str, user: str) -> None:
        with self._lock:
            self._failures.pop((address, user.lower()), None)


class SecurityHeaders:
    """ASGI middleware adding the security headers to every HTTP response."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = {
                    b"content-security-policy": (CSP_FLOW if path == "/flow" else CSP).encode(),
                    b"x-frame-options": b"DENY",
                    b"x-content-type-options": b"nosniff",
                    b"referrer-policy": b"same-origin",
                    b"cross-origin-opener-policy": b"same-origin",
                    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
                }
                if not path.startswith("/static/"):
                    extra[b"cache-control"] = b"no-store"
                if self.hsts:
                    extra[b"strict-transport-security"] = b"max-age=31536000"
                headers += [(k, v) for k, v in extra.items() if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
