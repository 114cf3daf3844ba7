"""Database connection: SQLite (WAL, busy timeout, serialized writers) or PostgreSQL (psycopg 3)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalize_url(url: str) -> str:
    """Rewrite `postgresql://` / `postgres://` to the psycopg 3 driver URL."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _sqlite_engine(url: str, *, begin: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # take over transaction control so that writers can BEGIN IMMEDIATE (no upgrade deadlocks)
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


def _pg_engine(url: str, *, schema: str | None) -> Engine:
    engine = create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)
    if schema is not None:

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            cur.execute(f'SET search_path TO "{schema}"')
            cur.close()
            dbapi_conn.commit()

    return engine


class CommitCounter:
    """How many write transactions this process committed (a long poll's wake-up signal).

    Only this process's commits count: a poller also re-reads on a timer to see the writes of
    other replicas.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    @property
    def value(self) -> int:
        """The current count."""
        return self._value

    def bump(self) -> None:
        """One more committed write."""
        with self._lock:
            self._value += 1


class Database:
    """Engines and sessions; `transaction()` for writes, `read()` for queries."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = _sqlite_engine(self.url, begin="BEGIN IMMEDIATE")
            self._read_engine = _sqlite_engine(self.url, begin="BEGIN")
        else:
            self.engine = _pg_engine(self.url, schema=schema)
            self._read_engine = self.engine
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        self._reader = sessionmaker(self._read_engine, expire_on_commit=False)
        # bumped after every committed write of this process: long polls wake on it
        self.commits = CommitCounter()

    @contextmanager
    def transaction(self, *, wakes_polls: bool = True) -> Iterator[Session]:
        """One write transaction: commit on success, roll back on any exception.

        `wakes_polls=False` for writes no long poll answers from (sync progress, plain
        heartbeats): ten syncing jobs commit progress many times a second, and each commit
        made every waiting agent's poll read its work again (a poll still re-reads every second,
        so a write marked so by mistake only delays an answer).
        """
        with self._writer() as session, session.begin():
            yield session
        if wakes_polls:
            self.commits.bump()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """One read-only transaction (does not block SQLite writers)."""
        with self._reader() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        if self._read_engine is not self.engine:
            self._read_engine.dispose()
