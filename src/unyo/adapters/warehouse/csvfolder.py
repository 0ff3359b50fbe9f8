"""`CsvFolderWarehouse`: the `Warehouse` protocol as CSV files in folders.

Layout under `warehouse.folder`: unyo writes `requests/` (shipment requests
`unyo-<shop>-<time>-<id>.csv`, cancel requests `unyo-cancel-…csv`); the WMS writes
`results/`; imported result files move to `done/`, files with bad rows to `error/`
with `<name>.errors.txt` beside them.

Files are written under a dot-name and renamed into place (`os.replace` is atomic
within a folder on POSIX and Windows), so the WMS never reads half a file; result
files whose name starts with a dot or ends in .tmp are not read (the WMS is
expected to do the same). cp932 is the default encoding: text it cannot hold is
reported by `unsendable()` before the order is handed off, never replaced.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from unyo.adapters.warehouse.mapping import (
    CANCEL_HEADER,
    cancel_rows,
    neutralise,
    request_rows,
    result_rows,
)
from unyo.app.warehouse import (
    CancelRequest,
    ResultBatch,
    RowProblem,
    ShipmentRequest,
    WarehouseError,
)
from unyo.clock import JST, Clock
from unyo.flow.warehouse import WarehouseSettings


class CsvFolderWarehouse:
    """A WMS that reads request CSVs from a folder and writes result CSVs to another."""

    def __init__(self, settings: WarehouseSettings, clock: Clock, shop: str = "shop") -> None:
        self.settings = settings
        self.clock = clock
        self.shop = shop
        self.encoding = settings.encoding
        self.columns = list(settings.columns)
        self.requests_dir = settings.path("requests")
        self.results_dir = settings.path("results")
        self.done_dir = settings.path("done")
        self.error_dir = settings.path("error")

    def ensure_folders(self) -> None:
        for d in (self.requests_dir, self.results_dir, self.done_dir, self.error_dir):
            d.mkdir(parents=True, exist_ok=True)

    # ---- requests -----------------------------------------------------------------------

    def unsendable(self, request: ShipmentRequest) -> list[str]:
        if self.encoding == "utf-8":
            return []
        problems = []
        used = set(self.columns)
        for key, text in request.texts():
            if key not in used or text.isascii():
                continue
            bad = self._unencodable(text)
            if bad:
                shown = "".join(dict.fromkeys(bad))
                problems.append(f"{self.settings.columns[key]}に{self.encoding}で書けない文字 "
                                f"「{shown}」")
        return problems

    def _unencodable(self, text: str) -> list[str]:
        try:
            text.encode(self.encoding)
            return []
        except UnicodeEncodeError:
            return [ch for ch in text if not _encodes(ch, self.encoding)]

    def send(self, requests: Sequence[ShipmentRequest]) -> str:
        name = self.stage(requests)
        self.publish(name)
        return name

    def stage(self, requests: Sequence[ShipmentRequest]) -> str:
        """Write a request file under a hidden temporary name (the WMS ignores it) and
        sync it to disk; `publish` makes it visible. Returns the batch's name."""
        header = [neutralise(self.settings.columns[c]) for c in self.columns]
        rows: list[list[str]] = [header]
        for r in requests:
            rows.extend(request_rows(r, self.columns))
        return self._write(self._name("unyo"), rows, publish=False)

    def publish(self, name: str) -> bool:
        """Give a staged file to the WMS (an atomic rename). Idempotent: False when the
        file was published already (the staged copy is gone)."""
        temp = self._temp(name)
        try:
            os.replace(temp, self.requests_dir / name)
        except FileNotFoundError:
            return False
        except OSError as e:
            raise WarehouseError(f"cannot write {self.requests_dir / name}: "
                                 f"{e.strerror or e}") from e
        return True

    def _temp(self, name: str) -> Path:
        if "/" in name or name.startswith("."):
            raise WarehouseError(f"{name!r} is not a request file name")
        return self.requests_dir / f".{name}.tmp"

    def cancel(self, requests: Sequence[CancelRequest]) -> str:
        return self._write(self._name("unyo-cancel"), [list(CANCEL_HEADER),
                                                        *cancel_rows(requests)])

    def _name(self, prefix: str) -> str:
        stamp = self.clock.now().astimezone(JST).strftime("%Y%m%d%H%M%S")
        return f"{prefix}-{self.shop}-{stamp}-{uuid.uuid4().hex[:8]}.csv"

    def _write(self, name: str, rows: list[list[str]], publish: bool = True) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        try:
            data = buffer.getvalue().encode(self.encoding)  # checked by unsendable()
        except UnicodeEncodeError as e:
            raise WarehouseError(f"{name}: text {self.encoding} cannot hold: {e}") from e
        final = self.requests_dir / name
        temp = self._temp(name)
        try:
            self.requests_dir.mkdir(parents=True, exist_ok=True)
            with open(temp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if publish:
                os.replace(temp, final)
        except OSError as e:
            temp.unlink(missing_ok=True)
            raise WarehouseError(f"cannot write {final}: {e.strerror or e}") from e
        return name

    # ---- results ------------------------------------------------------------------------

    def results(self) -> list[ResultBatch]:
        if not self.results_dir.is_dir():
            return []
        # A WMS that writes its file in place (no temp name + rename) may still be
        # writing: a file is read once it has not changed for `settle` seconds. File
        # times are the real clock's, so this compares with real time.
        settled = time.time() - self.settings.settle
        files = sorted(p for p in self.results_dir.iterdir()
                       if p.is_file() and p.suffix.lower() == ".csv"
                       and not p.name.startswith(".") and p.stat().st_mtime <= settled)
        return [self._read(p) for p in files]

    def _read(self, path: Path) -> ResultBatch:
        batch = ResultBatch(path.name)
        raw = path.read_bytes()
        encoding = "utf-8-sig" if self.encoding == "utf-8" else self.encoding
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as e:
            line = raw.count(b"\n", 0, e.start) + 1
            batch.problems.append(RowProblem(line, f"{self.encoding}として読めません "
                                                   f"({e.reason}, {e.start}バイト目)"))
            return batch
        try:
            batch.rows, problems = result_rows(_records(text), self.settings.result_columns)
        except csv.Error as e:
            batch.problems.append(RowProblem(0, f"CSVとして読めません: {e}"))
            return batch
        batch.problems.extend(problems)
        return batch

    def settle(self, batch: ResultBatch, problems: Sequence[RowProblem]) -> None:
        source = self.results_dir / batch.name
        target_dir = self.error_dir if problems else self.done_dir
        target_dir.mkdir(parents=True, exist_ok=True)
        target = _free(target_dir / batch.name)
        if problems:
            report = "".join(f"{batch.name}:{p.line}: {p.message}\n" for p in problems)
            (target_dir / f"{target.name}.errors.txt").write_text(report, encoding="utf-8")
        shutil.move(source, target)


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    for cells in reader:
        yield reader.line_num, cells


def _encodes(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
        return True
    except UnicodeEncodeError:
        return False


def _free(path: Path) -> Path:
    """`path`, or `name-2.csv`, `name-3.csv`… when a file of that name is already there."""
    n = 2
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate
