"""The staff of a shop that packs itself (`warehouse.type: self`), for `unyo demo
--warehouse self`: at each wave (11:00 and 15:00 on shipping days) they print the
出荷OK orders as a batch (`unyo.app.batches.print_batch`, the real 納品書 PDF), pack
them, and bring the carriers' tracking numbers back as a result file in
`results/` (the WMS result layout), which unyo's results step imports.

Never a request file: the shop has no WMS. Uses the warehouse emulator's waves,
calendar and carriers so the day looks like the csv demo's.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

from unyo.app.batches import Printing, SlipPrinter, print_batch
from unyo.clock import JST
from unyo.domain import Stage
from unyo.flow.warehouse import RESULT_COLUMNS
from unyo.sandbox.warehouse_emulator import WAVES, pick_carrier, shipping_day


@dataclass
class PackerStats:
    batches: int = 0
    printed: int = 0  # orders printed
    shipped: int = 0  # packages brought back with a tracking number
    print_errors: int = 0


class SelfPacker:
    """Prints and packs at the waves; the packages ship the same wave."""

    def __init__(self, printing: Printing, printer: SlipPrinter, folder: str | Path, *,
                 seed: int = 0, waves: tuple[time, ...] = WAVES) -> None:
        self.printing = printing
        self.printer = printer
        self.folder = Path(folder)
        (self.folder / "results").mkdir(parents=True, exist_ok=True)
        self.rng = random.Random(seed)
        self.stats = PackerStats()
        self.waves = waves
        self._last: datetime | None = None

    def pending(self) -> int:
        """Orders waiting to be printed (出荷OK)."""
        store, shop = self.printing.store, self.printing.shop
        with store.transaction() as conn:
            return len(store.order_numbers_in_stages(conn, shop, [Stage.ready]))

    def step(self) -> int:
        """Print and pack at every wave due since the last step; returns orders printed."""
        now = self.printing.clock.now()
        last, self._last = self._last, now
        if last is None:
            return 0
        done = 0
        for wave in self._waves_between(last, now):
            done += self._wave(wave)
        return done

    def _waves_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Wave instants in (start, end] on shipping days (the warehouse emulator's)."""
        out = []
        day = start.astimezone(JST).date()
        while day <= end.astimezone(JST).date():
            if shipping_day(day):
                out += [at for t in self.waves
                        if start < (at := datetime.combine(day, t, JST)) <= end]
            day += timedelta(days=1)
        return out

    def _wave(self, wave: datetime) -> int:
        result = print_batch(self.printing, self.printer, by="demo-packer")
        if result.batch is None:
            return 0
        self.stats.batches += 1
        self.stats.printed += len(result.orders)
        self.stats.print_errors += bool(result.error)
        store, shop = self.printing.store, self.printing.shop
        with store.transaction() as conn:
            orders = store.load_orders(conn, shop, result.orders)
        keys = ("order_number", "basket_id", "carrier", "tracking_number", "ship_date",
                "status")
        rows = [[RESULT_COLUMNS[k] for k in keys]]
        for number in result.orders:
            for p in orders[number].channel.packages:
                carrier, digits = self._carrier()
                tracking = "".join(self.rng.choice("0123456789") for _ in range(digits))
                rows.append([number, str(p.basket_id), carrier, tracking,
                             wave.strftime("%Y/%m/%d"), ""])
                self.stats.shipped += 1
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerows(rows)
        target = self.folder / "results" / f"self-{wave:%Y%m%d-%H%M}-{result.batch}.csv"
        temp = target.with_name("." + target.name)
        temp.write_bytes(buf.getvalue().encode("cp932"))
        temp.replace(target)
        return len(result.orders)

    def _carrier(self) -> tuple[str, int]:
        return pick_carrier(self.rng)
