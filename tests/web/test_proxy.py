"""The login throttle behind (and without) a reverse proxy, over real HTTP on loopback:
X-Forwarded-For counts only from the proxies the shop file names, the right-most
untrusted hop is the client, a name is throttled across addresses, memory stays bounded."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.web.conftest import PASSWORD, RULES, SHOP
from unyo.adapters.db import Store
from unyo.clock import SimClock
from unyo.flow import Config, WebSettings
from unyo.flow.config import ConfigError, parse_config
from unyo.web import create_app
from unyo.web.security import LoginThrottle, client_address, networks
from unyo.web.server import BackgroundServer

Login = Callable[..., httpx.Response]


@pytest.fixture
def serve(store: Store, clock: SimClock, seeded: dict) -> Iterator[Callable[..., Login]]:
    """serve(trusted_proxies, local_address) → login(user, password, forwarded_for)."""
    servers: list[BackgroundServer] = []
    clients: list[httpx.Client] = []

    def start(trusted: tuple[str, ...] = (), local_address: str = "127.0.0.1") -> Login:
        config = Config(shop_id=SHOP, rules=RULES, web=WebSettings(trusted_proxies=trusted))
        server = BackgroundServer(create_app(store, config, clock, secure_cookies=False))
        servers.append(server.start())
        transport = httpx.HTTPTransport(local_address=local_address)
        client = httpx.Client(base_url=server.url, transport=transport)
        clients.append(client)

        def login(user: str = "suzuki", password: str = PASSWORD,
                  forwarded_for: str | None = None) -> httpx.Response:
            headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
            client.cookies.clear()
            page = client.get("/login", headers=headers)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token, page.text
            return client.post("/login", headers=headers, data={
                "user": user, "password": password, "csrf_token": token.group(1), "next": "/"})
        return login

    yield start
    for c in clients:
        c.close()
    for s in servers:
        s.stop()


@pytest.mark.parametrize("trusted", [(), ("10.0.0.0/8",)], ids=["no-proxy", "other-proxy"])
def test_rotating_forwarded_for_from_an_untrusted_peer_does_not_bypass(serve, trusted, caplog):
    login = serve(trusted)
    for i in range(5):
        assert login(password="wrong password!", forwarded_for=f"198.51.100.{i}").status_code == 401
    refused = login(forwarded_for="198.51.100.99")  # a new "address": still the same peer
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "login for 'suzuki' from 127.0.0.1 refused" in caplog.text
    if not trusted:  # said once, so the operator names the proxy
        assert caplog.text.count("carries X-Forwarded-For, which is ignored") == 1


def test_a_loopback_peer_not_named_is_not_trusted(serve):
    # the proxy is 127.0.0.1; a client on 127.0.0.2 (also loopback) forges the header
    login = serve(("127.0.0.1",), local_address="127.0.0.2")
    for i in range(5):
        assert login(password="wrong password!", forwarded_for=f"203.0.113.{i}").status_code == 401
    assert login(forwarded_for="203.0.113.99").status_code == 429


def test_from_a_trusted_proxy_the_forwarded_address_counts(serve):
    login = serve(("127.0.0.1", "::1"))
    for _ in range(5):
        assert login(password="wrong password!", forwarded_for="198.51.100.7").status_code == 401
    assert login(forwarded_for="198.51.100.7").status_code == 429
    # another client behind the same proxy is not blocked
    assert login(forwarded_for="198.51.100.8").status_code == 303


def test_hops_the_client_wrote_left_of_the_proxy_are_ignored(serve):
    # nginx with $proxy_add_x_forwarded_for appends the real address to what the client
    # sent: the left-most entries rotate, the right-most untrusted one is the client
    login = serve(("127.0.0.0/8",))
    for i in range(5):
        r = login(password="wrong password!", forwarded_for=f"192.0.2.{i}, 203.0.113.9")
        assert r.status_code == 401
    assert login(forwarded_for="192.0.2.200, 203.0.113.9").status_code == 429
    assert login(forwarded_for="192.0.2.200, 203.0.113.10, 127.0.0.1").status_code == 303


def test_one_name_is_throttled_across_rotating_addresses(serve):
    login = serve(("127.0.0.1",))
    for i in range(20):  # one guess from each of 20 addresses
        assert login(password="wrong password!", forwarded_for=f"198.51.100.{i}").status_code == 401
    assert login(forwarded_for="198.51.100.250").status_code == 429
    assert login(user="admin", forwarded_for="198.51.100.250").status_code == 303


def test_the_throttle_memory_stays_bounded_and_is_pruned():
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0], max_keys=1000)
    for i in range(50_000):  # distinct names from distinct addresses
        throttle.failed(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", f"user{i}")
        now[0] += 0.001
    assert throttle.size() <= 3 * 1000
    for _ in range(5):  # the most recent attacker is still remembered
        throttle.failed("192.0.2.1", "suzuki")
    assert throttle.retry_after("192.0.2.1", "suzuki") > 0
    now[0] += 301  # every failure ages out; the next one prunes them
    throttle.failed("192.0.2.2", "tanaka")
    assert throttle.size() == 3
    assert throttle.retry_after("192.0.2.1", "suzuki") == 0


def test_client_address_takes_the_right_most_untrusted_hop():
    trusted = networks(["127.0.0.1", "10.0.0.0/8"])
    assert client_address("127.0.0.1", ["1.1.1.1, 2.2.2.2", "10.1.2.3"], trusted) == "2.2.2.2"
    assert client_address("127.0.0.1", ["10.0.0.1"], trusted) == "10.0.0.1"  # all trusted
    assert client_address("127.0.0.1", [], trusted) == "127.0.0.1"
    assert client_address("192.0.2.5", ["1.1.1.1"], trusted) == "192.0.2.5"  # not a proxy
    assert client_address("127.0.0.1", ["1.1.1.1"], ()) == "127.0.0.1"  # trust nobody
    assert client_address("127.0.0.1", ["[2001:db8::1]:443"], trusted) == "2001:db8::1"


def test_trusted_proxies_are_validated_with_file_and_line():
    cfg = parse_config("web:\n  trusted_proxies: [127.0.0.1, '::1', 10.0.0.0/8]\n", "u.yaml")
    assert cfg.web.trusted_proxies == ("127.0.0.1/32", "::1/128", "10.0.0.0/8")
    assert parse_config("web: {}\n").web.trusted_proxies == ()
    with pytest.raises(ConfigError, match=r"u.yaml:3: web.trusted_proxies: item 2: "
                                          r"'nginx' is not an IP address"):
        parse_config("shop: {id: s}\nweb:\n  trusted_proxies: [127.0.0.1, nginx]\n", "u.yaml")
