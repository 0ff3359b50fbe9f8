"""The HTML file: self-contained, Mermaid inlined, every text escaped, A4 landscape."""

from __future__ import annotations

import json
import re
from datetime import datetime

from unyo.clock import JST
from unyo.diagram import MERMAID_JS, MERMAID_VERSION, build_diagram, to_html, to_mermaid
from unyo.flow import Config


def page_without_mermaid(html: str) -> str:
    """The page with the inlined bundle cut out (its strings mention URLs and tags)."""
    start = html.index("<script>", html.index('id="diagram-source"'))
    end = html.index("</script>", start)
    return html[:start] + html[end:]


def test_the_vendored_mermaid_is_whole_licensed_and_safe_to_inline():
    text = MERMAID_JS.read_text(encoding="utf-8")
    assert len(text) > 1_000_000 and "mermaid" in text[:200]
    assert not re.search(r"</script|<script", text, re.IGNORECASE)  # inlining cannot break
    static = MERMAID_JS.parent
    assert "MIT" in (static / "mermaid.LICENSE").read_text(encoding="utf-8")
    assert f"Mermaid {MERMAID_VERSION}" in (static / "README.md").read_text(encoding="utf-8")


def test_the_page_is_one_file_that_fetches_nothing(init_config: Config):
    html = to_html(build_diagram(init_config), title="お茶の店 運用フロー図")
    assert MERMAID_JS.read_text(encoding="utf-8")[:5000] in html  # inlined, not linked
    own = page_without_mermaid(html)
    assert not re.search(r"""\b(src|href)\s*=|<link|@import|url\(""", own, re.IGNORECASE)
    assert "default-src 'none'" in own  # and the browser is told so
    assert "@page { size: A4 landscape" in own
    assert 'securityLevel: "strict"' in own


def test_the_mermaid_source_travels_as_inert_json(hostile_config: Config):
    d = build_diagram(hostile_config)
    html = to_html(d, title="t")
    m = re.search(r'<script type="application/json" id="diagram-source">(.*?)</script>', html,
                  re.S)
    assert m is not None
    assert "<" not in m.group(1) and ">" not in m.group(1)
    assert json.loads(m.group(1)) == to_mermaid(d)


def test_title_shop_name_and_rule_texts_are_escaped(hostile_config: Config):
    html = page_without_mermaid(to_html(build_diagram(hostile_config),
                                        title="<script>alert('t')</script>"))
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;t&#39;)" in html
    assert "<b>悪" not in html and "&lt;b&gt;悪&#34;意&lt;/b&gt;" in html  # the shop name
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html


def test_the_header_names_the_shop_the_period_and_when_it_was_made(init_config: Config):
    html = to_html(build_diagram(init_config), title="お茶の店 運用フロー図",
                   generated_at=datetime(2026, 11, 27, 9, 30, tzinfo=JST))
    assert "ショップ：お茶の店（tea）" in html and "作成：2026-11-27 09:30（JST）" in html
    assert "凡例" in html and "初回高額" in page_without_mermaid(html)  # the table too
