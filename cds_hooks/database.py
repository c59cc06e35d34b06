"""The service's own small database: issued cards, feedback, and seen JWT ids (replay guard).

One SQLAlchemy engine per URL per process. SQLite (the default) runs in WAL mode with a busy
timeout and takes its write lock at BEGIN, so several gunicorn workers can write at once:
a writer waits for the lock instead of failing, and nothing is lost.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from sqlalchemy import (Column, DateTime, Engine, Index, Integer, MetaData, String, Table, Text,
                        create_engine, event)
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

BUSY_TIMEOUT_MS = 5_000  # well under gunicorn's worker timeout: answer 503, never get killed

metadata = MetaData()

issued_cards = Table(
    "issued_cards", metadata,
    Column("card_uuid", String(64), primary_key=True),
    Column("service_id", String(128), nullable=False),
    Column("hook_instance", String(64), nullable=False),
    Column("rule_code", String(128)),                      # card.source.topic.code
    Column("issued_at", DateTime(timezone=True), nullable=False),
)

feedback_items = Table(
    "feedback_items", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("card_uuid", String(128), nullable=False, index=True),
    Column("service_id", String(128), nullable=False),
    Column("outcome", String(16), nullable=False),         # accepted | overridden
    Column("accepted_suggestions", Text),                  # JSON list of suggestion uuids
    Column("override_system", String(512)),
    Column("override_code", String(128)),
    Column("user_comment", Text),
    Column("outcome_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

seen_tokens = Table(
    "seen_tokens", metadata,
    Column("iss", String(512), primary_key=True),
    Column("jti", String(255), primary_key=True),          # the primary key is the replay check
    Column("expires_at", Integer, nullable=False),         # epoch seconds; rows past it are purged
    Index("ix_seen_tokens_expires_at", "expires_at"),
)

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    in_memory = parsed.database in (None, "", ":memory:")
    if in_memory:  # one shared connection, or every checkout would see a different empty database
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # the driver must not open transactions itself
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Take the write lock up front: a deferred transaction that read first can fail with
        # SQLITE_BUSY at once when it tries to write, without waiting out the busy timeout.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def engine_for(url: str) -> Engine:
    """The process's engine for `url`, with the tables created (idempotent)."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if make_url(url).get_backend_name() == "sqlite":
                engine = _sqlite_engine(url)
            else:
                engine = create_engine(url, pool_pre_ping=True)
            metadata.create_all(engine)
            if not isinstance(engine.pool, StaticPool):  # in-memory data lives in its one connection
                # No pooled connection may cross a gunicorn fork: the workers open their own.
                engine.dispose()
            _engines[url] = engine
        return engine


def _forget_inherited_connections() -> None:
    for engine in _engines.values():
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)
