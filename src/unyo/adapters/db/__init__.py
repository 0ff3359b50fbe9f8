"""The store: SQLAlchemy Core tables, Alembic migrations, and the order repository.

May import `unyo.domain`; must not import `unyo.app`, the CLI or the web layer.
"""

from unyo.adapters.db.store import ConcurrentUpdate, Store

__all__ = ["ConcurrentUpdate", "Store"]
