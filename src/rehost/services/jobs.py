"""Migration jobs: create, describe, modify, delete, event log."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rehost.db import convert
from rehost.db.tables import ImageRow, JobEventRow, JobRow, RegionRow
from rehost.domain import errors, incremental, jobs, jobspec
from rehost.domain.ids import PREFIX_JOB, AccountId, JobId
from rehost.domain.models import EventLevel, ExecutionMode, Job, JobEvent, JobSpec, Page
from rehost.domain.paging import check_page
from rehost.domain.rules import JobRequest
from rehost.domain.states import (
    BusinessStatus,
    JobAction,
    JobStatus,
    SourceState,
    is_unfinished,
)
from rehost.domain.tags import ResourceType, Tag, check_tags
from rehost.services import events, lookup, runs, transits
from rehost.services import tags as tag_service
from rehost.services.context import ServiceContext


def _duplicate_name(name: str) -> errors.Duplicate:
    return errors.from_catalogue(errors.Duplicate, "ReplicationJobName.Duplicate", name=name)


def _check_unique(session: Session, row_like: JobRow, spec: JobSpec, *, job_id: str) -> None:
    same_region = (JobRow.account_id == row_like.account_id, JobRow.region_id == row_like.region_id,
                   JobRow.id != job_id)
    if session.scalars(select(JobRow.id).where(*same_region, JobRow.name == spec.name)).first():
        raise _duplicate_name(spec.name)
    held = session.scalars(select(JobRow.id).where(
        *same_region, JobRow.image_name == spec.image_name,
        JobRow.status != JobStatus.FINISHED.value,
    )).first()
    if held:
        raise errors.Duplicate(
            "ImageName.UsedByReplicationJob",
            f"The image name {spec.image_name!r} is held by migration job {held} in this region; "
            "choose another image name.",
            f"镜像名称 {spec.image_name!r} 已被该地域的迁移任务 {held} 使用；请换一个镜像名称。",
        )
    taken = session.scalars(select(ImageRow.id).where(
        ImageRow.account_id == row_like.account_id, ImageRow.region_id == row_like.region_id,
        ImageRow.name == spec.image_name,
    )).first()
    if taken:
        raise errors.Duplicate(
            "ImageName.Duplicate",
            f"The image name {spec.image_name!r} is already used by an image in this region; "
            "choose another image name.",
            f"镜像名称 {spec.image_name!r} 在该地域已被镜像使用；请换一个名称。",
        )


def _check_source_free(session: Session, source_state: str, source_id: str) -> None:
    if source_state != SourceState.AVAILABLE:
        raise errors.source_state(source_state, SourceState.AVAILABLE)
    statuses = session.scalars(select(JobRow.status).where(JobRow.source_id == source_id)).all()
    if any(is_unfinished(JobStatus(s)) for s in statuses):
        raise errors.InvalidStatus(
            "ReplicationJob.Related",
            "The source already has an unfinished migration job; finish or delete it first.",
            "该迁移源已有未完成的迁移任务；请先完成或删除该任务。",
        )


def _require_ids(**given: str) -> None:
    for field, value in given.items():
        if not value:
            name = "".join(p.capitalize() for p in field.split("_"))
            raise errors.invalid(name, f"{field} is required.", f"{field} 为必填项。")


def create_job(
    ctx: ServiceContext,
    account_id: AccountId,
    *,
    source_id: str,
    region_id: str,
    request: JobRequest,
    tags: Sequence[Tag] = (),
) -> Job:
    """Validate every field and create the job (immediate mode then starts it)."""
    _require_ids(source_id=source_id, region_id=region_id)
    now, job_id = ctx.now(), ctx.new_id(PREFIX_JOB)
    try:
        with ctx.db.transaction() as session:
            src = lookup.source_row(session, account_id, source_id, lock=True)
            region = lookup.region_row(session, account_id, region_id)
            spec = jobspec.build_spec(
                request, source=convert.source(src), limits=convert.limits(region),
                region_adapts=region.adapt_guests, now=now, default_name=job_id,
                default_image_name=f"rehost-{job_id}",
            )
            row = _new_row(job_id, account_id, src.id, region, spec, now)
            _check_unique(session, row, spec, job_id=job_id)
            _check_source_free(session, src.state, src.id)
            session.add(row)
            session.flush()
            if tags:
                tag_service.add_in_session(session, account_id, ResourceType.JOB, job_id,
                                           check_tags(tags))
            events.add(session, job_id=job_id, account_id=account_id, now=now,
                       level=EventLevel.INFO, message_en="Migration job created.",
                       message_zh="迁移任务已创建。")
            created = convert.job(row, transit_id=None)  # a new job has no transit yet
    except IntegrityError as exc:
        raise _duplicate_name(request.name or job_id) from exc
    if spec.mode is ExecutionMode.IMMEDIATE:
        return runs.start_or_log(ctx, account_id, JobId(job_id))
    return created


def _new_row(
    job_id: str, account_id: str, source_id: str, region: RegionRow, spec: JobSpec, now: object
) -> JobRow:
    row = JobRow(
        id=job_id, account_id=account_id, source_id=source_id, region_id=region.id,
        status=JobStatus.READY.value, business_status="", progress=[], error_code="",
        error_message="", error_hint="", image_id=None, run_count=0, created_at=now,
        updated_at=now, started_at=None, finished_at=None,
    )
    convert.write_spec(row, spec)
    return row


def get_job(ctx: ServiceContext, account_id: AccountId, job_id: str) -> Job:
    """One job of the account."""
    with ctx.db.read() as session:
        return lookup.read_job(session, account_id, job_id)


def describe_jobs(
    ctx: ServiceContext,
    account_id: AccountId,
    *,
    job_ids: list[str] | None = None,
    status: JobStatus | None = None,
    region_id: str | None = None,
    source_id: str | None = None,
    name: str | None = None,
    page_number: int = 1,
    page_size: int = 10,
    business_status: BusinessStatus | None = None,
    source_ids: list[str] | None = None,
) -> Page[Job]:
    """The account's jobs with filters, newest first."""
    check_page(page_number, page_size)
    query = select(JobRow).where(JobRow.account_id == account_id)
    for column, value in ((JobRow.status, status), (JobRow.region_id, region_id),
                          (JobRow.source_id, source_id),
                          (JobRow.business_status, business_status)):
        if value is not None:
            query = query.where(column == str(value))
    if job_ids:
        query = query.where(JobRow.id.in_(job_ids))
    if source_ids:
        query = query.where(JobRow.source_id.in_(source_ids))
    if name:
        query = query.where(JobRow.name.contains(name, autoescape=True))
    query = query.order_by(JobRow.created_at.desc(), JobRow.id)
    with ctx.db.read() as session:
        rows, total = lookup.page_rows(session, query, page_number=page_number,
                                       page_size=page_size)
        values = tuple(lookup.job_value(session, r) for r in rows)
        return Page(values, total, page_number, page_size)


def modify_job(
    ctx: ServiceContext, account_id: AccountId, job_id: str, request: JobRequest
) -> Job:
    """Name/description any time; Frequency, images to keep, ValidTime also in Waiting/Stopped;
    every other field only before the first run."""
    now = ctx.now()
    try:
        with ctx.db.transaction() as session:
            row = lookup.job_row(session, account_id, job_id, lock=True)
            status = JobStatus(row.status)
            spec = convert.spec(row)
            if request.changes_more_than_labels() and request.changes_only_schedule() and (
                    status is not JobStatus.READY):
                jobs.check_change(convert.lifecycle(row), JobAction.RESCHEDULE)
                spec = jobspec.apply_schedule(spec, request, created_at=row.created_at)
                _reschedule_cycle(row, spec.frequency_hours)
            elif request.changes_more_than_labels():
                jobs.check_change(convert.lifecycle(row), JobAction.MODIFY)
                src = lookup.source_row(session, account_id, row.source_id)
                region = lookup.region_row(session, account_id, row.region_id)
                spec = jobspec.apply_modify(spec, request, source=convert.source(src),
                                            limits=convert.limits(region),
                                            region_adapts=region.adapt_guests, now=now,
                                            created_at=row.created_at)
            else:
                jobs.check_change(convert.lifecycle(row), JobAction.RENAME)
                spec = jobspec.apply_labels(spec, request)
            _check_unique(session, row, spec, job_id=row.id)
            convert.write_spec(row, spec)
            row.updated_at = now
            session.flush()
            return lookup.job_value(session, row)
    except IntegrityError as exc:
        raise _duplicate_name(request.name or job_id) from exc


def _reschedule_cycle(row: JobRow, frequency_hours: int) -> None:
    """A waiting (or stopped between cycles) job's next cycle follows a new Frequency."""
    if row.next_cycle_at is not None and row.finished_at is not None and frequency_hours:
        row.next_cycle_at = incremental.next_cycle_at(row.finished_at, frequency_hours)


def delete_job(ctx: ServiceContext, account_id: AccountId, job_id: str) -> None:
    """Delete a job (not while Running); releases its transit and slot."""
    with ctx.db.transaction() as session:
        row = lookup.job_row(session, account_id, job_id, lock=True)
        jobs.delete(convert.lifecycle(row))  # refused while Running; the row goes below
        released = transits.release(session, row.id, now=ctx.now())
        session.execute(delete(JobEventRow).where(JobEventRow.job_id == row.id))
        tag_service.drop_all(session, ResourceType.JOB, row.id)
        session.delete(row)
    transits.close_receiver(ctx, released)


def list_events(
    ctx: ServiceContext, account_id: AccountId, job_id: str, *, after_id: int = 0,
    limit: int = 1000,
) -> list[JobEvent]:
    """A job's event log (id > after_id), oldest first."""
    with ctx.db.read() as session:
        lookup.job_row(session, account_id, job_id)
        return events.read(session, job_id, after_id=after_id, limit=limit)
