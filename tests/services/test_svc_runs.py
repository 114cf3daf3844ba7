"""Start/batch/pause, network slots, data-plane services, scheduler, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from rehost.domain.errors import InvalidParameter, InvalidStatus, QuotaExceeded
from rehost.domain.models import DiskProgress, ExecutionMode
from rehost.domain.rules import JobRequest
from rehost.domain.states import BusinessStatus, JobStatus, SourceState
from rehost.services import dataplane, images, jobs, regions, runs, scheduler, sources
from rehost.services.context import ServiceContext


def new_job(ctx: ServiceContext, account: Any, make_source: Any, region: str = "local",
            **fields: Any) -> Any:
    """A Ready job on a fresh source."""
    src = make_source()
    return jobs.create_job(ctx, account.id, source_id=src.source_id, region_id=region,
                           request=JobRequest(**fields))


def test_start_pause_resume_keeps_transit_and_progress(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    job = new_job(ctl_ctx, ctl_account, ctl_source)
    started = runs.start_job(ctl_ctx, ctl_account.id, job.id)
    assert (started.status, started.business_status) == (JobStatus.RUNNING,
                                                         BusinessStatus.PREPARING)
    src = sources.get_source(ctl_ctx, ctl_account.id, job.source_id)
    assert src.state is SourceState.IN_USE
    with pytest.raises(InvalidStatus):
        runs.pause_job(ctl_ctx, ctl_account.id, job.id)  # Preparing: not pausable
    dataplane.set_business_status(ctl_ctx, job.id, BusinessStatus.SYNCING)
    dataplane.update_progress(ctl_ctx, job.id, [DiskProgress(0, 1000, 400, 10.0, 60.0)])
    paused = runs.pause_job(ctl_ctx, ctl_account.id, job.id)
    assert paused.status is JobStatus.STOPPED and paused.transit_id == started.transit_id
    assert sources.get_source(ctl_ctx, ctl_account.id, job.source_id).state is SourceState.AVAILABLE
    resumed = runs.start_job(ctl_ctx, ctl_account.id, job.id)
    assert resumed.transit_id == started.transit_id
    assert resumed.progress.bytes_done == 400 and resumed.run_count == 2


def test_quota_counts_reserved_slots_and_keeps_status(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    regions.create_region(ctl_ctx, ctl_account.id, region_id="small", network_quota=3,
                          reserved_slots=1)
    made = [new_job(ctl_ctx, ctl_account, ctl_source, region="small") for _ in range(3)]
    results = runs.start_jobs(ctl_ctx, ctl_account.id, [j.id for j in made])
    assert [r.error is None for r in results] == [True, True, False]
    assert results[2].error is not None and results[2].error.code == "QuotaExceeded.Vpc"
    assert jobs.get_job(ctl_ctx, ctl_account.id, made[2].id).status is JobStatus.READY
    assert regions.get_region(ctl_ctx, ctl_account.id, "small").slots_in_use == 2
    dataplane.fail_job(ctl_ctx, made[0].id, code="X", message_en="x", message_zh="x")
    with pytest.raises(QuotaExceeded):  # InError keeps its transit, so still full
        runs.start_job(ctl_ctx, ctl_account.id, made[2].id)
    jobs.delete_job(ctl_ctx, ctl_account.id, made[0].id)
    assert runs.start_job(ctl_ctx, ctl_account.id, made[2].id).status is JobStatus.RUNNING


def test_batch_limits_and_mixed_results(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    with pytest.raises(InvalidParameter):
        runs.start_jobs(ctl_ctx, ctl_account.id, [f"j-{i}" for i in range(11)])
    with pytest.raises(InvalidParameter):
        runs.start_jobs(ctl_ctx, ctl_account.id, [])
    ok = new_job(ctl_ctx, ctl_account, ctl_source)
    results = runs.start_jobs(ctl_ctx, ctl_account.id, [ok.id, "j-missing", ok.id])
    codes = [r.error.code if r.error else "ok" for r in results]
    assert codes == ["ok", "InvalidJobId.NotFound", "ReplicationJob.InvalidStatus"]


def test_finish_registers_image_and_releases(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    job = new_job(ctl_ctx, ctl_account, ctl_source, image_name="web-image")
    runs.start_job(ctl_ctx, ctl_account.id, job.id)
    token = _data_token(ctl_ctx, job.id)
    task = dataplane.task_by_data_token(ctl_ctx, token)
    assert task.job.id == job.id and task.target_sizes_bytes[0] == 10 * 1024**3
    for status in (BusinessStatus.SYNCING, BusinessStatus.PROCESSING, BusinessStatus.CLEANING):
        dataplane.set_business_status(ctl_ctx, job.id, status)
    image = dataplane.finish_job(ctl_ctx, job.id, manifest={"disks": []})
    done = jobs.get_job(ctl_ctx, ctl_account.id, job.id)
    assert done.status is JobStatus.FINISHED and done.image_id == image.id
    assert image.name == "web-image" and done.transit_id is None
    assert regions.get_region(ctl_ctx, ctl_account.id, "local").slots_in_use == 0
    with pytest.raises(Exception, match="InvalidDataToken"):
        dataplane.task_by_data_token(ctl_ctx, token)
    local = regions.get_region(ctl_ctx, ctl_account.id, "local")
    (store := Path(local.image_store_path) / image.id).mkdir()
    images.delete_image(ctl_ctx, ctl_account.id, image.id)
    assert not store.exists() and jobs.get_job(ctl_ctx, ctl_account.id, job.id).image_id is None


def _data_token(ctx: ServiceContext, job_id: str) -> str:
    from rehost.services import lookup, transits

    with ctx.db.read() as session:
        row = lookup.active_transit(session, job_id)
        assert row is not None
        return transits.data_token(ctx, row)


def test_scheduler_starts_expires_and_survives_restart(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, ctl_clock: Any
) -> None:
    start = ctl_clock.now + timedelta(minutes=15)
    sched = new_job(ctl_ctx, ctl_account, ctl_source, mode=ExecutionMode.SCHEDULED,
                    scheduled_start_time=start)
    idle = new_job(ctl_ctx, ctl_account, ctl_source, valid_time=ctl_clock.now + timedelta(days=7))
    assert scheduler.tick(ctl_ctx).started == ()
    ctl_clock.advance(minutes=15)
    # a "restarted server": a new context on the same database
    restarted = ServiceContext(db=ctl_ctx.db, settings=ctl_ctx.settings,
                               master_key=ctl_ctx.master_key, clock=ctl_clock)
    assert scheduler.tick(restarted).started == (sched.id,)
    ctl_clock.advance(days=7)
    report = scheduler.tick(restarted)
    assert idle.id in report.expired and sched.id not in report.expired
    assert jobs.get_job(ctl_ctx, ctl_account.id, idle.id).status is JobStatus.EXPIRED


def test_concurrent_starts_never_share_a_slot(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    regions.create_region(ctl_ctx, ctl_account.id, region_id="one", network_quota=1)
    made = [new_job(ctl_ctx, ctl_account, ctl_source, region="one") for _ in range(4)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(made))

    def go(job_id: str) -> None:
        barrier.wait()
        try:
            runs.start_job(ctl_ctx, ctl_account.id, job_id)
            outcomes.append("ok")
        except QuotaExceeded:
            outcomes.append("quota")

    threads = [threading.Thread(target=go, args=(j.id,)) for j in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "quota", "quota", "quota"]
    assert regions.get_region(ctl_ctx, ctl_account.id, "one").slots_in_use == 1
