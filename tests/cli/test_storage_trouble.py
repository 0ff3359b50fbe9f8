"""A locked database, a read-only one and a full disk, met by `unyo run --once`, `unyo
doctor` and the runner: each is named as what it is (Japanese in the text output, English
in logs and JSON), never as a lease "held by worker None" or a bare traceback.

Real SQLite files throughout: another connection holds `BEGIN EXCLUSIVE`; SQLite's own
read-only mode (`?mode=ro`; chmod does not stop root, who runs CI); SQLite's own full
database (`PRAGMA max_page_count`), and a real ENOSPC from /dev/full.
"""

from __future__ import annotations

import errno
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from tests.cli.conftest import KEY, NOW, SECRET, SHOP_FILE, Cli
from tests.factories import channel_order
from tests.fakes import FakeChannel
from unyo.adapters.db import Store
from unyo.adapters.db.trouble import Trouble, storage_problem
from unyo.app.context import ShopContext
from unyo.app.runner import Runner
from unyo.clock import SimClock
from unyo.flow import Config
from unyo.sandbox.rms_emulator import RmsEmulatorServer


@pytest.fixture
def sqlite_cli(tmp_path: Path, rms: RmsEmulatorServer) -> Cli:
    """The CLI on a SQLite file whatever the suite's backend, after one run made it."""
    config = tmp_path / "unyo.yaml"
    config.write_text(SHOP_FILE, encoding="utf-8")
    db = tmp_path / "unyo.db"
    cli = Cli(env={"UNYO_RMS_BASE_URL": rms.base_url, "RMS_SERVICE_SECRET": SECRET,
                   "RMS_LICENSE_KEY": KEY, "UNYO_DATABASE_URL": f"sqlite:///{db}"},
              config=config, db=db)
    first = cli("run", "-c", str(config), "--once", "--now", NOW.isoformat(), "--json")
    assert first.exit_code == 0, first.stderr
    return cli


@pytest.fixture
def locked(sqlite_cli: Cli) -> Iterator[sqlite3.Connection]:
    holder = sqlite3.connect(sqlite_cli.db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    yield holder
    holder.execute("ROLLBACK")
    holder.close()


def run_once(cli: Cli, *extra: str, env: dict[str, str | None] | None = None):  # type: ignore[no-untyped-def]
    return cli("run", "-c", str(cli.config), "--once", "--now", NOW.isoformat(), *extra,
               env=env)


def test_run_once_says_the_database_is_locked_not_worker_none(sqlite_cli: Cli, locked):
    result = run_once(sqlite_cli)
    assert result.exit_code == 1
    assert "worker None" not in result.output
    assert "lease: ショップ clitest のリースを取れません" in result.stdout
    assert f"データベース {sqlite_cli.db} は別のプロセスがロックしています" in result.stdout
    assert "[database is locked]" in result.stdout
    # the log, in English, says it once and without a traceback
    assert ("cannot take the lease on shop clitest: the database "
            f"{sqlite_cli.db} is locked by another process") in result.stderr
    assert "Traceback" not in result.stderr


def test_doctor_says_the_database_is_locked(sqlite_cli: Cli, locked):
    result = sqlite_cli("doctor", "-c", str(sqlite_cli.config))
    assert result.exit_code == 1
    assert "fail database: データベース" in result.stdout
    assert "別のプロセスがロックしています" in result.stdout
    doc = json.loads(sqlite_cli("doctor", "-c", str(sqlite_cli.config), "--json").stdout)
    db = next(c for c in doc["checks"] if c["check"] == "database")
    assert db["status"] == "fail" and "is locked by another process" in db["message"]


def test_opening_a_database_locked_for_reading_too_says_so(tmp_path: Path, rms):
    # a rollback-journal database under BEGIN EXCLUSIVE: not even a read gets through
    db = tmp_path / "old.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO t VALUES (1)")
    config = tmp_path / "unyo.yaml"
    config.write_text(SHOP_FILE, encoding="utf-8")
    cli = Cli(env={"UNYO_RMS_BASE_URL": rms.base_url, "RMS_SERVICE_SECRET": SECRET,
                   "RMS_LICENSE_KEY": KEY, "UNYO_DATABASE_URL": f"sqlite:///{db}"},
              config=config, db=db)
    try:
        result = run_once(cli)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 2
    assert f"データベースを開けません: データベース {db} は別のプロセスがロックしています" \
        in result.stderr
    assert "Traceback" not in result.output


def test_a_read_only_database_is_named_by_run_and_doctor(sqlite_cli: Cli):
    read_only = {"UNYO_DATABASE_URL": f"sqlite:///file:{sqlite_cli.db}?mode=ro&uri=true"}
    result = run_once(sqlite_cli, env=read_only)
    assert result.exit_code == 1
    assert "worker None" not in result.output
    assert "が読み取り専用です" in result.stdout
    assert "[attempt to write a readonly database]" in result.stdout
    assert "is read-only" in result.stderr and "Traceback" not in result.stderr
    as_json = json.loads(run_once(sqlite_cli, "--json", env=read_only).stdout)
    assert "is read-only" in as_json["steps"]["lease"]["error"]
    doctor = sqlite_cli("doctor", "-c", str(sqlite_cli.config), env=read_only)
    assert doctor.exit_code == 1 and "fail database:" in doctor.stdout
    assert "読み取り専用" in doctor.stdout


def test_a_full_database_fails_the_step_with_a_clear_message(tmp_path: Path, caplog):
    # SQLite's own "database or disk is full": the file may not grow past its pages now
    store = Store.open(f"sqlite:///{tmp_path / 'full.db'}")
    with store.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    store.engine.dispose()
    event.listen(store.engine, "connect", lambda c, _: c.execute(
        f"PRAGMA max_page_count={pages}"))
    channel = FakeChannel()
    for i in range(200):
        channel.put(channel_order(f"123456-20261127-{i:010d}", remarks="x" * 2000))
    runner = Runner.for_shop(ShopContext(Config(shop_id="full"), store, channel,
                                         SimClock(NOW)))
    step = runner.steps[0]
    runner.run_step(step)
    store.close()
    assert step.last_problem is not None and step.last_problem.kind is Trouble.FULL
    assert step.last_error is not None and step.last_error.startswith(
        f"the disk holding {tmp_path / 'full.db'} is full")
    assert "のディスクがいっぱいです" in step.last_problem.japanese
    assert "import failed, will retry next turn: the disk holding" in caplog.text


def test_real_errors_map_to_their_kind(tmp_path: Path):
    db = tmp_path / "m.db"
    sqlite3.connect(db).executescript("CREATE TABLE t (x);")
    with pytest.raises(sqlite3.OperationalError) as ro:
        sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute("INSERT INTO t VALUES (1)")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(sqlite3.OperationalError) as busy:
        sqlite3.connect(db, timeout=0).execute("SELECT * FROM t")
    holder.execute("ROLLBACK")
    with pytest.raises(OSError) as full, open("/dev/full", "wb") as f:
        f.write(b"x")
        f.flush()
    cases = {Trouble.READ_ONLY: ro.value, Trouble.LOCKED: busy.value, Trouble.FULL: full.value}
    for kind, exc in cases.items():
        problem = storage_problem(exc, str(db))
        assert problem is not None and problem.kind is kind, exc
    assert storage_problem(OSError(errno.EROFS, "Read-only file system", "/mnt/x")).where \
        == "/mnt/x"
    assert storage_problem(ValueError("database is fine")) is None
