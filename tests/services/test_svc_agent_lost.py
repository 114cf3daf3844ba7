"""Agent lost: 3 missed heartbeats fail the job that needs the agent; a retry resumes it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from rehost.domain.ids import JobId, RegionId, TransitId
from rehost.domain.models import DiskProgress, EventLevel
from rehost.domain.rules import JobRequest
from rehost.domain.states import BusinessStatus, JobStatus, SourceState
from rehost.services import agents, dataplane, jobs, runs, scheduler, sources
from rehost.services.context import ServiceContext


class RecordingPool:
    """A transit pool that remembers which jobs it was told to disconnect."""

    def __init__(self) -> None:
        self.disconnected: list[str] = []

    def open(self, *, transit_id: TransitId, job_id: JobId, region_id: RegionId,
             work_dir: Path) -> str:
        """Every job gets the same endpoint."""
        return "127.0.0.1:7002"

    def disconnect(self, *, job_id: JobId) -> None:
        """Record a pause / lost agent."""
        self.disconnected.append(job_id)

    def close(self, *, transit_id: TransitId, job_id: JobId, work_dir: Path) -> None:
        """Nothing to release."""


def _syncing_job(ctx: ServiceContext, account: Any, make_source: Any) -> tuple[Any, str]:
    src = make_source()
    job = jobs.create_job(ctx, account.id, source_id=src.source_id, region_id="local",
                          request=JobRequest())
    runs.start_job(ctx, account.id, job.id)
    dataplane.set_business_status(ctx, job.id, BusinessStatus.SYNCING)
    dataplane.update_progress(ctx, job.id, [DiskProgress(0, 1000, 400, 10.0, 60.0)])
    return jobs.get_job(ctx, account.id, job.id), src.agent_token


def test_lost_agent_fails_syncing_job_and_retry_resumes(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, ctl_clock: Any
) -> None:
    pool = RecordingPool()
    ctx = dataclasses.replace(ctl_ctx, transit_pool=pool)
    job, token = _syncing_job(ctx, ctl_account, ctl_source)
    ctl_clock.advance(seconds=89)
    sources.mark_offline_sources(ctx)
    assert jobs.get_job(ctx, ctl_account.id, job.id).status is JobStatus.RUNNING  # 2.97 beats
    ctl_clock.advance(seconds=2)
    assert sources.mark_offline_sources(ctx) >= 1
    failed = jobs.get_job(ctx, ctl_account.id, job.id)
    assert (failed.status, failed.error_code) == (JobStatus.IN_ERROR, "SourceServer.Offline")
    assert "heartbeat" in failed.error_message and "agent" in failed.error_hint
    assert failed.error_hint_zh == sources.OFFLINE_HINT_ZH and "启动代理" in failed.error_hint_zh
    assert failed.localized_hint("zh-CN") == failed.error_hint_zh
    assert failed.localized_hint("en-US") == failed.error_hint
    assert job.id in pool.disconnected
    last = jobs.list_events(ctx, ctl_account.id, job.id)[-1]
    assert (last.level, last.code) == (EventLevel.ERROR, "SourceServer.Offline")
    assert "心跳" in last.message_zh and "rehost agent run" in last.hint
    assert "任务会从中断处继续" in last.hint_zh and last.localized_hint("zh") == last.hint_zh
    src = sources.get_source(ctx, ctl_account.id, job.source_id)
    assert src.state is SourceState.UNAVAILABLE
    agents.heartbeat(ctx, token)  # the agent is back
    resumed = runs.start_job(ctx, ctl_account.id, job.id)
    assert (resumed.status, resumed.error_code) == (JobStatus.RUNNING, "")
    assert resumed.transit_id == job.transit_id and resumed.progress.bytes_done == 400


def test_processing_job_survives_lost_agent(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, ctl_clock: Any
) -> None:
    job, _token = _syncing_job(ctl_ctx, ctl_account, ctl_source)
    dataplane.sync_done(ctl_ctx, job.id)  # the transit builds; the agent is not needed
    ctl_clock.advance(seconds=200)
    sources.mark_offline_sources(ctl_ctx)
    kept = jobs.get_job(ctl_ctx, ctl_account.id, job.id)
    assert (kept.status, kept.business_status) == (JobStatus.RUNNING, BusinessStatus.PROCESSING)
    src = sources.get_source(ctl_ctx, ctl_account.id, job.source_id)
    assert src.state is SourceState.UNAVAILABLE


def test_restarted_scheduler_waits_three_beats_before_marking(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, ctl_clock: Any
) -> None:
    job, token = _syncing_job(ctl_ctx, ctl_account, ctl_source)
    ctl_clock.advance(seconds=600)  # the server was down for 10 minutes
    up_since = ctl_clock.now
    ctl_clock.advance(seconds=30)
    assert scheduler.tick(ctl_ctx, up_since=up_since).offline_sources == 0
    agents.heartbeat(ctl_ctx, token)  # the agent reaches the restarted server
    ctl_clock.advance(seconds=61)
    # the module's database is shared: other tests' stale sources may be marked here; this
    # test's source beat 61 s ago and must stay online
    scheduler.tick(ctl_ctx, up_since=up_since)
    assert sources.get_source(ctl_ctx, ctl_account.id, job.source_id).state is not (
        SourceState.UNAVAILABLE)
    assert jobs.get_job(ctl_ctx, ctl_account.id, job.id).status is JobStatus.RUNNING
    ctl_clock.advance(seconds=30)  # now 91 s without a beat, server up for 121 s
    scheduler.tick(ctl_ctx, up_since=up_since)
    assert jobs.get_job(ctl_ctx, ctl_account.id, job.id).status is JobStatus.IN_ERROR

