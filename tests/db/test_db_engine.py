"""Database layer: URL handling, SQLite pragmas, migrations match the tables, UTC round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import StatementError

from rehost.db.engine import Database, normalize_url
from rehost.db.migrate import upgrade
from rehost.db.tables import AccountRow, Base


def test_normalize_url() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_wal_and_busy_timeout(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()


def test_migrations_match_tables(control_db: Database) -> None:
    with control_db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        tables = set(inspect(conn).get_table_names())
    assert diff == []
    assert {"accounts", "access_keys", "activation_codes", "sources", "regions", "jobs",
            "transits", "images", "job_events", "alembic_version"} <= tables
    upgrade(control_db)  # idempotent at head


def test_datetimes_round_trip_as_utc(control_db: Database) -> None:
    local = datetime(2026, 1, 2, 11, 0, tzinfo=timezone(timedelta(hours=8)))
    with control_db.transaction() as session:
        session.add(AccountRow(id="acc-utc", name="utc-test", password_hash="x", created_at=local))
    with control_db.read() as session:
        row = session.get(AccountRow, "acc-utc")
        assert row is not None and row.created_at == local
        assert row.created_at.tzinfo is UTC and row.created_at.hour == 3
    with pytest.raises(StatementError, match="naive"), control_db.transaction() as session:
        session.add(AccountRow(id="acc-naive", name="naive", password_hash="x",
                               created_at=datetime(2026, 1, 1)))
    with control_db.read() as session:
        assert session.get(AccountRow, "acc-naive") is None  # rolled back


def test_transaction_rolls_back_on_error(control_db: Database) -> None:
    with pytest.raises(RuntimeError), control_db.transaction() as session:
        session.add(AccountRow(id="acc-rb", name="rb", password_hash="x",
                               created_at=datetime.now(UTC)))
        session.flush()
        raise RuntimeError("boom")
    with control_db.read() as session:
        assert session.get(AccountRow, "acc-rb") is None
