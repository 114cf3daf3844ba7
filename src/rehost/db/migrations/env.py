"""Alembic environment: runs on the connection handed over by `rehost.db.migrate`."""

from __future__ import annotations

from alembic import context

from rehost.db.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through rehost.db.migrate.upgrade()")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
