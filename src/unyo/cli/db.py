"""`unyo db`: database maintenance."""

from __future__ import annotations

import typer

from unyo.cli._common import ConfigOpt, open_store, out, shop_file

app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Apply database migrations (also done automatically on start)."""
    cfg = shop_file(config)
    open_store(cfg.database_url).close()  # opening migrates
    out.print("database is up to date")
