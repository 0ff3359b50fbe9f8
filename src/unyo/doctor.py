"""`unyo doctor`: is this installation ready to run? Each check says what to fix.

Checks, per shop: the shop file, the database (reachable, migrations applied),
RMS authentication (a harmless searchOrder over the last minute), the SMTP
relay's login (connect, STARTTLS, AUTH, QUIT: nothing is sent), the warehouse
folders (there, writable, readable), the RMS license key's expiry (from RMS's license
management API, else `alerts.license_expires`, else the issue date recorded on the
dashboard + 90 days), where money alerts are sent (`alerts:`), and the money watch's
open alerts.
No check writes anything a shop would see, and no message carries a secret.
"""

from __future__ import annotations

import errno
import os
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from unyo.clock import JST, Clock, SystemClock
from unyo.flow import Config

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Check:
    shop: str
    name: str  # config | database | mode | rms | mail | warehouse | license
    status: str  # ok | warn | fail
    message: str
    text: str = ""  # the Japanese message for the text output, where there is one

    def as_dict(self) -> dict[str, str]:
        return {"shop": self.shop, "check": self.name, "status": self.status,
                "message": self.message}


def check_database(url: str) -> Check:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from unyo.adapters.db.migrate import current_revision, head_revision
    from unyo.adapters.db.store import make_engine
    from unyo.adapters.db.trouble import location, storage_problem

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return Check("", "database", FAIL, "the database URL is not a URL "
                     "(database.url or UNYO_DATABASE_URL)")
    engine = None
    try:
        engine = make_engine(url)
        with engine.connect() as conn:
            current = current_revision(conn)
        _probe_write(engine)
    except Exception as e:  # SQLAlchemy's, the driver's (the probe) or the file system's
        problem = storage_problem(e, location(engine) if engine is not None else shown)
        if problem is not None:
            return Check("", "database", FAIL, problem.english, problem.japanese)
        reason = getattr(e, "orig", None) or e
        return Check("", "database", FAIL, f"cannot open {shown}: {reason}")
    finally:
        if engine is not None:
            engine.dispose()
    head = head_revision()
    if current is None:
        return Check("", "database", WARN, f"{shown} is empty: the first `unyo run` "
                     "(or `unyo db upgrade`) creates the tables")
    if current != head:
        return Check("", "database", WARN, f"{shown} is at migration {current}, this unyo "
                     f"needs {head}: run `unyo db upgrade` (commands also do it when they "
                     "open the database)")
    low = _low_disk(url)
    if low:
        return Check("", "database", WARN, low)
    return Check("", "database", OK, f"{shown} reachable and writable, migrations up to date "
                 f"({head})")


LOW_DISK = 200 * 1024 * 1024
"""Less free space than this next to a SQLite database is worth a warning."""


def _probe_write(engine: Any) -> None:
    """Raise what a write would meet (a lock, a read-only file or folder), writing nothing.

    SQLite: take the write lock (BEGIN IMMEDIATE, waiting 2 s) and create a table, then
    roll back; a read-only file only refuses at the first write. PostgreSQL: a read-only
    session (a hot standby) says so in transaction_read_only."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            cur = raw.driver_connection.cursor()
            cur.execute("PRAGMA busy_timeout=2000")
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.execute("CREATE TABLE unyo_doctor_probe (x INTEGER)")
            finally:
                cur.execute("ROLLBACK")
        finally:
            raw.close()
    elif engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            if conn.exec_driver_sql("SHOW transaction_read_only").scalar() == "on":
                raise OSError(errno.EROFS, "the PostgreSQL session is read-only "
                              "(a standby?)")


def _low_disk(url: str) -> str | None:
    import shutil

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    folder = os.path.dirname(os.path.abspath(parsed.database))
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    if free >= LOW_DISK:
        return None
    return (f"the disk holding {parsed.database} has only {free // (1024 * 1024)} MB free: "
            "when it is full every step fails until space is freed")


def check_shop(config: Config, *, clock: Clock | None = None,
               env: dict[str, str] | None = None, store: Any = None) -> list[Check]:
    """The checks of one shop (its database is checked once, by the caller)."""
    clock = clock or SystemClock()
    shop = config.shop_id
    rms, expiry = _rms(config, clock, env)
    out = [_cutover(config, store), rms, *_mail(config, env), *_warehouse(config),
           _alerts(config, env)]
    today = clock.now().astimezone(JST).date()
    if expiry is not None:
        out.append(_expiry(expiry, today, "read from RMS's license management API",
                           config.alerts.license_days))
    elif config.alerts.license_expires:
        out.append(_expiry(date.fromisoformat(config.alerts.license_expires), today,
                           "alerts.license_expires", config.alerts.license_days))
    elif store is not None:
        out.append(_license(store, shop, clock))
    if store is not None:
        out.append(_money(store, shop))
    return [Check(shop, c.name, c.status, c.message, c.text) for c in out]


def cutover_text(config: Config) -> tuple[str, str]:
    """The shop's mode and `import.start_at`, in English and Japanese (check, doctor)."""
    start = config.import_.start_at
    when = start.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST") if start else None
    since = (f"nothing ordered before {when} is imported" if when
             else "import.start_at is not set")
    seit = (f"{when} より前の注文は取り込みません" if when
            else "import.start_at（切替日時）は未設定です")
    if config.shadow:
        return (f"shadow mode: orders are imported and the rules run, but nothing is "
                f"confirmed, mailed, handed off or reported; {since}",
                f"シャドーモード: 取り込みとルールだけを動かし、注文確認・メール・倉庫連携・"
                f"発送完了報告は行いません。{seit}")
    return f"live; {since}", f"本番モード。{seit}"


def _cutover(config: Config, store: Any) -> Check:
    english, japanese = cutover_text(config)
    if config.shadow:
        return Check("", "mode", WARN, english, japanese)
    if config.import_.start_at is None and store is not None:
        try:
            with store.transaction() as conn:
                empty = not sum(store.stage_counts(conn, config.shop_id).values())
        except Exception:  # the database check reports the database
            empty = False
        if empty:
            hours = config.import_.lookback / 3600
            return Check("", "mode", WARN,
                         f"{english}: the first run imports the orders of the last "
                         f"{hours:g} h, those the old system already handled too "
                         "(docs/going-live.md)",
                         f"{japanese}。最初の実行で直近{hours:g}時間の注文を取り込みます。"
                         "旧システムが処理済みの注文も含まれるため、切替日時を設定してください"
                         "（docs/going-live.md）")
    return Check("", "mode", OK, english, japanese)


def _rms(config: Config, clock: Clock, env: dict[str, str] | None
         ) -> tuple[Check, date | None]:
    """RMS takes the credentials (a searchOrder over the last minute), and the license
    key's expiry where RMS's license management API answers for the key."""
    from unyo.adapters.rakuten.channel import RakutenChannel
    from unyo.app.ports import ChannelAuthError, ChannelError
    from unyo.wiring import SetupError, credentials

    try:
        secret, key = credentials(config, env)
    except SetupError as e:
        return Check("", "rms", FAIL, str(e)), None
    settings = config.rms
    channel = RakutenChannel.from_settings(settings, service_secret=secret, license_key=key,
                                           clock=clock)
    now = clock.now()
    expiry = None
    try:
        channel.search(now - timedelta(minutes=1), now)
        try:
            expiry = channel.license_expiry()
        except ChannelError:
            expiry = None  # the configured date, or the recorded issue date, is checked
    except ChannelAuthError as e:
        return Check("", "rms", FAIL, str(e)), None
    except ChannelError as e:
        return Check("", "rms", WARN, f"RMS did not answer well (will be retried by the "
                     f"runner): {e}"), None
    finally:
        channel.close()
    return Check("", "rms", OK, f"{settings.base_url} accepts the service secret and "
                 "license key (searchOrder over the last minute)"), expiry


def _expiry(expires: date, today: date, source: str, warn_days: int = 14) -> Check:
    left = (expires - today).days
    if left < 0:
        return Check("", "license", FAIL, f"the RMS license key expired on {expires} "
                     f"({source}): issue a new one (RMS > 拡張サービス一覧 > WEB API)",
                     f"RMSライセンスキーは{expires}に期限切れです。RMSで新しいキーを発行してください。")
    if left <= warn_days:
        return Check("", "license", WARN, f"the RMS license key expires on {expires}, in "
                     f"{left} days ({source}): issue a new one (RMS > 拡張サービス一覧 > WEB API)",
                     f"RMSライセンスキーの有効期限は{expires}です（あと{left}日）。"
                     "新しいキーを発行してください。")
    return Check("", "license", OK, f"the RMS license key is valid until {expires} "
                 f"({left} days; {source})",
                 f"RMSライセンスキーは{expires}まで有効です（あと{left}日）。")


def _alerts(config: Config, env: dict[str, str] | None) -> Check:
    """Where the money watch's alerts go besides the dashboard (nothing is sent)."""
    from unyo.wiring import SetupError, build_webhook

    a = config.alerts
    try:
        hook = build_webhook(config, env)
    except SetupError as e:
        return Check("", "alerts", FAIL, str(e))
    where = []
    if a.mail_to:
        where.append(f"mail to {len(a.mail_to)} address(es)")
    if hook is not None:
        where.append(f"the webhook at {hook.host} (from {a.webhook_url_env})")
        hook.close()
    if a.mail_to and not config.mail.enabled:
        return Check("", "alerts", WARN, "alerts.mail_to is set but mail is off "
                     "(mail.enabled: false): alert mails wait until it is on",
                     "alerts.mail_to がありますがメールが無効です（mail.enabled: false）。")
    if not where:
        return Check("", "alerts", WARN, "money alerts go to the dashboard only: set "
                     f"alerts.mail_to or {a.webhook_url_env} to be told at night",
                     "お金のアラートはダッシュボードだけに出ます。alerts.mail_to か "
                     f"{a.webhook_url_env} を設定してください。")
    return Check("", "alerts", OK, "money alerts go to " + " and ".join(where))


def _money(store: Any, shop: str) -> Check:
    """The money watch's open alerts (`unyo run` keeps them; nothing is read from RMS)."""
    from unyo.domain.money import KIND_NAMES

    with store.transaction() as conn:
        open_ = [s.alert for s in store.watch.open_alerts(conn, shop)]
    if not open_:
        return Check("", "money", OK, "no open money alert", "お金のアラートはありません。")
    kinds: dict[str, int] = {}
    for a in open_:
        kinds[a.kind.value] = kinds.get(a.kind.value, 0) + 1
    status = FAIL if any(a.level == "error" for a in open_) else WARN
    english = ", ".join(f"{k} {n}" for k, n in kinds.items())
    shown = "\n      ".join(f"{KIND_NAMES[a.kind]}: {a.text}" for a in open_[:10])
    more = f"\n      ほか{len(open_) - 10}件" if len(open_) > 10 else ""
    return Check("", "money", status, f"{len(open_)} open money alert(s): {english} "
                 "(see the dashboard)", f"お金のアラート {len(open_)}件:\n      {shown}{more}")


def _mail(config: Config, env: dict[str, str] | None) -> list[Check]:
    from unyo.app.ports import MailError
    from unyo.wiring import SetupError, build_mailer

    if not config.mail.enabled:
        return [Check("", "mail", OK, "buyer mail is off (mail.enabled: false)")]
    s = config.mail
    try:
        mailer = build_mailer(config, env)
    except SetupError as e:
        return [Check("", "mail", FAIL, str(e))]
    except Exception as e:  # a template that does not load, say
        return [Check("", "mail", FAIL, f"{type(e).__name__}: {e}")]
    if mailer is None:
        return [Check("", "mail", OK, "buyer mail is off")]
    try:
        with mailer.session():
            pass
    except MailError as e:
        return [Check("", "mail", FAIL, str(e))]
    how = " with STARTTLS" if s.starttls else ""
    who = " and logged in" if s.auth else ""
    return [Check("", "mail", OK, f"connected to {s.host}:{s.port}{how}{who}; nothing sent")]


def _warehouse(config: Config) -> list[Check]:
    w = config.warehouse
    if not w.enabled:
        return [Check("", "warehouse", OK, "the warehouse exchange is off")]
    problems = []
    for sub in ("requests", "results", "done", "error"):
        folder = w.path(sub)
        if not folder.is_dir():
            problems.append(f"{folder} is missing (created by the first `unyo run`, or "
                            "mkdir it for the WMS)")
            continue
        if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
            problems.append(f"{folder} is not readable and writable by this user")
    if not problems:
        probe = w.path("requests") / f".unyo-doctor-{uuid.uuid4().hex[:8]}.tmp"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            problems.append(f"cannot write in {probe.parent}: {e.strerror or e}")
    if problems:
        return [Check("", "warehouse", FAIL, "; ".join(problems))]
    return [Check("", "warehouse", OK, f"{w.path('requests').parent}: requests/, results/, "
                  "done/ and error/ are there and writable")]


def _license(store: Any, shop: str, clock: Clock) -> Check:
    from unyo.adapters.db.accounts import Accounts
    from unyo.app.dashboard import LICENSE_DAYS, LICENSE_ISSUED, LICENSE_WARN_DAYS

    issued = Accounts(store.engine).setting(shop, LICENSE_ISSUED)
    if not issued:
        return Check("", "license", WARN, "the license key's issue date is not recorded: "
                     "enter it on the dashboard (設定) to be warned 14 days before the "
                     "90-day expiry")
    try:
        expires = date.fromisoformat(issued) + timedelta(days=LICENSE_DAYS)
    except ValueError:
        return Check("", "license", WARN, f"the recorded issue date {issued!r} is not a date")
    left = (expires - clock.now().astimezone(JST).date()).days
    if left < 0:
        return Check("", "license", FAIL, f"the RMS license key expired on {expires} "
                     "(RMS > 拡張サービス一覧 > WEB API > ライセンスキーの発行)")
    if left <= LICENSE_WARN_DAYS:
        return Check("", "license", WARN, f"the RMS license key expires on {expires}, in "
                     f"{left} days: issue a new one (RMS > 拡張サービス一覧 > WEB API)")
    return Check("", "license", OK, f"the RMS license key is valid until {expires} "
                 f"({left} days)")
