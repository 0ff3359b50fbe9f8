"""A planted secret appears in no output: stdout, stderr, JSON logs, the database.

The RMS service secret and license key, the SMTP password and the database
password are planted with unique markers; every command a shop runs — in good
and in failing conditions (a refused key, a refused SMTP login, RMS down) — is
run, and each output, and every text column of the database, is searched.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import String, Text, select
from typer.testing import CliRunner

from tests.cli.conftest import NOW
from tests.conftest import BACKEND
from unyo.adapters.db import Store
from unyo.adapters.db.schema import metadata
from unyo.cli import app
from unyo.clock import SimClock
from unyo.domain import Stage
from unyo.sandbox.generator import generate_orders
from unyo.sandbox.rms_emulator import RmsEmulator, RmsEmulatorServer
from unyo.sandbox.smtp_sink import SmtpSink

SECRET = "SP-planted-5ecret-q7x"
KEY = "SL-planted-key-m2v"
SMTP_PASSWORD = "pw-planted-smtp-k9"
PLANTED = (SECRET, KEY, SMTP_PASSWORD, "dbpw-planted-z4")


def database_url_with_password(url: str) -> str:
    """PostgreSQL (trust auth) takes any password: plant one in the URL."""
    if url.startswith("postgresql"):
        return url.replace("postgres@", "postgres:dbpw-planted-z4@")
    return url


def dashboard_pages(url: str, config_path: Path) -> list[str]:
    """Every GET page of the dashboard, logged in as an admin (order pages for every
    stored order)."""
    from fastapi.testclient import TestClient

    from tests.web.conftest import login
    from unyo.adapters.db.accounts import Accounts
    from unyo.app.users import Users
    from unyo.clock import SystemClock
    from unyo.flow import load_config
    from unyo.web import create_app
    from unyo.web.app import api_routes

    store = Store.open(url, migrate=False)
    clock = SystemClock()
    Users(Accounts(store.engine)).add("admin", "admin", "correct horse battery", clock.now())
    app = create_app(store, load_config(config_path, env={}), clock, secure_cookies=False)
    with store.transaction() as conn:
        numbers = store.order_numbers_in_stages(conn, "secrets", list(Stage))
    pages = []
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert login(client, "admin").status_code == 303
        for route in api_routes(app.routes):
            if "GET" not in (route.methods or ()):
                continue
            paths = ([route.path.replace("{number}", n) for n in numbers]
                     if "{number}" in route.path else [route.path])
            for path in paths:
                if "{" in path or path.startswith("/static"):
                    continue
                response = client.get(path)
                pages.append(f"GET {path} {response.status_code}\n{response.text}")
    store.close()
    assert numbers and len(pages) > len(numbers)
    return pages


def test_no_planted_secret_in_any_output_or_in_the_database(tmp_path: Path,
                                                            database_url: str) -> None:
    emulator = RmsEmulator(SimClock(NOW), service_secret=SECRET, license_key=KEY,
                           orders=generate_orders(30, seed=5, start=NOW - timedelta(days=1),
                                                  end=NOW), seed=5)
    outputs: list[str] = []
    url = database_url_with_password(database_url)
    with RmsEmulatorServer(emulator) as rms, SmtpSink(
            credentials={"shop-user": SMTP_PASSWORD}) as sink:
        config = tmp_path / "unyo.yaml"
        config.write_text(f"""\
shop:
  id: secrets
rms:
  base_url: {rms.base_url}
  min_interval: 0
  timeout: 2s
  max_retries: 0
mail:
  enabled: true
  host: 127.0.0.1
  port: {sink.port}
  starttls: false
  auth: true
  from_address: info@example.jp
""", encoding="utf-8")
        env = {"RMS_SERVICE_SECRET": SECRET, "RMS_LICENSE_KEY": KEY,
               "RAKUTEN_SMTP_USERNAME": "shop-user", "RAKUTEN_SMTP_PASSWORD": SMTP_PASSWORD,
               "UNYO_DATABASE_URL": url, "UNYO_RMS_BASE_URL": None}

        def unyo(*args: str, **changes: str | None) -> None:
            result = CliRunner().invoke(app, list(args), env={**env, **changes})
            outputs.append(f"$ unyo {' '.join(args)}\n{result.stdout}\n{result.stderr}")

        at = ("--now", NOW.isoformat())
        c = ("-c", str(config))
        unyo("-v", "run", *c, "--once", *at, "--json")
        unyo("-v", "--log-json", "run", *c, "--once", *at)
        unyo("doctor", *c, "--json")
        unyo("doctor", *c)
        unyo("orders", "list", *c, "--json")
        unyo("report", *c, "--json")
        # failing conditions: the key refused, the SMTP login refused, RMS down
        unyo("-v", "run", *c, "--once", *at, RMS_LICENSE_KEY=KEY + "-old")
        unyo("doctor", *c, RMS_LICENSE_KEY=KEY + "-old",
             RAKUTEN_SMTP_PASSWORD=SMTP_PASSWORD + "-old")
        unyo("-v", "run", *c, "--once", *at, RAKUTEN_SMTP_PASSWORD=SMTP_PASSWORD + "-old")
        unyo("-v", "--log-json", "run", *c, "--once", *at,
             UNYO_RMS_BASE_URL="http://127.0.0.1:9")
        unyo("orders", "list", *c, UNYO_DATABASE_URL=url.replace("/unyo.db", "/no/such/x.db")
             if BACKEND == "sqlite" else url + "-missing")
        outputs.extend(dashboard_pages(url, config))
    text = "\n".join(outputs)
    assert "imported" in text and "refused" in text  # the commands really ran
    for secret in PLANTED:
        assert secret not in text, f"{secret} leaked:\n" + "\n".join(
            line for line in text.splitlines() if secret in line)
    # every text column of every table
    store = Store.open(url, migrate=False)
    try:
        with store.engine.connect() as conn:
            for table in metadata.sorted_tables:
                cols = [c for c in table.columns if isinstance(c.type, String | Text)]
                for row in conn.execute(select(*cols)) if cols else []:
                    for value in row:
                        assert not any(s in str(value) for s in PLANTED), (table.name, value)
    finally:
        store.close()
