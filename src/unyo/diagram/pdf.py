"""The drawing as PDF, printed by a real browser: Debian's Chromium, driven by Playwright.

Each page of the `Layout` is one A4 landscape sheet (`page.pdf(format="A4",
landscape=True)`), the SVG drawn as vectors, text kept as text. Nothing is fetched:
the document is given to the page as a string, and every request it could still make
is aborted. Chromium is found on the PATH (`chromium`, `chromium-browser`) or named by
`UNYO_CHROMIUM`; without it, or without Playwright (`pip install 'unyo[pdf]'`), the
caller gets `PdfUnavailable` with a message in Japanese, and nothing is written.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from unyo.diagram.layout import Layout
from unyo.diagram.svg import page_svg

__all__ = ["PdfUnavailable", "chromium_path", "html_to_pdf", "pdf_document", "to_pdf"]

_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
          "--disable-component-update", "--disable-sync"]


class PdfUnavailable(RuntimeError):
    """No browser to print with: the message says what to install."""


def chromium_path() -> str | None:
    named = os.environ.get("UNYO_CHROMIUM")
    if named:
        return named if os.path.isfile(named) and os.access(named, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def pdf_document(lay: Layout) -> str:
    """The pages as one HTML document sized for print: a sheet per page, no margins."""
    pages = "".join(f'<div class="sheet">{page_svg(p)}</div>' for p in lay.pages)
    return ('<!doctype html><html lang="ja"><head><meta charset="utf-8">'
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'\">"
            "<style>@page{size:A4 landscape;margin:0}html,body{margin:0;padding:0}"
            ".sheet{width:297mm;height:209.5mm;overflow:hidden;break-after:page}"
            ".sheet:last-child{break-after:auto}.sheet svg{display:block;width:297mm;"
            "height:209.5mm}*{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
            f"</style></head><body>{pages}</body></html>")


def to_pdf(lay: Layout) -> bytes:
    """The PDF's bytes. Raises `PdfUnavailable` when there is no Chromium to print with."""
    return html_to_pdf(pdf_document(lay), landscape=True)


def html_to_pdf(document: str, *, landscape: bool = False) -> bytes:
    """Any self-contained HTML document printed to A4 by Chromium (the page's own CSS
    sets the margins: `@page`). Nothing is fetched. Raises `PdfUnavailable` when there is
    no Chromium or Playwright. Used by the drawing and by the 納品書 (packing slips)."""
    path = chromium_path()
    if path is None:
        raise PdfUnavailable("PDF を作るには Chromium が必要です（apt-get install chromium）。"
                             "見つかりませんでした（PATH の chromium、または UNYO_CHROMIUM）")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise PdfUnavailable("PDF を作るには Playwright が必要です"
                             "（pip install 'unyo[pdf]'）") from None

    def refuse(route: Any) -> None:
        route.abort()

    def run() -> bytes:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=path, headless=True, args=_FLAGS)
            try:
                page = browser.new_page()
                page.route("**/*", refuse)  # the document is a string: nothing to fetch
                page.set_content(document, wait_until="load")
                return page.pdf(format="A4", landscape=landscape, print_background=True,
                                prefer_css_page_size=True,
                                margin={"top": "0", "right": "0", "bottom": "0", "left": "0"})
            finally:
                browser.close()

    # Playwright's sync API refuses a thread that runs an asyncio loop (a web request, a
    # test's browser): it gets a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()
