"""Crash-safe builds on real services and files: working copy, hard checks, restart, disk full."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from buildkit import build_ctx, region_store, synced_job

from rehost.config import SettingsError
from rehost.domain.errors import BuildFailed
from rehost.domain.states import BusinessStatus, JobStatus
from rehost.imaging.pipeline import Preparation, SizedDisk
from rehost.imaging.result import CheckResult
from rehost.services import dataplane, images, jobs, regions
from rehost.services.builds import ImageBuilder, published_image
from rehost.services.context import ServiceContext
from rehost.storage.ports import DraftDisk, ImageDraft
from rehost.transit.buildpause import pause_from_env
from rehost.transit.buildstep import no_pause

MIB = 1024 * 1024


_synced = partial(synced_job, source_gib=0.0625, disk_mib=64)


class Crash(BaseException):
    """kill -9 in the middle of a step: nothing after it runs in this build."""


def _grow_and_scribble(disks: Sequence[SizedDisk]) -> None:
    """What resize2fs does to a disk: new size, rewritten blocks."""
    for d in disks:
        os.truncate(d.path, d.target_size_bytes)
        with d.path.open("r+b") as f:
            f.seek(3 * MIB)
            f.write(b"\xee" * MIB)


def test_crash_during_resize_leaves_received_disk_untouched_and_restart_rebuilds(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    ctx = build_ctx(ctl_ctx)
    job_id, disk = _synced(ctx, ctl_account, ctl_source)
    received = disk.read_bytes()
    given: list[Path] = []

    def crashing(disks: Sequence[SizedDisk], boot_mode: str, adapt: bool = False) -> Preparation:
        given.extend(d.path for d in disks)
        _grow_and_scribble(disks)
        raise Crash

    with pytest.raises(Crash):
        ImageBuilder(ctx, store_for=region_store, prepare=crashing).build(job_id, {})
    assert disk.read_bytes() == received, "the build changed the received disk"
    assert given[0] != disk and given[0].parent.name == "build"
    given[0].parent.mkdir(exist_ok=True)  # what kill -9 leaves (no cleanup ran): half-built
    given[0].write_bytes(b"\xee" * MIB)
    seen: list[bytes] = []

    def growing(disks: Sequence[SizedDisk], boot_mode: str, adapt: bool = False) -> Preparation:
        seen.append(disks[0].path.read_bytes()[: 64 * MIB])
        for d in disks:
            os.truncate(d.path, d.target_size_bytes)
        return Preparation(resizes=(), checks=())

    ImageBuilder(ctx, store_for=region_store, prepare=growing).build(job_id, {})
    assert seen == [received]  # the restart started again from the received disk
    job = jobs.get_job(ctx, ctl_account.id, job_id)
    assert job.status is JobStatus.FINISHED and job.image_id
    region = regions.get_region(ctx, ctl_account.id, "local")
    published = region_store(region).disk_path(job.image_id, 0)
    assert published.read_bytes()[: 64 * MIB] == received
    assert not (disk.parent / "build").exists()


def _failing(status: str, name: str = "fsck:disk0p1") -> Any:
    def prepare(disks: Sequence[SizedDisk], boot_mode: str, adapt: bool = False) -> Preparation:
        check = CheckResult(name, status, "disk 0 partition 1 (ext4) has errors (e2fsck exit 4)",
                            "磁盘 0 分区 1（ext4）存在错误（e2fsck 退出码 4）",
                            "run e2fsck -f on the source")
        return Preparation(resizes=(), checks=(check,))  # type: ignore[arg-type]
    return prepare


@pytest.mark.parametrize(("name", "code"), [("fsck:disk0p1", "Check.Filesystem"),
                                            ("kernel", "Check.Kernel"),
                                            ("bootloader", "Check.Bootloader")])
def test_hard_check_failure_is_in_error_keeps_transit_and_publishes_nothing(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, name: str, code: str
) -> None:
    ctx = build_ctx(ctl_ctx)
    job_id, disk = _synced(ctx, ctl_account, ctl_source)
    with pytest.raises(BuildFailed) as failed:
        ImageBuilder(ctx, store_for=region_store, prepare=_failing("fail", name)).build(job_id, {})
    assert failed.value.code == code
    assert "未通过" in failed.value.message and "failed" in failed.value.message
    assert "start the job again" in failed.value.hint and "重新开始任务" in failed.value.hint_zh
    ImageBuilder(ctx, store_for=region_store)._fail(job_id, failed.value)
    job = jobs.get_job(ctx, ctl_account.id, job_id)
    assert job.status is JobStatus.IN_ERROR and job.error_code == code
    assert dataplane.task_by_job(ctx, job_id).transit.released_at is None  # transit kept
    assert disk.exists() and images.describe_images(ctx, ctl_account.id).total_count == 0
    region = regions.get_region(ctx, ctl_account.id, "local")
    assert region_store(region).list_images() == []


def test_warnings_do_not_fail_and_an_accepting_region_finishes_with_a_warning(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, tmp_path: Path
) -> None:
    ctx = build_ctx(ctl_ctx)
    job_id, _disk = _synced(ctx, ctl_account, ctl_source)
    ImageBuilder(ctx, store_for=region_store, prepare=_failing("warn")).build(job_id, {})
    assert jobs.get_job(ctx, ctl_account.id, job_id).status is JobStatus.FINISHED
    regions.create_region(ctx, ctl_account.id, region_id="lenient", accept_failed_checks=True,
                          image_store_path=str(ctx.settings.data_dir / "lenient"))
    assert regions.get_region(ctx, ctl_account.id, "lenient").accept_failed_checks
    job_id, _disk = _synced(ctx, ctl_account, ctl_source, region_id="lenient")
    ImageBuilder(ctx, store_for=region_store, prepare=_failing("fail")).build(job_id, {})
    assert jobs.get_job(ctx, ctl_account.id, job_id).status is JobStatus.FINISHED
    accepted = [e for e in jobs.list_events(ctx, ctl_account.id, job_id)
                if e.code == "Check.Accepted"]
    assert accepted and accepted[0].level.value == "warning"


def test_restart_after_publish_registers_the_published_image_once(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    ctx = build_ctx(ctl_ctx)
    job_id, disk = _synced(ctx, ctl_account, ctl_source)
    job = jobs.get_job(ctx, ctl_account.id, job_id)
    store = region_store(regions.get_region(ctx, ctl_account.id, "local"))
    # the crash came after the atomic publish, before the image was registered
    record = store.publish(ImageDraft("m-published1", job.spec.image_name, job.source_id,
                                      job_id, (DraftDisk(0, disk, ""),)), now=ctx.now())
    dataplane.set_business_status(ctx, job_id, BusinessStatus.CLEANING)
    builder = ImageBuilder(ctx, store_for=region_store, prepare=_failing("fail"))
    assert published_image(store, job_id, job.spec.image_name) == record
    builder.build(job_id, {})  # would fail the checks if it rebuilt
    job = jobs.get_job(ctx, ctl_account.id, job_id)
    assert job.status is JobStatus.FINISHED and job.image_id == "m-published1"
    assert [r.image_id for r in store.list_images()] == ["m-published1"]


def test_test_only_build_pause_refuses_unknown_steps() -> None:
    assert pause_from_env({}) is no_pause
    pause_from_env({"REHOST_TEST_BUILD_PAUSE": "copied,cleaning:0"})("copied")
    for bad in ("resize", "copied:x", "copied:-1", ":1"):
        with pytest.raises(SettingsError) as refused:
            pause_from_env({"REHOST_TEST_BUILD_PAUSE": bad})
        assert "copied" in str(refused.value) and "格式" in str(refused.value)
