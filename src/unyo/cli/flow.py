"""`unyo flow`: the flow diagram (運用フロー図) of the shop file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from unyo.cli._common import ConfigOpt, checked_shop_file, err, fail, open_store, period

app = typer.Typer(help="The flow diagram (運用フロー図) of the shop file.",
                  no_args_is_help=True)


@app.command("draw")
def flow_draw(
        config: ConfigOpt = None,
        output: Annotated[Path | None, typer.Option(
            "--output", "-o", help="Write to this file (default: stdout).")] = None,
        fmt: Annotated[str | None, typer.Option(
            "--format", help="mermaid or html (default: html when -o ends in .html, "
                             "else mermaid).", show_default=False)] = None,
        counts: Annotated[bool, typer.Option(
            "--counts", help="Put the period's figures on the nodes (from the database).")
        ] = False,
        since: Annotated[str | None, typer.Option(
            help="With --counts: from this day or instant; default 30 days ago.")] = None,
        until: Annotated[str | None, typer.Option(
            help="With --counts: up to this day or instant (exclusive); default now.")] = None,
        ) -> None:
    """Draw the flow diagram (運用フロー図) from the shop file, as Mermaid or one HTML file."""
    from unyo.diagram import build_diagram, diagram_counts, to_html, to_mermaid

    if fmt not in (None, "mermaid", "html"):
        fail(f"--format: {fmt!r} is not a format (use mermaid or html)")
    if (since or until) and not counts:
        fail("--since and --until give the period of --counts: add --counts")
    cfg = checked_shop_file(config, required=False)  # an invalid file draws nothing
    figures = None
    if counts:
        start, end = period(since, until)
        store = open_store(cfg.database_url)
        try:
            figures = diagram_counts(store, cfg.shop_id, start, end)
        finally:
            store.close()
    diagram = build_diagram(cfg, figures)
    as_html = fmt == "html" or (fmt is None and output is not None
                                and output.suffix.lower() in (".html", ".htm"))
    text = (to_html(diagram, title=f"{cfg.shop_name or cfg.shop_id} 運用フロー図")
            if as_html else to_mermaid(diagram))
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as e:
        fail(f"cannot write {output}: {e.strerror or e}")
    err.print(f"wrote {output} ({'html' if as_html else 'mermaid'}: {len(cfg.rules)} rules"
              f"{', with counts' if counts else ''})", highlight=False, markup=False,
              soft_wrap=True)
