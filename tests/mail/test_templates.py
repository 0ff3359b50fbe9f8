"""Templates and the `mail:` settings: shop overrides, and mistakes caught before anything runs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tests.mail.conftest import MailWorld, make_world
from unyo.adapters.db.store import Store
from unyo.adapters.mail import MailTemplateError, MailTemplates, sample_orders
from unyo.adapters.mail.templates import delivery_time, one_line, yen
from unyo.clock import JST
from unyo.domain import NOT_FIXED, MailKind
from unyo.flow import ConfigError
from unyo.flow.config import parse_config, render_init
from unyo.flow.mail import MailKindSettings, MailSettings
from unyo.sandbox.smtp_sink import SmtpSink
from unyo.wiring import SetupError, build_context

ENV = {"RMS_SERVICE_SECRET": "x", "RMS_LICENSE_KEY": "y"}


def shop_file(tmp_path: Path, mail: str) -> Path:
    path = tmp_path / "unyo.yaml"
    path.write_text(f"shop:\n  id: tea\n  name: お茶の店\nmail:\n{mail}", encoding="utf-8")
    return path


def load(path: Path) -> MailSettings:
    return parse_config(path.read_text(encoding="utf-8"), str(path), env={}).mail


@pytest.mark.parametrize("kind", list(MailKind))
def test_the_shipped_templates_render_every_payment_variant(kind: MailKind) -> None:
    # given the shipped templates
    templates = MailTemplates.load(MailSettings(), "お茶の店")
    # when each sample order is rendered
    rendered = [templates.render(kind, o) for o in sample_orders(kind)]
    # then each has a subject and a body that names the order
    assert all(r.subject.startswith("【お茶の店】") and "123456-20261127-0000000001" in r.body
               for r in rendered)


def test_payment_texts_follow_the_payment_method() -> None:
    # given the thanks template and orders paid by card, COD, bank, after-pay, convenience store
    templates = MailTemplates.load(MailSettings(), "お茶の店")
    card, cod, bank, after, prepay, two = (templates.render(MailKind.thanks, o).body
                                           for o in sample_orders(MailKind.thanks)[:6])
    # then each tells the buyer what to do
    assert "代金引換でのお支払いです。" in cod and "ご請求金額 4,310円 をお支払いください" in cod
    assert "代引手数料　：330円" in cod
    assert "お振込先とお支払期限は" in bank and "送料　　　　：未確定" in bank
    assert "請求書は商品とは別にお届けします" in after
    assert "お届け希望：2026年11月30日（月） 14時〜16時" in after
    assert "お支払番号とお支払期限" in prepay and "お届け希望：午前中" in prepay
    assert "決済の承認が完了しましたら" in card
    assert "【送付先 2】\nお届け先：佐藤 一郎 様" in two and "のし　　：御歳暮" in two


def test_store_pickup_drop_off_and_social_gift_are_worded_as_they_go() -> None:
    # given the shipped templates and orders picked up at a store, left at the door, and
    # sent as a social gift (its recipient's address is theirs, not the buyer's)
    for kind in (MailKind.thanks, MailKind.shipping):  # the reminder speaks of payment only
        templates = MailTemplates.load(MailSettings(), "お茶の店")
        store, drop_off, gift = (templates.render(kind, o).body for o in sample_orders(kind)[6:])
        # then the store is where it goes, and the buyer collects it there
        assert "ファミリーマート 新宿西口店" in store
        assert "〒160-0023 東京都新宿区西新宿1-1-3" in store
        assert "置き配" in drop_off and "宅配ボックス" in drop_off
        assert "ソーシャルギフトの受取人様" in gift and "佐藤" not in gift
    shipping = MailTemplates.load(MailSettings(), "お茶の店")
    store = shipping.render(MailKind.shipping, sample_orders(MailKind.shipping)[6]).body
    assert "店舗でお受け取りください" in store and "玉川一丁目" not in store
    thanks = shipping.render(MailKind.thanks, sample_orders(MailKind.thanks)[6]).body
    assert "で受け取り" in thanks and "玉川一丁目" not in thanks.split("お受け取り")[1]


def test_a_shop_template_file_replaces_the_shipped_one(tmp_path: Path, store: Store,
                                                       sink: SmtpSink) -> None:
    # given the shop's own thanks template
    own = tmp_path / "thanks.txt"
    own.write_text("件名: ご注文受付 {{ order.number }}\n\n{{ buyer.name }} 様\n"
                   "{% for p in packages %}{% for i in p.items %}{{ i.name }}\n"
                   "{% endfor %}{% endfor %}合計 {{ amounts.total | yen }}\n", encoding="utf-8")
    world: MailWorld = make_world(store, sink, thanks=MailKindSettings(template=str(own)))
    order = world.import_order()
    # when the thanks mail is sent
    world.deliver()
    # then it is the shop's text
    [mail] = sink.messages()
    assert mail.message["Subject"] == f"ご注文受付 {order.number}"
    assert mail.text == "髙橋 花子 様\n新潟県産コシヒカリ 5kg\n合計 3,980円\n"


@pytest.mark.parametrize(("source", "problem"), [
    ("Subject: x\n{% for x in packages %}\n", r"own\.txt:2: mail\.thanks\.template: Unexpected "
                                               r"end of template"),
    ("Subject: x\n\n{{ buyer.nmae }}\n", r"own\.txt:3: mail\.thanks\.template: .*'nmae'"),
    ("ご注文ありがとうございます\n", r"own\.txt: mail\.thanks\.template: the first line must "
                                     r"be the subject"),
    ("Subject: x\n{{ amounts.total | yen(1, 2) }}\n", r"own\.txt:2: mail\.thanks\.template: "),
])
def test_a_broken_template_is_reported_at_load_not_at_send(tmp_path: Path, source: str,
                                                           problem: str) -> None:
    # given a shop template with a mistake
    own = tmp_path / "own.txt"
    own.write_text(source, encoding="utf-8")
    settings = MailSettings(thanks=MailKindSettings(template=str(own)))
    # when the templates are loaded (as unyo does when it starts)
    with pytest.raises(MailTemplateError, match=problem):
        MailTemplates.load(settings, "お茶の店")


@pytest.mark.parametrize("expression", [
    "shop.__dict__", "buyer.name.__class__", "packages[0].items.__class__.__mro__",
    "order.ordered_at.__class__", "amounts.__init__",
])
def test_a_template_cannot_reach_python_internals(tmp_path: Path, expression: str) -> None:
    # given a shop template that reaches for an object's internals
    own = tmp_path / "own.txt"
    own.write_text(f"Subject: x\n{{{{ {expression} }}}}\n", encoding="utf-8")
    settings = MailSettings(thanks=MailKindSettings(template=str(own)))
    # when the templates are loaded, then the sandbox refuses it
    with pytest.raises(MailTemplateError, match="unsafe"):
        MailTemplates.load(settings, "お茶の店")


def test_the_engine_does_not_start_with_a_broken_template(tmp_path: Path) -> None:
    # given a shop file with mail on and a template that names an unknown variable
    own = tmp_path / "thanks.txt"
    own.write_text("Subject: {{ shop.nam }}\n", encoding="utf-8")
    path = shop_file(tmp_path, "  enabled: true\n  auth: false\n  from_address: a@b.jp\n"
                     "  thanks:\n    template: thanks.txt\n")
    config = parse_config(path.read_text(encoding="utf-8"), str(path), env={})
    # when the engine is built
    with pytest.raises(SetupError, match=r"thanks\.txt:1: mail\.thanks\.template: .*'nam'"):
        build_context(config, env=ENV)


def test_the_engine_needs_the_relay_credentials_when_auth_is_on(tmp_path: Path) -> None:
    config = parse_config("mail:\n  enabled: true\n  from_address: info@tea.example\n",
                          env={})
    with pytest.raises(SetupError, match="set RAKUTEN_SMTP_USERNAME and RAKUTEN_SMTP_PASSWORD"):
        build_context(config, env=ENV)


def test_mail_settings_default_to_rakutens_relay_and_off() -> None:
    # given a shop file without a mail section
    settings = parse_config("shop:\n  id: tea\n", env={}).mail
    # then mail is off and would go through Rakuten's relay with STARTTLS and AUTH
    assert settings == MailSettings()
    assert (settings.enabled, settings.host, settings.port, settings.starttls,
            settings.auth) == (False, "sub.fw.rakuten.ne.jp", 587, True, True)


def test_the_init_file_has_a_valid_mail_section() -> None:
    assert parse_config(render_init("tea"), env={}).mail == MailSettings()


def test_mail_settings_are_read_with_durations_and_paths(tmp_path: Path) -> None:
    (tmp_path / "ship.txt").write_text("Subject: x\n", encoding="utf-8")
    path = shop_file(tmp_path, "  enabled: true\n  from_address: info@tea.example\n"
                     "  from_name: お茶の店\n  quiet_hours: 22:00-08:00\n  timeout: 10s\n"
                     "  thanks:\n    delay: 1h\n  shipping:\n    template: ship.txt\n")
    settings = load(path)
    assert settings.thanks == MailKindSettings(enabled=True, delay=3600.0)
    assert settings.shipping.template == str(tmp_path / "ship.txt")
    assert (settings.timeout, settings.quiet_hours) == (10.0, "22:00-08:00")


def test_mail_mistakes_are_reported_with_lines(tmp_path: Path) -> None:
    path = shop_file(tmp_path, "  enabled: true\n  port: 0\n  password_env: SP123_abc\n"
                     "  quiet_hours: night\n  reply_to: not an address\n  colour: red\n"
                     "  thanks:\n    template: missing.txt\n    delay: soon\n")
    with pytest.raises(ConfigError) as e:
        load(path)
    where = str(path)
    assert e.value.problems == [
        f"{where}:6: mail.port: expected a whole number from 1 to 65535, got 0",
        f"{where}:7: mail.password_env: this looks like an RMS secret, not the name of an "
        "environment variable; put the secret in the environment and name the variable here",
        f"{where}:8: mail.quiet_hours: 'night' is not a time range such as 22:00-08:00 (JST)",
        f"{where}:9: mail.reply_to: expected a mail address such as info@example.co.jp",
        f"{where}:10: mail.colour: unknown key (known: auth, batch, enabled, from_address, "
        "from_name, host, password_env, port, quiet_hours, reminder, reply_to, shipping, starttls, "
        "thanks, timeout, username_env)",
        f"{where}:12: mail.thanks.template: template file {tmp_path / 'missing.txt'} not found",
        f"{where}:13: mail.thanks.delay: 'soon' is not a duration (use e.g. 30s, 5m, 1h)",
        f"{where}:4: mail.from_address: required when mail is enabled (an address registered "
        "in RMS; the relay rejects others with 552)",
    ]


@pytest.mark.parametrize(("window", "at", "until"), [
    ("22:00-08:00", "2026-11-27T23:30", "2026-11-28T08:00"),
    ("22:00-08:00", "2026-11-28T07:59", "2026-11-28T08:00"),
    ("22:00-08:00", "2026-11-28T08:00", None),
    ("22:00-08:00", "2026-11-27T21:59", None),
    ("12:00-13:00", "2026-11-27T12:30", "2026-11-27T13:00"),
    ("12:00-13:00", "2026-11-27T13:30", None),
    ("", "2026-11-27T23:30", None),
])
def test_quiet_hours_in_jst(window: str, at: str, until: str | None) -> None:
    settings = MailSettings(quiet_hours=window)
    expected = datetime.fromisoformat(until).replace(tzinfo=JST) if until else None
    assert settings.quiet_until(datetime.fromisoformat(at).replace(tzinfo=JST)) == expected


def test_text_helpers() -> None:
    assert one_line("髙橋\r\n花子\u2028様\x00") == "髙橋 花子 様"
    assert one_line(" 髙橋\u3000\u3000花子\x85\t様\u2029 ") == "髙橋 花子 様"
    assert one_line("a  b\x9fc", 4) == "a b "
    assert one_line(None) == one_line("") == ""
    assert yen(NOT_FIXED) == "未確定（確定後にご連絡いたします）"
    assert yen(12800) == "12,800円"
    assert [delivery_time(t) for t in ("", "0", "1", "2", "1416", "9")] == [
        "", "", "午前中", "午後", "14時〜16時", "指定あり"]
