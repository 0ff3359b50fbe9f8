"""A warehouse system (WMS) for the sandbox, speaking the CSV folder exchange.

It takes request files from `requests/` (moving them to `received/`, as a WMS
import does), and ships in waves on the simulated clock: at each cut-off (11:00
and 15:00 JST) every package received before it is picked, packed and shipped,
except on Sundays and Japanese public holidays (`jpholiday`), when nothing ships
and the packages wait for the next working wave. Each wave writes one result file
into `results/` in cp932 (Shift_JIS, what Japanese WMSs write), atomically, with
realistic tracking numbers per carrier: Yamato and Sagawa 12 digits, Japan Post
ゆうパック 12 digits *(carrier formats unconfirmed, see unyo.domain.carriers)*.
Now and then a package cannot be shipped: its row says "出荷不可: 欠品".
Cancel requests (`unyo-cancel-*.csv`) stop packages not shipped yet.

With `in_place=True` it writes as some WMSs do instead: straight under the final
name, through one open file, in three parts a `step()` apart — first up to the middle
of a tracking number, then to the end of that line (the file looks whole), then the
rest — so tests can show a reader never takes a truncated number and loses no row
even when the file was moved while still being written.

With `carrier_column=False` its result files have no carrier column (as B2クラウド's
export); packages whose delivery method (the request's 配送方法) contains one of
`untracked` ship by Japan Post without a tracking number (定形外郵便, ゆうメール).
"""

from __future__ import annotations

import csv
import io
import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import BinaryIO

import jpholiday

from unyo.clock import JST, Clock
from unyo.flow.warehouse import REQUEST_COLUMNS, RESULT_COLUMNS

WAVES = (time(11, 0), time(15, 0))
STOCKOUT = "出荷不可: 欠品"
# carrier name as the WMS writes it, share of packages, tracking digits
_CARRIERS = (("ヤマト運輸", 0.6, 12), ("佐川急便", 0.25, 12), ("日本郵便", 0.15, 12))


def pick_carrier(rng: random.Random) -> tuple[str, int]:
    """A carrier by its share of parcels, and its tracking numbers' digits."""
    x = rng.random()
    for name, share, digits in _CARRIERS:
        if x < share:
            return name, digits
        x -= share
    return _CARRIERS[0][0], _CARRIERS[0][2]


def shipping_day(day: date) -> bool:
    """Warehouses here ship Monday to Saturday, not on public holidays."""
    return day.weekday() != 6 and not jpholiday.is_holiday(day)


@dataclass
class _Package:
    order_number: str
    basket_id: str
    received_at: datetime
    method: str = ""  # 配送方法 as requested


@dataclass
class WarehouseStats:
    request_files: int = 0
    packages: int = 0
    shipped: int = 0
    stockouts: int = 0
    cancelled: int = 0
    result_files: list[str] = field(default_factory=list)


class WarehouseEmulator:
    """Ships what the request files ask for, at wave times of `clock`."""

    def __init__(self, folder: str | os.PathLike[str], clock: Clock, *, seed: int = 0,
                 encoding: str = "cp932", stockout_rate: float = 0.02,
                 waves: tuple[time, ...] = WAVES,
                 columns: dict[str, str] | None = None,
                 calendar: Callable[[date], bool] = shipping_day,
                 in_place: bool = False, carrier_column: bool = True,
                 untracked: tuple[str, ...] = ()) -> None:
        self.folder = Path(folder)
        self.clock = clock
        self.encoding = encoding
        self.stockout_rate = stockout_rate
        self.waves = waves
        self.calendar = calendar  # which days ship (the bench ships every day)
        self.in_place = in_place  # write result files slowly under their final name
        self._writing: list[tuple[BinaryIO, list[bytes]]] = []  # open files, parts left
        self.columns = columns or REQUEST_COLUMNS
        self.carrier_column = carrier_column
        self.untracked = untracked
        self.rng = random.Random(seed)
        self.stats = WarehouseStats()
        self._queue: dict[tuple[str, str], _Package] = {}
        self._last: datetime | None = None
        self._lock = threading.Lock()
        for sub in ("requests", "results", "received"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)

    def step(self) -> int:
        """Take new request files and ship every wave due since the last step; returns
        the number of packages shipped (or refused) now."""
        with self._lock:
            now = self.clock.now()
            self._write_on()
            self._take_requests(now)
            last = self._last or now
            self._last = now
            done = 0
            for wave in self._waves_between(last, now):
                done += self._ship(wave)
            return done

    def pending(self) -> int:
        """Packages not shipped yet, plus result files still being written."""
        return len(self._queue) + len(self._writing)

    def writing(self) -> int:
        """Result files written in place and not finished yet."""
        return len(self._writing)

    def finish_writing(self) -> None:
        """Write every part still due now (the writer's last pause is over)."""
        with self._lock:
            while self._writing:
                self._write_on()

    # ---- requests -----------------------------------------------------------------------

    def _take_requests(self, now: datetime) -> None:
        folder = self.folder / "requests"
        # cancels refer to earlier requests: take every request file first
        for path in sorted(folder.iterdir(), key=lambda p: (p.name.startswith("unyo-cancel"),
                                                            p.name)):
            if not path.is_file() or path.name.startswith(".") or path.suffix != ".csv":
                continue
            text = path.read_bytes().decode(self.encoding)
            rows = list(csv.reader(io.StringIO(text, newline="")))
            path.replace(self.folder / "received" / path.name)
            self.stats.request_files += 1
            if not rows:
                continue
            if path.name.startswith("unyo-cancel"):
                for row in rows[1:]:
                    self._cancel(row[0].lstrip("'"), row[1] if len(row) > 1 else "")
                continue
            header = {h.lstrip("'"): i for i, h in enumerate(rows[0])}
            at_number = header[self.columns["order_number"]]
            at_basket = header[self.columns["basket_id"]]
            at_method = header.get(self.columns.get("delivery_method", ""))
            for row in rows[1:]:
                key = (row[at_number].lstrip("'"), row[at_basket])
                method = row[at_method] if at_method is not None else ""
                if key not in self._queue:
                    self._queue[key] = _Package(key[0], key[1], now, method)
                    self.stats.packages += 1

    def _cancel(self, number: str, basket: str) -> None:
        for key in [k for k in self._queue if k[0] == number and (not basket or k[1] == basket)]:
            del self._queue[key]
            self.stats.cancelled += 1

    # ---- waves --------------------------------------------------------------------------

    def _waves_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Wave instants in (start, end] on shipping days."""
        out = []
        day = start.astimezone(JST).date()
        while day <= end.astimezone(JST).date():
            if self.calendar(day):
                for t in self.waves:
                    at = datetime.combine(day, t, JST)
                    if start < at <= end:
                        out.append(at)
            day += timedelta(days=1)
        return out

    def _ship(self, wave: datetime) -> int:
        batch = [p for p in self._queue.values() if p.received_at <= wave]
        if not batch:
            return 0
        keys: tuple[str, ...] = ("order_number", "basket_id", "carrier", "tracking_number",
                                 "ship_date", "status")
        if not self.carrier_column:
            keys = tuple(k for k in keys if k != "carrier")
        rows = [[RESULT_COLUMNS[k] for k in keys]]
        for p in batch:
            del self._queue[(p.order_number, p.basket_id)]
            if self.rng.random() < self.stockout_rate:
                cells = {"order_number": p.order_number, "basket_id": p.basket_id,
                         "status": STOCKOUT}
                rows.append([cells.get(k, "") for k in keys])
                self.stats.stockouts += 1
                continue
            carrier, digits = self._carrier()
            tracking = "".join(self.rng.choice("0123456789") for _ in range(digits))
            if any(m in p.method for m in self.untracked):
                carrier, tracking = "日本郵便", ""  # 定形外郵便: no tracking number
            cells = {"order_number": p.order_number, "basket_id": p.basket_id,
                     "carrier": carrier, "tracking_number": tracking,
                     "ship_date": wave.strftime("%Y/%m/%d")}
            rows.append([cells.get(k, "") for k in keys])
            self.stats.shipped += 1
        name = f"wms-result-{wave:%Y%m%d-%H%M}.csv"
        self._write(name, rows)
        self.stats.result_files.append(name)
        return len(batch)

    def _carrier(self) -> tuple[str, int]:
        return pick_carrier(self.rng)

    def _write(self, name: str, rows: list[list[str]]) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        data = buffer.getvalue().encode(self.encoding)
        folder = self.folder / "results"
        if self.in_place:
            f = open(folder / name, "wb")  # noqa: SIM115 - kept open across steps
            self._writing.append((f, _parts(data)))
            self._write_on(f)
            return
        temp = folder / f".{name}.tmp"
        temp.write_bytes(data)
        os.replace(temp, folder / name)

    def _write_on(self, only: BinaryIO | None = None) -> None:
        """Write the next part of each file being written in place (or of `only`)."""
        for f, parts in list(self._writing):
            if only is not None and f is not only:
                continue
            f.write(parts.pop(0))
            f.flush()
            os.fsync(f.fileno())
            if not parts:
                f.close()
                self._writing.remove((f, parts))


def _parts(data: bytes) -> list[bytes]:
    """`data` in three: to mid-way through the middle row's tracking number, to the end
    of that row, and the rest (empty parts are left out)."""
    lines = data.splitlines(keepends=True)
    middle = max(1, len(lines) // 2)
    start = sum(len(line) for line in lines[:middle])
    row = lines[middle] if middle < len(lines) else b""
    cells = row.split(b",")
    # cut inside the 4th cell (tracking number) when there is one, else mid-row
    cut = (len(b",".join(cells[:3])) + 1 + max(1, len(cells[3]) // 2)
           if len(cells) > 4 and len(cells[3]) > 1 else len(row) // 2)
    ends = [start + cut, start + len(row), len(data)]
    parts, at = [], 0
    for end in ends:
        if end > at:
            parts.append(data[at:end])
            at = end
    return parts
