"""The `mail:` section of the shop file: the SMTP relay, the sender and the mail policy.

Production is Rakuten's relay `sub.fw.rakuten.ne.jp:587` with STARTTLS and SMTP AUTH
(reference/rakuten-rms.md, "Mail to Rakuten buyers"); the ID and password come from
the environment variables the file names, never from the file. Mail is off until the
shop turns it on and names a From address registered in RMS.

May import `unyo.domain` and `unyo.flow.config`; must not import `unyo.app` or adapters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

RAKUTEN_RELAY = "sub.fw.rakuten.ne.jp"
_JST = timezone(timedelta(hours=9), "JST")
_ADDR = re.compile(r"[^@\s<>(),;:\"\[\]\\]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+")
_HHMM = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*[-–〜~]\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")


@dataclass(frozen=True)
class MailKindSettings:
    """Policy for one mail (thanks, shipping, reminder)."""

    enabled: bool = True  # deliver it; when off, queued mails are skipped with a note
    delay: float = 0.0  # seconds after the mail was queued before it may go out
    max_age: float = 3 * 86400.0  # a mail queued longer ago is skipped; 0 = no limit
    template: str = ""  # the shop's template file (absolute once loaded); "" = shipped default
    # reminder (入金督促) only: queued this many JST calendar days after the payment wait
    # began (from 10:00 JST that day), for orders paid by these settlementMethodCodes
    after_days: int = 0
    methods: tuple[int, ...] = ()


REMINDER_DEFAULT = MailKindSettings(enabled=False, after_days=3, methods=(9,))
"""入金督促 is the shop's choice: off until turned on; 3 days after the order, 銀行振込."""


@dataclass(frozen=True)
class MailSettings:
    enabled: bool = False  # nothing is sent until the shop turns mail on
    host: str = RAKUTEN_RELAY
    port: int = 587
    starttls: bool = True
    auth: bool = True
    username_env: str = "RAKUTEN_SMTP_USERNAME"
    password_env: str = "RAKUTEN_SMTP_PASSWORD"
    from_address: str = ""  # must be registered in RMS, or the relay answers 552
    from_name: str = ""  # display name; the shop name when empty
    reply_to: str = ""
    timeout: float = 30.0
    batch: int = 50  # mails sent over one connection
    quiet_hours: str = ""  # e.g. "22:00-08:00" (JST): nothing is sent inside; "" = off
    thanks: MailKindSettings = field(default_factory=MailKindSettings)
    shipping: MailKindSettings = field(default_factory=MailKindSettings)
    reminder: MailKindSettings = REMINDER_DEFAULT

    def kind(self, name: str) -> MailKindSettings | None:
        """The policy of a mail kind by its name, None for an unknown kind."""
        value = getattr(self, name, None) if name in _KINDS else None
        return value if isinstance(value, MailKindSettings) else None

    def quiet_until(self, now: datetime) -> datetime | None:
        """The end of the quiet hours `now` is in, or None when mail may go out now."""
        window = parse_quiet_hours(self.quiet_hours)
        if window is None:
            return None
        start, end = window
        local = now.astimezone(_JST)
        minute = local.hour * 60 + local.minute
        inside = (start <= minute < end) if start <= end else (minute >= start or minute < end)
        if not inside:
            return None
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        until = midnight + timedelta(minutes=end)
        return until if until > local else until + timedelta(days=1)


_KINDS = ("thanks", "shipping", "reminder")


def parse_quiet_hours(text: str) -> tuple[int, int] | None:
    """'22:00-08:00' → (1320, 480) minutes after midnight JST; '' → None (ValueError if bad)."""
    if not text.strip():
        return None
    m = _HHMM.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a time range such as 22:00-08:00 (JST)")
    start = int(m.group(1)) * 60 + int(m.group(2))
    end = int(m.group(3)) * 60 + int(m.group(4))
    if start == end:
        raise ValueError(f"{text!r} is an empty range")
    return start, end


def parse_mail(node: Any, where: str, line: int, problems: list[str]) -> MailSettings:
    """Validate the `mail:` mapping; problems are appended as 'file:line: key: message'."""
    from unyo.flow.sections import entries

    values: dict[str, Any] = {}
    base = Path(where).parent if where != "<text>" else Path.cwd()
    for name, value, at, key_line in entries(node, "mail", (f.name for f in fields(MailSettings)),
                                   where, line, problems):
        try:
            if name in _KINDS:
                values[name] = _kind(name, value, where, key_line, base, problems)
            else:
                values[name] = _setting(name, value)
        except ValueError as e:
            problems.append(f"{at}: mail.{name}: {e}")
    settings = MailSettings(**values)
    if settings.enabled and not settings.from_address:
        problems.append(f"{where}:{line}: mail.from_address: required when mail is enabled "
                        "(an address registered in RMS; the relay rejects others with 552)")
    return settings


def _setting(name: str, value: Any) -> Any:
    from unyo.flow import config as c

    default = getattr(MailSettings(), name)
    if name == "timeout":
        return c.parse_duration(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {c._shown(value)}")
        return value
    if isinstance(default, int):
        limit = 65535 if name == "port" else 10_000
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            raise ValueError(f"expected a whole number from 1 to {limit}, got {c._shown(value)}")
        return value
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValueError("expected text")
    text = value.strip()
    if name in ("username_env", "password_env"):
        problem = c._env_name_problem(text)
        if problem:
            raise ValueError(problem)
    elif name in ("from_address", "reply_to"):
        if text and not _ADDR.fullmatch(text):
            raise ValueError("expected a mail address such as info@example.co.jp")
    elif name == "quiet_hours":
        parse_quiet_hours(text)
    elif name == "host" and not text:
        raise ValueError("expected a host name")
    elif "\n" in text or "\r" in text:
        raise ValueError("expected one line of text")
    return text


def _kind(name: str, node: Any, where: str, line: int, base: Path,
          problems: list[str]) -> MailKindSettings:
    from ruamel.yaml.comments import CommentedMap

    from unyo.flow import config as c

    default = REMINDER_DEFAULT if name == "reminder" else MailKindSettings()
    known = ("delay", "enabled", "max_age", "template") + (
        ("after_days", "methods") if name == "reminder" else ())
    if node is None:
        return default
    if isinstance(node, bool):  # `thanks: false` as a shorthand
        return replace(default, enabled=node)
    if not isinstance(node, CommentedMap):
        raise ValueError(f"expected a mapping ({', '.join(known)}) or true/false")
    values: dict[str, Any] = {}
    for key, value in node.items():
        at = f"{where}:{c._line(node, key, line)}"
        try:
            if key == "enabled":
                if not isinstance(value, bool):
                    raise ValueError(f"expected true or false, got {c._shown(value)}")
                values["enabled"] = value
            elif key in ("delay", "max_age"):
                values[str(key)] = c.parse_duration(value)
            elif key == "template":
                values["template"] = _template_path(value, base)
            elif key == "after_days" and key in known:
                if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 60:
                    raise ValueError(f"expected a whole number of days from 1 to 60, got "
                                     f"{c._shown(value)}")
                values["after_days"] = value
            elif key == "methods" and key in known:
                values["methods"] = _methods(value)
            else:
                raise ValueError(f"unknown key (known: {', '.join(known)})")
        except ValueError as e:
            problems.append(f"{at}: mail.{name}.{key}: {e}")
    return replace(default, **values)


def _methods(value: Any) -> tuple[int, ...]:
    """settlementMethodCodes: a list of whole numbers, e.g. [9] for 銀行振込."""
    items = value if isinstance(value, list) else [value]
    if not items or any(isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 99
                        for v in items):
        raise ValueError("expected a list of RMS payment method codes (settlementMethodCode), "
                         "e.g. [9] for 銀行振込")
    return tuple(dict.fromkeys(items))


def _template_path(value: Any, base: Path) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    if not isinstance(value, str):
        raise ValueError("expected the path of a template file")
    path = Path(value.strip()).expanduser()
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise ValueError(f"template file {path} not found")
    return str(path)
