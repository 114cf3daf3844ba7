"""Server start-up: data dir, master key, migrations, first admin account and AccessKey."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from rehost import filemode
from rehost.config import Settings
from rehost.db.engine import Database
from rehost.db.migrate import upgrade
from rehost.db.probe import require_writable
from rehost.db.tables import AccountRow
from rehost.domain.ids import AccountId
from rehost.services import accounts, regions
from rehost.services.context import ServiceContext
from rehost.services.ports import (
    ImageStoreFactory,
    NoTransitPool,
    TransitPool,
    directory_image_store,
)

ADMIN = "admin"
CREDENTIALS_FILE = "admin-credentials.json"


@dataclass(frozen=True, slots=True)
class AdminCredentials:
    """What the first start prints once."""

    account_name: str
    password: str
    access_key_id: str
    access_key_secret: str
    path: Path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def load_master_key(settings: Settings) -> bytes:
    """The master key: from settings (REHOST_MASTER_KEY) or `<data-dir>/master.key` (0600)."""
    if settings.master_key is not None:
        return settings.master_key
    path = settings.data_dir / "master.key"
    if not path.exists():
        _write_private(path, secrets.token_hex(32).encode())
    return path.read_bytes().strip()


def _private_database(settings: Settings) -> None:
    path = settings.sqlite_path
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, filemode.file_mode(settings.file_group)))
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        filemode.restrict_file(name, group=settings.file_group)


def database_url(settings: Settings) -> str:
    """The configured database URL (SQLite in the data dir by default)."""
    return settings.database_url or f"sqlite:///{settings.sqlite_path}"


def open_context(
    settings: Settings,
    *,
    transit_pool: TransitPool | None = None,
    image_store_for: ImageStoreFactory | None = None,
    database: Database | None = None,
) -> ServiceContext:
    """Create the data dir, open + migrate the database, load the master key."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, filemode.dir_mode(settings.file_group))
    if not settings.database_url:  # SQLite creates -wal/-shm with the database file's mode
        _private_database(settings)
    db = database or Database(database_url(settings))
    require_writable(db, migrate=upgrade)  # a read-only database refuses the start, clearly
    return ServiceContext(
        db=db, settings=settings, master_key=load_master_key(settings),
        transit_pool=transit_pool or NoTransitPool(),
        image_store_for=image_store_for or directory_image_store,
    )


def ensure_admin(ctx: ServiceContext) -> AdminCredentials | None:
    """On first start create `admin` + an AccessKey and write admin-credentials.json (0600)."""
    with ctx.db.read() as session:
        existing = session.scalars(select(AccountRow).where(AccountRow.name == ADMIN)).first()
    if existing is not None:
        regions.ensure_local_region(ctx, AccountId(existing.id))
        return None
    password = secrets.token_urlsafe(18)
    account = accounts.create_account(ctx, name=ADMIN, password=password)
    key = accounts.create_access_key(ctx, account.id)
    path = ctx.settings.data_dir / CREDENTIALS_FILE
    creds = AdminCredentials(ADMIN, password, key.key.id, key.secret, path)
    body = {"account_name": ADMIN, "password": password, "access_key_id": key.key.id,
            "access_key_secret": key.secret}
    path.unlink(missing_ok=True)
    _write_private(path, (json.dumps(body, indent=2) + "\n").encode())
    return creds


def forget_admin_credentials(ctx: ServiceContext) -> None:
    """Delete admin-credentials.json: its secrets are in use now (first login or configure)."""
    (ctx.settings.data_dir / CREDENTIALS_FILE).unlink(missing_ok=True)


def confirm_admin_key(ctx: ServiceContext, account_id: AccountId) -> bool:
    """The admin's AccessKey is saved by a client: forget admin-credentials.json (if kept)."""
    with ctx.db.read() as session:
        row = session.get(AccountRow, account_id)
    path = ctx.settings.data_dir / CREDENTIALS_FILE
    if row is None or row.name != ADMIN or not path.exists():
        return False
    forget_admin_credentials(ctx)
    return True
