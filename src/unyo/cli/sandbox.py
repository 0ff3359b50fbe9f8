"""`unyo sandbox`: the RMS, SMTP and warehouse emulators, served on 127.0.0.1."""

from __future__ import annotations

import signal
import threading
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from unyo.cli._common import err, fail, instant
from unyo.clock import JST

app = typer.Typer(help="Sandbox servers that speak the real protocols.",
                  no_args_is_help=True)


@app.command("rms")
def sandbox_rms(port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8790,
                orders: Annotated[int, typer.Option(min=0, help="Orders to generate.")] = 200,
                seed: Annotated[int, typer.Option()] = 1) -> None:
    """The RMS order API emulator on 127.0.0.1 (real clock, orders of the last day).

    Accepts the credentials in RMS_SERVICE_SECRET / RMS_LICENSE_KEY, or the demo
    values it prints when those are unset. Stops on Ctrl-C or SIGTERM.
    """
    import os
    import signal
    import threading

    from unyo.clock import SystemClock
    from unyo.demo import DEMO_LICENSE_KEY, DEMO_SERVICE_SECRET
    from unyo.sandbox.generator import generate_orders
    from unyo.sandbox.rms_emulator import RmsEmulator, RmsEmulatorServer

    clock = SystemClock()
    secret = os.environ.get("RMS_SERVICE_SECRET") or DEMO_SERVICE_SECRET
    key = os.environ.get("RMS_LICENSE_KEY") or DEMO_LICENSE_KEY
    now = clock.now()
    emulator = RmsEmulator(clock, service_secret=secret, license_key=key,
                           orders=generate_orders(orders, seed=seed,
                                                  start=now - timedelta(days=1), end=now),
                           seed=seed)
    server = RmsEmulatorServer(emulator, port=port)
    try:
        server.start()
    except OSError as e:
        fail(f"cannot listen on 127.0.0.1:{port}: {e.strerror}")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        err.print(f"RMS emulator on {server.base_url} with {orders} orders "
                  f"(UNYO_RMS_BASE_URL={server.base_url})", highlight=False, markup=False,
                  soft_wrap=True)
        # Only demo values are ever printed, never credentials from the environment.
        demo_values = [f"{name}={value}" for name, value, demo in (
            ("RMS_SERVICE_SECRET", secret, DEMO_SERVICE_SECRET),
            ("RMS_LICENSE_KEY", key, DEMO_LICENSE_KEY)) if value == demo]
        if demo_values:
            err.print(f"credentials: {' '.join(demo_values)}", highlight=False, markup=False,
                      soft_wrap=True)
        with suppress(KeyboardInterrupt):
            while not stopped.wait(0.5):
                pass
    finally:
        server.stop()


@app.command("smtp")
def sandbox_smtp(port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8025,
                 quiet: Annotated[bool, typer.Option(
                     help="Do not print a line per mail.")] = False) -> None:
    """An SMTP server on 127.0.0.1 that keeps every mail (no TLS, no AUTH).

    Point the shop file at it (mail.host 127.0.0.1, mail.port P, starttls and auth
    false). Prints one line per accepted mail on stderr. Stops on Ctrl-C or SIGTERM.
    """
    from unyo.sandbox.smtp_sink import SmtpSink

    try:
        sink = SmtpSink(port=port).start()
    except (OSError, RuntimeError) as e:
        fail(f"cannot listen on 127.0.0.1:{port}: {e}")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    err.print(f"SMTP sink on 127.0.0.1:{sink.port} (mail.host: 127.0.0.1, mail.port: "
              f"{sink.port}, mail.starttls: false, mail.auth: false)", highlight=False,
              markup=False, soft_wrap=True)
    shown = 0
    try:
        with suppress(KeyboardInterrupt):
            while True:
                stop = stopped.wait(0.5)
                received = sink.messages()
                for m in received[shown:] if not quiet else ():
                    err.print(f"{m.received_at.astimezone(JST):%H:%M:%S} {m.kind or 'mail'} "
                              f"{m.mail_from} → {', '.join(m.rcpt_tos)}: "
                              f"{m.message['Subject']}", highlight=False, markup=False,
                              soft_wrap=True)
                shown = len(received)
                if stop:
                    break
    finally:
        sink.stop()


@app.command("warehouse")
def sandbox_warehouse(
        directory: Annotated[Path, typer.Option(
            "--dir", help="The exchange folder (warehouse.folder of the shop file).")],
        now: Annotated[str | None, typer.Option(
            help="Start the warehouse's clock at this instant (e.g. 2026-11-27T10:55), "
                 "then run in real time; default: the real clock.")] = None,
        stockout_rate: Annotated[float, typer.Option(
            min=0.0, max=1.0, help="Share of packages answered 出荷不可: 欠品.")] = 0.02,
        seed: Annotated[int, typer.Option()] = 1) -> None:
    """A warehouse system on the CSV folder exchange: takes requests/, ships at the
    11:00 and 15:00 JST waves (not on Sundays and holidays), writes results/ in cp932.

    Stops on Ctrl-C or SIGTERM.
    """
    from unyo.clock import Clock, SystemClock
    from unyo.sandbox.warehouse_emulator import WarehouseEmulator
    from unyo.wiring import OffsetClock

    clock: Clock = OffsetClock(instant(now)) if now else SystemClock()
    try:
        wms = WarehouseEmulator(directory, clock, seed=seed, stockout_rate=stockout_rate)
    except OSError as e:
        fail(f"cannot use {directory}: {e.strerror or e}")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    err.print(f"warehouse on {directory.resolve()} (requests/ → results/, waves 11:00 and "
              "15:00 JST)", highlight=False, markup=False, soft_wrap=True)
    shown = 0
    with suppress(KeyboardInterrupt):
        while True:
            stop = stopped.wait(1.0)
            wms.step()
            for name in wms.stats.result_files[shown:]:
                err.print(f"{clock.now().astimezone(JST):%Y-%m-%d %H:%M} wrote results/{name}",
                          highlight=False, markup=False, soft_wrap=True)
            shown = len(wms.stats.result_files)
            if stop:
                break
