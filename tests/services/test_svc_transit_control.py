"""The TransitControl adapter and the shared-listener pool adapter, on real services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import FakeClock
from rehost.domain.rules import JobRequest
from rehost.domain.states import BusinessStatus, JobStatus
from rehost.services import jobs, lookup, runs, transits
from rehost.services.context import ServiceContext
from rehost.services.transit_control import ServiceTransitControl, SharedListenerPool
from rehost.transit.ports import DiskDigest, ReceivedDisk, ReceiverProgress


class RecordingPool:
    """A fake listener pool that records what it was asked to do."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def disconnect_job(self, job_id: str) -> None:
        self.calls.append(("disconnect", job_id))

    def release_job(self, job_id: str, work_dir: Path) -> None:
        self.calls.append(("release", job_id))

    def problem(self) -> str:
        """Always serving."""
        return ""


def _ctx_with_pool(ctx: ServiceContext, pool: RecordingPool) -> ServiceContext:
    return ServiceContext(db=ctx.db, settings=ctx.settings, master_key=ctx.master_key,
                          clock=ctx.clock, transit_pool=SharedListenerPool("127.0.0.1:9", pool))


def _token(ctx: ServiceContext, job_id: str) -> str:
    with ctx.db.read() as session:
        row = lookup.active_transit(session, job_id)
        assert row is not None and row.endpoint == "127.0.0.1:9"
        return transits.data_token(ctx, row)


def test_transit_control_drives_a_job(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, ctl_clock: FakeClock
) -> None:
    pool = RecordingPool()
    ctx = _ctx_with_pool(ctl_ctx, pool)
    src = ctl_source(data=[(1, 2, 1)])
    job = jobs.create_job(ctx, ctl_account.id, source_id=src.source_id, region_id="local",
                          request=JobRequest(checksum=True))
    runs.start_job(ctx, ctl_account.id, job.id)
    control = ServiceTransitControl(ctx)
    assert control.lookup("wrong") is None
    spec = control.lookup(_token(ctx, job.id))
    assert spec is not None and [d.index for d in spec.disks] == [0, 1] and spec.checksum
    assert jobs.get_job(ctx, ctl_account.id, job.id).business_status is BusinessStatus.SYNCING
    control.report_progress(ReceiverProgress(job.id, (ReceivedDisk(0, 0, 100),
                                                 ReceivedDisk(1, 10, 10)), 999.0))
    ctl_clock.advance(seconds=2)  # the rate is the job's bytes over its samples' time
    control.report_progress(ReceiverProgress(job.id, (ReceivedDisk(0, 50, 100),
                                                 ReceivedDisk(1, 10, 10)), 999.0))
    got = jobs.get_job(ctx, ctl_account.id, job.id).progress
    assert (got.bytes_done, got.bytes_total, got.percent) == (60, 110, 54.55)
    assert got.disks[0].eta_s == 2.0 and got.disks[0].rate_bytes_per_s == 25.0
    runs.pause_job(ctx, ctl_account.id, job.id)
    assert pool.calls == [("disconnect", job.id)]
    assert control.lookup(_token(ctx, job.id)) is None  # paused: may not send
    runs.start_job(ctx, ctl_account.id, job.id)
    control.sync_done(job.id, (DiskDigest(0, "ab"),))
    assert jobs.get_job(ctx, ctl_account.id, job.id).business_status is BusinessStatus.PROCESSING
    control.sync_failed(job.id, "Transit.DiskFull", "No space left on device")
    failed = jobs.get_job(ctx, ctl_account.id, job.id)
    assert failed.status is JobStatus.IN_ERROR and "Free space" in failed.error_hint
    jobs.delete_job(ctx, ctl_account.id, job.id)
    assert pool.calls[-1] == ("release", job.id)


def test_progress_milestones_go_to_the_job_log_once_per_ten_percent(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, ctl_clock: FakeClock
) -> None:
    ctx = _ctx_with_pool(ctl_ctx, RecordingPool())
    src = ctl_source()
    job = jobs.create_job(ctx, ctl_account.id, source_id=src.source_id, region_id="local",
                          request=JobRequest())
    runs.start_job(ctx, ctl_account.id, job.id)
    control = ServiceTransitControl(ctx)
    assert control.lookup(_token(ctx, job.id)) is not None
    mib = 1024 * 1024
    previous = 0
    for done in (0, 5, 12, 14, 37, 38, 60, 99, 100):
        ctl_clock.advance(seconds=(done - previous) / 4)  # 4 MiB/s, whatever one connection says
        previous = done
        control.report_progress(ReceiverProgress(job.id, (ReceivedDisk(0, done * mib, 100 * mib),),
                                            float(400 * mib)))
    lines = [e.message_en for e in jobs.list_events(ctx, ctl_account.id, job.id)
             if e.code == "Transit.Progress"]
    assert lines == ["Synced 12% (12/100 MiB), 4.0 MiB/s, ETA 22 s.",
                     "Synced 37% (37/100 MiB), 4.0 MiB/s, ETA 16 s.",
                     "Synced 60% (60/100 MiB), 4.0 MiB/s, ETA 10 s.",
                     "Synced 99% (99/100 MiB), 4.0 MiB/s, ETA 0 s."]


def test_send_plan_notes_go_to_the_job_log_in_both_languages(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    ctx = _ctx_with_pool(ctl_ctx, RecordingPool())
    src = ctl_source()
    job = jobs.create_job(ctx, ctl_account.id, source_id=src.source_id, region_id="local",
                          request=JobRequest())
    ServiceTransitControl(ctx).log_plan(job.id, ["disk 0: partition 2: no filesystem "
                                                 "recognised; copied whole"])
    (line,) = [e for e in jobs.list_events(ctx, ctl_account.id, job.id)
               if e.code == "Agent.SendPlan"]
    assert line.message_en == ("Send plan: disk 0: partition 2: no filesystem recognised; "
                               "copied whole")
    assert line.message_zh.startswith("发送计划")
