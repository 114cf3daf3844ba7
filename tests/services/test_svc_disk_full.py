"""A database on a full or read-only volume (real tmpfs): failures deferred, start refused."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import make_inventory
from e2e.harness import free_port_pair
from rehost.config import Settings
from rehost.db.engine import Database
from rehost.db.migrate import upgrade
from rehost.db.probe import DatabaseUnwritable
from rehost.domain.rules import JobRequest
from rehost.domain.states import JobStatus
from rehost.services import accounts, activation, agents, bootstrap, failures, jobs, runs, scheduler
from rehost.services.context import ServiceContext

REHOST = str(Path(sys.executable).with_name("rehost"))
pytestmark = pytest.mark.skipif(os.geteuid() != 0 and not os.environ.get("CI"),
                                reason="mounts a tmpfs: run as root")


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (root only; CI runs as root)."""
    if os.geteuid() != 0:
        pytest.fail("this test mounts a tmpfs: run it as root")
    volume = tmp_path / "vol"
    volume.mkdir()
    _mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(volume))
    try:
        yield volume
    finally:
        subprocess.run(["umount", "-l", str(volume)], check=False)


def _fill(volume: Path) -> Path:
    """Write zeros until the volume is full; returns the filler file."""
    filler = volume / "filler"
    with filler.open("wb", buffering=0) as f:  # unbuffered: close has nothing left to flush
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def _running_job(ctx: ServiceContext) -> Any:
    account = accounts.create_account(ctx, name="acct-full", password="pw-123456")
    code = activation.create_code(ctx, account.id, count=1)
    src = agents.import_source(ctx, code_id=code.code.id, code=code.secret,
                               inventory=make_inventory(system_gib=1, system_used_gib=0.1))
    job = jobs.create_job(ctx, account.id, source_id=src.source_id, region_id="local",
                          request=JobRequest(system_disk_size_gib=1))
    runs.start_job(ctx, account.id, job.id)
    return account, job.id


def test_disk_full_failure_the_database_refuses_is_written_by_the_scheduler(
    small_volume: Path, tmp_path: Path
) -> None:
    db = Database(f"sqlite:///{small_volume / 'rehost.db'}")
    upgrade(db)
    ctx = ServiceContext(db=db, settings=Settings(data_dir=tmp_path / "data"),
                         master_key=b"k" * 32)
    account, job_id = _running_job(ctx)
    filler = _fill(small_volume)
    failure = failures.Failure(job_id, "Transit.DiskFull", "the transit disk is full",
                               "中转实例磁盘空间不足", "Free space, then start the job again.",
                               "请清理磁盘空间，然后重新开始任务。")
    assert not failures.fail_or_defer(ctx, failure)  # the database cannot take the write
    assert len(failures.DEFERRED) == 1
    scheduler.tick(ctx)  # still full: kept for the next tick
    assert len(failures.DEFERRED) == 1
    assert jobs.get_job(ctx, account.id, job_id).status is JobStatus.RUNNING
    filler.unlink()
    scheduler.tick(ctx)
    job = jobs.get_job(ctx, account.id, job_id)
    assert job.status is JobStatus.IN_ERROR and job.error_code == "Transit.DiskFull"
    assert len(failures.DEFERRED) == 0
    runs.start_job(ctx, account.id, job_id)  # with space again the job starts (resumes)
    assert jobs.get_job(ctx, account.id, job_id).status is JobStatus.RUNNING
    db.dispose()


def test_read_only_database_refuses_to_start(small_volume: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{small_volume / 'rehost.db'}"
    settings = Settings(data_dir=tmp_path / "data", database_url=url)
    bootstrap.open_context(settings).db.dispose()
    _mount("-o", "remount,ro", str(small_volume))
    with pytest.raises(DatabaseUnwritable) as refused:
        bootstrap.open_context(settings)
    assert "does not accept writes" in str(refused.value) and "无法写入" in str(refused.value)
    port = free_port_pair()
    proc = subprocess.run([REHOST, "server", "--data-dir", str(tmp_path / "data"),
                           "--listen", f"127.0.0.1:{port}"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "REHOST_DATABASE_URL": url})
    assert proc.returncode != 0
    assert "cannot start the server" in proc.stderr and "数据库" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
