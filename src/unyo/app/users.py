"""Dashboard users and their sessions: who may look at orders and who may act.

Two roles: an operator acts on orders; an admin also manages users and settings.
Passwords are kept as argon2id hashes. A session is a random token in an HTTP-only
cookie; only its SHA-256 is stored, with the session's CSRF token and an idle expiry
that every use pushes back (written at most once a minute).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from unyo.adapters.db.accounts import Accounts, DuplicateUser, SessionRow, UserRow

SESSION_IDLE = timedelta(hours=2)
"""A session ends after this long without a request..."""
SESSION_MAX = timedelta(hours=12)
"""... and this long after login whatever happens (a working day); the cookie too."""
EXTEND_EVERY = timedelta(minutes=1)
MIN_PASSWORD = 10
USER_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("unyo: a password nobody has")


class Role(StrEnum):
    operator = "operator"  # looks at orders and acts on them
    admin = "admin"  # also manages users and settings


class UserError(Exception):
    """The user cannot be added or changed; says why in Japanese (`ja`, the CLI and the
    Japanese dashboard) and English (`en`, the message)."""

    def __init__(self, ja: str, en: str) -> None:
        super().__init__(en)
        self.ja, self.en = ja, en

    def text(self, lang: str = "ja") -> str:
        return self.en if lang == "en" else self.ja


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in user, as a request sees it."""

    id: int
    user: str
    role: Role
    csrf_token: str
    expires_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Users:
    """Users and sessions on an `Accounts` table set."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    def add(self, name: str, role: Role | str, password: str, now: datetime) -> None:
        if not USER_NAME.fullmatch(name):
            raise UserError(f"「{name}」はユーザー名に使えません（英数字と . _ @ - で1〜64文字）",
                            f"{name!r} is not a user name (1–64 letters, digits, . _ @ -)")
        try:
            role = Role(role)
        except ValueError:
            raise UserError(f"「{role}」は権限ではありません（operator: 担当者、admin: 管理者）",
                            f"{role!r} is not a role (operator or admin)") from None
        if len(password) < MIN_PASSWORD:
            raise UserError(f"パスワードは{MIN_PASSWORD}文字以上にしてください",
                            f"the password needs at least {MIN_PASSWORD} characters")
        try:
            self.accounts.add_user(name, role.value, _hasher.hash(password), now)
        except DuplicateUser:
            raise UserError(f"ユーザー「{name}」はすでにあります",
                            f"user {name} exists already") from None

    def list(self) -> list[UserRow]:
        return self.accounts.users()

    def disable(self, name: str) -> None:
        if not self.accounts.set_disabled(name, True):
            raise UserError(f"ユーザー「{name}」はいません", f"no user {name}")

    def check_password(self, name: str, password: str) -> UserRow | None:
        """The user if the password is theirs and they are enabled. Unknown users cost the
        same hash as known ones, so timing does not tell which names exist."""
        user = self.accounts.user(name)
        try:
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or user.disabled:
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            self.accounts.set_password_hash(user.id, _hasher.hash(password))
        return user

    def start_session(self, user: UserRow, now: datetime) -> tuple[str, Session]:
        """A new session: the cookie's token (shown once, never stored) and the session."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = now + SESSION_IDLE
        self.accounts.create_session(token_hash(token), user.id, csrf, expires, now)
        row = self.accounts.session(None, token_hash(token))
        assert row is not None
        return token, _session(row)

    def session(self, token: str, now: datetime) -> Session | None:
        """The live session of a cookie's token, its idle expiry pushed back; None if the
        token is unknown, expired, past its maximum age, or its user is disabled."""
        if not token or len(token) > 100:
            return None
        row = self.accounts.session(None, token_hash(token))
        if row is None or row.user.disabled or row.expires_at <= now \
                or now - row.created_at >= SESSION_MAX:
            return None
        expires = min(now + SESSION_IDLE, row.created_at + SESSION_MAX)
        if expires - row.expires_at >= EXTEND_EVERY:
            self.accounts.extend_session(row.id, expires)
            row = SessionRow(row.id, row.user, row.csrf_token, expires, row.created_at)
        return _session(row)

    def end_session(self, token: str) -> None:
        self.accounts.delete_session(token_hash(token))


def _session(row: SessionRow) -> Session:
    return Session(row.id, row.user.name, Role(row.user.role), row.csrf_token, row.expires_at)
