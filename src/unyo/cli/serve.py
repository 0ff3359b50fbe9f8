"""`unyo serve`: the dashboard."""

from __future__ import annotations

from typing import Annotated

import typer

from unyo.cli._common import ConfigOpt, err, fail, open_store, shop_file


def serve(config: ConfigOpt = None,
          host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(min=1, max=65535)] = 8080,
          insecure_cookie: Annotated[bool, typer.Option(
              help="Session cookie without Secure, for plain http on a loopback host only "
                   "(browsers keep Secure cookies on http://127.0.0.1 anyway).")] = False,
          ) -> None:
    """The dashboard (FastAPI). Put it behind a TLS reverse proxy: docs/dashboard.md."""
    import uvicorn

    from unyo.web import create_app
    from unyo.web.server import LOOPBACK, uvicorn_config

    if insecure_cookie and host not in LOOPBACK:
        fail("--insecure-cookie is only for a loopback --host (127.0.0.1); serve other "
              "hosts through TLS")
    cfg = shop_file(config)
    store = open_store(cfg.database_url)
    from unyo.adapters.db.accounts import Accounts
    from unyo.app.users import Users

    if not Users(Accounts(store.engine)).list():
        err.print("no dashboard users yet: add one with `unyo user add NAME --role admin`",
                  highlight=False, markup=False, soft_wrap=True)
    err.print(f"unyo dashboard for shop {cfg.shop_id} on http://{host}:{port} (Ctrl-C stops)",
              highlight=False, markup=False, soft_wrap=True)
    server = uvicorn.Server(uvicorn_config(create_app(store, cfg,
                                                      secure_cookies=not insecure_cookie),
                                           host, port))
    try:
        server.run()
    finally:
        store.close()
