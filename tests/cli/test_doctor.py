"""`unyo doctor`: every check against the real thing it checks, and what it says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cli.conftest import KEY, SECRET, SHOP_FILE, Cli
from unyo.sandbox.smtp_sink import SmtpSink


def checks(doc: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["check"]: (c["status"], c["message"]) for c in doc["checks"]}


def doctor(cli: Cli, config: Path, **env: str | None) -> tuple[int, dict[str, Any]]:
    import json

    result = cli("doctor", "-c", str(config), "--json", env=env)
    return result.exit_code, json.loads(result.stdout)


def test_a_healthy_shop(cli: Cli) -> None:
    cli("db", "upgrade", "-c", str(cli.config))
    code, doc = doctor(cli, cli.config)
    found = checks(doc)
    assert code == 0 and doc["ok"] is True
    assert found["database"][0] == "ok" and "migrations up to date" in found["database"][1]
    assert found["rms"] == ("ok", found["rms"][1]) and "searchOrder" in found["rms"][1]
    assert found["mail"][0] == "ok" and found["warehouse"][0] == "ok"
    # the license key's expiry comes from RMS's license management API (the emulator's key:
    # 90 days); no money alert is open; alerts go to the dashboard only
    assert found["license"][0] == "ok" and "license management API" in found["license"][1]
    assert found["money"] == ("ok", "no open money alert")
    assert found["alerts"][0] == "warn" and "alerts.mail_to" in found["alerts"][1]
    assert SECRET not in str(doc) and KEY not in str(doc)


def test_a_wrong_license_key_fails_without_showing_it(cli: Cli) -> None:
    wrong = "SL999_not-the-key"
    code, doc = doctor(cli, cli.config, RMS_LICENSE_KEY=wrong)
    status, message = checks(doc)["rms"]
    assert code == 1 and doc["ok"] is False and status == "fail"
    assert "ES01-01" in message or "90" in message
    assert wrong not in str(doc) and SECRET not in str(doc)


def test_missing_credentials_name_the_variables(cli: Cli) -> None:
    code, doc = doctor(cli, cli.config, RMS_SERVICE_SECRET=None)
    status, message = checks(doc)["rms"]
    assert code == 1 and status == "fail" and "RMS_SERVICE_SECRET" in message


def test_warehouse_folders_and_the_smtp_login(cli: Cli, tmp_path: Path) -> None:
    with SmtpSink(credentials={"shop-user": "right-password"}) as sink:
        config = tmp_path / "mail.yaml"
        config.write_text(SHOP_FILE + f"""\
mail:
  enabled: true
  host: 127.0.0.1
  port: {sink.port}
  starttls: false
  auth: true
  from_address: info@example.jp
warehouse:
  enabled: true
  folder: {tmp_path / 'no-such-folder'}
""", encoding="utf-8")
        code, doc = doctor(cli, config, RAKUTEN_SMTP_USERNAME="shop-user",
                           RAKUTEN_SMTP_PASSWORD="wrong-password")
        found = checks(doc)
        assert code == 1
        assert found["mail"][0] == "fail" and "refused the login" in found["mail"][1]
        assert "wrong-password" not in str(doc)
        assert found["warehouse"][0] == "fail" and "no-such-folder" in found["warehouse"][1]
        assert sink.messages() == []  # a check sends nothing

        for sub in ("requests", "results", "done", "error"):
            (tmp_path / "no-such-folder" / sub).mkdir(parents=True)
        code, doc = doctor(cli, config, RAKUTEN_SMTP_USERNAME="shop-user",
                           RAKUTEN_SMTP_PASSWORD="right-password")
        found = checks(doc)
        assert found["mail"][0] == "ok" and "logged in" in found["mail"][1]
        assert found["warehouse"][0] == "ok"
        assert sink.messages() == []


def test_an_unreachable_database(cli: Cli) -> None:
    code, doc = doctor(cli, cli.config,
                       UNYO_DATABASE_URL="sqlite:////nonexistent-dir/x/unyo.db")
    status, message = checks(doc)["database"]
    assert code == 1 and status == "fail" and "cannot open" in message
