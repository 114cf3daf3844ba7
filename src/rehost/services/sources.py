"""Source servers: describe, modify, delete, offline detection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from rehost import messages
from rehost.db import convert
from rehost.db.tables import JobEventRow, JobRow, SourceRow, WorkgroupSourceRow
from rehost.domain import errors, jobs, rules
from rehost.domain.ids import AccountId, JobId
from rehost.domain.jobs import JobError
from rehost.domain.models import EventLevel, Page, Source
from rehost.domain.paging import check_page
from rehost.domain.states import (
    BusinessStatus,
    JobStatus,
    SourceEvent,
    SourceState,
    next_source_state,
)
from rehost.domain.tags import ResourceType
from rehost.services import events, lifecycle, lookup, source_usage, tags, transits
from rehost.services.context import ServiceContext

MISSED_BEATS_OFFLINE = 3
_UNFINISHED = [s.value for s in JobStatus if s not in (JobStatus.FINISHED, JobStatus.DELETING)]


def describe_sources(
    ctx: ServiceContext,
    account_id: AccountId,
    *,
    source_ids: list[str] | None = None,
    state: SourceState | None = None,
    name: str | None = None,
    page_number: int = 1,
    page_size: int = 10,
    smc_in_use: bool = False,
) -> Page[Source]:
    """The account's sources filtered by exact ids, state and name substring, newest first.

    `smc_in_use`: SMC's states, where a source is InUse while a Ready, Running or Stopped job
    of it exists (not only while one runs)."""
    check_page(page_number, page_size)
    query = select(SourceRow).where(SourceRow.account_id == account_id)
    if state is not SourceState.DELETING:  # tombstones of deleted sources stay hidden
        query = query.where(SourceRow.state != SourceState.DELETING.value)
    if source_ids:
        query = query.where(SourceRow.id.in_(source_ids))
    if state is not None:
        query = query.where(source_usage.state_filter(state) if smc_in_use
                            else SourceRow.state == state.value)
    if name:
        query = query.where(SourceRow.name.contains(name, autoescape=True))
    query = query.order_by(SourceRow.created_at.desc(), SourceRow.id)
    with ctx.db.read() as session:
        rows, total = lookup.page_rows(session, query, page_number=page_number,
                                       page_size=page_size)
        items = tuple(convert.source(r) for r in rows)
        if smc_in_use:
            items = source_usage.presented(session, items)
        return Page(items, total, page_number, page_size)


def get_source(ctx: ServiceContext, account_id: AccountId, source_id: str) -> Source:
    """One source of the account."""
    with ctx.db.read() as session:
        return convert.source(lookup.source_row(session, account_id, source_id))


def modify_source(
    ctx: ServiceContext,
    account_id: AccountId,
    source_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
) -> Source:
    """Change a source's name and/or description."""
    if name is not None:
        rules.check_name(name, field="Name", what_en="source name", what_zh="迁移源名称")
    if description is not None:
        rules.check_description(description)
    with ctx.db.transaction() as session:
        row = lookup.source_row(session, account_id, source_id, lock=True)
        if name is not None and name != row.name:
            _check_name_free(session, account_id, row.id, name)
        row.name = row.name if name is None else name
        row.description = row.description if description is None else description
        return convert.source(row)


def _check_name_free(session: Session, account_id: str, source_id: str, name: str) -> None:
    taken = session.scalars(select(SourceRow.id).where(
        SourceRow.account_id == account_id, SourceRow.name == name,
        SourceRow.state != SourceState.DELETING.value,
        SourceRow.id != source_id)).first()
    if taken:
        raise errors.Duplicate(
            "SourceServerName.Duplicate",
            f"Another source server ({taken}) is already named {name!r}; choose another name.",
            f"已有其他迁移源（{taken}）名为 {name!r}；请换一个名称。")


def delete_source(
    ctx: ServiceContext, account_id: AccountId, source_id: str, *, force: bool = False
) -> None:
    """Delete a source; refused while a job runs, or has an unfinished job unless `force`.

    Force deletes the unfinished jobs; finished jobs keep their history, so their source stays
    as a tombstone (state Deleting: hidden, its agent refused).
    """
    with ctx.db.transaction() as session:
        row = lookup.source_row(session, account_id, source_id, lock=True)
        jobs = session.scalars(
            select(JobRow).where(JobRow.source_id == row.id).with_for_update()
        ).all()
        _refuse_busy(jobs, force=force)
        row.state = next_source_state(SourceState(row.state), SourceEvent.DELETE).value
        released = [transits.release(session, job.id, now=ctx.now()) for job in jobs]
        kept = [j for j in jobs if j.status == JobStatus.FINISHED]
        for job in jobs:
            if job not in kept:
                session.execute(delete(JobEventRow).where(JobEventRow.job_id == job.id))
                tags.drop_all(session, ResourceType.JOB, job.id)
                session.delete(job)
        session.flush()
        tags.drop_all(session, ResourceType.SOURCE, row.id)
        session.execute(delete(WorkgroupSourceRow).where(WorkgroupSourceRow.source_id == row.id))
        if not kept:
            session.delete(row)
    for transit in released:
        transits.close_receiver(ctx, transit)


def _refuse_busy(jobs: Sequence[JobRow], *, force: bool) -> None:
    running = [j for j in jobs if j.status == JobStatus.RUNNING]
    if running:  # even with force: SMC's SourceServer.WithRunningReplicationJob
        raise errors.InvalidStatus(
            "SourceServer.WithRunningReplicationJob",
            f"The source has a running migration job ({running[0].id}); stop it (or wait "
            "for it to end) before deleting the source.",
            f"迁移源有运行中的迁移任务（{running[0].id}）；请先暂停该任务或等待其结束，"
            "再删除迁移源。",
        )
    unfinished = [j for j in jobs if j.status in _UNFINISHED]
    if unfinished and not force:
        raise errors.InvalidStatus(
            "ReplicationJob.Related",
            f"The source has an unfinished migration job ({unfinished[0].id}); delete the "
            "job first or delete the source with force.",
            f"迁移源有未完成的迁移任务（{unfinished[0].id}）；请先删除该任务，或强制删除迁移源。",
        )


def mark_offline_sources(ctx: ServiceContext, *, up_since: datetime | None = None) -> int:
    """Sources whose agent missed 3 heartbeats become Unavailable; return how many changed.

    Their jobs that need the agent (Running + Preparing/Syncing) go InError
    (`SourceServer.Offline`); starting the job again resumes it. `up_since` (when this server
    started) gives agents 3 intervals to reach a restarted server before anything is marked.
    """
    window = timedelta(seconds=MISSED_BEATS_OFFLINE * ctx.settings.heartbeat_interval_s)
    now = ctx.now()
    if up_since is not None and now - up_since < window:
        return 0
    with ctx.db.transaction() as session:
        rows = session.scalars(select(SourceRow).where(
            SourceRow.state.in_([SourceState.AVAILABLE.value, SourceState.IN_USE.value]),
            SourceRow.last_heartbeat_at < now - window).with_for_update()).all()
        for row in rows:
            row.state = next_source_state(SourceState(row.state),
                                          SourceEvent.HEARTBEAT_MISSED).value
            row.error_code = OFFLINE_CODE
            row.status_info = "No heartbeat from the agent for 3 intervals."
        lost = _fail_jobs_of(session, [r.id for r in rows], now=now)
    for job_id in lost:
        ctx.transit_pool.disconnect(job_id=job_id)
    return len(rows)


OFFLINE_CODE = "SourceServer.Offline"
OFFLINE_EN, OFFLINE_ZH = messages.both("SourceServer.Offline")
OFFLINE_HINT, OFFLINE_HINT_ZH = messages.both("hint.SourceServer.Offline")
_OFFLINE = JobError(code=OFFLINE_CODE, message=OFFLINE_EN, message_zh=OFFLINE_ZH,
                    hint=OFFLINE_HINT, hint_zh=OFFLINE_HINT_ZH)
_NEEDS_AGENT = [BusinessStatus.PREPARING.value, BusinessStatus.SYNCING.value]


def _fail_jobs_of(session: Session, source_ids: list[str], *, now: datetime) -> list[JobId]:
    """Running jobs of lost sources that still need the agent → InError (locked rows)."""
    if not source_ids:
        return []
    lost = session.scalars(select(JobRow).where(
        JobRow.source_id.in_(source_ids), JobRow.status == JobStatus.RUNNING.value,
        JobRow.business_status.in_(_NEEDS_AGENT)).with_for_update()).all()
    for job in lost:
        lifecycle.apply(session, job, lambda value: jobs.fail(value, now=now, error=_OFFLINE))
        events.add(session, job_id=job.id, account_id=job.account_id, now=now,
                   level=EventLevel.ERROR, code=OFFLINE_CODE, message_en=OFFLINE_EN,
                   message_zh=OFFLINE_ZH, hint=OFFLINE_HINT, hint_zh=OFFLINE_HINT_ZH)
    return [JobId(j.id) for j in lost]
