"""The dashboard's シャドーモード banner: from the shop file, or from the worker that runs
the shop in shadow mode (`unyo run --shadow`, another process), and gone once it runs live."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from tests.fakes import FakeChannel
from tests.web.conftest import RULES, SHOP, login
from unyo.adapters.db import Store
from unyo.adapters.db import schema as t
from unyo.adapters.db.accounts import Accounts
from unyo.app.context import ShopContext
from unyo.app.dashboard import RUN_MODE, Dashboard
from unyo.app.report import build_report
from unyo.app.runner import Runner
from unyo.clock import SimClock
from unyo.flow import Config
from unyo.web import create_app

BANNER = 'class="shadow-banner"'


def pages(store: Store, clock: SimClock, config: Config) -> dict[str, str]:
    app = create_app(store, config, clock, secure_cookies=False)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert login(c).status_code == 303
        return {p: c.get(p).text for p in ("/", "/queue", "/report", "/flow")}


def test_the_banner_shows_on_every_page_in_shadow_mode(store: Store, clock: SimClock,
                                                       seeded: dict[str, str]) -> None:
    live = Config(shop_id=SHOP, shop_name="テスト店", rules=RULES)
    assert not any(BANNER in html for html in pages(store, clock, live).values())
    shadow = replace(live, mode="shadow")
    for path, html in pages(store, clock, shadow).items():
        assert BANNER in html and "シャドーモード" in html, path
        assert "楽天への注文確認" in html


def test_the_worker_in_shadow_mode_tells_the_dashboard(store: Store, clock: SimClock,
                                                        seeded: dict[str, str]) -> None:
    live = Config(shop_id=SHOP, shop_name="テスト店", rules=RULES)
    runner = Runner.for_shop(ShopContext(config=replace(live, mode="shadow"), store=store,
                                         channel=FakeChannel(), clock=clock))
    runner.run_once()
    assert Accounts(store.engine).setting(SHOP, RUN_MODE) == "shadow"
    assert BANNER in pages(store, clock, live)["/"]  # the shop file says live: the worker
    Runner.for_shop(ShopContext(config=live, store=store, channel=FakeChannel(),
                                clock=clock)).run_once()
    assert Accounts(store.engine).setting(SHOP, RUN_MODE) is None
    assert BANNER not in pages(store, clock, live)["/"]


def test_the_report_page_shows_the_shadow_rate_apart(store: Store, clock: SimClock,
                                                     seeded: dict[str, str]) -> None:
    live = Config(shop_id=SHOP, shop_name="テスト店", rules=RULES)
    assert "本番なら自動化率" not in pages(store, clock, live)["/report"]
    home = Dashboard(store, live, clock)
    assert home.automation().over(30)[0] > 0
    with store.transaction() as conn:
        rows = conn.execute(select(t.orders.c.id, t.orders.c.ordered_at)
                            .where(t.orders.c.shop == SHOP)).all()
        conn.execute(insert(t.shadow_orders), [
            {"order_id": r.id, "shop": SHOP, "ordered_at": r.ordered_at} for r in rows])
    rep = build_report(store, SHOP, clock.now() - timedelta(days=30), clock.now())
    assert rep.shadow is not None and rep.shadow.orders > 0
    html = pages(store, clock, live)["/report"]
    assert "シャドーモード — 本番なら自動化率" in html
    assert f"{rep.shadow.automated} / {rep.shadow.orders}" in html
    # the home page's live rate holds none of them
    assert Dashboard(store, live, clock).automation().over(30)[0] == 0
    assert rep.orders == 0
