"""The composition root: build a shop's context from its file and the environment.

The only place that reads credentials (from the environment variables the shop
file names) and picks the concrete adapters.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta

from unyo.adapters.db.store import Store
from unyo.adapters.mail import MailTemplateError, MailTemplates, SmtpMailer
from unyo.adapters.rakuten.channel import RakutenChannel
from unyo.adapters.warehouse import CsvFolderWarehouse
from unyo.adapters.warehouse.slips import SlipPrinter, SlipTemplateError
from unyo.adapters.webhook import HttpWebhook
from unyo.app.context import Progress, ShopContext, no_progress
from unyo.clock import Clock, SystemClock
from unyo.flow import Config


class SetupError(Exception):
    """Something the user must fix before unyo can run (message says what)."""


class OffsetClock:
    """Real time shifted to start at a given instant (`unyo run --now`)."""

    def __init__(self, start: datetime, base: Clock | None = None) -> None:
        self._base = base or SystemClock()
        self._offset: timedelta = start - self._base.now()
        self._tz = start.tzinfo

    def now(self) -> datetime:
        return (self._base.now() + self._offset).astimezone(self._tz)

    def sleep(self, seconds: float) -> None:
        self._base.sleep(seconds)


def _env_pair(env: Mapping[str, str] | None, names: tuple[str, str], what: str,
              alternative: str = "") -> tuple[str, str]:
    """Two secrets from the environment variables the shop file names; SetupError
    naming the missing variables (never their values) and where to find them."""
    env = os.environ if env is None else env
    missing = [n for n in names if not env.get(n)]
    if missing:
        raise SetupError(f"set {' and '.join(missing)} in the environment ({what})"
                         + alternative)
    return env[names[0]], env[names[1]]


def credentials(config: Config, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    return _env_pair(env, (config.rms.service_secret_env, config.rms.license_key_env),
                     "the RMS service secret and license key from RMS > WEB APIサービス")


def mail_credentials(config: Config,
                     env: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """The relay's ID and password from the environment variables `mail:` names."""
    mail = config.mail
    if not mail.enabled or not mail.auth:
        return None, None
    return _env_pair(env, (mail.username_env, mail.password_env),
                     "the SMTP ID and password from RMS > あんしんメルアドサービス > "
                     "メールサーバ設定情報", ", or turn mail off (mail.enabled: false)")


def build_mailer(config: Config, env: Mapping[str, str] | None = None) -> SmtpMailer | None:
    """The shop's mail sender, templates checked now (SetupError lists their problems);
    None while mail is off."""
    if not config.mail.enabled:
        return None
    try:
        templates = MailTemplates.load(config.mail, config.shop_name or config.shop_id)
    except MailTemplateError as e:
        raise SetupError("mail templates:\n" + "\n".join(e.problems)) from None
    username, password = mail_credentials(config, env)
    return SmtpMailer(config.mail, templates, username=username, password=password)


def build_warehouse(config: Config, clock: Clock) -> CsvFolderWarehouse | None:
    """The shop's warehouse exchange, its folders created; None while it is off."""
    if not config.warehouse.enabled:
        return None
    warehouse = CsvFolderWarehouse(config.warehouse, clock, config.shop_id)
    try:
        warehouse.ensure_folders()
    except OSError as e:
        raise SetupError(f"warehouse folder {config.warehouse.folder}: {e.strerror or e}") from e
    return warehouse


def build_printer(config: Config) -> SlipPrinter:
    """The shop's 納品書 printer, its template and logo checked now (SetupError lists
    their problems)."""
    try:
        return SlipPrinter.load(config)
    except SlipTemplateError as e:
        raise SetupError("納品書 template:\n" + "\n".join(e.problems)) from None


def build_webhook(config: Config, env: Mapping[str, str] | None = None) -> HttpWebhook | None:
    """The staff's alert webhook from the environment variable `alerts.webhook_url_env`
    names; None when it is not set. The URL is a secret: never echoed."""
    env = os.environ if env is None else env
    name = config.alerts.webhook_url_env
    url = (env.get(name) or "").strip()
    if not url:
        return None
    try:
        return HttpWebhook(url)
    except ValueError:
        raise SetupError(f"{name} (environment) is not an http(s) URL such as a Slack "
                         "incoming webhook's") from None


def build_context(config: Config, *, clock: Clock | None = None, store: Store | None = None,
                  progress: Progress = no_progress,
                  env: Mapping[str, str] | None = None) -> ShopContext:
    clock = clock or SystemClock()
    secret, key = credentials(config, env)
    channel = RakutenChannel.from_settings(config.rms, service_secret=secret, license_key=key,
                                           clock=clock)
    mailer = build_mailer(config, env)
    return ShopContext(config=config, store=store or Store.open(config.database_url),
                       channel=channel, clock=clock, progress=progress, mail=mailer,
                       # shadow mode touches not even the warehouse's folders
                       warehouse=None if config.shadow else build_warehouse(config, clock),
                       webhook=build_webhook(config, env))
