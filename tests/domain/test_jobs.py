"""The job aggregate: values in, new values out, and the one rule for the source's state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rehost.domain import jobs
from rehost.domain.errors import InvalidStatus
from rehost.domain.jobs import JobError, JobLifecycle
from rehost.domain.states import BusinessStatus, JobAction, JobStatus, SourceState

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def make_job(status: JobStatus = JobStatus.READY, **fields: object) -> JobLifecycle:
    """A lifecycle value in `status`."""
    return JobLifecycle(status=status, business_status=BusinessStatus.NONE,
                        run_once=bool(fields.pop("run_once", True)), updated_at=NOW,
                        **fields)  # type: ignore[arg-type]


def test_start_clears_the_error_and_counts_the_run() -> None:
    failed = make_job(JobStatus.IN_ERROR, run_count=1, cycle=1, error=JobError(code="X"))
    started = jobs.start(failed, now=NOW)
    assert (started.status, started.business_status) == (JobStatus.RUNNING,
                                                         BusinessStatus.PREPARING)
    assert started.error == jobs.NO_ERROR and started.run_count == 2 and started.cycle == 1
    assert failed.status is JobStatus.IN_ERROR  # the old value is unchanged


def test_waiting_job_starts_its_next_cycle_and_finishes_into_waiting() -> None:
    waiting = make_job(JobStatus.WAITING, run_once=False, cycle=2, run_count=2,
                       next_cycle_at=NOW)
    started = jobs.start(waiting, now=NOW)
    assert started.cycle == 3 and started.next_cycle_at is None
    done = jobs.finish(started, now=NOW, frequency_hours=6)
    assert done.status is JobStatus.WAITING and done.next_cycle_at == NOW + timedelta(hours=6)
    last = jobs.finish(jobs.start(waiting, now=NOW, cutover=True), now=NOW, frequency_hours=6)
    assert last.status is JobStatus.FINISHED


def test_cut_over_refuses_a_one_time_job() -> None:
    with pytest.raises(InvalidStatus, match="RunOnce=false"):
        jobs.cut_over(make_job(JobStatus.WAITING), now=NOW)


def test_modify_refused_once_run() -> None:
    with pytest.raises(InvalidStatus, match="already run"):
        jobs.check_change(make_job(run_count=1), JobAction.MODIFY)


@pytest.mark.parametrize(("before", "after", "source", "expected"), [
    (JobStatus.READY, JobStatus.RUNNING, SourceState.AVAILABLE, SourceState.IN_USE),
    (JobStatus.RUNNING, JobStatus.IN_ERROR, SourceState.IN_USE, SourceState.AVAILABLE),
    (JobStatus.RUNNING, JobStatus.WAITING, SourceState.UNAVAILABLE, SourceState.UNAVAILABLE),
    (JobStatus.WAITING, JobStatus.STOPPED, SourceState.AVAILABLE, SourceState.AVAILABLE),
    (JobStatus.READY, JobStatus.EXPIRED, SourceState.IN_USE, SourceState.IN_USE),
])
def test_source_after(before: JobStatus, after: JobStatus, source: SourceState,
                      expected: SourceState) -> None:
    assert jobs.source_after(source, before=before, after=after) is expected
