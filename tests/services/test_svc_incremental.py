"""Incremental jobs (SMC RunOnce=false): Waiting between cycles, next cycle, image retention."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from buildkit import build_ctx, region_store

from rehost.domain.errors import InvalidParameter, InvalidStatus, NotFound
from rehost.domain.rules import JobRequest
from rehost.domain.states import BusinessStatus, JobStatus, SourceState
from rehost.services import (
    cutover,
    dataplane,
    images,
    jobs,
    lookup,
    regions,
    runs,
    scheduler,
    sources,
    transits,
)
from rehost.services.builds import ImageBuilder
from rehost.services.context import ServiceContext
from rehost.services.transit_control import ServiceTransitControl
from rehost.transit.session import target_disk_path

MIB = 1024 * 1024
INCREMENTAL = {"run_once": False, "frequency_hours": 6, "max_images_to_keep": 2}


def _new(ctx: ServiceContext, account: Any, source: Any, **fields: Any) -> Any:
    src = source(system_gib=1, system_used_gib=0.001, min_gib=0.01)
    return jobs.create_job(ctx, account.id, source_id=src.source_id, region_id="local",
                           request=JobRequest(system_disk_size_gib=1, **fields))


def _sync_cycle(ctx: ServiceContext, account: Any, job_id: str) -> Path:
    """The transit received the whole disk (random bytes at 3 MiB), then sync done."""
    with ctx.db.read() as session:
        row = lookup.active_transit(session, job_id)
        assert row is not None
        token, work_dir = transits.data_token(ctx, row), Path(row.work_dir)
    control = ServiceTransitControl(ctx)
    assert control.lookup(token) is not None
    disk = target_disk_path(work_dir, 0)
    with disk.open("r+b" if disk.exists() else "wb") as f:
        f.truncate(1024 * MIB)
        f.seek(3 * MIB)
        f.write(os.urandom(2 * MIB))
    control.sync_done(job_id, ())
    return disk


def test_fields_are_validated_and_default() -> None:
    from rehost.domain import incremental

    assert incremental.check_incremental(None, 5, 3) == (True, 0, 0)
    assert incremental.check_incremental(False, 1, None) == (False, 1, 1)
    assert incremental.check_incremental(False, 168, 10) == (False, 168, 10)
    for freq, keep, code in [(None, 1, "Frequency"), (0, 1, "Frequency"), (169, 1, "Frequency"),
                             (True, 1, "Frequency"), (2, 0, "MaxNumberOfImageToKeep"),
                             (2, 11, "MaxNumberOfImageToKeep")]:
        with pytest.raises(InvalidParameter) as info:
            incremental.check_incremental(False, freq, keep)
        assert info.value.code == f"InvalidParameter.{code}"
    assert incremental.cycle_image_name("x" * 128, 12) == "x" * 125 + "-12"
    assert incremental.images_to_delete([1, 2, 3, 4], 2) == [1, 2]
    assert incremental.images_to_delete([1], 2) == []


def test_create_stores_incremental_fields(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    job = _new(ctl_ctx, ctl_account, ctl_source, **INCREMENTAL)
    assert (job.spec.run_once, job.spec.frequency_hours, job.spec.max_images_to_keep) == (
        False, 6, 2)
    once = _new(ctl_ctx, ctl_account, ctl_source, frequency_hours=6)
    assert (once.spec.run_once, once.spec.frequency_hours, once.cycle) == (True, 0, 0)
    with pytest.raises(InvalidParameter):
        _new(ctl_ctx, ctl_account, ctl_source, run_once=False)


def test_cycles_wait_restart_and_keep_images(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, ctl_clock: Any
) -> None:
    ctx = build_ctx(ctl_ctx)
    job = _new(ctx, ctl_account, ctl_source, **INCREMENTAL)
    first = runs.start_job(ctx, ctl_account.id, job.id)
    assert first.cycle == 1
    builder = ImageBuilder(ctx, store_for=region_store)
    made = []
    for cycle in (1, 2, 3):
        disk = _sync_cycle(ctx, ctl_account, job.id)
        builder.build(job.id, {})
        waiting = jobs.get_job(ctx, ctl_account.id, job.id)
        assert (waiting.status, waiting.business_status) == (JobStatus.WAITING,
                                                             BusinessStatus.NONE)
        assert waiting.transit_id == first.transit_id and disk.exists()  # transit kept
        assert waiting.next_cycle_at == ctx.now() + timedelta(hours=6)
        assert waiting.image_id is not None
        made.append(waiting.image_id)
        image = images.get_image(ctx, ctl_account.id, waiting.image_id)
        assert image.name == f"{job.spec.image_name}-{cycle}"
        src = sources.get_source(ctx, ctl_account.id, job.source_id)
        assert src.state is SourceState.AVAILABLE
        if cycle == 1:  # not due yet, then due: the scheduler starts cycle 2
            assert scheduler.tick(ctx).started == ()
            ctl_clock.advance(hours=6)  # (no agent heartbeats here: offline marking waits)
            assert scheduler.tick(ctx, up_since=ctx.now()).started == (job.id,)
        elif cycle == 2:  # `start` on a Waiting job starts the next cycle now
            runs.start_job(ctx, ctl_account.id, job.id)
        else:
            break
        again = jobs.get_job(ctx, ctl_account.id, job.id)
        assert (again.status, again.business_status, again.cycle) == (
            JobStatus.RUNNING, BusinessStatus.PREPARING, cycle + 1)
        assert again.transit_id == first.transit_id and again.next_cycle_at is None
    kept = images.describe_images(ctx, ctl_account.id).items
    assert sorted(i.id for i in kept if i.job_id == job.id) == sorted(made[1:])
    region = regions.get_region(ctx, ctl_account.id, "local")
    assert region_store(region).describe(made[0]) is None  # files of image 1 deleted
    assert region_store(region).describe(made[2]) is not None


def test_waiting_job_expiry_releases_transit(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, ctl_clock: Any
) -> None:
    ctx = build_ctx(ctl_ctx)
    job = _new(ctx, ctl_account, ctl_source, **INCREMENTAL)
    runs.start_job(ctx, ctl_account.id, job.id)
    _sync_cycle(ctx, ctl_account, job.id)
    ImageBuilder(ctx, store_for=region_store).build(job.id, {})
    ctl_clock.advance(days=40)
    report = scheduler.tick(ctx)
    assert job.id in report.expired and job.id not in report.started
    expired = jobs.get_job(ctx, ctl_account.id, job.id)
    assert expired.status is JobStatus.EXPIRED and expired.transit_id is None


def _waiting(ctx: ServiceContext, account: Any, source: Any) -> Any:
    job = _new(ctx, account, source, **INCREMENTAL)
    runs.start_job(ctx, account.id, job.id)
    _sync_cycle(ctx, account, job.id)
    ImageBuilder(ctx, store_for=region_store).build(job.id, {})
    return jobs.get_job(ctx, account.id, job.id)


def test_waiting_job_stops_and_reschedules_as_smc_allows(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, ctl_clock: Any
) -> None:
    ctx = build_ctx(ctl_ctx)
    job = _waiting(ctx, ctl_account, ctl_source)
    valid = job.created_at + timedelta(days=60)
    changed = jobs.modify_job(ctx, ctl_account.id, job.id, JobRequest(
        frequency_hours=12, max_images_to_keep=3, valid_time=valid))
    assert (changed.spec.frequency_hours, changed.spec.max_images_to_keep,
            changed.spec.valid_time) == (12, 3, valid)
    assert changed.next_cycle_at == job.finished_at + timedelta(hours=12)
    with pytest.raises(InvalidStatus):  # disks, bandwidth, ... stay fixed after the first run
        jobs.modify_job(ctx, ctl_account.id, job.id, JobRequest(compress_level=3))
    once = _new(ctx, ctl_account, ctl_source)
    runs.start_job(ctx, ctl_account.id, once.id)
    dataplane.set_business_status(ctx, once.id, BusinessStatus.SYNCING)
    runs.pause_job(ctx, ctl_account.id, once.id)
    with pytest.raises(InvalidParameter, match="incremental"):  # never silently dropped
        jobs.modify_job(ctx, ctl_account.id, once.id, JobRequest(frequency_hours=2))
    stopped = runs.pause_job(ctx, ctl_account.id, job.id)
    assert stopped.status is JobStatus.STOPPED and stopped.transit_id == job.transit_id
    ctl_clock.advance(hours=13)
    # stopped: no cycle is due (other tests' Waiting jobs in this module's database may be)
    started = scheduler.tick(ctx, up_since=ctx.now()).started
    assert job.id not in started and once.id not in started
    again = runs.start_job(ctx, ctl_account.id, job.id)
    assert (again.status, again.cycle, again.transit_id) == (JobStatus.RUNNING, 2,
                                                             job.transit_id)


def test_cut_over_with_sync_runs_a_last_cycle_then_finishes(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    ctx = build_ctx(ctl_ctx)
    job = _waiting(ctx, ctl_account, ctl_source)
    running = cutover.cut_over(ctx, ctl_account.id, job.id, sync_data=True)
    assert (running.status, running.cycle) == (JobStatus.RUNNING, 2)
    _sync_cycle(ctx, ctl_account, job.id)
    ImageBuilder(ctx, store_for=region_store).build(job.id, {})
    done = jobs.get_job(ctx, ctl_account.id, job.id)
    assert done.status is JobStatus.FINISHED and done.transit_id is None
    assert done.image_id not in (None, job.image_id) and done.next_cycle_at is None
    image = images.get_image(ctx, ctl_account.id, done.image_id or "")
    assert image.name == f"{job.spec.image_name}-2"
    with pytest.raises(InvalidStatus):
        cutover.cut_over(ctx, ctl_account.id, job.id, sync_data=True)


def test_cut_over_without_sync_keeps_the_last_image(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    ctx = build_ctx(ctl_ctx)
    job = _waiting(ctx, ctl_account, ctl_source)
    done = cutover.cut_over(ctx, ctl_account.id, job.id, sync_data=False)
    assert (done.status, done.image_id, done.transit_id) == (JobStatus.FINISHED, job.image_id,
                                                             None)
    once = _new(ctx, ctl_account, ctl_source)
    for sync in (True, False):
        with pytest.raises(InvalidStatus, match="incremental"):
            cutover.cut_over(ctx, ctl_account.id, once.id, sync_data=sync)


def test_deleting_a_source_keeps_its_finished_jobs_history(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    ctx = build_ctx(ctl_ctx)
    done = cutover.cut_over(ctx, ctl_account.id, _waiting(ctx, ctl_account, ctl_source).id,
                            sync_data=False)
    ready = _new(ctx, ctl_account, ctl_source)
    with pytest.raises(InvalidStatus):  # SMC: ReplicationJob.Related, delete it or force
        sources.delete_source(ctx, ctl_account.id, ready.source_id)
    sources.delete_source(ctx, ctl_account.id, ready.source_id, force=True)  # no finished job
    with pytest.raises(NotFound):
        jobs.get_job(ctx, ctl_account.id, ready.id)
    with pytest.raises(NotFound):
        sources.get_source(ctx, ctl_account.id, ready.source_id)
    sources.delete_source(ctx, ctl_account.id, done.source_id)
    kept = jobs.get_job(ctx, ctl_account.id, done.id)
    assert (kept.status, kept.source_id, kept.image_id) == (JobStatus.FINISHED, done.source_id,
                                                            done.image_id)
    assert jobs.list_events(ctx, ctl_account.id, done.id)  # the log survives
    listed = sources.describe_sources(ctx, ctl_account.id, page_size=50).items
    assert done.source_id not in [s.id for s in listed]  # the tombstone stays hidden
    assert sources.get_source(ctx, ctl_account.id, done.source_id).state is SourceState.DELETING
