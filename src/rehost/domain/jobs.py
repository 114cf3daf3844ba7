"""The job aggregate: every status change of a job, as pure functions over `JobLifecycle`.

Services load a job row, call one function here and save the value it returns; none writes
`status` or `business_status` by hand. Each function applies the transition table of
`rehost.domain.states` and raises its SMC error when the table refuses the action.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from rehost.domain import errors, incremental
from rehost.domain.states import (
    BusinessStatus,
    JobAction,
    JobStatus,
    SourceEvent,
    SourceState,
    next_business_status,
    next_job_status,
    next_source_state,
)


@dataclass(frozen=True, slots=True)
class JobError:
    """Why a job is InError: an SMC-style code and its texts (en + zh)."""

    code: str = ""
    message: str = ""
    message_zh: str = ""
    hint: str = ""
    hint_zh: str = ""


NO_ERROR = JobError()


@dataclass(frozen=True, slots=True)
class JobLifecycle:
    """The part of a job its transitions change (status, counters, timestamps, error)."""

    status: JobStatus
    business_status: BusinessStatus
    run_once: bool
    updated_at: datetime
    run_count: int = 0
    cycle: int = 0
    cutover_pending: bool = False
    next_cycle_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: JobError = NO_ERROR


def starts_next_cycle(job: JobLifecycle) -> bool:
    """Whether starting `job` runs its next incremental cycle (Waiting, or stopped between)."""
    return job.status is JobStatus.WAITING or (
        job.status is JobStatus.STOPPED and job.next_cycle_at is not None)


def check_cutover(job: JobLifecycle) -> None:
    """Only an incremental job waiting between cycles can be cut over."""
    if job.run_once:
        raise errors.from_catalogue(errors.InvalidStatus, "ReplicationJob.InvalidStatus",
                                    key="ReplicationJob.InvalidStatus.CutOverOneTime")
    next_job_status(job.status, JobAction.CUTOVER)


def start(job: JobLifecycle, *, now: datetime, cutover: bool = False) -> JobLifecycle:
    """Ready/Stopped/InError/Waiting → Running/Preparing (Waiting: the next cycle)."""
    next_job_status(job.status, JobAction.START)
    if cutover:
        check_cutover(job)
    if starts_next_cycle(job):
        cycle, next_at = (job.cycle or 1) + 1, None
    else:
        cycle, next_at = max(job.cycle or 0, 1), job.next_cycle_at
    return replace(
        job, status=JobStatus.RUNNING, business_status=BusinessStatus.PREPARING,
        error=NO_ERROR, run_count=job.run_count + 1, started_at=job.started_at or now,
        updated_at=now, cycle=cycle, next_cycle_at=next_at,
        cutover_pending=job.cutover_pending or cutover)


def pause(job: JobLifecycle, *, now: datetime) -> JobLifecycle:
    """Running/Syncing or Waiting → Stopped (transit and progress are kept)."""
    status = next_job_status(job.status, JobAction.PAUSE, job.business_status)
    return replace(job, status=status, business_status=BusinessStatus.NONE, updated_at=now)


def fail(job: JobLifecycle, *, now: datetime, error: JobError) -> JobLifecycle:
    """Running → InError with `error` (transit kept: starting again resumes)."""
    status = next_job_status(job.status, JobAction.FAIL)
    return replace(job, status=status, business_status=BusinessStatus.NONE, error=error,
                   updated_at=now)


def advance(job: JobLifecycle, target: BusinessStatus, *, now: datetime) -> JobLifecycle:
    """Move a Running job's business status forward (Preparing → Syncing → …)."""
    business = next_business_status(job.status, job.business_status, target)
    return replace(job, business_status=business, updated_at=now)


def is_last_cycle(job: JobLifecycle) -> bool:
    """Whether the image being built ends the job (one-time job, or a cut-over's cycle)."""
    return job.run_once or job.cutover_pending


def finish(job: JobLifecycle, *, now: datetime, frequency_hours: int) -> JobLifecycle:
    """Its image is built: Running → Finished, or an incremental job → Waiting until next."""
    if is_last_cycle(job):
        status, next_at = next_job_status(job.status, JobAction.FINISH), job.next_cycle_at
    else:
        status = next_job_status(job.status, JobAction.WAIT)
        next_at = incremental.next_cycle_at(now, frequency_hours)
    return replace(job, status=status, business_status=BusinessStatus.NONE, finished_at=now,
                   updated_at=now, next_cycle_at=next_at)


def cut_over(job: JobLifecycle, *, now: datetime) -> JobLifecycle:
    """A Waiting incremental job ends without a last sync: Finished, its last image final."""
    check_cutover(job)
    status = next_job_status(job.status, JobAction.CUTOVER)
    return replace(job, status=status, next_cycle_at=None, updated_at=now, finished_at=now)


def expire(job: JobLifecycle, *, now: datetime) -> JobLifecycle:
    """A job past its ValidTime → Expired."""
    return replace(job, status=next_job_status(job.status, JobAction.EXPIRE), updated_at=now)


def delete(job: JobLifecycle) -> JobLifecycle:
    """Any job not Running → Deleting (the service then removes it)."""
    return replace(job, status=next_job_status(job.status, JobAction.DELETE))


def check_change(job: JobLifecycle, action: JobAction) -> None:
    """Refuse MODIFY / RENAME / RESCHEDULE where the table does not allow them."""
    if action is JobAction.MODIFY and job.run_count > 0:
        raise errors.job_status("modify", f"{job.status}, already run", "Ready, never run")
    next_job_status(job.status, action)


def source_after(state: SourceState, *, before: JobStatus, after: JobStatus) -> SourceState:
    """The source's state once its job went from `before` to `after` (the one rule for it).

    A job that starts running takes the source (InUse); a running job that stops, fails,
    finishes or waits hands it back; any other change leaves it as it is.
    """
    if after is JobStatus.RUNNING and before is not JobStatus.RUNNING:
        return next_source_state(state, SourceEvent.JOB_STARTED)
    if before is JobStatus.RUNNING and after is not JobStatus.RUNNING:
        return next_source_state(state, SourceEvent.JOB_ENDED)
    if before is JobStatus.WAITING and after is JobStatus.STOPPED:
        return next_source_state(state, SourceEvent.JOB_ENDED)  # pausing between cycles
    return state
