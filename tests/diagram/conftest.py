"""Shop files for the diagram tests: the defaults, the rules of `unyo init`, and a
file whose rule names and messages are hostile text."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests.factories import BUYER, T0, channel_order, minutes
from tests.fakes import FakeChannel
from unyo.adapters.db import Store
from unyo.app.context import ShopContext
from unyo.app.importing import import_orders
from unyo.app.manual import hold, release
from unyo.app.syncing import sync_orders
from unyo.clock import SimClock
from unyo.domain import GateKind
from unyo.flow import Config
from unyo.flow.config import parse_config, render_init

HOSTILE_NAMES = [
    'He said "hi" [x] {y} (z)',
    "<script>alert(1)</script>",
    "A --> B ; C",
    "%% not a comment",
    "x:::danger",
    "line one\nline two",
    "#quot; &amp; #60; ﬂ°°60¶ß",
    "end",
    "style u_rule1 fill:#f00;",
    "click u_rule1 call alert()",
    "`**md**` | pipe |",
    "<img src=x onerror=alert(2)>",
]


def hostile_yaml() -> str:
    import json

    rules = []
    for n, name in enumerate(HOSTILE_NAMES):
        rules.append(f"  - name: {json.dumps(name, ensure_ascii=False)}\n"
                     f"    when: {{field: total, op: ge, value: {n}}}\n"
                     f"    then: [{{check: {json.dumps('確認 ' + name, ensure_ascii=False)}}}]\n")
    return "shop: {id: hostile, name: \"<b>悪\\\"意</b>\"}\nrules:\n" + "".join(rules)


@pytest.fixture
def default_config() -> Config:
    return parse_config("", env={})


@pytest.fixture
def init_config() -> Config:
    """The first ten rules of `unyo init` (those before the order types' six): the flow a
    new shop reads first, on one A4 page. `whole_init_config` has all sixteen."""
    config = parse_config(render_init("tea", "お茶の店"), "unyo.yaml", env={})
    return replace(config, rules=config.rules[:10])


@pytest.fixture
def whole_init_config() -> Config:
    return parse_config(render_init("tea", "お茶の店"), "unyo.yaml", env={})


@pytest.fixture
def hostile_config() -> Config:
    return parse_config(hostile_yaml(), env={})


SHOP_FILE = """\
shop: {id: shop, name: テスト店}
database: {url: "URL"}
rules:
  - name: 備考欄あり
    when: {field: remarks, op: not_empty}
    then: [{check: 備考欄を確認}]
  - name: 高額
    when: {field: total, op: ge, value: 10000}
    then: [{check: 高額注文を確認}, {tag: 高額}]
  - name: ギフト
    when: {field: gift, op: is_true}
    then: [{tag: ギフト}]
"""
DAY = (T0, T0 + timedelta(days=1))


def n(i: int) -> str:
    return f"123456-20261127-{i:010d}"


@pytest.fixture
def shop(store: Store, database_url: str, tmp_path: Path) -> tuple[Config, Path]:
    """The shop file (its database is `store`'s) and ten orders, each from another
    buyer, imported at T0 + 1 min, then worked on."""
    path = tmp_path / "unyo.yaml"
    path.write_text(SHOP_FILE.replace("URL", database_url), encoding="utf-8")
    cfg = parse_config(path.read_text(encoding="utf-8"), str(path), env={})
    channel = FakeChannel()
    clock = SimClock(T0 + minutes(1))
    ctx = ShopContext(cfg, store, channel, clock)

    def order(i: int, **kw):  # type: ignore[no-untyped-def]
        buyer = replace(BUYER, phone=f"03-0000-00{i:02d}")
        channel.put(channel_order(n(i), member=False, buyer=buyer, status=kw.pop("status", 300),
                                  confirmed_at=T0, **kw))

    remarks = "[メッセージ:]\n領収書希望"
    order(1)  # flows through on its own
    order(2, remarks=remarks)  # 備考欄あり, checked after 30 minutes
    order(3, remarks=remarks)  # ... after 60
    order(10, remarks=remarks)  # ... after 90
    order(6, remarks=remarks)  # ... still waiting
    order(4, status=200)  # waits 10 minutes for payment
    order(5, total=20000)  # 高額, checked after 20 minutes
    order(7, gift=True)  # ギフト: a tag, no gate
    order(8, status=200)  # held by a person while waiting for payment, still held
    order(9, status=200)  # held by a person while waiting for payment, released
    import_orders(ctx)
    for i in (8, 9):
        hold(store, "shop", n(i), until=None, note="電話待ち", by="suzuki", now=T0 + minutes(5))
    clock.set(T0 + minutes(11))
    for i in (4, 8, 9):
        channel.put(replace(channel.orders[n(i)], status=300))
    sync_orders(ctx)
    for i, at in ((2, 31), (3, 61), (10, 91)):
        release(store, "shop", n(i), GateKind.check, note="確認済", by="suzuki",
                now=T0 + minutes(at))
    release(store, "shop", n(5), GateKind.check, note="与信OK", by="sato", now=T0 + minutes(21))
    release(store, "shop", n(9), GateKind.hold, note="電話済", by="suzuki",
            now=T0 + minutes(45))
    return cfg, path
