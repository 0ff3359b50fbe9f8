"""The `unyo` command line.

Human output goes through Rich; `--json` prints exactly one JSON document on
stdout and nothing else there (progress, logs and errors go to stderr). The
keys of those documents are the product's interface: add, never rename.

Exit codes: 0 done; 1 the work ran and something failed (a step error, an
unknown order); 2 nothing ran because the input is wrong (shop file, options,
credentials, database URL).

This module builds the root app: the top-level commands in the order `unyo --help`
lists them, then one sub-app per module (`unyo orders` is `cli/orders.py`, ...). What
the commands share (output, errors, the shop file, the store) is `cli/_common.py`.
Nothing below the command line imports this package.
"""

from __future__ import annotations

from typing import Annotated

import typer

from unyo.cli import (
    db,
    demo,
    flow,
    mail,
    orders,
    printing,
    reports,
    sandbox,
    serve,
    shopfile,
    users,
    worker,
)
from unyo.clock import SimClock

app = typer.Typer(help="unyo: order operations for Rakuten Ichiba shops.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
          log_json: Annotated[bool, typer.Option(
              "--log-json", envvar="UNYO_LOG_JSON",
              help="Logs as one JSON object per line (stderr).")] = False) -> None:
    from unyo.logs import setup

    setup(verbose=verbose, json_lines=log_json)


for _command in (shopfile.init, worker.run, shopfile.schema, shopfile.doctor, shopfile.check,
                 reports.simulate, reports.report, demo.demo, serve.serve):
    app.command()(_command)
app.command("print")(printing.print_)
for _name, _sub in (("orders", orders.app), ("mail", mail.app), ("flow", flow.app),
                    ("sandbox", sandbox.app), ("db", db.app), ("user", users.app)):
    app.add_typer(_sub, name=_name)


def main() -> None:
    app()


__all__ = ["SimClock", "app", "main"]
