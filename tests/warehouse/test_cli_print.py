"""`unyo print` end to end: a self-shipping shop's `unyo run --once` imports and readies
orders (no request file), `unyo print` prints them as a batch into a PDF, prints it
again (再発行), takes an order out, and lists the batches."""

from __future__ import annotations

import io
import unicodedata
from datetime import timedelta
from pathlib import Path

import pypdf

from tests.cli.conftest import KEY, NOW, SECRET, SHOP_FILE, Cli
from unyo.clock import SimClock
from unyo.sandbox.generator import generate_orders
from unyo.sandbox.rms_emulator import RmsEmulator, RmsEmulatorServer


def pages(path: str) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(Path(path).read_bytes()))
    return [unicodedata.normalize("NFKC", p.extract_text()) for p in reader.pages]


def test_unyo_print_prints_the_ready_orders_of_a_self_shipping_shop(tmp_path: Path):
    emulator = RmsEmulator(SimClock(NOW), service_secret=SECRET, license_key=KEY,
                           orders=generate_orders(30, seed=7, start=NOW - timedelta(days=1),
                                                  end=NOW), seed=7)
    config = tmp_path / "unyo.yaml"
    config.write_text(SHOP_FILE.replace("  name: CLI テスト店\n", "  name: CLI テスト店\n"
                                        "  address: 東京都千代田区1-1\n  phone: 03-0000-0000\n")
                      + "warehouse:\n  enabled: true\n  type: self\n  folder: wh\n"
                      + "invoice:\n  registration_number: T1234567890123\n", encoding="utf-8")
    out = tmp_path / "slips"
    with RmsEmulatorServer(emulator) as server:
        cli = Cli(env={"UNYO_RMS_BASE_URL": server.base_url, "RMS_SERVICE_SECRET": SECRET,
                       "RMS_LICENSE_KEY": KEY,
                       "UNYO_DATABASE_URL": f"sqlite:///{tmp_path / 'unyo.db'}"},
                  config=config, db=tmp_path / "unyo.db")
        run = cli.json("run", "-c", str(config), "--once", "--now", NOW.isoformat())
        ready = run["stages"].get("ready", 0)
        assert ready > 0 and not run["stages"].get("at_warehouse")
        assert not list((tmp_path / "wh" / "requests").glob("*.csv"))  # no WMS request
        # when staff print
        doc = cli.json("print", "-c", str(config), "--out", str(out), "--by", "yamada")
        assert doc["batch"] == 1 and len(doc["orders"]) == ready and not doc["reissue"]
        [pdf] = doc["files"]
        first = pages(pdf)
        assert len(first) == doc["slips"] >= ready
        assert all("登録番号 T1234567890123" in p for p in first if "ご請求額" in p)
        # then nothing is left to print; printing again is a reissue of the same slips
        assert cli.json("print", "-c", str(config), "--out", str(out))["batch"] is None
        again = cli.json("print", "-c", str(config), "--out", str(out), "--batch", "1")
        assert again["reissue"] and again["files"][0].endswith("-再発行.pdf")
        assert [p.replace("再発行", "").split() for p in pages(again["files"][0])] == \
            [p.split() for p in first]
        # an order taken out is ready again
        taken = cli.json("print", "-c", str(config), "--batch", "1", "--take-out",
                         doc["orders"][0], "--note", "欠品")
        assert taken["stage"] in ("ready", "processing")
        listed = cli.json("print", "-c", str(config), "--list")["batches"]
        assert [(b["batch"], b["orders"], b["printed"]) for b in listed] == \
            [(1, len(doc["orders"]) - 1, 2)]
        text = cli("print", "-c", str(config), "--list")
        assert text.exit_code == 0 and "印刷バッチ 1" in text.stdout
        bad = cli("print", "-c", str(config), "--batch", "9")
        assert bad.exit_code == 1 and "印刷バッチ 9 はありません" in bad.stderr
