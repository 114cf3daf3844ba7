"""Every migration walks up one step at a time and back down to base, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from conftest import pg_database, postgres_url
from rehost.db.engine import Database
from rehost.db.migrate import alembic_config, upgrade
from rehost.db.tables import Base


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database (no migration applied yet)."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'walk.db'}")
        yield db
        db.dispose()
        return
    url = postgres_url()
    if not url:
        pytest.skip("REHOST_TEST_DATABASE_URL not set (bash scripts/start-postgres.sh)")
    yield from pg_database(url, migrated=False)


def _downgrade(db: Database, revision: str) -> None:
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def _job_columns(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns("jobs")}


def test_every_migration_up_and_down(empty_db: Database) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert revisions[-1] == script.get_current_head() == "0015"
    for revision in revisions:
        upgrade(empty_db, revision)
    assert {"adapt_guests", "keep_static_network"} <= _job_columns(empty_db)
    for previous in reversed(["base", *revisions[:-1]]):
        _downgrade(empty_db, previous)
        if previous == "0014":
            assert not {"adapt_guests", "keep_static_network"} & _job_columns(empty_db)
    upgrade(empty_db)
    with empty_db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
