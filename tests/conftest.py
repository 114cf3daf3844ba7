"""Shared pytest fixtures; each area appends its own marked section."""

from __future__ import annotations

# --- disk fixtures ---
from pathlib import Path

import pytest

from diskfactory import BuiltDisk, make_data_disk, make_system_disk


@pytest.fixture(scope="session")
def disk_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory for disk images shared by the session."""
    return tmp_path_factory.mktemp("disks")


@pytest.fixture(scope="session")
def gpt_system_disk(disk_dir: Path) -> BuiltDisk:
    """96 MiB GPT disk: ESP (vfat), unknown random partition, ext4 root with stale free space."""
    return make_system_disk(disk_dir / "gpt", table="gpt")


@pytest.fixture(scope="session")
def mbr_system_disk(disk_dir: Path) -> BuiltDisk:
    """96 MiB MBR disk: ext2 boot, unknown random partition, ext4 root with stale free space."""
    return make_system_disk(disk_dir / "mbr", table="mbr")


@pytest.fixture(scope="session")
def data_disk(disk_dir: Path) -> BuiltDisk:
    """32 MiB GPT data disk with one ext4 partition."""
    return make_data_disk(disk_dir / "data")


@pytest.fixture(scope="session")
def whole_data_disk(disk_dir: Path) -> BuiltDisk:
    """32 MiB data disk that is one ext4 filesystem without a partition table."""
    return make_data_disk(disk_dir / "whole", whole_disk=True)
# --- end disk fixtures ---


# --- control fixtures ---
import os as _os  # noqa: E402
import uuid as _uuid  # noqa: E402
from collections.abc import Callable as _Callable  # noqa: E402
from collections.abc import Iterator as _Iterator  # noqa: E402
from datetime import UTC as _UTC  # noqa: E402
from datetime import datetime as _datetime  # noqa: E402
from datetime import timedelta as _timedelta  # noqa: E402
from typing import Any as _Any  # noqa: E402

from rehost.config import Settings as _Settings  # noqa: E402
from rehost.db.engine import Database as _Database  # noqa: E402
from rehost.db.migrate import upgrade as _upgrade  # noqa: E402
from rehost.services.context import ServiceContext as _ServiceContext  # noqa: E402

GIB = 1024**3


class FakeClock:
    """A settable UTC clock for services (time only moves when a test moves it)."""

    def __init__(self, start: _datetime | None = None) -> None:
        self.now = start or _datetime(2026, 6, 1, 12, 0, tzinfo=_UTC)

    def __call__(self) -> _datetime:
        return self.now

    def advance(self, **kwargs: float) -> _datetime:
        """Move forward by timedelta(**kwargs)."""
        self.now += _timedelta(**kwargs)
        return self.now


def postgres_url() -> str | None:
    """The test PostgreSQL URL; fail (not skip) under CI when missing."""
    url = _os.environ.get("REHOST_TEST_DATABASE_URL")
    if not url and _os.environ.get("CI") == "true":
        pytest.fail("REHOST_TEST_DATABASE_URL is not set under CI (run `make test`)")
    return url


def pg_database(url: str, *, migrated: bool = True) -> _Iterator[_Database]:
    """A database in a fresh PostgreSQL schema (migrated to head unless asked), dropped after."""
    schema = "t_" + _uuid.uuid4().hex[:12]
    db = _Database(url, schema=schema)
    if migrated:
        _upgrade(db)
    yield db
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    db.dispose()


_DB_PARAMS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=_DB_PARAMS)
def control_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> _Iterator[_Database]:
    """A migrated database per test module: SQLite file, then a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "rehost.db"
        db = _Database(f"sqlite:///{path}")
        _upgrade(db)
        yield db
        db.dispose()
        return
    url = postgres_url()
    if not url:
        pytest.skip("REHOST_TEST_DATABASE_URL not set (bash scripts/start-postgres.sh)")
    yield from pg_database(url)


@pytest.fixture
def ctl_clock() -> FakeClock:
    """A fake clock at 2026-06-01 12:00 UTC."""
    return FakeClock()


@pytest.fixture
def ctl_ctx(control_db: _Database, ctl_clock: FakeClock, tmp_path: Path) -> _ServiceContext:
    """Services on the module's database with a fake clock and a private data dir."""
    settings = _Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    return _ServiceContext(db=control_db, settings=settings, master_key=b"k" * 32, clock=ctl_clock)


def make_inventory(
    *, system_gib: float = 10, system_used_gib: float = 3, min_gib: float | None = None,
    data: list[tuple[int, float, float]] | None = None, hostname: str = "web-1",
) -> dict[str, _Any]:
    """An agent inventory: system disk + data disks given as (index, size GiB, used GiB)."""
    def disk(index: int, size: float, used: float, minimum: float | None) -> dict[str, _Any]:
        return {"index": index, "path": f"/dev/vd{'abcdefghijklmnopq'[index]}",
                "size_bytes": int(size * GIB), "used_bytes": int(used * GIB),
                "min_size_bytes": int((size if minimum is None else minimum) * GIB),
                "shrink_note": "", "partition_table": "gpt", "partitions": []}
    disks = [disk(0, system_gib, system_used_gib, min_gib)]
    disks += [disk(i, s, u, None) for i, s, u in (data or [])]
    return {"hostname": hostname, "os_name": "Debian", "os_version": "12", "kernel": "6.1",
            "arch": "x86_64", "boot_mode": "UEFI", "agent_version": "0.1.0", "disks": disks}


@pytest.fixture
def ctl_account(ctl_ctx: _ServiceContext) -> _Any:
    """A fresh account (with its `local` region) for one test."""
    from rehost.services import accounts

    name = "acct-" + _uuid.uuid4().hex[:10]
    return accounts.create_account(ctl_ctx, name=name, password="pw-123456")


@pytest.fixture
def ctl_source(ctl_ctx: _ServiceContext, ctl_account: _Any) -> _Callable[..., _Any]:
    """Factory: import a source (kwargs → make_inventory); returns agents.ImportResult."""
    from rehost.services import activation, agents

    def make(account_id: str | None = None, **inventory: _Any) -> _Any:
        owner = account_id or ctl_account.id
        code = activation.create_code(ctl_ctx, owner, count=1)
        return agents.import_source(ctl_ctx, code_id=code.code.id, code=code.secret,
                                    inventory=make_inventory(**inventory))

    return make
# --- end control fixtures ---
