"""The drawing as printed: the SVG measured in Chromium (getBBox, font sizes at print
size), the PDF read back (pages and their size), and `--format pdf` without Chromium."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.diagram.test_layout import thirty_rules
from unyo.cli import app
from unyo.diagram import build_diagram, layout, to_pdf, to_svg
from unyo.flow import Config
from unyo.flow.config import render_init

MEASURE = """svg => {
  const pt = 72 / 96;  // CSS px to pt; the page is drawn at 297 mm wide
  const box = el => { const r = el.getBoundingClientRect();
                      return {x: r.left, y: r.top, r: r.right, b: r.bottom}; };
  const pages = [...svg.querySelectorAll('svg.unyo-page')].concat(
      svg.matches('svg.unyo-page') ? [svg] : []);
  return pages.map(p => ({
    width_mm: p.getBoundingClientRect().width * 25.4 / 96,
    bands: [...p.querySelectorAll('rect.band')].map(b => ({lane: b.dataset.lane, ...box(b)})),
    nodes: [...p.querySelectorAll('g.node')].map(g => ({
      id: g.dataset.id, lane: g.dataset.lane, group: g.classList.contains('group'),
      rect: box(g.querySelector('rect')),
      texts: [...g.querySelectorAll('text')].map(box)})),
    labels: [...p.querySelectorAll('g.arrow > g.label')].map(box),
    edges: [...p.querySelectorAll('g.arrow')].map(a => {
      const path = a.querySelector('path'); const m = path.getScreenCTM();
      const pts = path.getAttribute('d').slice(1).split(' L').map(s => s.split(' ').map(Number))
        .map(([x, y]) => ({x: m.a * x + m.e, y: m.d * y + m.f}));
      return {from: a.dataset.from, to: a.dataset.to, pts}; }),
    smallest_pt: Math.min(...[...p.querySelectorAll('text')].map(
      t => parseFloat(t.getAttribute('font-size')) * p.getScreenCTM().a * pt)),
  }));
}"""


def inside(outer: dict[str, float], inner: dict[str, float], slack: float = 0.6) -> bool:
    return (inner["x"] >= outer["x"] - slack and inner["y"] >= outer["y"] - slack
            and inner["r"] <= outer["r"] + slack and inner["b"] <= outer["b"] + slack)


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["x"] < b["r"] - 0.3 and b["x"] < a["r"] - 0.3 and a["y"] < b["b"] - 0.3 \
        and b["y"] < a["b"] - 0.3


def crosses(p: dict[str, float], q: dict[str, float], r: dict[str, float]) -> bool:
    x1, x2 = sorted((p["x"], q["x"]))
    y1, y2 = sorted((p["y"], q["y"]))
    r = {"x": r["x"] + 1, "y": r["y"] + 1, "r": r["r"] - 1, "b": r["b"] - 1}
    return x1 < r["r"] and r["x"] < x2 + 0.01 and y1 < r["b"] and r["y"] < y2 + 0.01


def measure(browser: Any, svg: str, tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "flow.svg"
    path.write_text(svg, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(path.as_uri())
    pages: list[dict[str, Any]] = page.eval_on_selector("svg", MEASURE)
    page.close()
    return pages


@pytest.mark.parametrize("which", ["init", "thirty"])
def test_the_rendered_svg_keeps_the_rules_of_the_drawing(browser: Any, init_config: Config,
                                                         tmp_path: Path, which: str):
    cfg = init_config if which == "init" else thirty_rules()
    pages = measure(browser, to_svg(layout(build_diagram(cfg))), tmp_path)
    assert len(pages) == (1 if which == "init" else 2)
    for p in pages:
        assert abs(p["width_mm"] - 297) < 0.5  # A4 landscape, as printed
        assert p["smallest_pt"] >= 7.0
        assert [b["lane"] for b in p["bands"]] == ["rms", "unyo", "warehouse", "buyer"]
        for a, b in zip(p["bands"], p["bands"][1:], strict=False):
            assert a["b"] <= b["y"] + 0.01
        band = {b["lane"]: b for b in p["bands"]}
        for n in p["nodes"]:
            assert inside(band[n["lane"]], n["rect"]), n["id"]
            for t in n["texts"]:  # the real font's text inside its box
                assert inside(n["rect"], t), n["id"]
        boxes = [n for n in p["nodes"] if not n["group"]]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert not overlap(a["rect"], b["rect"]), (a["id"], b["id"])
            for lb in p["labels"]:
                assert not overlap(a["rect"], lb), a["id"]
        for i, a in enumerate(p["labels"]):
            for b in p["labels"][i + 1:]:
                assert not overlap(a, b)
        for e in p["edges"]:
            for q, r in zip(e["pts"], e["pts"][1:], strict=False):
                for n in p["nodes"]:
                    assert not crosses(q, r, n["rect"]), (e["from"], e["to"], n["id"])


def pdf_pages(data: bytes) -> list[tuple[float, float]]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return [(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages]


def test_the_pdf_is_one_a4_landscape_page_for_the_init_file(init_config: Config):
    sizes = pdf_pages(to_pdf(layout(build_diagram(init_config))))
    assert len(sizes) == 1
    w, h = sizes[0]
    assert abs(w - 841.89) < 2 and abs(h - 595.28) < 2  # A4 landscape in pt


def test_thirty_rules_print_on_two_a4_landscape_pages():
    lay = layout(build_diagram(thirty_rules()))
    sizes = pdf_pages(to_pdf(lay))
    assert len(sizes) == len(lay.pages) == 2
    assert all(abs(w - 841.89) < 2 and abs(h - 595.28) < 2 for w, h in sizes)


runner = CliRunner()


@pytest.fixture
def shop_file(tmp_path: Path) -> Path:
    path = tmp_path / "unyo.yaml"
    path.write_text(render_init("tea", "お茶の店"), encoding="utf-8")
    return path


def test_flow_draw_writes_the_pdf_and_the_svg(shop_file: Path, tmp_path: Path):
    import hashlib

    pdf, svg = tmp_path / "flow.pdf", tmp_path / "flow.svg"
    assert runner.invoke(app, ["flow", "draw", "-c", str(shop_file), "-o", str(pdf)]
                         ).exit_code == 0
    assert len(pdf_pages(pdf.read_bytes())) == 2  # unyo init's sixteen rules
    again = tmp_path / "again.svg"
    for out in (svg, again):
        result = runner.invoke(app, ["flow", "draw", "-c", str(shop_file), "-o", str(out)])
        assert result.exit_code == 0, result.stderr
    assert svg.read_bytes() == again.read_bytes()  # the same file, the same bytes
    digest = hashlib.sha256(shop_file.read_bytes()).hexdigest()
    assert f"sha256 {digest[:16]}" in svg.read_text(encoding="utf-8")


def test_without_chromium_pdf_is_a_japanese_error_and_nothing_is_written(
        shop_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("UNYO_CHROMIUM", str(tmp_path / "no-chromium"))
    out = tmp_path / "flow.pdf"
    result = runner.invoke(app, ["flow", "draw", "-c", str(shop_file), "-o", str(out),
                                 "--format", "pdf"])
    assert result.exit_code != 0
    assert "Chromium が必要です" in result.stderr
    assert not out.exists() and result.stdout == ""
