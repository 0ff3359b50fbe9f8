"""`unyo mail preview`, `unyo run` sending mail, and `unyo sandbox smtp` as a real process."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.cli.conftest import NOW, SHOP_FILE, Cli
from tests.cli.test_sandbox import free_port, wait_for_port
from unyo.sandbox.smtp_sink import SmtpSink


def with_mail(cli: Cli, extra: str) -> Path:
    path = cli.config.parent / "mail.yaml"
    path.write_text(SHOP_FILE + "mail:\n" + extra, encoding="utf-8")
    return path


def test_preview_prints_the_thanks_mail_of_an_order(cli: Cli, imported: dict[str, Any]) -> None:
    # given imported orders
    [row] = cli.json("orders", "list", "-c", str(cli.config), "--limit", "1")["orders"]
    # when the thanks mail of one is previewed
    result = cli("mail", "preview", "thanks", row["order_number"], "-c", str(cli.config))
    # then the headers and the body are printed, readable
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("From: CLI テスト店 <from-address-not-set@example.invalid>")
    assert lines[1].startswith(f"To: {row['buyer_name']} 様 <")
    assert lines[2] == ("Subject: 【CLI テスト店】ご注文ありがとうございます"
                        f"（注文番号：{row['order_number']}）")
    assert f"{row['buyer_name']} 様" in lines
    assert f"注文番号　：{row['order_number']}" in lines


def test_preview_without_an_order_uses_a_sample(cli: Cli) -> None:
    result = cli("mail", "preview", "shipping", "-c", str(cli.config))
    assert result.exit_code == 0, result.stderr
    assert "追跡番号：4321-0987-6543" in result.stdout
    assert "配送会社：ヤマト運輸" in result.stdout


def test_preview_raw_prints_the_encoded_mail(cli: Cli) -> None:
    result = cli("mail", "preview", "thanks", "--raw", "-c", str(cli.config))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.isascii()
    assert "Content-Transfer-Encoding: base64" in result.stdout


def test_preview_of_an_unknown_order_fails(cli: Cli) -> None:
    result = cli("mail", "preview", "thanks", "999999-20261127-0000000000",
                 "-c", str(cli.config))
    assert result.exit_code == 1
    assert "no order 999999-20261127-0000000000 in shop clitest" in result.stderr


def test_preview_reports_a_broken_template_with_its_line(cli: Cli) -> None:
    # given a shop file whose thanks template has a syntax error on line 2
    (cli.config.parent / "thanks.txt").write_text("Subject: x\n{% if %}\n", encoding="utf-8")
    path = with_mail(cli, "  thanks:\n    template: thanks.txt\n")
    # when the mail is previewed
    result = cli("mail", "preview", "thanks", "-c", str(path))
    # then nothing is rendered and the problem names the file and line
    assert result.exit_code == 2
    assert f"{cli.config.parent / 'thanks.txt'}:2: mail.thanks.template:" in result.stderr


def test_run_sends_a_thanks_mail_per_imported_order(cli: Cli) -> None:
    # given a shop file pointing mail at a local SMTP server
    with SmtpSink() as sink:
        path = with_mail(cli, f"  enabled: true\n  host: 127.0.0.1\n  port: {sink.port}\n"
                         "  starttls: false\n  auth: false\n  from_address: shop@cli.example\n")
        # when one cycle runs
        doc = cli.json("run", "-c", str(path), "--once", "--now", NOW.isoformat())
        mails = sink.messages()
    # then every imported order got its thanks mail, through the outbox step
    imported = doc["steps"]["import"]["result"]["imported"]
    assert imported > 0
    assert doc["steps"]["outbox"]["result"]["delivered"]["send_mail:thanks"] == imported
    assert len(mails) == imported
    assert {m.kind for m in mails} == {"thanks"}
    assert all(m.mail_from == "shop@cli.example" for m in mails)


def test_run_needs_the_relay_credentials(cli: Cli) -> None:
    path = with_mail(cli, "  enabled: true\n  from_address: shop@cli.example\n")
    result = cli("run", "-c", str(path), "--once", "--now", NOW.isoformat())
    assert result.exit_code == 2
    assert "set RAKUTEN_SMTP_USERNAME and RAKUTEN_SMTP_PASSWORD" in result.stderr


def test_sandbox_smtp_keeps_and_shows_every_mail() -> None:
    # given `unyo sandbox smtp` running as its own process
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from unyo.cli import main; main()",
                             "sandbox", "smtp", "--port", str(port)], env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, proc)
        # when a mail is sent to it
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "a@shop.example", "b@buyer.example", "テスト"
        msg["X-Unyo-Mail"] = "thanks"
        msg.set_content("本文")
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            smtp.send_message(msg)
    finally:
        # and it is stopped
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    # then it said where it listens, showed the mail, and stopped cleanly
    assert proc.returncode == 0, err
    assert f"SMTP sink on 127.0.0.1:{port}" in err
    assert "thanks a@shop.example → b@buyer.example: テスト" in err
