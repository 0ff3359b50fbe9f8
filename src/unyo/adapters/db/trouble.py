"""What went wrong with the storage, in words an operator can act on.

Three failures look alike in a traceback and are fixed in different ways: the database
is locked by another process (SQLite `database is locked`, SQLITE_BUSY / SQLITE_LOCKED;
PostgreSQL lock_not_available), the disk is full (ENOSPC, EDQUOT, SQLITE_FULL,
PostgreSQL disk_full) and the database or its folder is read-only (SQLITE_READONLY
`attempt to write a readonly database`, EROFS, EACCES, EPERM; PostgreSQL
read_only_sql_transaction, a hot standby). `storage_problem()` recognises them anywhere
in an exception's chain (SQLAlchemy's `.orig`, `__cause__`, `__context__`) and gives an
English sentence for logs and JSON and a Japanese one for the CLI's text output.

Recognised by error codes where the driver gives them (Python 3.11's
`sqlite_errorcode`, psycopg's `sqlstate`, `OSError.errno`), by SQLite's message text
otherwise. Imports nothing but the standard library.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["StorageProblem", "Trouble", "location", "storage_problem"]


class Trouble(StrEnum):
    """The kinds of storage failure an operator fixes outside unyo."""

    LOCKED = "locked"  # another process holds a lock on the database
    FULL = "full"  # no space left for the database or a file unyo writes
    READ_ONLY = "read_only"  # the database, its folder or the file system refuses writes


# SQLite primary result codes (https://www.sqlite.org/rescode.html)
_SQLITE = {5: Trouble.LOCKED, 6: Trouble.LOCKED, 13: Trouble.FULL, 8: Trouble.READ_ONLY}
# PostgreSQL SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html)
_SQLSTATE = {"55P03": Trouble.LOCKED, "53100": Trouble.FULL,
             "25006": Trouble.READ_ONLY}
_ERRNO = {errno.ENOSPC: Trouble.FULL, errno.EDQUOT: Trouble.FULL,
          errno.EROFS: Trouble.READ_ONLY, errno.EACCES: Trouble.READ_ONLY,
          errno.EPERM: Trouble.READ_ONLY}
_TEXT = (("database is locked", Trouble.LOCKED), ("database table is locked", Trouble.LOCKED),
         ("database or disk is full", Trouble.FULL),
         ("readonly database", Trouble.READ_ONLY))


@dataclass(frozen=True)
class StorageProblem:
    """One recognised storage failure: its kind, where (a path or the database shown
    without its password) and the underlying error's own text."""

    kind: Trouble
    where: str
    detail: str

    @property
    def english(self) -> str:
        return self._text(0, self.where or "the database")

    @property
    def japanese(self) -> str:
        return self._text(1, self.where or "データベース")

    def _text(self, language: int, where: str) -> str:
        return f"{_TEXTS[self.kind][language].format(where=where)} [{self.detail}]"


_TEXTS: dict[Trouble, tuple[str, str]] = {
    Trouble.LOCKED: (
        "the database {where} is locked by another process (a transaction left open, a "
        "backup or a sqlite3 shell holding it) and did not let go while unyo waited; end "
        "that process or its transaction, then unyo goes on at its next turn",
        "データベース {where} は別のプロセスがロックしています（開いたままのトランザクション、"
        "バックアップ、sqlite3 シェルなど）。待っても解除されませんでした。そのプロセスを"
        "終了してください（unyo run は次の回に自動で続けます）"),
    Trouble.FULL: (
        "the disk holding {where} is full: free some space and try again (what failed was "
        "not written; `unyo run` goes on by itself at its next turn)",
        "{where} のディスクがいっぱいです（空き容量がありません）。空きを作ってからもう一度"
        "実行してください（失敗した書き込みは行われていません。unyo run は次の回に自動で"
        "続けます）"),
    Trouble.READ_ONLY: (
        "{where} is read-only (the file, its folder or the file system): unyo must write "
        "the database and create its -wal and -shm files next to it; check the owner, the "
        "permissions and the mount",
        "{where} が読み取り専用です（ファイル、フォルダ、またはファイルシステム）。unyo は"
        "データベースへの書き込みと、同じフォルダへの -wal / -shm ファイルの作成が必要です。"
        "所有者・権限・マウントを確認してください"),
}
"""Per kind of trouble: (English for logs and --json, Japanese for the CLI's text)."""


def _kind(exc: BaseException) -> Trouble | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _SQLITE:
        return _SQLITE[code & 0xFF]
    state = getattr(exc, "sqlstate", None)
    if isinstance(state, str) and state in _SQLSTATE:
        return _SQLSTATE[state]
    if isinstance(exc, OSError) and exc.errno in _ERRNO:
        return _ERRNO[exc.errno]
    text = str(exc).lower()
    return next((kind for words, kind in _TEXT if words in text), None)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 20:
        e = todo.pop(0)
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        orig = getattr(e, "orig", None)
        todo += [orig if isinstance(orig, BaseException) else None, e.__cause__, e.__context__]
    return seen


def storage_problem(exc: BaseException, where: str = "") -> StorageProblem | None:
    """The storage failure behind `exc`, or None when it is something else. `where` names
    the database; a file system error names its own file."""
    found = [(e, kind) for e in _chain(exc) if (kind := _kind(e)) is not None]
    # the driver's own error (SQLAlchemy's `.orig`) has the plainest text
    for e, kind in sorted(found, key=lambda f: getattr(f[0], "orig", None) is not None):
        if isinstance(e, OSError):
            where = str(e.filename) if e.filename else where
            detail = f"{errno.errorcode.get(e.errno or 0, 'OSError')}: {e.strerror or e}"
        else:
            detail = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        return StorageProblem(kind, where, detail)
    return None


def location(engine: object) -> str:
    """Where a SQLAlchemy engine's database is, for the messages: a SQLite file's path,
    or the URL without its password."""
    url = getattr(engine, "url", None)
    if url is None:
        return ""
    if url.get_backend_name() == "sqlite":
        return str(url.database or ":memory:")
    return str(url.render_as_string(hide_password=True))
