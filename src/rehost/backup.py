"""`rehost backup` / `rehost restore`: database (SQLite online backup or pg_dump), master key,
PKI and admin credentials, optionally every region's image store, in one 0600 .tar.gz."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text

from rehost import __version__
from rehost.config import Settings
from rehost.db.engine import Database
from rehost.db.tables import RegionRow
from rehost.domain import errors
from rehost.services.bootstrap import CREDENTIALS_FILE, database_url

FORMAT = 1
MANIFEST = "manifest.json"
SECRETS = ("master.key", "pki", CREDENTIALS_FILE)  # under the data dir
PG_TIMEOUT_S = 600


@dataclass(frozen=True, slots=True)
class BackupSummary:
    """What a backup holds (also its manifest.json)."""

    database: str  # sqlite | postgresql
    revision: str
    secrets: tuple[str, ...]
    image_stores: tuple[str, ...]
    created_at: str


def _revision(db: Database) -> str:
    with db.read() as session:
        return str(session.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def _image_stores(db: Database) -> list[str]:
    with db.read() as session:
        return sorted(set(session.scalars(select(RegionRow.image_store_path)).all()))


def libpq_url(url: str) -> str:
    """`postgresql+psycopg://…` (SQLAlchemy) → `postgresql://…` (pg_dump, pg_restore)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _dump_database(db: Database, staging: Path) -> str:
    if db.is_sqlite:
        source = sqlite3.connect(db.url.removeprefix("sqlite:///"))
        target = sqlite3.connect(staging / "rehost.db")
        with target:
            source.backup(target)  # consistent even while the server writes
        source.close()
        target.close()
        return "sqlite"
    run_tool(["pg_dump", "--format=custom", "--no-owner", f"--file={staging / 'rehost.pgdump'}",
          f"--dbname={libpq_url(db.url)}"], what="pg_dump")
    return "postgresql"


def run_tool(argv: list[str], *, what: str) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=PG_TIMEOUT_S,
                              check=False)
    except FileNotFoundError as exc:
        raise errors.RehostError(
            "MissingTool", f"{what} is not installed; install the Debian package "
            "postgresql-client.", f"未安装 {what}；请安装 Debian 软件包 postgresql-client。",
        ) from exc
    if done.returncode != 0:
        raise errors.RehostError("BackupFailed", f"{what} failed: {done.stderr.strip()}",
                                 f"{what} 失败：{done.stderr.strip()}")


def create_backup(settings: Settings, output: Path, *, include_images: bool) -> BackupSummary:
    """Write the backup archive to `output` (mode 0600: it holds the master key)."""
    url = database_url(settings)
    if url.startswith("sqlite") and not settings.sqlite_path.exists():
        raise errors.invalid("DataDir", f"no rehost database at {settings.sqlite_path}; pass "
                             "the server's --data-dir (or --config / REHOST_DATA_DIR)",
                             f"{settings.sqlite_path} 处没有 rehost 数据库；请指定服务器的 "
                             "--data-dir（或 --config / REHOST_DATA_DIR）")
    db = Database(url)
    try:
        with tempfile.TemporaryDirectory(prefix="rehost-backup-") as tmp:
            staging = Path(tmp)
            kind = _dump_database(db, staging)
            summary = BackupSummary(
                database=kind, revision=_revision(db),
                secrets=tuple(n for n in SECRETS if (settings.data_dir / n).exists()),
                image_stores=tuple(_image_stores(db)) if include_images else (),
                created_at=datetime.now(UTC).isoformat(timespec="seconds"))
            _write_archive(settings, staging, summary, output)
    finally:
        db.dispose()
    return summary


def _write_archive(settings: Settings, staging: Path, summary: BackupSummary,
                   output: Path) -> None:
    (staging / MANIFEST).write_text(json.dumps(_manifest(summary), indent=2) + "\n")
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w:gz") as tar:
        tar.add(staging / MANIFEST, arcname=MANIFEST)
        for entry in sorted(staging.iterdir()):
            if entry.name != MANIFEST:
                tar.add(entry, arcname=f"db/{entry.name}")
        for name in summary.secrets:
            tar.add(settings.data_dir / name, arcname=f"secrets/{name}")
        for number, store in enumerate(summary.image_stores):
            if Path(store).is_dir():
                tar.add(store, arcname=f"images/{number}")


def _manifest(summary: BackupSummary) -> dict[str, object]:
    return {"format": FORMAT, "rehost_version": __version__, "database": summary.database,
            "revision": summary.revision, "secrets": list(summary.secrets),
            "image_stores": list(summary.image_stores), "created_at": summary.created_at}
