"""The service's own small database: issued cards, feedback, and seen JWT ids (replay guard).

The tables below describe the schema at the newest migration; the schema itself is made and
changed only by the Alembic migrations in cds_hooks/migrations (`cpt97124 db upgrade`, and at
start-up, under a database lock so that concurrent workers and replicas cannot race).

Two backends are tested: SQLite (the default, one host) and PostgreSQL (`postgresql://…`, run
through psycopg 3). SQLite runs in WAL mode with a busy timeout and takes its write lock at
BEGIN, so several gunicorn workers can write at once: a writer waits instead of failing.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.pool import StaticPool

log = logging.getLogger("cpt97124.database")

DEFAULT_TIMEOUT = 5.0   # seconds to connect or wait for a lock: well under the worker timeout
MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant works; it only has to be the same in every process that migrates this database.
PG_MIGRATION_LOCK = 9712_4000_0001

metadata = MetaData()

issued_cards = Table(
    "issued_cards", metadata,
    Column("card_uuid", String(64), primary_key=True),
    Column("service_id", String(128), nullable=False),
    Column("hook_instance", String(64), nullable=False),
    Column("rule_code", String(128)),                      # card.source.topic.code
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("issuer", String(512)),                         # JWT `iss` of the caller; NULL in dev mode
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
    Column("issuer", String(512)),                         # JWT `iss` of the sender; NULL in dev mode
    # sha256 of what the item says; unique, so an EHR retrying the same post stores it once.
    Column("dedup_key", String(64)),
    Index("ux_feedback_items_dedup_key", "dedup_key", unique=True),
)

seen_tokens = Table(
    "seen_tokens", metadata,
    Column("iss", String(512), primary_key=True),
    Column("jti", String(255), primary_key=True),          # the primary key is the replay check
    Column("expires_at", Integer, nullable=False),         # epoch seconds; rows past it are purged
    Index("ix_seen_tokens_expires_at", "expires_at"),
)

# Faults of the database itself (unreachable, locked, restarting): worth a retry. Anything else
# (bad data, a constraint) is permanent; callers validate input so that it cannot happen.
TRANSIENT = (OperationalError, DisconnectionError)


def is_transient(error: SQLAlchemyError) -> bool:
    if isinstance(error, (DataError, IntegrityError)):
        return False
    return isinstance(error, TRANSIENT) or (isinstance(error, DBAPIError) and error.connection_invalidated)


# Every engine of this process, to drop inherited connections after a fork.
_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def normalized_url(url: str) -> URL:
    """`postgresql://` means psycopg 3 here (the one PostgreSQL driver the project tests)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_engine(url: URL, timeout: float) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    if in_memory:  # one shared connection, or every checkout would see a different empty database
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": timeout})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver must not open transactions itself
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Take the write lock up front: a deferred transaction that read first can fail with
        # SQLITE_BUSY at once when it tries to write, without waiting out the busy timeout.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _postgresql_engine(url: URL, timeout: float) -> Engine:
    # Connect and lock waits are bounded, so an outage answers 503 quickly instead of hanging.
    options = f"-c lock_timeout={int(timeout * 1000)}"
    return create_engine(url, pool_pre_ping=True, pool_timeout=timeout,
                         connect_args={"connect_timeout": max(1, round(timeout)), "options": options})


def new_engine(url: str, timeout: float = DEFAULT_TIMEOUT) -> Engine:
    """An engine (a connection pool) for `url`; no schema work (see connect). The app makes one
    and hands it to every part that needs the database; a command line tool makes its own."""
    parsed = normalized_url(url)
    builder = _sqlite_engine if parsed.get_backend_name() == "sqlite" else _postgresql_engine
    engine = builder(parsed, timeout)
    _engines.add(engine)
    return engine


def connect(url: str, timeout: float = DEFAULT_TIMEOUT) -> Engine:
    """A new engine for `url`, its schema brought to the newest migration.

    A database that cannot be reached now is not fatal: the service starts, /readyz says 503,
    and /readyz tries the migrations again.
    """
    engine = new_engine(url, timeout)
    try:
        upgrade(engine)
    except TRANSIENT as error:
        log.warning("database unreachable, schema not checked: %s", type(error).__name__)
    return engine


# ---- migrations ---------------------------------------------------------------------------

def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None, "cds_hooks/migrations has no revision"
    return head


def current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


@contextlib.contextmanager
def _migration_lock(connection: Connection, url: URL) -> Iterator[None]:
    """One migrating process at a time per database, across workers, replicas and hosts."""
    if url.get_backend_name() == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_MIGRATION_LOCK})
        connection.commit()
        try:
            yield
        finally:
            connection.rollback()  # a failed migration must not keep the session in a bad transaction
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_MIGRATION_LOCK})
            connection.commit()
    elif url.database in (None, "", ":memory:"):
        yield  # an in-memory database belongs to this process alone
    else:
        # SQLite is one file on one host: a lock file beside it serializes the processes.
        with open(f"{url.database}.migrate-lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)


def upgrade(engine: Engine) -> str | None:
    """Apply every migration not yet applied, under the migration lock; the revision now in force.

    A database made before migrations existed (tables, no alembic_version) is first marked as
    being at the initial revision, so it upgrades in place and keeps its rows.
    """
    from alembic import command

    head = head_revision()
    with engine.connect() as connection:
        if current_revision(connection) == head:  # the common case: nothing to do, no lock taken
            connection.rollback()
            return head
        connection.rollback()
        with _migration_lock(connection, engine.url):
            config = _alembic_config(connection)
            if current_revision(connection) is None and inspect(connection).has_table("issued_cards"):
                command.stamp(config, "0001")
            command.upgrade(config, "head")
            connection.commit()
            revision = current_revision(connection)
            connection.rollback()
    log.info("database schema at revision %s", revision)
    return revision


def ready(engine: Engine) -> bool:
    """Whether the database answers and its schema is at the newest migration (for /readyz)."""
    try:
        with engine.connect() as connection:
            at_head = current_revision(connection) == head_revision()
            connection.rollback()
        if not at_head:
            upgrade(engine)
        return True
    except SQLAlchemyError:
        return False


def _forget_inherited_connections() -> None:
    # No pooled connection may cross a gunicorn fork: the workers open their own.
    for engine in list(_engines):
        if not isinstance(engine.pool, StaticPool):  # in-memory data lives in its one connection
            engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)
