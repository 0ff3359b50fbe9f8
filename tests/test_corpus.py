"""The bad-input corpus (tests/corpus/): every case gets its clear error, nothing else is hurt.

- flow/      shop files; `unyo check` names file, line, key and what is wrong, and
             `unyo run` refuses to start on them (no database, no RMS call).
- rms/       getOrder answers with one broken order; the mapping names the key path,
             and an import of a day holding it imports the other orders and keeps the
             broken one waiting with that reason.
- warehouse/ result files from the WMS; bad rows are reported with file and line, the
             good rows of the same file still apply, and the file after it is read too
             (a 4th column: how the file arrives — a long name, a symbolic link, with
             an unfinished last line).
- cli.tsv    command lines; each is refused with its message and exit status 2.
"""

from __future__ import annotations

import copy
import json
import shlex
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.adapters.rakuten.rms_samples import order_model
from tests.app.test_engine_rms import DAY, Rig
from tests.warehouse.conftest import Shop
from unyo.adapters.db import Store
from unyo.adapters.rakuten.errors import MappingError
from unyo.adapters.rakuten.mapping import channel_order_from_rms
from unyo.app.importing import import_orders
from unyo.app.warehouse import hand_off_orders, import_results
from unyo.cli import app
from unyo.domain import Stage

CORPUS = Path(__file__).parent / "corpus"


def _table(path: Path) -> list[tuple[str, ...]]:
    return [tuple(line.split("\t")) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


# ---- flow files ---------------------------------------------------------------------------

FLOW = _table(CORPUS / "flow" / "expected.tsv")


def test_every_flow_file_in_the_corpus_has_an_expectation() -> None:
    files = {p.name for p in (CORPUS / "flow").glob("*.yaml")}
    assert files == {name for name, _ in FLOW}


@pytest.mark.parametrize(("name", "expect"), FLOW, ids=[n for n, _ in FLOW])
def test_a_bad_flow_file_is_refused_with_its_error(name: str, expect: str,
                                                   tmp_path: Path) -> None:
    path = tmp_path / name
    shutil.copy(CORPUS / "flow" / name, path)
    runner = CliRunner()
    checked = runner.invoke(app, ["check", str(path)])
    assert checked.exit_code == 2
    assert f"{path}:{expect}" in checked.stderr
    db = tmp_path / "unyo.db"
    ran = runner.invoke(app, ["run", "-c", str(path), "--once"],
                        env={"UNYO_DATABASE_URL": f"sqlite:///{db}", "RMS_SERVICE_SECRET": "x",
                             "RMS_LICENSE_KEY": "y", "UNYO_RMS_BASE_URL": "http://127.0.0.1:9"})
    assert ran.exit_code == 2 and f"{path}:{expect}" in ran.stderr
    assert not db.exists()  # nothing ran


# ---- RMS answers --------------------------------------------------------------------------

RMS = sorted((CORPUS / "rms").glob("*.json"))


def _apply(model: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    model = copy.deepcopy(model)
    for path, value in changes.items():
        keys = path.split(".")
        d: Any = model
        for k in keys[:-1]:
            d = d[int(k)] if isinstance(d, list) else d[k]
        last: Any = int(keys[-1]) if isinstance(d, list) else keys[-1]
        if value == "__delete__":
            del d[last]
        else:
            d[last] = value
    return model


@pytest.mark.parametrize("case", RMS, ids=[p.stem for p in RMS])
def test_a_broken_order_is_named_by_its_key_path(case: Path) -> None:
    doc = json.loads(case.read_text(encoding="utf-8"))
    with pytest.raises(MappingError) as info:
        channel_order_from_rms(_apply(order_model(), doc["changes"]))
    assert info.value.reason == doc["expect"]


# Cases the emulator itself can serve (it needs the status and the order time to work).
SERVABLE = [p for p in RMS if not any(
    k.split(".")[0] in ("orderProgress", "orderDatetime") or (v == "__delete__" and "." not in k)
    for k, v in json.loads(p.read_text(encoding="utf-8"))["changes"].items())]


@pytest.mark.parametrize("case", SERVABLE, ids=[p.stem for p in SERVABLE])
def test_an_import_keeps_the_broken_order_waiting_and_imports_the_others(case: Path,
                                                                         store: Store) -> None:
    doc = json.loads(case.read_text(encoding="utf-8"))
    rig = Rig(store, 12, seed=4)
    try:
        numbers = sorted(o.order_number for o in rig.generated)
        victim = numbers[0]
        broken = _apply(rig.emulator.order_model(victim), doc["changes"])
        tops = {k.split(".")[0] for k in doc["changes"]}
        rig.emulator.corrupt(victim, **{k: broken[k] for k in tops})
        rig.at(DAY + timedelta(days=1, hours=1))
        import_orders(rig.ctx)
        visible = {n for n in numbers if rig.rms_status(n) in (100, 200, 300)} - {victim}
        assert rig.imported() == visible  # every other order came in
        with store.transaction() as conn:
            pending = store.pending_imports(conn, "shop")
        assert victim in pending and doc["expect"] in (pending[victim].last_error or
                                                       pending[victim].reason)
    finally:
        rig.server.stop()


# ---- warehouse result files ---------------------------------------------------------------

WAREHOUSE = [(*case, "")[:4] for case in _table(CORPUS / "warehouse" / "expected.tsv")]
LONG_NAME = "r" * 246 + ".csv"  # 250 bytes: no room for ".errors.txt"


def test_every_result_file_in_the_corpus_has_an_expectation() -> None:
    files = {p.name for p in (CORPUS / "warehouse").glob("*.csv")}
    assert files == {name for name, *_ in WAREHOUSE}


@pytest.mark.parametrize(("name", "line", "expect", "drop"), WAREHOUSE,
                         ids=[n for n, *_ in WAREHOUSE])
def test_a_bad_result_row_is_reported_and_the_good_rows_apply(name: str, line: str,
                                                              expect: str, drop: str,
                                                              store: Store,
                                                              tmp_path: Path) -> None:
    encoding = "utf-8" if drop == "utf-8" else "cp932"
    shop = Shop(store, tmp_path / "wh", encoding)
    good, other, later = shop.add_ready(3)
    hand_off_orders(shop.ctx)
    text = (CORPUS / "warehouse" / name).read_bytes().decode("utf-8")
    text = text.replace("{GOOD}", good).replace("{OTHER}", other)
    results = shop.folder / "results"
    if drop == "symlink":  # a link to a file outside the folder
        (tmp_path / name).write_bytes(text.encode(encoding))
        (results / name).symlink_to(tmp_path / name)
    else:
        (results / (LONG_NAME if drop == "long-name" else name)).write_bytes(
            text.encode(encoding))
    # a file after it, which it must not hold up
    shop.drop_result("zzzz-next.csv", [[later, "10001", "ヤマト運輸", "123456789099",
                                        "2026/11/27", ""]], encoding)
    result = import_results(shop.ctx)
    if drop == "unfinished":  # left alone until it stays unchanged for long
        assert result.files == 1
        shop.clock.advance(shop.settings.incomplete_after)
        result = import_results(shop.ctx)
    assert result.errors >= 1
    [report] = (shop.folder / "error").glob("*.errors.txt")
    shown = LONG_NAME if drop == "long-name" else name
    assert f"{shown}:{line}: " in report.read_text(encoding="utf-8")
    assert expect in report.read_text(encoding="utf-8")
    # the good row still applied (a refused file applies nothing), the next file too
    assert shop.order(good).stage is (Stage.at_warehouse if drop == "symlink"
                                      else Stage.shipped)
    assert shop.order(later).stage is Stage.shipped
    assert not list(results.iterdir())


# ---- command lines ------------------------------------------------------------------------

CLI = _table(CORPUS / "cli.tsv")


@pytest.mark.parametrize(("args", "expect"), CLI, ids=[a for a, _ in CLI])
def test_a_bad_command_line_is_refused_with_its_message(args: str, expect: str,
                                                        tmp_path: Path) -> None:
    (tmp_path / "unyo.yaml").write_text("shop:\n  id: corpus\n", encoding="utf-8")
    argv = [a.replace("{DIR}", str(tmp_path)) for a in shlex.split(args)]
    result = CliRunner().invoke(app, argv, env={
        "UNYO_DATABASE_URL": f"sqlite:///{tmp_path / 'unyo.db'}", "RMS_SERVICE_SECRET": "x",
        "RMS_LICENSE_KEY": "y", "UNYO_RMS_BASE_URL": "http://127.0.0.1:9"})
    assert result.exit_code == 2, result.stdout + result.stderr
    assert expect in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
