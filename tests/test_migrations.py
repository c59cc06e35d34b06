"""Schema migrations: an empty database and one made before migrations existed both end at the
newest revision, with the rows kept; the migrations build exactly the tables the code uses."""
from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    inspect,
    text,
)

from cds_hooks import database
from cds_hooks.cli import main


def old_schema(url: str) -> None:
    """The tables as the service created them with create_all, before migrations (no version)."""
    old = MetaData()
    Table("issued_cards", old, Column("card_uuid", String(64), primary_key=True),
          Column("service_id", String(128), nullable=False), Column("hook_instance", String(64), nullable=False),
          Column("rule_code", String(128)), Column("issued_at", DateTime(timezone=True), nullable=False))
    Table("feedback_items", old, Column("id", Integer, primary_key=True, autoincrement=True),
          Column("card_uuid", String(128), nullable=False, index=True),
          Column("service_id", String(128), nullable=False),
          Column("outcome", String(16), nullable=False), Column("accepted_suggestions", Text),
          Column("override_system", String(512)), Column("override_code", String(128)), Column("user_comment", Text),
          Column("outcome_at", DateTime(timezone=True), nullable=False),
          Column("received_at", DateTime(timezone=True), nullable=False))
    Table("seen_tokens", old, Column("iss", String(512), primary_key=True),
          Column("jti", String(255), primary_key=True), Column("expires_at", Integer, nullable=False))
    engine = create_engine(url)
    old.create_all(engine)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(insert(old.tables["issued_cards"]).values(
            card_uuid="c-1", service_id="s", hook_instance="h", rule_code="units", issued_at=now))
        connection.execute(insert(old.tables["feedback_items"]).values(
            card_uuid="c-1", service_id="s", outcome="accepted", outcome_at=now, received_at=now))
    engine.dispose()


def test_a_sqlite_file_from_before_migrations_upgrades_in_place(tmp_path):
    url = f"sqlite:///{tmp_path}/old.db"
    old_schema(url)
    engine = database.new_engine(url)
    assert database.upgrade(engine) == database.head_revision()
    with engine.connect() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("feedback_items")}
        assert {"issuer", "dedup_key"} <= columns
        assert connection.execute(text("SELECT rule_code FROM issued_cards")).scalars().all() == ["units"]
        assert connection.execute(text("SELECT count(*) FROM feedback_items")).scalar() == 1


def test_migrations_build_exactly_the_tables_the_code_uses(database_url):
    engine = database.new_engine(database_url)
    database.upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), database.metadata)
    assert differences == []


def test_db_upgrade_command_migrates_and_says_the_revision(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CPT97124_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == f"database schema at revision {database.head_revision()}"
    assert main(["db", "upgrade"]) == 0  # again: nothing to do, same answer


def test_db_upgrade_command_fails_cleanly_when_the_database_is_unreachable(monkeypatch, capsys):
    monkeypatch.setenv("CPT97124_DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
    monkeypatch.setenv("CPT97124_DATABASE_TIMEOUT", "1")
    assert main(["db", "upgrade"]) == 1
    assert "could not be upgraded (OperationalError)" in capsys.readouterr().err
