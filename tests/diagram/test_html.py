"""The HTML file: self-contained, the SVG inline, no script, every text escaped, A4."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import unyo.diagram
from unyo.clock import JST
from unyo.diagram import build_diagram, to_html
from unyo.flow import Config


def test_the_page_is_one_file_that_fetches_and_runs_nothing(init_config: Config):
    html = to_html(build_diagram(init_config), title="お茶の店 運用フロー図")
    assert not re.search(r"""<script|\b(src|href)\s*=|<link|@import|url\(""", html,
                         re.IGNORECASE)
    assert "default-src 'none'" in html  # and the browser is told so
    assert "@page { size: A4 landscape" in html
    assert html.count("<svg ") == 1 and 'class="unyo-page"' in html
    assert len(html) < 500_000


def test_no_mermaid_bundle_is_shipped_any_more():
    # the dashboard draws the swimlane SVG; `--format mermaid` is text and needs no script
    package = Path(unyo.diagram.__file__).parent
    assert not list(package.rglob("*.js"))
    assert not list((package.parent / "web").rglob("mermaid*"))


def test_title_shop_name_and_rule_texts_are_escaped(hostile_config: Config):
    html = to_html(build_diagram(hostile_config), title="<script>alert('t')</script>")
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;t&#39;)" in html
    assert "<b>悪" not in html and "&lt;b&gt;悪&#34;意&lt;/b&gt;" in html  # the shop name
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html


def test_the_header_names_the_shop_the_period_and_when_it_was_made(init_config: Config):
    html = to_html(build_diagram(init_config), title="お茶の店 運用フロー図",
                   generated_at=datetime(2026, 11, 27, 9, 30, tzinfo=JST))
    assert "ショップ：お茶の店（tea）" in html and "作成：2026-11-27 09:30（JST）" in html
    assert "凡例" in html and "初回高額" in html  # the table too
