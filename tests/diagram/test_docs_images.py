"""The pictures in docs/diagram.md are drawn by `docs/images/render.py` from a sandbox
day through the engine; this runs it (on a smaller day) and reads back what it drew."""

from __future__ import annotations

import importlib.util
import io
import struct
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"


def _render_module() -> Any:
    spec = importlib.util.spec_from_file_location("docs_render", IMAGES / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_docs_pictures_are_drawn_from_a_day_through_the_engine(browser: Any,
                                                                   tmp_path: Path):
    from pypdf import PdfReader

    render = _render_module()
    files = render.render(tmp_path / "out", tmp_path / "work", orders=60)
    reader = PdfReader(io.BytesIO(files["pdf"].read_bytes()))
    for page in reader.pages:  # A4 landscape, in points
        assert abs(float(page.mediabox.width) - 841.89) < 2  # Chromium rounds to its pixels
        assert abs(float(page.mediabox.height) - 595.28) < 2
    text = "".join(p.extract_text() for p in reader.pages)
    assert "unyo デモ店 運用フロー図" in text and "自動化率" in text  # the day's figures
    svg = files["compare_svg"].read_text(encoding="utf-8")
    assert "【削除】" in svg and "【追加】" in svg and "【変更】" in svg
    for key in ("png", "compare_png"):
        width, height = _png_size(files[key].read_bytes())
        pages = round(height / (width * 210 / 297))
        assert pages >= 1 and abs(height - pages * width * 210 / 297) < 0.1 * width
    # and docs/diagram.md shows the committed pictures
    doc = (ROOT / "docs" / "diagram.md").read_text(encoding="utf-8")
    for name in ("flow-init.png", "flow-compare.png"):
        assert f"images/{name}" in doc and (IMAGES / name).is_file()
