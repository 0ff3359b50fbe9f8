"""`CsvFolderWarehouse`: the `Warehouse` protocol as CSV files in folders.

Layout under `warehouse.folder`: unyo writes `requests/` (shipment requests
`unyo-<shop>-<time>-<id>.csv`, cancel requests `unyo-cancel-…csv`); the WMS writes
`results/`; imported result files move to `done/`, files with bad rows to `error/`
with `<name>.errors.txt` beside them.

Files are written under a dot-name and renamed into place (`os.replace` is atomic
within a folder on POSIX and Windows), so the WMS never reads half a file; result
files whose name starts with a dot or does not end in .csv are not read (the WMS is
expected to do the same). cp932 is the default encoding: text it cannot hold is
replaced by the shop's substitutes (`printing()`, unyo.domain.printing) and the
replacements listed in the note column; a character with none stops the order before
it is handed off.

A result file is read only when whole (docs/configuration.md, "Result files"):
- unyo has seen it unchanged (inode, size, mtime) for `settle`, by its own clock —
  not by the file's mtime, which is the file server's clock;
- its last byte is a line end and it does not end inside a quoted cell; one that
  stays so for `incomplete_after` is read with that last line reported, not applied;
- it is still the file looked at when it is moved: one that changed after it was
  read stays and is read again, and one that grows after it was moved (a writer that
  kept it open) is moved back, for `incomplete_after`. A row applied twice is no
  change, so nothing is lost either way.
Symbolic links are never followed: they are moved to error/ with a report. Nothing
about one file (a name too long for its report, a report that cannot be written, an
unreadable file) stops the files after it.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io
import logging
import os
import shutil
import stat
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
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
    PrintedRequest,
    ResultBatch,
    RowProblem,
    ShipmentRequest,
    WarehouseError,
    print_request,
)
from unyo.clock import JST, Clock
from unyo.flow.warehouse import WarehouseSettings

log = logging.getLogger(__name__)

MAX_RESULT_BYTES = 256 * 1024 * 1024
"""A result file larger than this is set aside unread (a sale day's wave is ~3 MB)."""
NAME_MAX = 255
"""Bytes in a file name on the usual file systems (ext4, XFS, APFS; NTFS: 255 UTF-16)."""
QUICK_LOOK = 10.0
"""Seconds: a `settle` time up to this is waited for within the poll that first sees a
file; a longer one is measured across polls."""
UNFINISHED = ("最終行が改行で終わっていません（書き込みが途中で止まったかもしれないため、"
              "この行は取り込んでいません）")


class CsvFolderWarehouse:
    """A WMS that reads request CSVs from a folder and writes result CSVs to another."""

    def __init__(self, settings: WarehouseSettings, clock: Clock, shop: str = "shop") -> None:
        self.settings = settings
        self.clock = clock
        self.shop = shop
        self.encoding = settings.encoding
        self.columns = list(settings.columns)
        self._used = frozenset(self.columns)
        self.requests_dir = settings.path("requests")
        self.results_dir = settings.path("results")
        self.done_dir = settings.path("done")
        self.error_dir = settings.path("error")
        # what the result files looked like at earlier polls, the ones being settled,
        # and the ones moved lately (watched in case their writer was not finished)
        self._looks: dict[str, _Look] = {}
        self._taking: dict[str, tuple[Path, tuple[int, int, int]]] = {}
        self._moved: dict[Path, tuple[tuple[int, int, int], datetime, str]] = {}
        self._ignored: set[str] = set()

    def ensure_folders(self) -> None:
        for d in (self.requests_dir, self.results_dir, self.done_dir, self.error_dir):
            d.mkdir(parents=True, exist_ok=True)

    # ---- requests -----------------------------------------------------------------------

    def printing(self, request: ShipmentRequest) -> PrintedRequest:
        """The request in the encoding's characters (`print_request`), in this layout's
        columns only: what the file does not carry is neither replaced nor reported."""
        return print_request(request, self.settings.printing, self._used)

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
            data = buffer.getvalue().encode(self.encoding)  # printing() made it fit
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
        """The result files that are whole, oldest name first (see the module docstring).

        Never raises for one file: a file that cannot be read is a batch with a
        file-level problem (line 0), so it is moved aside and the next file is read."""
        if not self.results_dir.is_dir():
            return []
        self._reclaim_moved()
        self._taking.clear()
        entries = self._entries()
        fresh = [name for name, (_, st) in entries.items() if self._observe(name, st)]
        if fresh and 0 < self.settings.settle <= QUICK_LOOK:
            # a short settle time is waited for now, not at the next poll minutes later
            self.clock.sleep(self.settings.settle)
            entries = self._entries()
            for name, (_, st) in entries.items():
                self._observe(name, st)
        batches = []
        for name in sorted(entries):
            path, st = entries[name]
            try:
                batch = self._take(name, path, st)
            except OSError as e:  # vanished or unreadable between the looks: next poll
                log.warning("warehouse result %s: %s", name, e.strerror or e)
                continue
            if batch is not None:
                batches.append(batch)
        return batches

    def _entries(self) -> dict[str, tuple[Path, os.stat_result]]:
        """Result-file candidates by shown name, with what `lstat` says of them."""
        out: dict[str, tuple[Path, os.stat_result]] = {}
        try:
            paths = sorted(self.results_dir.iterdir())
        except OSError as e:
            raise WarehouseError(f"cannot read {self.results_dir}: {e.strerror or e}") from e
        for path in paths:
            if path.name.startswith(".") or path.suffix.lower() != ".csv":
                continue  # a writer's temporary name (.name.csv, name.csv.tmp, name.tmp)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            name = _shown(path.name)
            if name in out:  # two names shown alike (undecodable bytes): one per poll
                continue
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                if name not in self._ignored:  # a folder, a FIFO …: said once
                    log.warning("warehouse result %s is not a file; not read", name)
                    self._ignored.add(name)
                continue
            out[name] = (path, st)
        for gone in set(self._looks) - set(out):
            del self._looks[gone]
        self._ignored &= set(out) | {_shown(p.name) for p in paths}
        return out

    def _observe(self, name: str, st: os.stat_result) -> bool:
        """Note how the file looks now; True when that is new (first seen, or changed)."""
        look = self._looks.get(name)
        if look is not None and look.sig == _sig(st):
            return False
        self._looks[name] = _Look(_sig(st), self.clock.now())
        return True

    def _take(self, name: str, path: Path, st: os.stat_result) -> ResultBatch | None:
        """The file as a batch if it is whole, else None (it is looked at again later)."""
        if stat.S_ISLNK(st.st_mode):
            # never followed: a link can point anywhere on the machine
            self._taking[name] = (path, _sig(st))
            return ResultBatch(name, problems=[RowProblem(
                0, f"シンボリックリンクは読みません（リンク先: {_link(path)}）。"
                   "ファイルそのものを置いてください")])
        look = self._looks[name]
        unchanged = (self.clock.now() - look.since).total_seconds()
        if unchanged < self.settings.settle:
            return None
        if st.st_size > MAX_RESULT_BYTES:
            self._taking[name] = (path, look.sig)
            return ResultBatch(name, problems=[RowProblem(
                0, f"ファイルが大きすぎます（{st.st_size:,}バイト、上限 "
                   f"{MAX_RESULT_BYTES:,}バイト）。分けて置いてください")])
        try:
            raw = _read_whole(path, look.sig)
        except PermissionError as e:
            self._taking[name] = (path, look.sig)
            return ResultBatch(name, problems=[RowProblem(0, f"読めません: {e.strerror}")])
        if raw is None:  # changed or replaced while it was read
            self._looks.pop(name, None)
            return None
        # A writer that pauses mid-line leaves a file whose last byte is not a line end
        # (or that ends inside a quoted cell): a truncated tracking number looks valid.
        unfinished = not raw.endswith(b"\n") or raw.count(b'"') % 2 == 1
        if unfinished and unchanged < self.settings.incomplete_after:
            return None
        self._taking[name] = (path, look.sig)
        return self._parse(name, raw, unfinished)

    def _parse(self, name: str, raw: bytes, unfinished: bool) -> ResultBatch:
        batch = ResultBatch(name)
        encoding = "utf-8-sig" if self.encoding == "utf-8" else self.encoding
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as e:
            line = raw.count(b"\n", 0, e.start) + 1
            batch.problems.append(RowProblem(line, f"{self.encoding}として読めません "
                                                   f"({e.reason}, {e.start}バイト目)"))
            return batch
        records = list(_records(text, batch.problems))
        rows, problems = result_rows(iter(records), self.settings.result_columns,
                                     self.settings.required_result_keys)
        if unfinished and len(records) > 1:
            last = records[-1][0]
            for row in rows:
                if row.line == last:
                    problems.append(RowProblem(last, UNFINISHED, row.order_number))
            rows = [r for r in rows if r.line != last]
        batch.rows = rows
        batch.problems.extend(problems)
        return batch

    def settle(self, batch: ResultBatch, problems: Sequence[RowProblem]) -> None:
        """Move the file to done/ (or error/ with its report), unless it changed since it
        was read: then it stays, to be read whole again (a row applied twice is no
        change). Raises WarehouseError only when the file itself cannot be moved."""
        path, sig = self._taking.pop(batch.name, (self.results_dir / batch.name, None))
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            log.warning("warehouse result %s is gone before it was settled", batch.name)
            return
        except OSError as e:
            raise WarehouseError(f"cannot look at {path}: {e.strerror or e}") from e
        if sig is not None and _sig(st) != sig:
            log.warning("warehouse result %s changed after it was read (the warehouse "
                        "system still writes it); it stays and is read again", batch.name)
            self._looks.pop(batch.name, None)
            return
        target_dir = self.error_dir if problems else self.done_dir
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise WarehouseError(f"cannot create {target_dir}: {e.strerror or e}") from e
        target = _free(target_dir / _fitting(path.name))
        if problems:
            self._report(batch, path, target, problems)
        try:
            shutil.move(path, target)
        except OSError as e:
            raise WarehouseError(f"cannot move {path} to {target_dir}: "
                                 f"{e.strerror or e}") from e
        self._looks.pop(batch.name, None)
        if sig is not None and stat.S_ISREG(st.st_mode):
            self._moved[target] = (sig, self.clock.now(), path.name)

    def _report(self, batch: ResultBatch, source: Path, target: Path,
                problems: Sequence[RowProblem]) -> None:
        """Write `<target>.errors.txt`. Failing that (disk full, no permission) the
        problems are logged — each bad row was logged by the import already — and the
        file still moves on, so it never holds up the files after it."""
        lines = []
        if target.name != source.name:
            lines.append(f"# 元のファイル名: {batch.name}\n")
        lines.extend(f"{batch.name}:{p.line}: {p.message}\n" for p in problems)
        report = target.with_name(f"{target.name}.errors.txt")
        temp = target.with_name(f".{target.name}.errors.tmp")
        try:
            temp.write_text("".join(lines), encoding="utf-8", errors="backslashreplace")
            os.replace(temp, report)
        except OSError as e:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
            log.error("cannot write the error report %s (%s); warehouse result %s goes to "
                      "%s without it, its problems:\n%s", report, e.strerror or e,
                      batch.name, target.parent, "".join(lines).rstrip())

    def _reclaim_moved(self) -> None:
        """A file that grew after it was moved was still being written (an in-place
        writer that paused between lines longer than `settle`): it moves back to
        results/ and is read whole again, so its last rows are never lost."""
        now = self.clock.now()
        for target, (sig, moved_at, name) in list(self._moved.items()):
            if (now - moved_at).total_seconds() > self.settings.incomplete_after:
                del self._moved[target]
                continue
            try:
                st = os.lstat(target)
            except OSError:
                del self._moved[target]
                continue
            if (st.st_size, st.st_mtime_ns) == sig[1:]:
                continue
            del self._moved[target]
            back = _free(self.results_dir / name)
            try:
                shutil.move(target, back)
                target.with_name(f"{target.name}.errors.txt").unlink(missing_ok=True)
            except OSError as e:
                log.error("warehouse result %s grew after it was moved to %s, and cannot "
                          "be moved back: %s", _shown(name), target, e.strerror or e)
                continue
            log.warning("warehouse result %s grew after it was moved to %s (the warehouse "
                        "system was still writing it); moved back to be read again",
                        _shown(name), target.parent.name)


@dataclass(frozen=True, slots=True)
class _Look:
    """How a result file looked (inode, size, mtime) and since when, by unyo's clock."""

    sig: tuple[int, int, int]
    since: datetime


def _sig(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _read_whole(path: Path, sig: tuple[int, int, int]) -> bytes | None:
    """The file's bytes, or None when it is not the file last looked at or changes while
    it is read. Opened without following a link swapped in since, and without blocking
    on a FIFO."""
    flags = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
             | getattr(os, "O_BINARY", 0))
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:  # became a link: refused at the next look
            return None
        raise
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode) or _sig(before) != sig:
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        if _sig(os.fstat(fd)) != sig:
            return None
        return b"".join(chunks)
    finally:
        os.close(fd)


def _records(text: str, problems: list[RowProblem]) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of each record; a line the csv module refuses ends the reading,
    reported at that line (the rows before it still count)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error as e:
        problems.append(RowProblem(reader.line_num, f"CSVとして読めません: {e}"
                                                    "（この行から後は読んでいません）"))


def _shown(name: str) -> str:
    """A file name as text that can be logged, stored and shown: bytes that are not
    UTF-8 and control characters are written as escapes."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return "".join(ascii(ch)[1:-1] if unicodedata.category(ch) in _UNSHOWN else ch
                   for ch in text)


_UNSHOWN = {"Cc", "Cf", "Cs", "Zl", "Zp"}  # controls, format, surrogates, line breaks


def _link(path: Path) -> str:
    try:
        return _shown(os.readlink(path))[:200]
    except OSError:
        return "?"


_ROOM = len(".-9999.errors.tmp")  # what the report's names add to a result file's


def _fitting(name: str) -> str:
    """`name`, or a shortened one when `.<name>-NNN.errors.tmp` would be longer than a
    file name may be (ENAMETOOLONG would otherwise stop every later file)."""
    if len(os.fsencode(name)) + _ROOM <= NAME_MAX:
        return name
    stem, suffix = os.path.splitext(name)
    digest = hashlib.sha1(os.fsencode(name)).hexdigest()[:8]
    room = NAME_MAX - _ROOM - len(f"~{digest}") - len(os.fsencode(suffix))
    while len(os.fsencode(stem)) > room:
        stem = stem[:-1]
    return f"{stem}~{digest}{suffix}"


def _free(path: Path) -> Path:
    """`path`, or `name-2.csv`, `name-3.csv`… when a file of that name is already there."""
    n = 2
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate
