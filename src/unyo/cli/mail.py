"""`unyo mail`: buyer mail, rendered as it would be sent."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from unyo.cli._common import ConfigOpt, err, fail, open_store, out, shop_file
from unyo.clock import JST
from unyo.domain import MailKind

app = typer.Typer(help="Buyer mail (サンクスメール, 発送連絡メール).", no_args_is_help=True)


@app.command("preview")
def mail_preview(kind: Annotated[MailKind, typer.Argument(help="thanks, shipping or reminder.")],
                 number: Annotated[str | None, typer.Argument(
                     help="Order number (default: a sample order).")] = None,
                 config: ConfigOpt = None,
                 raw: Annotated[bool, typer.Option(
                     "--raw", help="Print the mail as sent over SMTP (encoded).")] = False,
                 ) -> None:
    """Print the mail unyo would send for an order, rendered with the shop's templates."""
    from dataclasses import replace

    from unyo.adapters.mail import MailTemplateError, MailTemplates, build_message
    from unyo.adapters.mail.templates import sample_orders
    from unyo.clock import SystemClock

    cfg = shop_file(config)
    try:
        templates = MailTemplates.load(cfg.mail, cfg.shop_name or cfg.shop_id)
    except MailTemplateError as e:
        for p in e.problems:
            err.print(p, highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if number is None:
        order = sample_orders(kind)[0]
    else:
        store = open_store(cfg.database_url)
        with store.transaction() as conn:
            found = store.load_order(conn, cfg.shop_id, number)
        store.close()
        if found is None:
            fail(f"no order {number} in shop {cfg.shop_id}", 1)
        order = found
    try:
        mail = templates.render(kind, order)
        settings = cfg.mail if cfg.mail.from_address else replace(
            cfg.mail, from_address="from-address-not-set@example.invalid")
        msg = build_message(settings, templates.shop_name, kind, order, mail,
                            SystemClock().now().astimezone(JST))
    except Exception as e:  # the template failed on this order's data, or no address
        fail(f"cannot render the {kind.value} mail for {order.number}: {e}", 1)
    if raw:
        sys.stdout.write(msg.as_bytes().decode("ascii", "replace").replace("\r\n", "\n"))
        return
    for name in ("From", "To", "Reply-To", "Subject", "Date", "Message-ID"):
        if msg[name] is not None:
            out.print(f"{name}: {msg[name]}", highlight=False, markup=False, soft_wrap=True)
    out.print("", highlight=False)
    out.print(mail.body, highlight=False, markup=False, soft_wrap=True, end="")
