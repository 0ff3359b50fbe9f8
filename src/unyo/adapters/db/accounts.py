"""Dashboard accounts: users, web sessions and the settings an admin changes.

Plain rows; hashing and the rules about them live in `unyo.app.users`. Session tokens
arrive here already hashed: the database never holds a token a cookie could replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from unyo.adapters.db import schema as t


class DuplicateUser(Exception):
    """A user of that name exists already."""


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    name: str
    role: str
    password_hash: str
    created_at: datetime
    disabled: bool


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: int
    user: UserRow
    csrf_token: str
    expires_at: datetime
    created_at: datetime


def _user(r: Any) -> UserRow:
    return UserRow(r.id, r.name, r.role, r.password_hash, r.created_at, bool(r.disabled))


class Accounts:
    """Users, sessions and settings on the store's engine (one short transaction each)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---- users ---------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password_hash: str, now: datetime) -> int:
        try:
            with self.engine.begin() as conn:
                key = conn.execute(insert(t.users).values(
                    name=name, role=role, password_hash=password_hash, created_at=now,
                    disabled=False)).inserted_primary_key
                assert key is not None
                return int(key[0])
        except IntegrityError:
            raise DuplicateUser(name) from None

    def user(self, name: str) -> UserRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(t.users).where(t.users.c.name == name)).first()
        return _user(r) if r is not None else None

    def users(self) -> list[UserRow]:
        with self.engine.connect() as conn:
            return [_user(r) for r in conn.execute(select(t.users).order_by(t.users.c.name))]

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t.users).where(t.users.c.id == user_id)
                         .values(password_hash=password_hash))

    def set_disabled(self, name: str, disabled: bool) -> bool:
        """Disable (or enable) a user and end their sessions; False if there is no such user."""
        with self.engine.begin() as conn:
            found = conn.execute(select(t.users.c.id).where(t.users.c.name == name)).scalar()
            if found is None:
                return False
            conn.execute(update(t.users).where(t.users.c.id == found).values(disabled=disabled))
            if disabled:
                conn.execute(delete(t.web_sessions).where(t.web_sessions.c.user_id == found))
        return True

    # ---- sessions ------------------------------------------------------------------------

    def create_session(self, token_hash: str, user_id: int, csrf_token: str,
                       expires_at: datetime, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.web_sessions).where(t.web_sessions.c.expires_at <= now))
            conn.execute(insert(t.web_sessions).values(
                token_hash=token_hash, user_id=user_id, csrf_token=csrf_token,
                expires_at=expires_at, created_at=now))

    def session(self, conn: Connection | None, token_hash: str) -> SessionRow | None:
        j = t.web_sessions.join(t.users, t.web_sessions.c.user_id == t.users.c.id)
        q = select(t.web_sessions.c.id.label("sid"), t.web_sessions.c.csrf_token,
                   t.web_sessions.c.expires_at, t.web_sessions.c.created_at.label("s_created"),
                   *t.users.c).select_from(j).where(t.web_sessions.c.token_hash == token_hash)
        if conn is None:
            with self.engine.connect() as c:
                r = c.execute(q).first()
        else:
            r = conn.execute(q).first()
        if r is None:
            return None
        return SessionRow(r.sid, _user(r), r.csrf_token, r.expires_at, r.s_created)

    def extend_session(self, session_id: int, expires_at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t.web_sessions).where(t.web_sessions.c.id == session_id)
                         .values(expires_at=expires_at))

    def delete_session(self, token_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.web_sessions).where(t.web_sessions.c.token_hash == token_hash))

    # ---- settings ------------------------------------------------------------------------

    def setting(self, shop: str, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(t.settings.c.value).where(
                t.settings.c.shop == shop, t.settings.c.name == name)).scalar()

    def set_setting(self, shop: str, name: str, value: str | None, *, by: str,
                    now: datetime) -> None:
        """Set (or with None remove) a setting."""
        with self.engine.begin() as conn:
            conn.execute(delete(t.settings).where(t.settings.c.shop == shop,
                                                  t.settings.c.name == name))
            if value is not None:
                conn.execute(insert(t.settings).values(shop=shop, name=name, value=value,
                                                       updated_at=now, updated_by=by))
