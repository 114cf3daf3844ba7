"""Walk every (status, action) pair of the job table through the services on a real database.

Each job is put in a status by writing its row (test setup), then the service that performs the
action is called: an allowed pair must leave the job in the table's next status, a refused one
must raise the SMC error code and leave the job as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from rehost.db.tables import JobRow, SourceRow
from rehost.domain.errors import NotFound, RehostError
from rehost.domain.models import Job
from rehost.domain.rules import JobRequest
from rehost.domain.states import (
    JOB_TRANSITIONS,
    BusinessStatus,
    JobAction,
    JobStatus,
    SourceState,
)
from rehost.services import cutover, dataplane, jobs, runs, scheduler
from rehost.services.context import ServiceContext

A = JobAction
REFUSED_CODE = "ReplicationJob.InvalidStatus"


def _put(ctx: ServiceContext, job: Job, status: JobStatus) -> None:
    """Test setup: the job's row in `status` (Running: Syncing on a busy source)."""
    running = status is JobStatus.RUNNING
    with ctx.db.transaction() as session:
        row = session.get_one(JobRow, job.id)
        row.status = status.value
        row.business_status = (BusinessStatus.SYNCING if running else BusinessStatus.NONE).value
        row.run_count = 0 if status is JobStatus.READY else 1
        row.cycle = 0 if status is JobStatus.READY else 1
        src = session.get_one(SourceRow, job.source_id)
        src.state = (SourceState.IN_USE if running else SourceState.AVAILABLE).value


def _expire(ctx: ServiceContext, account: Any, job: Job) -> None:
    with ctx.db.transaction() as session:
        session.get_one(JobRow, job.id).valid_time = ctx.now() - timedelta(seconds=1)
    scheduler.tick(ctx)


def _finish(ctx: ServiceContext, account: Any, job: Job) -> None:
    dataplane.finish_job(ctx, job.id, manifest={"disks": []})


# How each action is asked of the services (WAIT: the image of an incremental cycle is built).
CALLS: dict[JobAction, Callable[[ServiceContext, Any, Job], object]] = {
    A.START: lambda ctx, acct, job: runs.start_job(ctx, acct.id, job.id),
    A.PAUSE: lambda ctx, acct, job: runs.pause_job(ctx, acct.id, job.id),
    A.DELETE: lambda ctx, acct, job: jobs.delete_job(ctx, acct.id, job.id),
    A.MODIFY: lambda ctx, acct, job: jobs.modify_job(
        ctx, acct.id, job.id, JobRequest(bandwidth_limit_kbps=100)),
    A.RENAME: lambda ctx, acct, job: jobs.modify_job(
        ctx, acct.id, job.id, JobRequest(name="renamed-job")),
    A.EXPIRE: _expire,
    A.FAIL: lambda ctx, acct, job: dataplane.fail_job(
        ctx, job.id, code="Test.Failed", message_en="failed", message_zh="失败"),
    A.FINISH: _finish,
    A.WAIT: _finish,
    A.CUTOVER: lambda ctx, acct, job: cutover.cut_over(ctx, acct.id, job.id, sync_data=False),
    A.RESCHEDULE: lambda ctx, acct, job: jobs.modify_job(
        ctx, acct.id, job.id, JobRequest(max_images_to_keep=3)),
}
ONE_TIME = {A.FINISH}  # every other action is asked of an incremental job
SILENT = {A.EXPIRE}  # the scheduler skips a job it may not expire: no error to see
WALKED = [(s, a) for s in JobStatus if s is not JobStatus.DELETING for a in JobAction]


def _status_after(ctx: ServiceContext, account: Any, job: Job) -> JobStatus:
    try:
        return jobs.get_job(ctx, account.id, job.id).status
    except NotFound:
        return JobStatus.DELETING  # deleting removes the job


@pytest.mark.parametrize(("status", "action"), WALKED, ids=[f"{s}-{a}" for s, a in WALKED])
def test_service_outcome_matches_the_table(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, status: JobStatus,
    action: JobAction,
) -> None:
    src = ctl_source(system_gib=1, system_used_gib=0.001, min_gib=0.01)
    fields: dict[str, Any] = {} if action in ONE_TIME else {
        "run_once": False, "frequency_hours": 6, "max_images_to_keep": 2}
    job = jobs.create_job(ctl_ctx, ctl_account.id, source_id=src.source_id, region_id="local",
                          request=JobRequest(system_disk_size_gib=1, **fields))
    _put(ctl_ctx, job, status)
    expected = JOB_TRANSITIONS.get((status, action))
    if action is A.MODIFY and status is JobStatus.READY:
        expected = JobStatus.READY  # never run (run_count 0): the whole job may change
    if expected is None and action not in SILENT:
        with pytest.raises(RehostError) as refused:
            CALLS[action](ctl_ctx, ctl_account, job)
        assert refused.value.code == REFUSED_CODE
    else:
        CALLS[action](ctl_ctx, ctl_account, job)
    assert _status_after(ctl_ctx, ctl_account, job) is (expected or status)


def test_every_action_is_walked() -> None:
    assert set(CALLS) == set(JobAction)
    assert {a for _, a in JOB_TRANSITIONS} <= set(JobAction)
