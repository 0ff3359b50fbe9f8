"""The dashboard's defences that are not about orders: headers, login throttling, CSRF.

- Every response carries a Content-Security-Policy without inline scripts (the pages
  load only /static scripts; htmx is told not to inject styles or evaluate code),
  X-Frame-Options DENY, nosniff, a strict Referrer-Policy, and no caching of pages.
- Logins are throttled three ways within a sliding `WINDOW`: per (client address, user
  name) after `MAX_FAILURES` failures; per user name from any address after
  `MAX_NAME_FAILURES` (so rotating addresses cannot brute-force one account); per address
  for any name after `MAX_ADDRESS_FAILURES` (so one address cannot spray many names).
  Further attempts get 429 until the oldest failure ages out. Memory is bounded: each
  table keeps at most `MAX_KEYS` keys, expired ones are pruned and the least recently
  failed dropped beyond the cap.
- The client address is the TCP peer. `X-Forwarded-For` counts only when the peer is one
  of the operator's `web.trusted_proxies`, and then the right-most address of the chain
  that is not a trusted proxy is the client: everything left of it was written by the
  client and proves nothing (MDN, "X-Forwarded-For: Selecting an IP address").
- CSRF: each session has a random token; every POST must carry it, as the form field
  `csrf_token` or the `X-CSRF-Token` header (htmx sends it from `hx-headers`). The
  login form, before any session, uses a double-submit cookie. Cookies are SameSite=Strict
  on top of that.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'; object-src 'none'")

MAX_FAILURES = 5
MAX_NAME_FAILURES = 20
MAX_ADDRESS_FAILURES = 30
WINDOW = 300.0
MAX_KEYS = 10_000

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens; False when either is missing."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


def networks(values: Iterable[str]) -> tuple[Network, ...]:
    """`web.trusted_proxies` as networks (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
             trusted: tuple[Network, ...]) -> bool:
    return address is not None and any(address in net for net in trusted)


def client_address(peer: str, forwarded_for: Iterable[str],
                   trusted: tuple[Network, ...]) -> str:
    """The address a request is from: the TCP `peer`, unless it is a trusted proxy; then
    the right-most entry of the `X-Forwarded-For` chain (all headers, in order) that is
    not a trusted proxy, or the left-most one when every hop is trusted."""
    if not trusted or not _trusted(_address(peer), trusted):
        return peer
    chain = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(chain):
        address = _address(hop)
        if not _trusted(address, trusted):
            return str(address) if address is not None else hop[:64]
    return str(_address(chain[0])) if chain else peer


class ForwardedFor:
    """ASGI middleware putting the real client address into `scope["client"]` (and the
    scheme a trusted proxy saw into `scope["scheme"]`); uvicorn's own proxy handling is off,
    so this is the only place proxy headers are believed."""

    def __init__(self, app: ASGIApp, *, trusted: tuple[Network, ...] = ()) -> None:
        self.app, self.trusted = app, trusted
        self._warned = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            peer, port = scope.get("client") or ("?", 0)
            if not self.trusted and not self._warned and any(
                    k.lower() == b"x-forwarded-for" for k, _ in scope.get("headers", [])):
                # Most likely a proxy the shop file does not name yet: every client then
                # counts as the proxy's address in the login throttle.
                self._warned = True
                log.warning("a request from %s carries X-Forwarded-For, which is ignored: "
                            "if %s is your reverse proxy, name it in web.trusted_proxies",
                            peer, peer)
            if self.trusted and _trusted(_address(str(peer)), self.trusted):
                headers = scope.get("headers", [])
                forwarded = [v.decode("latin-1") for k, v in headers
                             if k.lower() == b"x-forwarded-for"]
                proto = [v.decode("latin-1").split(",")[-1].strip().lower() for k, v in headers
                         if k.lower() == b"x-forwarded-proto"]
                scope = dict(scope)
                scope["client"] = (client_address(str(peer), forwarded, self.trusted), port)
                if proto and proto[-1] in ("http", "https"):
                    scope["scheme"] = proto[-1] if scope["type"] == "http" else (
                        "wss" if proto[-1] == "https" else "ws")
        await self.app(scope, receive, send)


class _Window:
    """Recent failure times per key: at most `limit` per key (enough to decide), at most
    `max_keys` keys, least recently failed dropped first. Not locked: the throttle is."""

    def __init__(self, limit: int, window: float, max_keys: int) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self.keys: OrderedDict[object, deque[float]] = OrderedDict()

    def wait(self, key: object, now: float) -> float:
        """Seconds until `key` may try again (0: now)."""
        q = self.keys.get(key)
        if q is None or len(q) < self.limit:
            return 0.0
        return max(0.0, q[0] + self.window - now)

    def add(self, key: object, now: float) -> None:
        q = self.keys.pop(key, None)
        if q is None:
            q = deque(maxlen=self.limit)
        q.append(now)
        self.keys[key] = q  # the most recently failed go last
        self.prune(now)

    def prune(self, now: float) -> None:
        # Oldest last-failure first: drop keys whose every failure has aged out, then,
        # beyond the cap, the least recently failed ones.
        while self.keys:
            key, q = next(iter(self.keys.items()))
            if q[-1] > now - self.window and len(self.keys) <= self.max_keys:
                break
            del self.keys[key]

    def forget(self, key: object) -> None:
        self.keys.pop(key, None)


class LoginThrottle:
    """Failed logins per (address, name), per name and per address in a sliding window;
    bounded memory; thread-safe."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic, *,
                 max_name_failures: int = MAX_NAME_FAILURES,
                 max_address_failures: int = MAX_ADDRESS_FAILURES,
                 max_keys: int = MAX_KEYS) -> None:
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self._pairs = _Window(max_failures, window, max_keys)
        self._names = _Window(max_name_failures, window, max_keys)
        self._addresses = _Window(max_address_failures, window, max_keys)
        self._lock = threading.Lock()

    def retry_after(self, address: str, user: str) -> int:
        """Seconds until another attempt is allowed; 0 if it is allowed now."""
        now, name = self.clock(), user.lower()
        with self._lock:
            wait = max(self._pairs.wait((address, name), now), self._names.wait(name, now),
                       self._addresses.wait(address, now))
        return 0 if wait <= 0 else int(wait) + 1

    def failed(self, address: str, user: str) -> None:
        now, name = self.clock(), user.lower()
        with self._lock:
            self._pairs.add((address, name), now)
            self._names.add(name, now)
            self._addresses.add(address, now)

    def succeeded(self, address: str, user: str) -> None:
        # Only the pair is forgotten: a success must not reset the count of guesses made
        # at the name (or from the address) elsewhere.
        with self._lock:
            self._pairs.forget((address, user.lower()))

    def size(self) -> int:
        """Keys held in all tables (memory is bounded by 3 × `max_keys`)."""
        with self._lock:
            return len(self._pairs.keys) + len(self._names.keys) + len(self._addresses.keys)


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
                    b"content-security-policy": CSP.encode(),
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
