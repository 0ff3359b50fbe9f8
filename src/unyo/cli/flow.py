"""`unyo flow`: the flow diagram (運用フロー図) of the shop file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from unyo.cli._common import (
    ConfigOpt,
    checked_shop_file,
    err,
    fail,
    open_store,
    period,
    shop_file,
)
from unyo.clock import JST

app = typer.Typer(help="The flow diagram (運用フロー図) of the shop file.",
                  no_args_is_help=True)


@app.command("draw")
def flow_draw(
        config: ConfigOpt = None,
        output: Annotated[Path | None, typer.Option(
            "--output", "-o", help="Write to this file (default: stdout).")] = None,
        fmt: Annotated[str | None, typer.Option(
            "--format", help="html, svg, pdf, bpmn or mermaid (default: by the suffix of -o, "
                             ".html / .svg / .pdf / .bpmn; else mermaid).",
            show_default=False)] = None,
        counts: Annotated[bool, typer.Option(
            "--counts", help="Put the period's figures on the nodes (from the database).")
        ] = False,
        since: Annotated[str | None, typer.Option(
            help="With --counts: from this day or instant; default 30 days ago.")] = None,
        until: Annotated[str | None, typer.Option(
            help="With --counts: up to this day or instant (exclusive); default now.")] = None,
        compare: Annotated[Path | None, typer.Option(
            "--compare", help="The flow file before the change: draw this one's rules "
                              "added / removed / changed; with --counts, the replay of "
                              "unyo simulate for both.", show_default=False)] = None,
        ) -> None:
    """Draw the flow diagram (運用フロー図) from the shop file: swimlanes on A4 landscape
    as HTML, SVG or PDF, or Mermaid text."""
    from unyo.diagram import build_diagram, diagram_counts, to_html, to_mermaid
    from unyo.diagram.counts import file_sha256
    from unyo.diagram.layout import layout
    from unyo.diagram.pdf import PdfUnavailable, to_pdf
    from unyo.diagram.svg import to_svg

    formats = ("html", "svg", "pdf", "bpmn", "mermaid")
    if fmt is not None and fmt not in formats:
        fail(f"--format: {fmt!r} is not a format (use {', '.join(formats)})")
    if (since or until) and not counts:
        fail("--since and --until give the period of --counts: add --counts")
    suffix = output.suffix.lower() if output is not None else ""
    kind = fmt or {".html": "html", ".htm": "html", ".svg": "svg", ".pdf": "pdf",
                  ".bpmn": "bpmn"}.get(
        suffix, "mermaid")
    if compare is not None and kind not in ("html", "svg", "pdf"):
        fail("--compare draws html, svg or pdf: add --format or -o flow.pdf")
    cfg = checked_shop_file(config, required=False)  # an invalid file draws nothing
    old = shop_file(compare, required=True) if compare is not None else None
    figures = None
    replayed = None
    if counts:
        start, end = period(since, until)
        store = open_store(cfg.database_url)
        try:
            if old is not None:
                from unyo.app.simulate import simulate

                replayed = simulate(store, cfg.shop_id, old.rules, cfg.rules, start, end)
            else:
                figures = diagram_counts(store, cfg.shop_id, start, end)
        finally:
            store.close()
    title = f"{cfg.shop_name or cfg.shop_id} 運用フロー図"
    if old is not None:
        from unyo.diagram.compare import compare_diagram

        diagram = compare_diagram(cfg, old, replayed, source_hash=file_sha256(cfg.path),
                                  old_source=str(compare))
        title += "（変更案）"
    else:
        diagram = build_diagram(cfg, figures, source_hash=file_sha256(cfg.path))
    until_ = (figures.report.until if figures is not None
              else replayed.until if replayed is not None else None)
    made = until_.astimezone(JST).strftime("%Y-%m-%d %H:%M") if until_ is not None else ""
    data: bytes
    if kind == "html":
        data = to_html(diagram, title=title).encode("utf-8")
    elif kind == "bpmn":
        from unyo.diagram.bpmn import to_bpmn

        data = to_bpmn(diagram, title=title).encode("utf-8")
    elif kind == "mermaid":
        data = to_mermaid(diagram).encode("utf-8")
    elif kind == "svg":
        data = to_svg(layout(diagram, title=title, made=made)).encode("utf-8")
    else:
        try:
            data = to_pdf(layout(diagram, title=title, made=made))
        except PdfUnavailable as e:
            fail(str(e))
    if output is None:
        if kind == "pdf":
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data.decode("utf-8"))
        return
    try:
        output.write_bytes(data)
    except OSError as e:
        fail(f"cannot write {output}: {e.strerror or e}")
    err.print(f"wrote {output} ({kind}: {len(cfg.rules)} rules"
              f"{', with counts' if counts else ''}"
              f"{f', compared with {compare}' if compare is not None else ''})",
              highlight=False, markup=False, soft_wrap=True)
