"""Render the pictures in docs/diagram.md from the real thing (issue 19).

1. A sandbox day through the engine: `unyo demo`'s day (300 orders, seed 1, the
   `unyo init` rules), as fast as it runs, into a SQLite file.
2. `unyo flow draw --counts` of the `unyo init` file (mail and the warehouse on, as in
   the demo; nothing else changed) over that day and the days until shipped
   → flow-init.pdf, and the same page as a PNG (Chromium, A4 landscape at 110 dpi).
3. `unyo flow draw --compare` of a proposed file (住所確認 removed, 初回高額 raised to
   80,000円, a new rule) against it, with the replay's figures → flow-compare.png.

    python docs/images/render.py [OUT_DIR]   # default: docs/images

tests/diagram/test_docs_images.py runs it into a temporary folder and checks what it
draws. Needs Debian's chromium (Playwright drives it; nothing is downloaded).
"""

from __future__ import annotations

import contextlib
import sys
from datetime import datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from unyo.cli import app
from unyo.clock import JST
from unyo.demo import run_demo
from unyo.diagram.pdf import _FLAGS, chromium_path
from unyo.flow.config import render_init

DAY = datetime(2026, 12, 1, tzinfo=JST)
A4_LANDSCAPE_PX = (1286, 909)  # 297 × 210 mm at 110 dpi


def proposed(text: str) -> str:
    """The init file with three changes a consultant might propose."""
    start = text.index("  - name: 住所確認")
    end = text.find("\n  - name:", start + 1)
    text = text[:start] + (text[end + 1:] if end != -1 else "")
    text = text.replace("{field: total, op: ge, value: 50000}",
                        "{field: total, op: ge, value: 80000}")
    return text.replace("\nrules:\n", "\nrules:\n"
                        "  - name: 大口注文\n"
                        "    description: 10点以上の注文は在庫を確認\n"
                        "    when: {field: quantity, op: ge, value: 10}\n"
                        "    then:\n"
                        "      - check: 在庫を確認\n", 1)


def _draw(args: list[str]) -> None:
    result = CliRunner().invoke(app, ["flow", "draw", *args])
    if result.exit_code != 0:
        raise RuntimeError(f"unyo flow draw {' '.join(args)}: {result.stderr}")


def _png(svg: Path, png: Path) -> None:
    """In a thread of its own: Playwright's sync API refuses a thread that runs an
    asyncio loop (as a test's browser may)."""
    import threading

    failed: list[BaseException] = []

    def run() -> None:
        try:
            _shoot(svg, png)
        except BaseException as e:  # reported to the caller
            failed.append(e)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if failed:
        raise failed[0]


def _shoot(svg: Path, png: Path) -> None:
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=_FLAGS)
        page = browser.new_page(viewport={"width": A4_LANDSCAPE_PX[0],
                                          "height": A4_LANDSCAPE_PX[1]})
        page.route("**/*", lambda route: route.abort())  # nothing from the network
        page.set_content(f"<html><body style='margin:0'>{svg.read_text(encoding='utf-8')}"
                         "</body></html>")
        page.locator("svg").first.evaluate(
            "s => { s.setAttribute('width', '100%'); s.removeAttribute('height'); }")
        page.locator("svg").first.screenshot(path=str(png))
        browser.close()


def render(out: Path, work: Path, orders: int = 300) -> dict[str, Path]:
    out, work = out.resolve(), work.resolve()
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    db = work / "demo.db"
    run_demo(orders=orders, seed=1, speed=0, database_url=f"sqlite:///{db}", day_start=DAY)
    # the init file as the demo runs it: mail and the warehouse on
    text = (render_init("demo", "unyo デモ店").replace("url: sqlite:///unyo.db",
                                                      f"url: sqlite:///{db}")
            .replace("\n  enabled: false\n  host:", "\n  enabled: true\n  host:")
            .replace('from_address: ""', "from_address: shop@example.jp")
            .replace("\n  enabled: false\n  type: csv", "\n  enabled: true\n  type: csv"))
    current, new = work / "unyo.yaml", work / "proposed.yaml"
    current.write_text(text, encoding="utf-8")
    new.write_text(proposed(text), encoding="utf-8")
    period = ["--counts", "--since", DAY.date().isoformat(),
              "--until", (DAY + timedelta(days=4)).date().isoformat()]
    files = {"pdf": out / "flow-init.pdf", "svg": work / "flow-init.svg",
             "png": out / "flow-init.png", "compare_svg": work / "flow-compare.svg",
             "compare_png": out / "flow-compare.png"}
    with contextlib.chdir(work):  # the corner names the files as a shop has them
        _draw(["-c", current.name, *period, "-o", str(files["pdf"])])
        _draw(["-c", current.name, *period, "-o", str(files["svg"])])
        _draw(["-c", new.name, "--compare", current.name, *period, "-o",
               str(files["compare_svg"])])
    _png(files["svg"], files["png"])
    _png(files["compare_svg"], files["compare_png"])
    return files


if __name__ == "__main__":
    import tempfile

    target = (Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in render(target, Path(tmp)).items():
            if path.parent == target:
                print(f"{name}: {path}")
