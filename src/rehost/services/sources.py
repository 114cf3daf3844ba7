"""Source servers: describe, modify, delete, offline detection."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update

from rehost.db import convert
from rehost.db.tables import JobEventRow, JobRow, SourceRow
from rehost.domain import errors, rules
from rehost.domain.ids import AccountId
from rehost.domain.models import Page, Source
from rehost.domain.states import JobStatus, SourceEvent, SourceState, next_source_state
from rehost.services import lookup, transits
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
) -> Page[Source]:
    """The account's sources filtered by exact ids, state and name substring, newest first."""
    query = select(SourceRow).where(SourceRow.account_id == account_id)
    if source_ids:
        query = query.where(SourceRow.id.in_(source_ids))
    if state is not None:
        query = query.where(SourceRow.state == state.value)
    if name:
        query = query.where(SourceRow.name.contains(name, autoescape=True))
    query = query.order_by(SourceRow.created_at.desc(), SourceRow.id)
    with ctx.db.read() as session:
        total = lookup.count(session, query)
        rows = session.scalars(query.offset((page_number - 1) * page_size).limit(page_size))
        return Page(tuple(convert.source(r) for r in rows), total, page_number, page_size)


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
        row.name = row.name if name is None else name
        row.description = row.description if description is None else description
        return convert.source(row)


def delete_source(
    ctx: ServiceContext, account_id: AccountId, source_id: str, *, force: bool = False
) -> None:
    """Delete a source; refused while it has an unfinished job unless `force` (deletes them)."""
    with ctx.db.transaction() as session:
        row = lookup.source_row(session, account_id, source_id, lock=True)
        jobs = session.scalars(
            select(JobRow).where(JobRow.source_id == row.id).with_for_update()
        ).all()
        unfinished = [j for j in jobs if j.status in _UNFINISHED]
        if unfinished and not force:
            raise errors.InvalidStatus(
                "SourceServer.JobUnfinished",
                f"The source has an unfinished migration job ({unfinished[0].id}); delete the "
                "job first or delete the source with force.",
                f"迁移源有未完成的迁移任务（{unfinished[0].id}）；请先删除该任务，或强制删除迁移源。",
            )
        if any(j.status == JobStatus.RUNNING for j in jobs) and not force:
            raise errors.job_status("delete", JobStatus.RUNNING, "not Running")
        next_source_state(SourceState(row.state), SourceEvent.DELETE)
        released = [transits.release(session, job.id, now=ctx.now()) for job in jobs]
        for job in jobs:
            session.execute(delete(JobEventRow).where(JobEventRow.job_id == job.id))
            session.delete(job)
        session.flush()
        session.delete(row)
    for transit in released:
        transits.close_receiver(ctx, transit)


def mark_offline_sources(ctx: ServiceContext) -> int:
    """Sources whose agent missed 3 heartbeats become Unavailable; return how many changed."""
    cutoff = ctx.now() - timedelta(seconds=MISSED_BEATS_OFFLINE * ctx.settings.heartbeat_interval_s)
    with ctx.db.transaction() as session:
        result = session.execute(
            update(SourceRow)
            .where(SourceRow.state.in_([SourceState.AVAILABLE.value, SourceState.IN_USE.value]),
                   SourceRow.last_heartbeat_at < cutoff)
            .values(state=SourceState.UNAVAILABLE.value, error_code="SourceServer.Offline",
                    status_info="No heartbeat from the agent for 3 intervals.")
        )
        return int(getattr(result, "rowcount", 0) or 0)


