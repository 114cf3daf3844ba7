"""Start (one or a batch of ≤ 10) and pause jobs; each started job takes a network slot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from rehost.db import convert
from rehost.db.tables import JobRow, TransitSlotRow
from rehost.domain import errors, jobs, quotas
from rehost.domain.errors import RehostError
from rehost.domain.ids import AccountId, JobId
from rehost.domain.models import EventLevel, Job
from rehost.domain.states import JobStatus, SourceState
from rehost.services import dataplane, events, lifecycle, lookup, transit_hosts, transits
from rehost.services.context import ServiceContext


@dataclass(frozen=True, slots=True)
class JobStartOutcome:
    """Outcome of starting one job of a batch."""

    job_id: JobId
    job: Job | None
    error: RehostError | None


def _start_in_session(ctx: ServiceContext, session: Session, row: JobRow, *,
                      cutover: bool = False) -> None:
    """Move a locked job to Running/Preparing with a (kept or new) transit."""
    now = ctx.now()
    before = convert.lifecycle(row)
    jobs.start(before, now=now, cutover=cutover)  # refused here before any slot is taken
    src = lookup.source_row(session, AccountId(row.account_id), row.source_id, lock=True)
    if src.state != SourceState.AVAILABLE:
        raise errors.source_state(src.state, SourceState.AVAILABLE)
    kept = lookup.active_transit(session, row.id)
    if kept is not None and transit_hosts.is_offline(ctx, session, kept.host_id):
        _leave_offline_host(session, row, kept, now)
        kept = None
    if kept is not None and _source_fix_retry(before.status, row):
        _resend_pass(session, row, now)
    if kept is None:
        # lock the region row so concurrent starts cannot take the same slot
        region = lookup.region_row(session, AccountId(row.account_id), row.region_id, lock=True)
        transits.allocate(ctx, session, row, region, now=now)
        if row.run_count > 0:
            row.progress = []  # a released transit means a full re-migration
    lifecycle.apply(session, row, lambda job: jobs.start(job, now=now, cutover=cutover))
    if jobs.starts_next_cycle(before):
        _next_cycle(session, row, now)  # (a job stopped between cycles has a next cycle time)
        return
    events.add(session, job_id=row.id, account_id=row.account_id, now=now, level=EventLevel.INFO,
               message_en="Job started; preparing the transit.",
               message_zh="任务已开始，正在准备中转实例。")


# a build that failed for a reason on the source (fix it there, then start the job again)
SOURCE_FIX_CODES = ("Check.", "Adapt.")


def _source_fix_retry(previous: JobStatus, row: JobRow) -> bool:
    """A one-time job InError after a check of its received disks: the source may be fixed."""
    return previous is JobStatus.IN_ERROR and bool(row.run_once) and (
        row.error_code or "").startswith(SOURCE_FIX_CODES)


def _resend_pass(session: Session, row: JobRow, now: datetime) -> None:
    """Read the source again, send only the cells that differ from the transit's copy.

    The job's cycle counts the send passes (as an incremental job's cycles do): the agent
    asks the transit for a delta pass of the new number, compares its cells' digests with
    what the transit kept and sends only the changed ones.
    """
    row.cycle, row.progress = (row.cycle or 1) + 1, []
    events.add(session, job_id=row.id, account_id=row.account_id, now=now,
               level=EventLevel.INFO, code="ReplicationJob.DeltaPass",
               message_en=(f"Started again after {row.error_code}: the source is read again "
                           "and only data that differs from the transit's copy is sent."),
               message_zh=(f"因 {row.error_code} 失败后重新开始：重新读取迁移源，"
                           "只发送与中转实例副本不同的数据。"))


def _leave_offline_host(session: Session, row: JobRow, kept: TransitSlotRow, now: datetime) -> None:
    """Release a transit whose host is offline: the job re-migrates through a new transit.

    The host deletes the work dir itself when it comes back (its work poll sees it released).
    """
    transits.release(session, row.id, now=now)
    events.add(session, job_id=row.id, account_id=row.account_id, now=now,
               level=EventLevel.WARNING, code="Transit.HostOffline",
               message_en=(f"Transit host {kept.host_id} is offline: its transit was released "
                           "and the job migrates all data again through a new transit."),
               message_zh=(f"中转主机 {kept.host_id} 已离线：已释放其中转实例，"
                           "任务将通过新的中转实例重新迁移全部数据。"),
               hint="Keep transit hosts running until their jobs finish.",
               hint_zh="请保持中转主机运行，直到其上的任务完成。")


def _next_cycle(session: Session, row: JobRow, now: datetime) -> None:
    """A Waiting incremental job starts its next cycle on the transit it kept."""
    row.progress = []
    last_en = " It is the cut-over: the job finishes with its image." if row.cutover_pending else ""
    last_zh = "这是切换前的最后一轮：完成后任务结束。" if row.cutover_pending else ""
    events.add(session, job_id=row.id, account_id=row.account_id, now=now, level=EventLevel.INFO,
               code="ReplicationJob.CycleStarted",
               message_en=(f"Incremental cycle {row.cycle} started; only changed data is sent."
                           + last_en),
               message_zh=f"增量同步第 {row.cycle} 轮已开始，仅传输变化的数据。{last_zh}")


def start_job(ctx: ServiceContext, account_id: AccountId, job_id: str, *,
              cutover: bool = False) -> Job:
    """Start or retry one job (from Ready, Stopped or InError; Waiting = next cycle now).

    `cutover`: a Waiting incremental job runs its last cycle, which ends Finished.
    """
    with ctx.db.transaction() as session:
        row = lookup.job_row(session, account_id, job_id, lock=True)
        _start_in_session(ctx, session, row, cutover=cutover)
        transit = lookup.active_transit(session, row.id)
    if transit is not None and not transit.endpoint:
        try:
            transits.open_receiver(ctx, convert.transit(transit))
        except OSError as exc:
            dataplane.fail_job(ctx, JobId(row.id), code="Transit.StartFailed",
                               message_en=f"The transit receiver could not start: {exc}",
                               message_zh=f"中转实例启动失败：{exc}",
                               hint="Check free disk space and ports on the server, then retry.",
                               hint_zh="请检查服务器的可用磁盘空间和端口，然后重试。")
    with ctx.db.read() as session:
        return lookup.read_job(session, account_id, job_id)


def start_jobs(ctx: ServiceContext, account_id: AccountId,
               job_ids: list[str]) -> list[JobStartOutcome]:
    """Start a batch of ≤ 10 jobs; each result carries the job or its error (status kept)."""
    quotas.check_batch(len(job_ids))
    results = []
    for job_id in job_ids:
        try:
            results.append(JobStartOutcome(JobId(job_id), start_job(ctx, account_id, job_id), None))
        except RehostError as exc:
            results.append(JobStartOutcome(JobId(job_id), None, exc))
    return results


def start_or_log(ctx: ServiceContext, account_id: AccountId, job_id: JobId) -> Job:
    """Start a job for the scheduler/immediate mode; a refusal becomes a warning event."""
    try:
        return start_job(ctx, account_id, job_id)
    except RehostError as exc:
        with ctx.db.transaction() as session:
            row = lookup.job_row(session, account_id, job_id)
            events.add(session, job_id=job_id, account_id=account_id, now=ctx.now(),
                       level=EventLevel.WARNING, code=exc.code, message_en=exc.message,
                       message_zh=exc.message_zh, hint=exc.hint,
                       hint_zh=getattr(exc, "hint_zh", ""))
            return lookup.job_value(session, row)


def pause_job(ctx: ServiceContext, account_id: AccountId, job_id: str) -> Job:
    """Pause a Running+Syncing (or Waiting) job → Stopped; the transit and progress are kept."""
    with ctx.db.transaction() as session:
        row = lookup.job_row(session, account_id, job_id, lock=True)
        lifecycle.apply(session, row, lambda job: jobs.pause(job, now=ctx.now()))
        events.add(session, job_id=row.id, account_id=row.account_id, now=row.updated_at,
                   level=EventLevel.INFO, message_en="Job paused; start it to resume.",
                   message_zh="任务已暂停；重新开始即可继续。")
        paused = lookup.job_value(session, row)
    ctx.transit_pool.disconnect(job_id=paused.id)
    return paused
