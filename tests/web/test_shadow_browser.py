"""The シャドーモード banner in real Chromium: visible, readable, above the page's content,
on a desktop and a phone width."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.conftest import PASSWORD, RULES, SHOP
from unyo.adapters.db import Store
from unyo.clock import SimClock
from unyo.flow import Config
from unyo.web import create_app
from unyo.web.server import BackgroundServer


@pytest.fixture
def url(store: Store, clock: SimClock, seeded: dict[str, str]) -> Iterator[str]:
    config = Config(shop_id=SHOP, shop_name="テスト店", rules=RULES, mode="shadow")
    with BackgroundServer(create_app(store, config, clock)) as server:
        yield server.url


@pytest.mark.parametrize("width", [1280, 420])
def test_the_banner_is_visible_above_the_content(browser: Any, url: str, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="ja-JP")
    page = context.new_page()
    try:
        page.goto(url + "/queue")
        page.fill("input[name=user]", "suzuki")
        page.fill("input[name=password]", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url(url + "/queue")
        banner = page.locator(".shadow-banner")
        assert banner.is_visible()
        assert "シャドーモード" in banner.inner_text()
        box, main = banner.bounding_box(), page.locator("main").bounding_box()
        assert box is not None and main is not None
        assert box["height"] >= 20 and box["width"] >= width * 0.9
        assert box["y"] + box["height"] <= main["y"] + 1  # above the content
        # readable: light text on a dark ground
        colour, ground = page.evaluate(
            "() => { const s = getComputedStyle(document.querySelector('.shadow-banner'));"
            " return [s.color, s.backgroundColor]; }")
        assert colour == "rgb(255, 255, 255)" and ground != "rgba(0, 0, 0, 0)"
    finally:
        context.close()
