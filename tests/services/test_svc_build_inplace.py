"""Builds that change nothing copy nothing: no working copy, the image hard-links the disks."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from buildkit import build_ctx, region_store, synced_job

from rehost.domain.rules import JobRequest
from rehost.domain.states import JobStatus
from rehost.imaging.pipeline import Preparation, SizedDisk
from rehost.imaging.workcopy import WORK_DIR_NAME
from rehost.services import jobs, regions
from rehost.services.builds import ImageBuilder
from rehost.services.context import ServiceContext
from rehost.storage.local import place_disk

# a 1 GiB source migrated to a 1 GiB disk: no resize, no adaptation
_same_size = partial(synced_job, source_gib=1, disk_mib=1024)


@dataclass(frozen=True)
class Built:
    """What one build did with the received disk."""

    linked: bool  # the published disk is the received disk's inode
    codes: tuple[str, ...]  # the job log's event codes


def _digest(path: Path) -> str:
    """Size + the first 8 MiB (synced_job writes its random data at 3–5 MiB; the rest is a hole)."""
    with path.open("rb") as f:
        return f"{path.stat().st_size}:{hashlib.sha256(f.read(8 << 20)).hexdigest()}"


def _build(ctx: ServiceContext, account: Any, job_id: str, disk: Path) -> Built:
    """Build the job's image with a preparer that checks it is given the received disk."""
    seen: list[Path] = []
    received, inode = _digest(disk), disk.stat().st_ino

    def reading(disks: Sequence[SizedDisk], boot_mode: str, adapt: bool = False) -> Preparation:
        seen.extend(d.path for d in disks)
        assert not (disk.parent / WORK_DIR_NAME).exists(), "a working copy was made"
        return Preparation(resizes=(), checks=())

    ImageBuilder(ctx, store_for=region_store, prepare=reading).build(job_id, {})
    job = jobs.get_job(ctx, account.id, job_id)
    assert job.status in (JobStatus.FINISHED, JobStatus.WAITING) and job.image_id
    published = region_store(regions.get_region(ctx, account.id, "local")).disk_path(
        job.image_id, 0)
    assert seen == [disk] and _digest(published) == received
    return Built(published.stat().st_ino == inode,
                 tuple(e.code for e in jobs.list_events(ctx, account.id, job_id)))


def test_run_once_build_checks_in_place_and_links_the_received_disk(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    ctx = build_ctx(ctl_ctx)
    job_id, disk = _same_size(ctx, ctl_account, ctl_source)
    built = _build(ctx, ctl_account, job_id, disk)
    assert built.linked, "the image was copied, not linked"
    assert "Image.InPlace" in built.codes and "Image.WorkingCopy" not in built.codes


def test_incremental_build_never_shares_the_disk_its_next_cycle_writes(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    ctx = build_ctx(ctl_ctx)
    request = JobRequest(system_disk_size_gib=1, run_once=False, frequency_hours=1,
                         max_images_to_keep=2)
    job_id, disk = _same_size(ctx, ctl_account, ctl_source, request=request)
    built = _build(ctx, ctl_account, job_id, disk)
    assert not built.linked, "the next cycle would write into the published image"
    assert "Image.InPlace" in built.codes


def test_place_disk_links_only_what_nothing_writes_again(tmp_path: Path) -> None:
    src = tmp_path / "src.raw"
    src.write_bytes(b"\x01" * 8192)
    assert place_disk(src, tmp_path / "linked.raw", linkable=True) == "hard link"
    assert (tmp_path / "linked.raw").stat().st_ino == src.stat().st_ino
    method = place_disk(src, tmp_path / "copied.raw", linkable=False)
    assert method in ("reflink", "sparse copy")
    assert (tmp_path / "copied.raw").stat().st_ino != src.stat().st_ino
    assert (tmp_path / "copied.raw").read_bytes() == src.read_bytes()
