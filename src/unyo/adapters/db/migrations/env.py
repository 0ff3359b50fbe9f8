"""Alembic environment: runs on the connection unyo hands it (see migrate.py)."""

from __future__ import annotations

from alembic import context

from unyo.adapters.db.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - unyo always passes its connection
    raise RuntimeError("run migrations through `unyo db upgrade`")

context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
