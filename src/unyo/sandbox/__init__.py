"""The sandbox: outside systems on 127.0.0.1 and realistic orders, for demos, tests and bench.

The emulators speak the real protocols (the RMS emulator the JSON API of
reference/rakuten-rms.md), so the same engine code runs against them and against
production. Must not import `unyo.app`, `unyo.adapters`, `unyo.web` or `unyo.cli`.
"""

from unyo.sandbox.generator import GeneratedOrder, format_rms_datetime, generate_orders
from unyo.sandbox.rms_emulator import (
    DELIVERY_COMPANIES,
    FaultConfig,
    RmsEmulator,
    RmsEmulatorServer,
    serve,
)

__all__ = [
    "DELIVERY_COMPANIES",
    "FaultConfig",
    "GeneratedOrder",
    "RmsEmulator",
    "RmsEmulatorServer",
    "format_rms_datetime",
    "generate_orders",
    "serve",
]
