"""The HTML diagram in a real Chromium: the swimlane SVG inline with every rule's node,
no script, no console errors, no request leaving the file, shop text shown and never run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.diagram.conftest import DAY, HOSTILE_NAMES
from unyo.adapters.db import Store
from unyo.diagram import build_diagram, diagram_counts, to_html
from unyo.flow import Config


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def render(browser: Any, html: str, tmp_path: Path, name: str) -> tuple[Any, str, list[str]]:
    """Open the file as a shop would (file://); the page, the SVG's text and every problem."""
    path = tmp_path / f"{name}.html"
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:"))
            else problems.append(f"request: {r.url}"))
    page.goto(path.as_uri())
    page.wait_for_selector("#diagram svg", state="attached")
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    text = page.eval_on_selector_all("#diagram svg", "s => s.map(x => x.textContent).join('')")
    return page, squeeze(text), problems


def test_the_ten_rule_flow_renders_with_every_rule(browser: Any, init_config: Config,
                                                    tmp_path: Path):
    html = to_html(build_diagram(init_config), title="お茶の店 運用フロー図")
    page, text, problems = render(browser, html, tmp_path, "init")
    for rule in init_config.rules:
        assert squeeze(rule.name) in text
    assert squeeze("備考欄（お客様の記入）あり → 確認待ち「備考欄に要望: …」") in text
    assert squeeze("オフ（mail.enabled: false）") in text  # a step turned off, shown as such
    for lane in ("楽天RMS", "unyo（受注処理）", "倉庫", "購入者"):
        assert lane in text
    assert page.locator("#diagram svg g.node.rule").count() == len(init_config.rules)
    assert page.locator("#diagram svg").count() == 1  # one A4 page
    assert page.locator("script").count() == 0
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    assert re.search(rb"/MediaBox \[0 0 84[12]\.\d+ 59[45]\.\d+\]", pdf)
    page.close()
    assert problems == []


def test_the_whole_init_flow_renders_every_rule_over_its_pages(
        browser: Any, whole_init_config: Config, tmp_path: Path):
    html = to_html(build_diagram(whole_init_config), title="お茶の店 運用フロー図")
    page, text, problems = render(browser, html, tmp_path, "init-all")
    assert len(whole_init_config.rules) == 16
    for rule in whole_init_config.rules:
        assert squeeze(rule.name) in text
    assert squeeze("ソーシャルギフトの受取人の住所入力待ち") in text
    assert page.locator("#diagram svg g.node.rule").count() == 16
    page.close()
    assert problems == []


def test_the_default_flow_renders(browser: Any, default_config: Config, tmp_path: Path):
    page, text, problems = render(browser, to_html(build_diagram(default_config), title="x"),
                                  tmp_path, "default")
    assert "ルールなし" in text and "受注取込" in text and "入金待ち" in text
    page.close()
    assert problems == []


def test_hostile_rule_names_are_shown_as_written_and_never_run(browser: Any,
                                                               hostile_config: Config,
                                                               tmp_path: Path):
    page, text, problems = render(browser, to_html(build_diagram(hostile_config),
                                                   title="<script>alert(3)</script>"),
                                  tmp_path, "hostile")
    for name in HOSTILE_NAMES:
        assert squeeze(name) in text, name
    svg = page.locator("#diagram svg")
    assert svg.locator("script").count() == 0 and svg.locator("img").count() == 0
    assert page.locator("script").count() == 0 and page.locator("img").count() == 0
    assert page.title() == "<script>alert(3)</script>"
    page.close()
    assert problems == []


@pytest.mark.usefixtures("shop")
def test_the_counts_and_the_bottleneck_mark_render(browser: Any, store: Store,
                                                   shop: tuple[Config, Path], tmp_path: Path):
    cfg, _ = shop
    d = build_diagram(cfg, diagram_counts(store, "shop", *DAY))
    page, text, problems = render(browser, to_html(d, title="テスト店"), tmp_path, "counts")
    assert squeeze("待ち 1件 · 通過 3件 · 手作業 3回 · p50 60分") in text
    assert squeeze("⚠ ボトルネック") in text
    assert page.locator("#diagram svg g.node.bottleneck").count() == 1
    assert squeeze("自動化率") in text  # the title block
    page.close()
    assert problems == []
