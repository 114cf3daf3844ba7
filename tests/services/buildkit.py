"""Shared pieces of the build service tests: a listener pool fake, a context, a synced job."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rehost.domain.rules import JobRequest
from rehost.services import jobs, lookup, runs, transits
from rehost.services.context import ServiceContext
from rehost.services.transit_control import ServiceTransitControl, SharedListenerPool
from rehost.storage.local import LocalImageStore
from rehost.transit.session import target_disk_path

MIB = 1024 * 1024


class NullPool:
    """A listener pool with nothing to disconnect or release but the work dir."""

    def disconnect_job(self, job_id: str) -> None:
        """Nothing is connected in these tests."""

    def release_job(self, job_id: str, work_dir: Path) -> None:
        """The real pool deletes the work dir; so does this one (its files)."""
        for f in work_dir.glob("*"):
            if f.is_file():
                f.unlink()

    def problem(self) -> str:
        """Always serving."""
        return ""


def build_ctx(ctx: ServiceContext) -> ServiceContext:
    """The test context with a transit pool that only forgets work dirs."""
    return ServiceContext(db=ctx.db, settings=ctx.settings, master_key=ctx.master_key,
                          clock=ctx.clock, transit_pool=SharedListenerPool("127.0.0.1:9",
                                                                           NullPool()))


def region_store(region: Any) -> LocalImageStore:
    """The region's own directory image store."""
    return LocalImageStore(Path(region.image_store_path))


def synced_job(ctx: ServiceContext, account: Any, source: Any, *, region_id: str = "local",
               source_gib: float, disk_mib: int,
               request: JobRequest | None = None) -> tuple[str, Path]:
    """A started job whose transit holds a received system disk with 2 MiB of random data."""
    src = source(system_gib=source_gib, system_used_gib=0.001, min_gib=0.01)
    job = jobs.create_job(ctx, account.id, source_id=src.source_id, region_id=region_id,
                          request=request or JobRequest(system_disk_size_gib=1))
    runs.start_job(ctx, account.id, job.id)
    with ctx.db.read() as session:
        row = lookup.active_transit(session, job.id)
        assert row is not None
        token, work_dir = transits.data_token(ctx, row), Path(row.work_dir)
    control = ServiceTransitControl(ctx)
    assert control.lookup(token) is not None
    disk = target_disk_path(work_dir, 0)
    with disk.open("wb") as f:
        f.truncate(disk_mib * MIB)
        f.seek(3 * MIB)
        f.write(os.urandom(2 * MIB))
    control.sync_done(job.id, ())
    return job.id, disk
