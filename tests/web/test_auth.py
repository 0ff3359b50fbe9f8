"""Login, sessions, CSRF, throttling, roles and headers: what keeps strangers out."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.web.conftest import PASSWORD, RULES, SHOP, csrf_of, login
from unyo.adapters.db import Store
from unyo.clock import SimClock
from unyo.flow import Config
from unyo.web import create_app
from unyo.web.app import PUBLIC_PATHS, api_routes


def test_every_route_refuses_a_request_without_a_session(app: FastAPI, anonymous: TestClient):
    routes = api_routes(app.routes)
    assert len(routes) >= 15
    checked = 0
    for route in routes:
        if route.path in PUBLIC_PATHS:
            continue
        path = re.sub(r"\{[^}]+\}", "123456-20261127-0000000001", route.path)
        for method in route.methods:
            r = anonymous.request(method, path, follow_redirects=False)
            if method == "GET":
                assert r.status_code == 303, (method, path, r.status_code)
                assert r.headers["location"].startswith("/login?next=")
                htmx = anonymous.get(path, headers={"HX-Request": "true"})
                assert htmx.status_code == 401 and htmx.headers["HX-Redirect"] == "/login"
            else:
                assert r.status_code == 401, (method, path, r.status_code)
            checked += 1
    assert checked >= 15


def test_login_sets_an_http_only_strict_cookie_and_logout_ends_it(anonymous: TestClient):
    r = login(anonymous)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "unyo_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Max-Age=43200" in cookie and "Path=/" in cookie
    home = anonymous.get("/")
    assert home.status_code == 200 and "suzuki" in home.text
    out = anonymous.post("/logout", data={"csrf_token": csrf_of(home.text)},
                         follow_redirects=False)
    assert out.status_code == 303
    # the old token no longer opens anything, even if a copy of the cookie was kept
    assert anonymous.get("/", follow_redirects=False).status_code == 303


def test_secure_cookies_use_the_host_prefix(store: Store, clock: SimClock, seeded: dict):
    app = create_app(store, Config(shop_id=SHOP, rules=RULES), clock)  # secure by default
    with TestClient(app, base_url="https://unyo.example") as c:
        r = login(c)
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("__Host-unyo_session=") and "Secure" in cookie
        assert c.get("/").status_code == 200
        assert "strict-transport-security" in c.get("/").headers


def test_wrong_passwords_are_throttled_per_address_and_user(anonymous: TestClient):
    for _ in range(5):
        assert login(anonymous, password="wrong password!").status_code == 401
    refused = login(anonymous)  # even the right password waits now
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "しばらく待って" in refused.text
    assert login(anonymous, user="admin").status_code == 303  # another user is not blocked


def test_unknown_and_disabled_users_cannot_log_in(app: FastAPI, anonymous: TestClient):
    r = login(anonymous, user="nobody")
    assert r.status_code == 401 and "ユーザー名またはパスワードが違います" in r.text
    app.state.web.users.disable("suzuki")
    assert login(anonymous).status_code == 401


def test_login_form_needs_its_csrf_cookie(anonymous: TestClient):
    r = anonymous.post("/login", data={"user": "suzuki", "password": PASSWORD,
                                       "csrf_token": "forged"}, follow_redirects=False)
    assert r.status_code == 403


def test_a_login_never_redirects_off_site(anonymous: TestClient):
    page = anonymous.get("/login?next=//evil.example/x")
    r = anonymous.post("/login", data={"user": "suzuki", "password": PASSWORD,
                                       "csrf_token": csrf_of(page.text),
                                       "next": "//evil.example/x"}, follow_redirects=False)
    assert r.headers["location"] == "/"


def test_posts_without_the_csrf_token_are_refused_and_change_nothing(
        client: TestClient, seeded: dict, store: Store):
    number = seeded["check"]
    page = client.get(f"/orders/{number}")
    form = {"seq": "1", "version": re.search(r'name="version" value="(\d+)"', page.text)[1],
            "note": "ok"}
    assert client.post(f"/orders/{number}/release", data=form).status_code == 403
    forged = client.post(f"/orders/{number}/release", data=form | {"csrf_token": "x" * 43})
    assert forged.status_code == 403 and "フォームの有効期限" in forged.text
    with store.transaction() as conn:
        assert store.load_order(conn, SHOP, number).open_gates  # type: ignore[union-attr]
    # the header htmx sends is accepted
    ok = client.post(f"/orders/{number}/release", data=form,
                     headers={"X-CSRF-Token": csrf_of(page.text)}, follow_redirects=False)
    assert ok.status_code == 303


def test_operators_are_refused_admin_pages_admins_manage_users(app: FastAPI, client: TestClient):
    assert client.get("/admin/users").status_code == 403
    csrf = csrf_of(client.get("/").text)
    assert client.post("/admin/users", data={"name": "x", "role": "admin", "password": "p" * 12,
                                             "csrf_token": csrf}).status_code == 403
    with TestClient(app, base_url="http://127.0.0.1") as admin:
        assert login(admin, user="admin").status_code == 303
        page = admin.get("/admin/users")
        assert page.status_code == 200
        added = admin.post("/admin/users", data={"name": "tanaka", "role": "operator",
                                                 "password": "short", "csrf_token":
                                                 csrf_of(page.text)})
        assert added.status_code == 400 and "10文字以上" in added.text
        added = admin.post("/admin/users", data={"name": "tanaka", "role": "operator",
                                                 "password": "long enough pw",
                                                 "csrf_token": csrf_of(page.text)})
        assert added.status_code == 200 and "tanaka" in added.text
        gone = admin.post("/admin/users/suzuki/disable", data={"csrf_token": csrf_of(page.text)})
        assert gone.status_code == 200
    # the operator's session ended with the disabling
    assert client.get("/", follow_redirects=False).status_code == 303


def test_sessions_expire_when_idle(store: Store, clock: SimClock, seeded: dict):
    auth_clock = SimClock(clock.now())
    app = create_app(store, Config(shop_id=SHOP, rules=RULES), clock, secure_cookies=False,
                     auth_clock=auth_clock)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        login(c)
        auth_clock.advance(timedelta(hours=1).total_seconds())
        assert c.get("/", follow_redirects=False).status_code == 200  # pushed back
        auth_clock.advance(timedelta(hours=1, minutes=59).total_seconds())
        assert c.get("/", follow_redirects=False).status_code == 200
        auth_clock.advance(timedelta(hours=2, seconds=1).total_seconds())
        assert c.get("/", follow_redirects=False).status_code == 303


def test_security_headers_on_every_page(client: TestClient, anonymous: TestClient):
    for r in (client.get("/"), client.get("/queue"), anonymous.get("/login"),
              client.get("/static/app.css")):
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
        assert "frame-ancestors 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
    assert client.get("/").headers["cache-control"] == "no-store"
