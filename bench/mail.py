"""Mail benchmark: N buyer mails composed and sent to the SMTP sink over real SMTP.

Generated orders (the sandbox generator's mix: gifts, several destinations, COD, bank
transfers, hostile text...) each get a サンクスメール and a 発送連絡メール (every package
shipped with a tracking number), written by the shop's `SmtpMailer` with the shipped
templates of the `unyo init` shop file, then sent over loopback to the sandbox SMTP sink,
which runs in a child process: this process's CPU is the engine's alone. Mails go in
batches of `mail.batch` (50) over one connection each, as the outbox sends them.

Prints CPU per mail (and wall) for compose (template render + message) and for send
(handing the composed mail to smtplib, SMTP round trips included in wall), and a floor
measured in the same run:

- compose floor: a plain (unsandboxed) Jinja2 environment rendering the same template
  sources from contexts built beforehand, and the body encoded (UTF-8, base64) — the
  text the mail carries, without building the context or the headers;
- send floor: `smtplib.SMTP.sendmail` of bytes built beforehand, the same sizes and
  envelopes as the engine's mails, over the same kind of connection in the same batches.

    python bench/mail.py [--orders 1500] [--seed 1] [--profile FILE]
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import multiprocessing
import pstats
import smtplib
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from jinja2 import Environment

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb, row
from unyo.adapters.mail import MailTemplates, SmtpMailer
from unyo.adapters.mail.templates import (
    date_ja,
    datetime_ja,
    default_source,
    mail_context,
    one_line,
    yen,
)
from unyo.adapters.rakuten.mapping import MappingError, channel_order_from_rms
from unyo.clock import JST
from unyo.domain import MailKind, Order, Shipment, Stage
from unyo.flow import Config
from unyo.flow.config import parse_config, render_init
from unyo.sandbox.generator import generate_orders

NOW = datetime(2026, 12, 4, 10, 30, tzinfo=JST)
CARRIERS = ("1001", "1002", "1003", "1000")  # ヤマト, 佐川, 日本郵便, その他


def _sink_child(conn: Connection) -> None:
    from unyo.sandbox.smtp_sink import SmtpSink

    with SmtpSink() as sink:
        conn.send(sink.port)
        while conn.recv() == "count":
            conn.send(len(sink.messages()))


@contextmanager
def sink_process() -> Iterator[tuple[int, Connection]]:
    """The sandbox SMTP sink in a child process; yields its port and a pipe ("count")."""
    ctx = multiprocessing.get_context("spawn")
    conn, child = ctx.Pipe()
    proc = ctx.Process(target=_sink_child, args=(child,), daemon=True)
    proc.start()
    try:
        if not conn.poll(60):
            raise RuntimeError("the SMTP sink did not start")
        yield conn.recv(), conn
    finally:
        conn.send("stop")
        proc.join(10)


def shop_config(port: int) -> Config:
    """The shop file `unyo init` writes, mail on and pointed at the sink."""
    config = parse_config(render_init("bench", "ベンチ店"))
    return replace(config, mail=replace(config.mail, enabled=True, host="127.0.0.1", port=port,
                                        starttls=False, auth=False,
                                        from_address="info@bench-shop.example"))


def make_orders(n: int, seed: int) -> list[Order]:
    """n generated orders, placed over the day before NOW."""
    orders = []
    for g in generate_orders(n, seed=seed, start=NOW - timedelta(days=1), end=NOW):
        try:
            channel = channel_order_from_rms(g.model)
        except MappingError:
            continue
        orders.append(Order(shop="bench", channel=channel, stage=Stage.processing, id=0))
    return orders


def shipped(order: Order) -> Order:
    """The order with a shipment (carrier, tracking number, date) on every package."""
    c = order.channel
    packages = tuple(replace(p, shipments=(Shipment(
        None, CARRIERS[(p.basket_id + i) % len(CARRIERS)], f"{4000_0000_0000 + p.basket_id}",
        date(2026, 12, 4)),)) for i, p in enumerate(c.packages))
    return replace(order, channel=replace(c, packages=packages))


@dataclass
class Figures:
    mails: int
    compose_cpu: float
    compose_wall: float
    render_cpu: float
    send_cpu: float
    send_wall: float
    floor_compose_cpu: float
    floor_send_cpu: float
    floor_send_wall: float
    received: int
    wire_bytes: int


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def run(n_orders: int, seed: int = 1, profile: cProfile.Profile | None = None) -> Figures:
    orders = make_orders(n_orders, seed)
    work = [(MailKind.thanks, o) for o in orders] + \
        [(MailKind.shipping, shipped(o)) for o in orders]
    with sink_process() as (port, sink):
        config = shop_config(port)
        settings = config.mail
        templates = MailTemplates.load(settings, config.shop_name)
        mailer = SmtpMailer(settings, templates)

        # the engine: compose every mail, then send them in batches over one connection each
        if profile is not None:
            profile.enable()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        messages = [mailer.compose(kind, order, NOW) for kind, order in work]
        compose_cpu = time.process_time() - cpu0
        compose_wall = time.perf_counter() - wall0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for batch in _batches(messages, settings.batch):
            with mailer.session() as session:
                for message in batch:
                    session.send(message)
        send_cpu = time.process_time() - cpu0
        send_wall = time.perf_counter() - wall0
        if profile is not None:
            profile.disable()

        # of which the templates (a pass of its own, so the figures above stay whole)
        cpu0 = time.process_time()
        for kind, order in work:
            templates.render(kind, order)
        render_cpu = time.process_time() - cpu0

        # floors, with their inputs made beforehand (not counted)
        wires = [m.as_bytes() for m in messages]
        envelope_to = [one_line(order.channel.buyer.email, 320) for _, order in work]
        contexts = [(kind, mail_context(order, templates.shop_name)) for kind, order in work]
        floor_compose_cpu = _floor_compose(contexts)
        floor_send_cpu, floor_send_wall = _floor_send(port, settings.from_address,
                                                      envelope_to, wires, settings.batch)
        sink.send("count")
        received = int(sink.recv())
    return Figures(len(work), compose_cpu, compose_wall, render_cpu, send_cpu, send_wall,
                   floor_compose_cpu, floor_send_cpu, floor_send_wall, received,
                   sum(len(w) for w in wires))


def _floor_compose(contexts: list[tuple[MailKind, dict[str, Any]]]) -> float:
    """CPU seconds of a plain Jinja2 render of the same sources, body encoded as base64."""
    env = Environment(autoescape=False, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters.update(yen=yen, date_ja=date_ja, datetime_ja=datetime_ja, one_line=one_line)
    compiled = {kind: env.from_string(default_source(kind)) for kind in MailKind}
    cpu0 = time.process_time()
    for kind, context in contexts:
        text = compiled[kind].render(context)
        base64.encodebytes(text.partition("\n")[2].encode("utf-8"))
    return time.process_time() - cpu0


def _floor_send(port: int, mail_from: str, rcpt: list[str], wires: list[bytes],
                batch: int) -> tuple[float, float]:
    """CPU and wall seconds of smtplib sending the same bytes in the same batches."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for part in _batches(range(len(wires)), batch):
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
        smtp.ehlo()
        for i in part:
            smtp.sendmail(mail_from, [rcpt[i]], wires[i])
        smtp.quit()
    return time.process_time() - cpu0, time.perf_counter() - wall0


def print_figures(f: Figures, n_orders: int) -> None:
    ms = 1000 / f.mails
    print(f"bench/mail.py — {n_orders:,} orders generated, {f.mails:,} mails "
          f"({f.mails // 2:,} thanks + {f.mails // 2:,} shipping), "
          f"{f.wire_bytes / f.mails:,.0f} bytes per mail on average")
    print(f"  {'step':<9} {'engine CPU':>11} {'ms/mail':>8} {'wall':>8} {'ms/mail':>8}"
          f" {'floor CPU':>10} {'ms/mail':>8} {'÷ floor':>8}")
    for name, cpu, wall, floor in (
            ("compose", f.compose_cpu, f.compose_wall, f.floor_compose_cpu),
            ("send", f.send_cpu, f.send_wall, f.floor_send_cpu),
            ("both", f.compose_cpu + f.send_cpu, f.compose_wall + f.send_wall,
             f.floor_compose_cpu + f.floor_send_cpu)):
        print(f"  {name:<9} {cpu:>9.2f} s {cpu * ms:>8.3f} {wall:>6.2f} s {wall * ms:>8.3f}"
              f" {floor:>8.2f} s {floor * ms:>8.3f} {cpu / floor:>7.1f}×")
    row("of compose: the templates (render)", f"{f.render_cpu * ms:.3f} ms/mail")
    row("send floor wall (smtplib.sendmail)", f"{f.floor_send_wall * ms:.3f} ms/mail")
    row("engine CPU per order (2 mails)", f"{(f.compose_cpu + f.send_cpu) * 2 * ms:.3f} ms",
        "(sale-day target: ≤ 2 ms per order, whole flow)")
    row("mails accepted by the sink", f"{f.received:,}",
        f"(engine {f.mails:,} + floor {f.mails:,})")
    row("peak RSS", f"{peak_rss_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1500,
                        help="orders to generate; each gets a thanks and a shipping mail")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", metavar="FILE",
                        help="cProfile the engine's compose and send; stats to FILE, top 25 "
                             "printed")
    args = parser.parse_args()
    profile = cProfile.Profile() if args.profile else None
    figures = run(args.orders, args.seed, profile)
    print_figures(figures, args.orders)
    if profile is not None:
        profile.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
