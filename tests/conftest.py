"""Shared fixtures: a migrated store per test (SQLite, or PostgreSQL when
UNYO_TEST_DATABASE=postgresql), a throwaway PostgreSQL server, real Chromium."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from unyo.adapters.db.store import Store
from unyo.sandbox.postgres import PostgresServer, PostgresUnavailable

BACKEND = os.environ.get("UNYO_TEST_DATABASE", "sqlite")
"""The database the suite runs on: sqlite (default) or postgresql (a throwaway server)."""


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the session, with a migrated template database."""
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as e:
        if os.environ.get("UNYO_REQUIRE_POSTGRES") == "1" or BACKEND == "postgresql":
            pytest.fail(str(e))
        pytest.skip(str(e))
    try:
        Store.open(server.create_database("unyo_template")).close()
        yield server
    finally:
        server.stop()


_databases = itertools.count()


def new_database_url(request: pytest.FixtureRequest, tmp_path: Path,
                     backend: str = BACKEND) -> Iterator[str]:
    """A fresh, migrated database on `backend`, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'unyo.db'}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = f"t{os.getpid()}_{next(_databases)}"
    yield server.create_database(name, template="unyo_template")
    server.drop_database(name)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database on the suite's backend (UNYO_TEST_DATABASE)."""
    yield from new_database_url(request, tmp_path)


@pytest.fixture
def pg_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL database, whatever the suite's backend (multi-worker tests)."""
    yield from new_database_url(request, tmp_path, "postgresql")


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store.open(database_url)
    yield s
    s.close()


# -- real Chromium (Debian's package, driven by Playwright; nothing downloaded) --

_CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium_path() -> str | None:
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless Chromium for browser tests.

    Skipped when Debian's chromium is not installed, unless
    UNYO_REQUIRE_BROWSER=1 (set by .ci/run), where a missing browser fails.
    """
    import os

    path = _chromium_path()
    if path is None:
        if os.environ.get("UNYO_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is not installed: apt-get install -y chromium")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, headless=True, args=_CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()
