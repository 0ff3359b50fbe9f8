"""Load `unyo.yaml` into typed settings, reporting mistakes with file, line and key.

Secrets never live in the file: it names the environment variables that hold
them, and a value that looks like an RMS secret where a variable name belongs
is refused without being echoed. Environment overrides: UNYO_RMS_BASE_URL,
UNYO_DATABASE_URL.

Every problem is reported as `file:line: key: message`, all of them at once,
before anything runs (DESIGN.md §4).
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from unyo.domain.money import WatchSettings
from unyo.domain.remarks import RemarksTemplate
from unyo.domain.rules import CompiledRule
from unyo.flow.invoice import InvoiceSettings, parse_invoice
from unyo.flow.limits import MAX_FILE_BYTES, yaml_problem
from unyo.flow.mail import MailSettings, parse_mail
from unyo.flow.rules import parse_rules
from unyo.flow.sections import line_of
from unyo.flow.warehouse import WarehouseSettings, parse_warehouse

PRODUCTION_RMS = "https://api.rms.rakuten.co.jp"
JST = timezone(timedelta(hours=9), "JST")
MODES = ("live", "shadow")
"""`mode`: live acts at RMS, the buyer's mailbox and the warehouse; shadow imports and
runs the rules but acts nowhere (the cut-over's trial week, docs/going-live.md)."""
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
SHOP_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Service secrets read "SP<shop number>_…" and license keys "SL<shop number>_…" in the
# examples Rakuten and integrators publish *(unconfirmed: not in reference/rakuten-rms.md)*.
_LOOKS_LIKE_RMS_SECRET = re.compile(r"S[PL]\d+_")


class ConfigError(Exception):
    """The shop file has mistakes; `problems` lists each as 'file:line: key: message'."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_duration(value: Any) -> float:
    """'30m', '1h', '45s', '500ms' or a number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m or 1h")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 5m, 1h)")
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 5m, 1h)")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass(frozen=True)
class RmsSettings:
    base_url: str = PRODUCTION_RMS
    service_secret_env: str = "RMS_SERVICE_SECRET"
    license_key_env: str = "RMS_LICENSE_KEY"
    min_interval: float = 1.0  # seconds between requests (Rakuten: about 1 request/s)
    timeout: float = 30.0  # per read (and for connecting)
    deadline: float = 60.0  # the whole call: connect, headers and body
    max_retries: int = 4
    # inventoryRestoreType sent with cancelOrder for a person's cancel in unyo:
    # 0 as the item is set up in RMS, 1 restore the stock, 2 do not
    cancel_inventory_restore: int = 1


@dataclass(frozen=True)
class ImportSettings:
    interval: float = 60.0  # poll cadence
    self_cancel_wait: float = 1800.0  # members may cancel within 30 minutes
    overlap: float = 600.0  # each search window starts this far before the last poll
    lookback: float = 86400.0  # first run: how far back to search
    confirm: bool = True  # confirmOrder new orders (100 → 200)
    thanks_mail: bool = True  # queue サンクスメール on import
    # The shop's own additions to 備考欄 (its order-form questions): header names (for
    # `[ご利用目的:]`) or whole prompt lines, and the fixed answers under them; neither
    # counts as the buyer's request (field `remarks`).
    remarks_headers: tuple[str, ...] = ()
    remarks_answers: tuple[str, ...] = ()
    # Cut-over: nothing ordered before this instant is imported, ever (the old system
    # handled it); an order placed exactly then is imported. None: no limit.
    start_at: datetime | None = None


@dataclass(frozen=True)
class SyncSettings:
    interval: float = 300.0  # look for payments, changes and cancellations this often
    # every open order is read in full this often (a slot of them each turn), for what
    # RMS has no search for; ready orders are also read just before the hand-off
    settled_interval: float = 3600.0

    @property
    def settled_every(self) -> int:
        """Read every open order in full every this many turns (at least every turn)."""
        if self.interval <= 0:
            return 1
        return max(1, round(self.settled_interval / self.interval))


@dataclass(frozen=True)
class OutboxSettings:
    interval: float = 15.0
    max_attempts: int = 8


@dataclass(frozen=True)
class AlertSettings:
    """The money watch (`alerts:`): its thresholds, and who is told when an alert opens."""

    interval: float = 900.0  # how often the watch looks (and reads RMS for reported orders)
    mail_to: tuple[str, ...] = ()  # staff addresses: one digest mail per turn with new alerts
    webhook_url_env: str = "UNYO_ALERTS_WEBHOOK_URL"  # env var holding the webhook URL
    payout_by: str = "09:00"  # JST, the morning after the shipping report: RMS 500 by then
    payout_lookback: float = 7 * 86400.0  # reported orders watched this long
    auto_cancel_days: int = 2  # alert this many days before Rakuten's 14-day cancel
    due_days: int = 2  # ... before a payment due date or cancelDueDate
    license_days: int = 14  # ... before the RMS license key expires
    license_expires: str = ""  # YYYY-MM-DD, when RMS's license API cannot be read

    @property
    def watch(self) -> WatchSettings:
        hour, minute = (int(x) for x in self.payout_by.split(":"))
        return WatchSettings(time(hour, minute), self.auto_cancel_days, self.due_days,
                             self.license_days)


@dataclass(frozen=True)
class WebSettings:
    # The reverse proxies whose X-Forwarded-For is believed (addresses or networks);
    # empty: none, the TCP peer is the client.
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    shop_id: str = "shop"
    shop_name: str = ""
    # the shop's contact as its 納品書 shows it (shop.address, shop.phone, shop.email,
    # shop.logo: an image file, absolute once loaded)
    shop_address: str = ""
    shop_phone: str = ""
    shop_email: str = ""
    shop_logo: str = ""
    database_url: str = "sqlite:///unyo.db"
    rms: RmsSettings = field(default_factory=RmsSettings)
    import_: ImportSettings = field(default_factory=ImportSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    web: WebSettings = field(default_factory=WebSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    warehouse: WarehouseSettings = field(default_factory=WarehouseSettings)
    invoice: InvoiceSettings = field(default_factory=InvoiceSettings)
    rules: tuple[CompiledRule, ...] = ()  # 受注処理ルール, in file order
    mode: str = "live"  # or "shadow" (MODES)
    path: str | None = None

    @property
    def shadow(self) -> bool:
        """Shadow mode: import and run the rules, act nowhere (no outside effect)."""
        return self.mode == "shadow"

    def with_env(self, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        cfg = self
        if env.get("UNYO_RMS_BASE_URL"):
            url = env["UNYO_RMS_BASE_URL"].strip().rstrip("/")
            problem = _base_url_problem(url)
            if problem:
                raise ConfigError([f"UNYO_RMS_BASE_URL (environment): {problem}"])
            cfg = replace(cfg, rms=replace(cfg.rms, base_url=url))
        if env.get("UNYO_DATABASE_URL"):
            cfg = replace(cfg, database_url=env["UNYO_DATABASE_URL"])
        return cfg


_SECTIONS: dict[str, type] = {
    "rms": RmsSettings,
    "import": ImportSettings,
    "sync": SyncSettings,
    "outbox": OutboxSettings,
    "web": WebSettings,
    "alerts": AlertSettings,
}
_TOP_KEYS = ("shop", "database", *_SECTIONS, "mail", "warehouse", "invoice", "mode", "rules")
_DURATION_KEYS = {"interval", "self_cancel_wait", "overlap", "lookback", "min_interval", "timeout",
                  "settled_interval", "deadline", "payout_lookback"}
_ENV_NAME_KEYS = {"service_secret_env", "license_key_env", "webhook_url_env"}
_HH_MM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_MAIL_ADDRESS = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+")


def _base_url_problem(url: str) -> str | None:
    """Why `url` cannot be the RMS base URL (scheme, host and port only), or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http(s) URL such as {PRODUCTION_RMS}"
    if parts.path.strip("/") or parts.query or parts.fragment:
        return (f"{url!r} has a path; give scheme, host and port only "
                "(unyo appends /es/2.0/order/<method>/)")
    return None


def _env_name_problem(value: str) -> str | None:
    """Why `value` cannot be the name of an environment variable, without echoing it."""
    if _LOOKS_LIKE_RMS_SECRET.match(value):
        return ("this looks like an RMS secret, not the name of an environment variable; "
                "put the secret in the environment and name the variable here")
    if not _ENV_NAME.fullmatch(value):
        return "expected the name of an environment variable (letters, digits and '_')"
    return None


_line = line_of


def _section(name: str, node: Any, cls: type, where: str, line: int,
             problems: list[str]) -> Any:
    if node is None:  # every setting commented out: the defaults
        return cls()
    if not isinstance(node, CommentedMap):
        problems.append(f"{where}:{line}: {name}: expected a mapping of settings")
        return cls()
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in node.items():
        at = f"{where}:{_line(node, key, line)}"
        f = known.get(str(key))
        if f is None:
            problems.append(f"{at}: {name}.{key}: unknown key (known: {', '.join(sorted(known))})")
            continue
        try:
            values[f.name] = _value(f.name, getattr(cls(), f.name), value)
        except ValueError as e:
            problems.append(f"{at}: {name}.{key}: {e}")
    return cls(**values)


def _value(name: str, default: Any, value: Any) -> Any:
    """One setting, checked against the type of its default; ValueError says why not."""
    if name in _DURATION_KEYS:
        return parse_duration(value)
    if name == "start_at":
        return parse_start_at(value)
    if name == "trusted_proxies":
        return _networks(value)
    if name in ("remarks_headers", "remarks_answers"):
        return _texts(value)
    if name == "mail_to":
        addresses = _texts(value)
        for a in addresses:
            if not _MAIL_ADDRESS.fullmatch(a):
                raise ValueError(f"{_shown(a)} is not a mail address")
        return addresses
    if name == "payout_by":
        if not isinstance(value, str) or not _HH_MM.fullmatch(value.strip()):
            raise ValueError(f"expected a time of day such as 09:00 (JST), got {_shown(value)}")
        return value.strip()
    if name == "license_expires":
        if value is None or value == "":
            return ""
        try:
            return date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise ValueError(f"expected a date such as 2027-03-01, got {_shown(value)}") from None
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {_shown(value)}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"expected a whole number ≥ 0, got {_shown(value)}")
        if name == "cancel_inventory_restore" and value > 2:
            raise ValueError(f"expected 0 (as the item is set in RMS), 1 (restore the stock) "
                             f"or 2 (do not), got {_shown(value)}")
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected text")
    text = value.strip()
    problem = (_env_name_problem(text) if name in _ENV_NAME_KEYS
               else _base_url_problem(text.rstrip("/")) if name == "base_url" else None)
    if problem:
        raise ValueError(problem)
    return text.rstrip("/") if name == "base_url" else text


def parse_start_at(value: Any) -> datetime | None:
    """`import.start_at`: a date-time (JST when it names no zone) or a date (its 0:00 JST)
    → an aware datetime; ValueError, in Japanese, says what is wrong with it."""
    if value is None:
        return None
    example = "例: 2026-12-10 09:00（タイムゾーンがなければ日本時間）、2026-12-10T00:00:00+09:00"
    if isinstance(value, datetime):  # YAML's own timestamp (aware where it gave a zone)
        at = datetime(value.year, value.month, value.day, value.hour, value.minute,
                      value.second, value.microsecond, tzinfo=value.tzinfo)
    elif isinstance(value, date):
        at = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            at = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
        except ValueError:
            raise ValueError(f"「{text[:60]}」は日時として読めません。{example}") from None
    else:
        kind = ("true/false" if isinstance(value, bool)
                else "数値" if isinstance(value, int | float)
                else "リスト" if isinstance(value, list)
                else "設定の組" if isinstance(value, dict) else "空の値")
        raise ValueError(f"日時を指定してください（{kind}は日時ではありません）。{example}")
    if at.tzinfo is None:
        at = at.replace(tzinfo=JST)
    if not datetime(2000, 1, 1, tzinfo=JST) <= at < datetime(9000, 1, 1, tzinfo=JST):
        raise ValueError(f"「{value}」は切替日時として範囲外です（2000年以降を指定してください）。"
                         f"{example}")
    return at


def _networks(value: Any) -> tuple[str, ...]:
    """A list of IP addresses or CIDR networks (e.g. 127.0.0.1, 10.0.0.0/8), normalised."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError("expected a list of IP addresses or networks such as 127.0.0.1 "
                         "or 10.0.0.0/8")
    out: list[str] = []
    for i, item in enumerate(items):
        try:
            if not isinstance(item, str):
                raise ValueError
            out.append(str(ipaddress.ip_network(item.strip(), strict=True)))
        except ValueError:
            raise ValueError(f"item {i + 1}: {_shown(item)} is not an IP address or network "
                             "such as 127.0.0.1, ::1 or 10.0.0.0/8 (host bits zero)") from None
    return tuple(out)


def _texts(value: Any) -> tuple[str, ...]:
    """A list of short texts (a single text is a list of one)."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError("expected a list of text")
    out: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.strip() or len(item) > 200:
            raise ValueError(f"item {i + 1}: expected text of 1–200 characters, got "
                             f"{_shown(item)}")
        out.append(item.strip())
    return tuple(out)


def _shown(value: Any) -> str:
    return "nothing" if value is None else repr(value)


def load_config(path: str | os.PathLike[str] | None, *,
                env: Mapping[str, str] | None = None) -> Config:
    """Read the shop file (or defaults when `path` is None) and apply the environment."""
    if path is None:
        return Config().with_env(env)
    p = Path(path)
    where = str(p)
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)  # no more than the limit is ever read
    except FileNotFoundError:
        raise ConfigError([f"{where}: file not found (create one with `unyo init`)"]) from None
    except OSError as e:
        raise ConfigError([f"{where}: cannot read the file ({e.strerror})"]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError([f"{where}:1: the file is larger than {MAX_FILE_BYTES // 1024} KiB"])
    try:
        text = raw.decode("utf-8-sig")  # tolerate the BOM some Windows editors write
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise ConfigError([f"{where}:{line}: not UTF-8 text ({e.reason} at byte {e.start}); "
                           "save the file as UTF-8"]) from None
    return parse_config(text, where, env=env)


def parse_config(text: str, where: str = "<text>", *,
                 env: Mapping[str, str] | None = None) -> Config:
    """Validate the text of a shop file; `where` names it in the problems."""
    yaml = YAML(typ="rt")
    try:
        # Size, nesting and aliases first, on the event stream: no tree is built for a
        # file that would exhaust the engine (flow/limits.py).
        limit = yaml_problem(text)
        if limit is not None:
            raise ConfigError([f"{where}:{limit[0]}: YAML error: {limit[1]}"])
        doc = yaml.load(text)
    except MarkedYAMLError as e:
        raise ConfigError([_yaml_problem(where, e)]) from None
    except ReaderError as e:  # a control character: YAML allows no C0 but tab and newline
        line = text.count("\n", 0, max(0, e.position)) + 1
        raise ConfigError([f"{where}:{line}: YAML error: the character U+{e.character:04X} "
                           "is not allowed in a YAML file"]) from None
    except YAMLError as e:  # none known that is not one of the above; no traceback if so
        raise ConfigError([f"{where}:1: YAML error: {e}"]) from None
    except ValueError as e:  # an unquoted timestamp YAML reads but no calendar has
        raise ConfigError([f"{where}:{_bad_date_line(text)}: YAML error: 日付として正しくない"
                           f"値があります（{e}）"]) from None
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise ConfigError([f"{where}:1: the file must be a mapping of settings "
                           f"({', '.join(_TOP_KEYS)})"])
    problems: list[str] = []
    values: dict[str, Any] = {"path": where}
    rules_at: tuple[Any, int] | None = None
    for key, node in doc.items():
        line = _line(doc, key, 1)
        if key == "shop":
            values.update(_shop(node, where, line, problems))
        elif key == "mode":
            if node not in MODES:
                problems.append(f"{where}:{line}: mode: 「{str(node)[:40]}」は指定できません。"
                                "live（本番）か shadow（シャドーモード: 取り込みとルールだけ、"
                                "楽天・メール・倉庫には何もしない）を指定してください")
            else:
                values["mode"] = node
        elif key == "database":
            url = _database(node, where, line, problems)
            if url:
                values["database_url"] = url
        elif key == "mail":
            values["mail"] = parse_mail(node, where, line, problems)
        elif key == "warehouse":
            values["warehouse"] = parse_warehouse(node, where, line, problems)
        elif key == "invoice":
            values["invoice"] = parse_invoice(node, where, line, problems)
        elif key == "rules":
            rules_at = (node, line)  # compiled last: they read the import settings
        elif key in _SECTIONS:
            attr = "import_" if key == "import" else key
            values[attr] = _section(key, node, _SECTIONS[key], where, line, problems)
        else:
            problems.append(f"{where}:{line}: {key}: unknown key (known: {', '.join(_TOP_KEYS)})")
    if rules_at is not None:
        imp = values.get("import_", ImportSettings())
        printing = values.get("warehouse", WarehouseSettings()).printing
        values["rules"] = parse_rules(rules_at[0], where, rules_at[1], problems,
                                      RemarksTemplate(imp.remarks_headers, imp.remarks_answers),
                                      printing)
    if problems:
        raise ConfigError(problems)
    return Config(**values).with_env(env)


_YAML_DATE = re.compile(r"(?<![\w.-])\d{4}-\d{1,2}-\d{1,2}(?:[Tt ]+[^#,\]}]*)?")


def _bad_date_line(text: str) -> int:
    """The line of the first YAML timestamp no calendar has (2026-13-01, an offset of
    25 hours), found by reading each candidate as YAML reads it; else 1."""
    yaml = YAML(typ="safe")
    for i, line in enumerate(text.splitlines(), 1):
        for m in _YAML_DATE.finditer(line):
            try:
                yaml.load(m.group(0).strip())
            except ValueError:
                return i
            except YAMLError:
                continue
    return 1


def _yaml_problem(where: str, e: MarkedYAMLError) -> str:
    mark = e.problem_mark or e.context_mark
    line = mark.line + 1 if mark is not None else 0
    text = e.problem or "not valid YAML"
    if e.context and e.context_mark is not None and e.context_mark.line + 1 != line:
        text += f" ({e.context} that starts on line {e.context_mark.line + 1})"
    return f"{where}:{line}: YAML error: {text}"


_SHOP_TEXTS = ("name", "address", "phone", "email", "logo")


def _shop(node: Any, where: str, line: int, problems: list[str]) -> dict[str, Any]:
    if node is None:
        return {}
    if not isinstance(node, CommentedMap):
        problems.append(f"{where}:{line}: shop: expected a mapping with id and name")
        return {}
    values: dict[str, Any] = {}
    for k, v in node.items():
        at = f"{where}:{_line(node, k, line)}"
        if k == "id":
            if not isinstance(v, str) or not SHOP_ID.fullmatch(v):
                problems.append(f"{at}: shop.id: {_shown(v)} is not a shop id; use 1–64 "
                                "letters, digits, '.', '_' or '-'")
            else:
                values["shop_id"] = v
        elif k in _SHOP_TEXTS:
            if v is not None and not isinstance(v, str):
                problems.append(f"{at}: shop.{k}: expected text")
            elif k == "logo" and v and v.strip():
                path = Path(v.strip()).expanduser()
                base = Path(where).parent if where != "<text>" else Path.cwd()
                values["shop_logo"] = str(path if path.is_absolute() else base / path)
            else:
                values[f"shop_{k}"] = (v or "").strip()
        else:
            problems.append(f"{at}: shop.{k}: unknown key (known: id, "
                            f"{', '.join(_SHOP_TEXTS)})")
    return values


def _database(node: Any, where: str, line: int, problems: list[str]) -> str | None:
    if node is None:
        return None
    if not isinstance(node, CommentedMap):
        problems.append(f"{where}:{line}: database: expected a mapping with url")
        return None
    url: str | None = None
    for k, v in node.items():
        at = f"{where}:{_line(node, k, line)}"
        if k != "url":
            problems.append(f"{at}: database.{k}: unknown key (known: url)")
        elif not isinstance(v, str) or "://" not in v:
            # Not echoed: a database URL may hold a password.
            problems.append(f"{at}: database.url: expected a URL such as sqlite:///unyo.db")
        else:
            url = v.strip()
    return url


def render_init(shop_id: str, shop_name: str = "") -> str:
    """The commented starter file `unyo init` writes (ValueError for a bad shop id)."""
    if not SHOP_ID.fullmatch(shop_id):
        raise ValueError(f"{shop_id!r} is not a shop id; use 1–64 letters, digits, '.', '_' "
                         "or '-'")
    # A JSON string is a valid YAML double-quoted scalar: quotes and newlines stay data.
    return INIT_TEMPLATE.format(shop_id=shop_id, shop_name=json.dumps(shop_name,
                                                                      ensure_ascii=False))


INIT_TEMPLATE = """\
# unyo shop file (運用フロー). Validate with `unyo check`; editors: `unyo schema`.
# Secrets never go here: set RMS_SERVICE_SECRET and RMS_LICENSE_KEY in the environment.
shop:
  id: {shop_id}
  name: {shop_name}
  # address: 〒420-0000 静岡県静岡市葵区追手町1-2-3   # the shop's contact on its 納品書
  # phone: 054-000-0000
  # email: info@example.jp
  # logo: logo.png

# live: act at RMS, mail and the warehouse. shadow: import and run the rules only, no
# confirmation, mail, hand-off or shipping report (the trial week; docs/going-live.md).
mode: live

database:
  # SQLite by default; UNYO_DATABASE_URL overrides (e.g. postgresql+psycopg://...)
  url: sqlite:///unyo.db

rms:
  # UNYO_RMS_BASE_URL overrides (the sandbox: http://127.0.0.1:PORT)
  base_url: https://api.rms.rakuten.co.jp
  service_secret_env: RMS_SERVICE_SECRET
  license_key_env: RMS_LICENSE_KEY
  min_interval: 1s        # Rakuten's guideline: about one request per second
  timeout: 30s            # per read
  deadline: 1m            # a whole request (connect, headers, body); then it is retried
  max_retries: 4
  cancel_inventory_restore: 1  # cancel at RMS: 0 as the item is set, 1 restore stock, 2 not

import:
  interval: 1m            # poll cadence (Next Engine: about 15 minutes)
  self_cancel_wait: 30m   # members may cancel by themselves within 30 minutes
  overlap: 10m            # each search starts this far before the last one
  lookback: 24h           # first run: how far back to look
  # start_at: 2026-12-10 09:00   # cut-over: nothing ordered earlier is imported (JST)
  confirm: true           # confirmOrder new orders (注文確認, RMS 100 → 200)
  thanks_mail: true       # queue the サンクスメール on import
  # Your own questions in the order form's 備考欄 (besides Rakuten's [配送日時指定:],
  # [備考:], [メッセージ:]): their headers or prompt lines, and fixed answers that are
  # no request; everything else a buyer writes counts as a request (field remarks).
  remarks_headers: []     # e.g. [ご利用目的, ※ご要望があればご記入ください]
  remarks_answers: []     # e.g. [自宅用, ギフト用]

sync:
  interval: 5m            # search RMS for payments (300), changes (400), cancellations
                          # (800/900) of open orders, and read those at once
  settled_interval: 1h    # every open order is also read in full this often; ready
                          # orders are read once more just before the warehouse hand-off

outbox:
  interval: 15s
  max_attempts: 8

alerts:
  # Money watch (お金のアラート, docs/operations.md): a shipped order not at RMS 500 by the
  # next morning, RMS 100 near the 14-day auto-cancel, due dates, the license key. Each
  # opens once on the dashboard, in `unyo doctor` and the metrics, and is sent once to
  # mail_to and to the webhook whose URL is in the environment variable below.
  mail_to: []             # e.g. [tenchou@example.jp]; needs mail.enabled
  webhook_url_env: UNYO_ALERTS_WEBHOOK_URL   # e.g. a Slack incoming webhook URL
  payout_by: "09:00"      # JST, the morning after the shipping report
  license_expires: ""     # YYYY-MM-DD, only where RMS's license API is not enabled

web:
  # The dashboard (`unyo serve`). Behind a reverse proxy, name the proxy here so the
  # login throttle sees the real client address (docs/dashboard.md); empty: no proxy.
  trusted_proxies: []     # e.g. [127.0.0.1, ::1] or [10.0.0.0/8]

mail:
  # Buyer mail (サンクスメール, 発送連絡メール) through Rakuten's relay. Turn on once
  # from_address is an address registered in RMS (あんしんメルアドサービス), and set
  # RAKUTEN_SMTP_USERNAME / RAKUTEN_SMTP_PASSWORD (RMS > メールサーバ設定情報).
  enabled: false
  host: sub.fw.rakuten.ne.jp
  port: 587
  starttls: true
  auth: true
  username_env: RAKUTEN_SMTP_USERNAME
  password_env: RAKUTEN_SMTP_PASSWORD
  from_address: ""        # e.g. info@your-shop.co.jp
  from_name: ""           # display name (default: the shop name)
  reply_to: ""
  timeout: 30s
  quiet_hours: ""         # e.g. 22:00-08:00 (JST): nothing is sent inside
  thanks:
    enabled: true
    delay: 0s             # Next Engine sends about an hour after the condition
    max_age: 3d           # skip mails queued longer ago (e.g. when mail is turned on)
    template: ""          # your own file instead of the shipped one (`unyo mail preview`)
  shipping:
    enabled: true
    delay: 0s
    max_age: 3d
    template: ""
  reminder:
    # 入金督促メール: one reminder for an order still unpaid `after_days` days after it
    # was ordered (sent from 10:00 JST that day), for the payment methods listed
    # (RMS settlementMethodCode: 9 銀行振込, 13/14 コンビニ前払). Off until you turn it on.
    enabled: false
    after_days: 3
    methods: [9]
    template: ""

warehouse:
  # Shipment requests to the warehouse as CSV files, results read back from CSV files.
  # Turn on once the warehouse system reads `requests/` and writes `results/`.
  enabled: false
  type: csv               # csv: a WMS reads requests/; self: the shop prints 納品書 batches
  folder: warehouse       # requests/, results/, done/ and error/ live here
  encoding: cp932         # or utf-8
  interval: 5m            # hand-off cadence
  results_interval: 5m    # result import cadence
  settle: 2s              # a result file is read once unchanged this long
  incomplete_after: 30m   # a result file without a final line end is read after this
  batch: 1000             # orders per request file
  # substitutions:        # characters the encoding lacks → what the warehouse gets,
  #   𠮷: 吉              # over the shipped table (docs/configuration.md); each use is
  #   "—": {{name: ー, other: －}}   # recorded on the order and in the note column
  # columns:              # your WMS's request layout (key: header), in order
  #   order_number: 受注番号
  #   basket_id: 送付先ID
  # result_columns:       # headers of the result file, where they differ
  #   tracking_number: 送り状番号
  # default_carrier:      # result rows without a carrier (none in B2クラウド's export):
  #   宅配便: ヤマト運輸    # the order's delivery method → an RMS deliveryCompany code
  #   "*": 日本郵便         # or a carrier name; "*" for any other method
  # untracked_methods: [定形外, 定形郵便, 普通郵便, ゆうメール, スマートレター]  # may omit 追跡番号

# invoice:                # the 納品書 a self-shipping shop prints (docs/warehouse.md)
#   registration_number: T1234567890123   # 登録番号: adds the 適格簡易請求書 lines
#   template: slip.html.j2                 # your own template; default: the shipped one
#   no_prices_tags: [金額非表示]            # orders with such a tag print no prices

# 受注処理ルール: each rule is a name, a condition (when) and actions (then).
# Conditions: {{field, op, value}} rows combined with all / any / not (`unyo schema`
# lists every field and operator). Actions: check (確認待ち with a message),
# hold (保留 until / for / from a date minus days_before / next_business_day / while
# the condition holds),
# set (delivery_method, warehouse_note), tag and merge (同梱). `unyo check` validates
# this file.
rules:
  - name: 備考欄あり
    description: お客様が備考欄に書いた注文は目で確認する（楽天のテンプレート行は除く）
    when: {{field: remarks, op: not_empty}}
    then:
      - check: "備考欄に要望: {{remarks}}"   # the reason quotes the start of the request

  - name: 送料未確定
    when: {{field: amount_not_fixed, op: is_true}}
    then:
      - check: 送料を確定してから注文確認

  - name: 同梱候補
    # The same buyer's open orders go out as one parcel when they can (same address and
    # phone, payment and delivery method; none at the warehouse yet); a person is asked
    # only about the orders that cannot.
    when: {{field: other_open_orders, op: ge, value: 1}}
    then:
      - merge: {{tag: 同梱, unmergeable: "同梱できません: {{merge_blockers}}"}}
      # e.g. 同梱できません: 注文 X と送付先の住所が違う. To have a person look at every
      # repeat buyer's orders instead, replace the merge with: - check: 同梱を確認

  - name: ギフト
    when:
      any:
        - {{field: gift, op: is_true}}
        - {{field: noshi, op: is_true}}
    then:
      - tag: ギフト
      - set: {{warehouse_note: ギフト包装・のし指定あり}}

  - name: 離島
    when: {{field: isolated_island, op: is_true}}
    then:
      - check: 離島への配送方法と送料を確認

  - name: 初回高額
    description: 初めてのお客様の高額注文は不正注文の確認
    when:
      all:
        - {{field: past_orders, op: eq, value: 0}}
        - {{field: total, op: ge, value: 50000}}
    then:
      - check: 初回の高額注文（与信確認）

  - name: 代引き上限
    when:   # what the carrier collects: 請求金額 (代引料 in, points and coupons out)
      all:
        - {{field: cash_on_delivery, op: is_true}}
        - {{field: request_amount, op: gt, value: 300000}}
    then:
      - check: 代引き上限を超えています

  - name: 予約商品
    description: 発売日まで保留。発売日が読めない予約は「発売日不明」で確認待ち
    when: {{field: order_type, op: eq, value: reservation}}
    then:
      - hold: {{from: release_date, days_before: 1, reason: 発売日待ち}}

  - name: お届け日指定
    description: お届け希望日が先の注文は3日前まで保留
    when: {{field: requested_delivery_date, op: beyond_days, value: 5}}
    then:
      - hold: {{from: requested_delivery_date, days_before: 3, reason: 配達日待ち}}

  - name: 住所確認
    # 郵便番号が存在しない・住所と合わない、または送付先の氏名・住所に倉庫の文字コード
    # （warehouse.encoding）で書けず置き換え（warehouse.substitutions）もない文字がある。
    # 髙・﨑・㈱・半角カナはそのまま、𠮷→吉などは倉庫連携のときに置き換えて注文に記録する
    when:
      any:
        - {{field: postal_code_valid, op: is_false}}
        - {{field: unprintable_chars, op: not_empty}}
    then:
      - check: "{{address_problems}}"   # e.g. 送付先氏名に印字できない文字「😀」(U+1F600)

  - name: コンビニ受取
    description: コンビニ・郵便局で受け取る注文。店舗は倉庫への依頼の受取店舗の列に入る
    when: {{field: store_pickup, op: is_true}}
    then:
      - tag: コンビニ受取

  - name: コンビニ受取（店舗の列なし）
    # warehouse.columns に pickup_store_code・pickup_store_name・pickup_store_address が
    # ないと、荷物が店舗でなく自宅の住所へ送られてしまう
    when:
      all:
        - {{field: store_pickup, op: is_true}}
        - {{field: warehouse_store_columns, op: is_false}}
    then:
      - check: "コンビニ受取: 倉庫への依頼に受取店舗の列がありません（{{pickup_store}}）"

  - name: ソーシャルギフト
    description: 受取人が住所を入力するまで保留。RMSに住所が入ると同期で自動的に進む
    when: {{field: gift_address_waiting, op: is_true}}
    then:
      - hold: {{while: true, reason: ソーシャルギフトの受取人の住所入力待ち}}

  - name: 楽天の注意表示
    description: 楽天の「顧客・配送対応注意表示」がある注文（受取拒否など）は目で確認する
    when: {{field: caution, op: is_true}}
    then:
      - check: "楽天の注意表示: {{caution_detail}}"

  - name: 当日出荷
    description: 1営業日以内に出荷する注文。倉庫への依頼の出荷優先の列にも入る
    when: {{field: same_day_shipping, op: is_true}}
    then:
      - tag: 当日出荷

  - name: 最強翌日配送
    when: {{field: next_day_cert, op: is_true}}
    then:
      - tag: 最強翌日配送
"""
