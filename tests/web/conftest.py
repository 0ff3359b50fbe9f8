"""A dashboard on a seeded SQLite store: orders waiting for payment, for a check (one
with hostile buyer text), ready ones; an admin and an operator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import BUYER, T0, channel_order, minutes
from tests.fakes import FakeChannel
from unyo.adapters.db import Store
from unyo.adapters.db.accounts import Accounts
from unyo.app.context import ShopContext
from unyo.app.importing import import_orders
from unyo.app.users import Users
from unyo.clock import SimClock
from unyo.domain.rules import compile_rules
from unyo.flow import Config
from unyo.web import create_app

SHOP = "webshop"
PASSWORD = "correct horse battery"
HOSTILE_REMARKS = '[メッセージ:]\n<script>alert("remarks")</script>"><img src=x onerror=alert(1)>'
HOSTILE_NAME = '"><img src=x onerror=alert(2)>'
RULES = compile_rules([{"name": "備考欄あり", "when": {"field": "remarks", "op": "not_empty"},
                        "then": [{"check": "備考欄を確認"}]}])


def number(i: int) -> str:
    return f"123456-20261127-{i:010d}"


def seed(store: Store, clock: SimClock) -> dict[str, str]:
    """Orders 1–3 wait for a check, 4–5 for payment, 6–8 are ready; order 3's buyer text
    is hostile. Returns names for the tests."""
    channel = FakeChannel()
    config = Config(shop_id=SHOP, shop_name="テスト店", rules=RULES)
    for i in range(1, 9):
        buyer = replace(BUYER, phone=f"03-0000-{i:04d}")
        kw: dict[str, Any] = {"member": False, "buyer": buyer, "confirmed_at": T0,
                              "ordered_at": T0 - minutes(60 - i)}
        if i <= 3:
            kw["remarks"] = "[メッセージ:]\n領収書希望" if i < 3 else HOSTILE_REMARKS
        if i == 3:
            kw["buyer"] = replace(buyer, family_name=HOSTILE_NAME, first_name="<b>x</b>")
        channel.put(channel_order(number(i), status=200 if i in (4, 5) else 300, **kw))
    import_orders(ShopContext(config, store, channel, clock))
    return {"check": number(1), "hostile": number(3), "payment": number(4), "ready": number(6)}


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0 + minutes(5))


@pytest.fixture
def seeded(store: Store, clock: SimClock) -> dict[str, str]:
    orders = seed(store, clock)
    users = Users(Accounts(store.engine))
    users.add("admin", "admin", PASSWORD, clock.now())
    users.add("suzuki", "operator", PASSWORD, clock.now())
    return orders


@pytest.fixture
def app(store: Store, clock: SimClock, seeded: dict[str, str]) -> FastAPI:
    return create_app(store, Config(shop_id=SHOP, shop_name="テスト店", rules=RULES), clock,
                      secure_cookies=False)


def login(client: TestClient, user: str = "suzuki", password: str = PASSWORD) -> Any:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    return client.post("/login", data={"user": user, "password": password,
                                       "csrf_token": token.group(1), "next": "/"},
                       follow_redirects=False)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert login(c).status_code == 303
        yield c


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c
