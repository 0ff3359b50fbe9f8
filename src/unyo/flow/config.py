"""Load `unyo.yaml` into typed settings, reporting mistakes with file, line and key.

Secrets never live in the file: it names the environment variables that hold
them. Environment overrides: UNYO_RMS_BASE_URL, UNYO_DATABASE_URL.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError

PRODUCTION_RMS = "https://api.rms.rakuten.co.jp"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


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
        if value < 0:
            raise ValueError("a duration cannot be negative")
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
    timeout: float = 30.0
    max_retries: int = 4


@dataclass(frozen=True)
class ImportSettings:
    interval: float = 60.0  # poll cadence
    self_cancel_wait: float = 1800.0  # members may cancel within 30 minutes
    overlap: float = 600.0  # each search window starts this far before the last poll
    lookback: float = 86400.0  # first run: how far back to search
    confirm: bool = True  # confirmOrder new orders (100 → 200)
    thanks_mail: bool = True  # queue サンクスメール on import


@dataclass(frozen=True)
class SyncSettings:
    interval: float = 300.0  # re-read open orders this often


@dataclass(frozen=True)
class OutboxSettings:
    interval: float = 15.0
    max_attempts: int = 8


@dataclass(frozen=True)
class Config:
    shop_id: str = "shop"
    shop_name: str = ""
    database_url: str = "sqlite:///unyo.db"
    rms: RmsSettings = field(default_factory=RmsSettings)
    import_: ImportSettings = field(default_factory=ImportSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    path: str | None = None

    def with_env(self, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        cfg = self
        if env.get("UNYO_RMS_BASE_URL"):
            cfg = replace(cfg, rms=replace(cfg.rms, base_url=env["UNYO_RMS_BASE_URL"].rstrip("/")))
        if env.get("UNYO_DATABASE_URL"):
            cfg = replace(cfg, database_url=env["UNYO_DATABASE_URL"])
        return cfg


_SECTIONS: dict[str, type] = {
    "rms": RmsSettings,
    "import": ImportSettings,
    "sync": SyncSettings,
    "outbox": OutboxSettings,
}
_DURATION_KEYS = {"interval", "self_cancel_wait", "overlap", "lookback", "min_interval", "timeout"}


def _line(node: Any, key: str | None = None) -> int:
    try:
        if key is not None and isinstance(node, CommentedMap):
            return int(node.lc.key(key)[0]) + 1
        return int(node.lc.line) + 1
    except (AttributeError, KeyError, TypeError):
        return 0


def _section(name: str, node: Any, cls: type, where: str, problems: list[str]) -> Any:
    if not isinstance(node, CommentedMap):
        problems.append(f"{where}:{_line(node)}: {name}: expected a mapping")
        return cls()
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in node.items():
        line = _line(node, key)
        f = known.get(str(key))
        if f is None:
            problems.append(f"{where}:{line}: {name}.{key}: unknown key "
                            f"(known: {', '.join(sorted(known))})")
            continue
        default = getattr(cls(), f.name)
        try:
            if f.name in _DURATION_KEYS:
                values[f.name] = parse_duration(value)
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ValueError("expected true or false")
                values[f.name] = value
            elif isinstance(default, int):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError("expected a whole number ≥ 0")
                values[f.name] = value
            else:
                if not isinstance(value, str) or not value.strip():
                    raise ValueError("expected text")
                values[f.name] = value.strip()
        except ValueError as e:
            problems.append(f"{where}:{line}: {name}.{key}: {e}")
    return cls(**values)


def load_config(path: str | os.PathLike[str] | None, *,
                env: Mapping[str, str] | None = None) -> Config:
    """Read the shop file (or defaults when `path` is None) and apply the environment."""
    if path is None:
        return Config().with_env(env)
    p = Path(path)
    where = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{where}: file not found (create one with `unyo init`)"]) from None
    except UnicodeDecodeError as e:
        raise ConfigError([f"{where}: not UTF-8 text ({e.reason} at byte {e.start})"]) from None
    yaml = YAML(typ="rt")
    try:
        doc = yaml.load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark
        line = mark.line + 1 if mark is not None else 0
        raise ConfigError([f"{where}:{line}: YAML error: {e.problem}"]) from None
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise ConfigError([f"{where}:1: the file must be a mapping of settings"])
    problems: list[str] = []
    values: dict[str, Any] = {"path": where}
    for key, node in doc.items():
        line = _line(doc, key)
        if key == "shop":
            if not isinstance(node, CommentedMap):
                problems.append(f"{where}:{line}: shop: expected a mapping with id and name")
                continue
            for k, v in node.items():
                if k == "id":
                    if not isinstance(v, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", v):
                        problems.append(f"{where}:{_line(node, k)}: shop.id: use 1–64 letters, "
                                        "digits, '.', '_' or '-'")
                    else:
                        values["shop_id"] = v
                elif k == "name":
                    values["shop_name"] = str(v)
                else:
                    problems.append(f"{where}:{_line(node, k)}: shop.{k}: unknown key "
                                    "(known: id, name)")
        elif key == "database":
            if isinstance(node, CommentedMap) and isinstance(node.get("url"), str):
                values["database_url"] = node["url"]
            else:
                problems.append(f"{where}:{line}: database: expected a mapping with url")
        elif key in _SECTIONS:
            attr = "import_" if key == "import" else key
            values[attr] = _section(key, node, _SECTIONS[key], where, problems)
        else:
            problems.append(f"{where}:{line}: {key}: unknown key (known: shop, database, "
                            f"{', '.join(_SECTIONS)})")
    if problems:
        raise ConfigError(problems)
    return Config(**values).with_env(env)


INIT_TEMPLATE = """\
# unyo shop file (運用フロー). Validate with `unyo run --once`.
# Secrets never go here: set RMS_SERVICE_SECRET and RMS_LICENSE_KEY in the environment.
shop:
  id: {shop_id}
  name: "{shop_name}"

database:
  # SQLite by default; UNYO_DATABASE_URL overrides (e.g. postgresql+psycopg://...)
  url: sqlite:///unyo.db

rms:
  # UNYO_RMS_BASE_URL overrides (the sandbox: http://127.0.0.1:PORT)
  base_url: https://api.rms.rakuten.co.jp
  service_secret_env: RMS_SERVICE_SECRET
  license_key_env: RMS_LICENSE_KEY
  min_interval: 1s        # Rakuten's guideline: about one request per second
  timeout: 30s
  max_retries: 4

import:
  interval: 1m            # poll cadence (Next Engine: about 15 minutes)
  self_cancel_wait: 30m   # members may cancel by themselves within 30 minutes
  overlap: 10m            # each search starts this far before the last one
  lookback: 24h           # first run: how far back to look
  confirm: true           # confirmOrder new orders (注文確認, RMS 100 → 200)
  thanks_mail: true       # queue the サンクスメール on import

sync:
  interval: 5m            # re-read open orders: payment (RMS 300), cancellations, changes

outbox:
  interval: 15s
  max_attempts: 8
"""
