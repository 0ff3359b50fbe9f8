"""Table definitions (SQLAlchemy Core). Migrations in `migrations/versions` must match.

Times are stored as UTC; `UtcDateTime` hands back aware datetimes on every backend.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


def utc_naive(value: datetime) -> datetime:
    """An aware datetime as naive UTC (what the database stores)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None)


def utc_text(value: datetime) -> str:
    """An aware datetime as SQLite stores it: fixed-width UTC text, so text order is time."""
    return utc_naive(value).isoformat(" ", "microseconds")


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC.

    On SQLite it is fixed-width ISO text ('YYYY-MM-DD HH:MM:SS.ffffff', so text order is
    time order) formatted here in one step; elsewhere a plain TIMESTAMP holding UTC.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        return utc_text(value) if dialect.name == "sqlite" else utc_naive(value)

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop", String(64), nullable=False),
    Column("order_number", String(64), nullable=False),
    Column("stage", String(20), nullable=False),
    Column("version", Integer, nullable=False, default=0),
    Column("rms_status", Integer, nullable=False),
    Column("confirmed_at", UtcDateTime, nullable=True),
    Column("ordered_at", UtcDateTime, nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("total", Integer, nullable=False),
    Column("payment_method", Integer, nullable=False),
    Column("buyer_name", String(200), nullable=False),
    Column("buyer_key", String(20), nullable=False),
    Column("fingerprint", String(32), nullable=False),
    Column("details", String(32), nullable=False, default=""),
    Column("attrs", Text, nullable=False, default="{}"),
    Column("data", Text, nullable=False),
    # digest of the channel's data as last read when it matched the stored snapshot
    # (the sync skips mapping an unchanged re-read); any other write of the row clears it
    Column("source_digest", String(32), nullable=True),
    UniqueConstraint("shop", "order_number"),
    # the dashboard's queue tabs, newest first (also serves counts per stage)
    Index("ix_orders_shop_stage_ordered_at", "shop", "stage", "ordered_at"),
    Index("ix_orders_shop_buyer_name", "shop", "buyer_name"),  # (searches use order_search)
    Index("ix_orders_shop_ordered_at", "shop", "ordered_at"),
    Index("ix_orders_shop_buyer_key", "shop", "buyer_key"),
)

Term = String(64).with_variant(String(64, collation="C"), "postgresql")
"""A search term: compared by code point on every backend (prefix ranges need it)."""

order_search = Table(
    "order_search",
    metadata,
    Column("term", Term, nullable=False),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=False),
    PrimaryKeyConstraint("term", "order_id"),
    # the terms of an order, to rewrite them when the order is re-read (migration 0010)
    Index("ix_order_search_order_id", "order_id"),
    sqlite_with_rowid=False,
)
"""Every folded term that finds an order (`unyo.domain.search`): a prefix of a term is a
range of this primary key. Written with the order, in its transaction."""

gates = Table(
    "gates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("reason", String(300), nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("opened_by", String(20), nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("closed_by", String(20), nullable=True),
    Column("close_note", Text, nullable=False, default=""),
    Column("until", UtcDateTime, nullable=True),
    Column("rule", String(80), nullable=False, default=""),
    Column("fingerprint", String(32), nullable=False, default=""),
    UniqueConstraint("order_id", "seq"),
    # open gates of a kind; for holds also their time (the holds step, every minute)
    Index("ix_gates_kind_closed_at_until", "kind", "closed_at", "until"),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("type", String(40), nullable=False),
    Column("actor", String(20), nullable=False),
    Column("data", Text, nullable=False),
    # The stage a stage_changed event moved to (NULL otherwise): stage moves as a column.
    Column("stage_to", String(20), nullable=True),
    Index("ix_events_order_id", "order_id"),
    Index("ix_events_type_at", "type", "at"),
    Index("ix_events_stage_to_at", "stage_to", "at"),  # orders reaching a stage in a period
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop", String(64), nullable=False),
    # NULL for an effect about no order: the staff's alert digests (migration 0008)
    Column("order_id", Id, ForeignKey("orders.id"), nullable=True),
    Column("kind", String(40), nullable=False),
    Column("dedupe_key", String(200), nullable=False, unique=True),
    Column("payload", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("done_at", UtcDateTime, nullable=True),
    # a worker delivering the effect holds it until then (wall time; migration 0003)
    Column("claimed_by", String(100), nullable=True),
    Column("claimed_until", UtcDateTime, nullable=True),
    # the delivery batch (e.g. warehouse request file) it went out in, once staged
    Column("batch", String(100), nullable=True),
    Index("ix_outbox_status_kind_next", "status", "kind", "next_attempt_at"),
    Index("ix_outbox_order_id", "order_id"),
)

effect_attempts = Table(
    "effect_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("effect_id", Id, ForeignKey("outbox.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("error", Text, nullable=True),
    Index("ix_effect_attempts_effect_id", "effect_id"),
)

shadow_orders = Table(
    "shadow_orders",
    metadata,
    Column("order_id", Id, ForeignKey("orders.id"), primary_key=True),
    Column("shop", String(64), nullable=False),
    Column("ordered_at", UtcDateTime, nullable=False),
    Index("ix_shadow_orders_shop_ordered_at", "shop", "ordered_at"),
)
"""Orders imported in shadow mode (migration 0009): never acted on once the shop is live
if ordered before `import.start_at`."""

import_pending = Table(
    "import_pending",
    metadata,
    Column("shop", String(64), primary_key=True),
    Column("order_number", String(64), primary_key=True),
    Column("ordered_at", UtcDateTime, nullable=False),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("recheck_at", UtcDateTime, nullable=False),
    Column("reason", String(40), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
)

cursors = Table(
    "cursors",
    metadata,
    Column("shop", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", String(200), nullable=False),
)

# ---- the dashboard (migration 0002) ------------------------------------------------------

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(20), nullable=False),  # operator | admin
    Column("password_hash", String(200), nullable=False),  # argon2id
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the cookie
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_web_sessions_user_id", "user_id"),
)

settings = Table(
    "settings",
    metadata,
    Column("shop", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", String(200), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)
"""Settings an admin changes on the dashboard (e.g. when the RMS license key was issued)."""

# ---- several workers (migration 0003) ----------------------------------------------------

shop_leases = Table(
    "shop_leases",
    metadata,
    Column("shop", String(64), primary_key=True),
    Column("worker", String(100), nullable=False),
    Column("epoch", Integer, nullable=False),  # +1 at every change of holder
    Column("acquired_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),  # wall time
)
"""One worker works a shop at a time; a lease not renewed by its expiry is taken over."""

# ---- print batches of shops that pack themselves (migration 0011) ------------------------

print_batches = Table(
    "print_batches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("printed", Integer, nullable=False, default=0),  # times its outputs were made
    Column("printed_at", UtcDateTime, nullable=True),
    Column("printed_by", String(64), nullable=False, default=""),
    Index("ix_print_batches_shop_created_at", "shop", "created_at"),
)
"""A batch of 納品書 printed together (自社出荷): its orders are 印刷済 (at_warehouse)."""

print_batch_orders = Table(
    "print_batch_orders",
    metadata,
    Column("batch_id", Id, ForeignKey("print_batches.id"), primary_key=True),
    Column("order_id", Id, ForeignKey("orders.id"), primary_key=True),
    Column("seq", Integer, nullable=False),  # the order's place in the batch
    Column("order_number", String(64), nullable=False),
    Column("slip", Text, nullable=False),  # JSON: what its slips print, as first printed
    Column("removed_at", UtcDateTime, nullable=True),  # taken out of the batch
    Column("removed_by", String(64), nullable=False, default=""),
    Index("ix_print_batch_orders_order_id", "order_id"),
)

print_batch_outputs = Table(
    "print_batch_outputs",
    metadata,
    Column("batch_id", Id, ForeignKey("print_batches.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),  # 1: the 納品書 PDF; then label files
    Column("name", String(200), nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
"""What the last printing of a batch made, kept so it can be downloaded again."""
# ---- money watch (migration 0008) -----------------------------------------------------

money_alerts = Table(
    "money_alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop", String(64), nullable=False),
    Column("key", String(120), nullable=False),  # what it is about (kind:order number)
    Column("kind", String(20), nullable=False),
    Column("level", String(10), nullable=False),
    Column("order_number", String(64), nullable=False),  # "" for the license
    Column("text", Text, nullable=False),  # what staff read (Japanese)
    Column("data", Text, nullable=False),  # the alert as JSON (date, days left, detail)
    Column("opened_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),  # NULL while open
    Column("effect_id", Id, nullable=True),  # the digest it went out in (outbox id)
    Index("ix_money_alerts_shop_closed_at", "shop", "closed_at"),
)
"""The money watch's alerts: a row per opening, closed when its condition goes away."""

payout_checks = Table(
    "payout_checks",
    metadata,
    Column("shop", String(64), primary_key=True),
    Column("order_number", String(64), primary_key=True),
    Column("rms_status", Integer, nullable=False),
    Column("checked_at", UtcDateTime, nullable=False),
)
"""The RMS status the money watch last read for a reported order (500 and later: paid,
never read again)."""
