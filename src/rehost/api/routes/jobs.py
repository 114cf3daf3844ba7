"""/api/v1/jobs: create, list, describe, modify, delete, start (one/batch), pause, cutover,
events."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header, Query

from rehost.api.deps import Account, Ctx
from rehost.api.errors import status_of
from rehost.api.routes.tags import filter_tags
from rehost.api.schemas import BatchStartIn, CutOverIn, JobCreateIn, JobModifyIn, event_out, job_out
from rehost.api.schemas.jobs import (
    JobDeleted,
    JobEvents,
    JobOut,
    JobPage,
    StartError,
    StartResult,
    StartResults,
)
from rehost.domain import errors
from rehost.domain.idempotency import params_digest
from rehost.domain.ids import JobId
from rehost.domain.models import DataDiskSpec, ExecutionMode, Override
from rehost.domain.rules import JobRequest
from rehost.domain.states import parse_business_status, parse_job_status
from rehost.domain.tags import ResourceType, Tag
from rehost.jsonvalue import JsonObject
from rehost.services import cutover, idempotency, images, jobs, runs, tags

router = APIRouter(prefix="/jobs", tags=["jobs"])
PageSize = Annotated[int, Query(ge=1, le=100)]
PageNumber = Annotated[int, Query(ge=1)]
EVENT_ID_MAX = 2**31 - 1  # event ids are 32-bit integers in the database
# the request's language: "zh…" localises hints as RehostError messages are (api/errors.py)
Lang = Annotated[str, Header(alias="accept-language")]


def _mode(value: str | None) -> ExecutionMode | None:
    if value is None:
        return None
    try:
        return ExecutionMode(value)
    except ValueError as exc:
        raise errors.invalid(
            "ExecutionMode", "execution_mode must be create-only, immediate or scheduled.",
            "执行方式须为 create-only（只创建）、immediate（立即执行）或 scheduled（预约执行）。",
        ) from exc


def to_request(body: JobCreateIn | JobModifyIn) -> JobRequest:
    """API body → domain JobRequest."""
    disks = None if body.data_disks is None else tuple(
        DataDiskSpec(d.index, d.size) for d in body.data_disks
    )
    return JobRequest(
        name=body.name, description=body.description,
        system_disk_size_gib=body.system_disk_size, data_disks=disks,
        image_name=body.image_name, mode=_mode(body.execution_mode),
        scheduled_start_time=body.scheduled_start_time, valid_time=body.valid_time,
        bandwidth_limit_kbps=body.bandwidth_limit, compress_level=body.compress_level,
        checksum=body.checksum, run_once=body.run_once, frequency_hours=body.frequency,
        max_images_to_keep=body.max_number_of_image_to_keep,
        adapt_guests=_override(body, "adapt_guests"),
        keep_static_network=_override(body, "keep_static_network"),
    )


def _override(body: JobCreateIn | JobModifyIn, field: str) -> Override | None:
    """A region-setting override: absent = not given, null = the region's, else on/off."""
    if field not in body.model_fields_set:
        return None
    value = getattr(body, field)
    return Override.of(value if isinstance(value, bool) else None)


@router.post("", status_code=201)
def create_job(body: JobCreateIn, ctx: Ctx, account: Account, lang: Lang = "en") -> JobOut:
    """Create a migration job (execution_mode immediate starts it; client_token: idempotent)."""

    def create() -> JsonObject:
        job = jobs.create_job(ctx, account, source_id=body.source_id, region_id=body.region_id,
                              request=to_request(body),
                              tags=[Tag(t.key, t.value) for t in body.tags or []])
        return {"job_id": job.id}

    fields = body.model_dump(mode="json", exclude={"client_token"})
    created = idempotency.run_once(
        ctx, account, action="rest:create_job", token=body.client_token or "",
        digest=params_digest((k, json.dumps(v)) for k, v in fields.items()), run=create)
    return job_out(jobs.get_job(ctx, account, str(created["job_id"])), lang=lang)


@router.get("")
def list_jobs(
    ctx: Ctx, account: Account, status: str | None = None, region_id: str | None = None,
    source_id: str | None = None, name: str | None = None,
    job_id: Annotated[list[str] | None, Query()] = None,
    page_number: PageNumber = 1, page_size: PageSize = 10,
    business_status: str | None = None, lang: Lang = "en",
    tag: Annotated[list[str] | None, Query()] = None,
) -> JobPage:
    """Describe jobs with filters (status, business status, region, source, name, tag=key[=value])
    and paging."""
    if tag:
        matched = tags.matching(ctx, account, ResourceType.JOB, filter_tags(tag))
        job_id = sorted(matched & set(job_id) if job_id else matched) or ["-"]  # "-": no match
    page = jobs.describe_jobs(
        ctx, account, job_ids=job_id, status=parse_job_status(status), region_id=region_id,
        source_id=source_id, name=name, page_number=page_number, page_size=page_size,
        business_status=parse_business_status(business_status),
    )
    return JobPage(jobs=[job_out(j, lang=lang) for j in page.items],
                   total_count=page.total_count, page_number=page.page_number,
                   page_size=page.page_size)


@router.post("/start")
def start_batch(body: BatchStartIn, ctx: Ctx, account: Account,
                lang: Lang = "en") -> StartResults:
    """Start or retry up to 10 jobs; each result has the job or its error."""
    results = runs.start_jobs(ctx, account, body.job_ids)
    return StartResults(results=[
        StartResult(job_id=r.job_id, ok=r.error is None,
                    job=job_out(r.job, lang=lang) if r.job else None,
                    error=None if r.error is None else StartError(
                        code=r.error.code, message=r.error.message,
                        status=status_of(r.error)))
        for r in results
    ])


@router.get("/{job_id}")
def describe_job(job_id: str, ctx: Ctx, account: Account, lang: Lang = "en") -> JobOut:
    """One job, with its image's verification result once it has an image."""
    job = jobs.get_job(ctx, account, job_id)
    image = None
    if job.image_id:
        try:
            image = images.get_image(ctx, account, job.image_id)
        except errors.NotFound:
            image = None  # the image was deleted after the job finished
    return job_out(job, image=image, lang=lang)


@router.patch("/{job_id}")
def modify_job(job_id: str, body: JobModifyIn, ctx: Ctx, account: Account,
               lang: Lang = "en") -> JobOut:
    """Modify name/description (always) or other fields (before the first run)."""
    return job_out(jobs.modify_job(ctx, account, job_id, to_request(body)), lang=lang)


@router.delete("/{job_id}")
def delete_job(job_id: str, ctx: Ctx, account: Account) -> JobDeleted:
    """Delete a job that is not Running."""
    jobs.delete_job(ctx, account, job_id)
    return JobDeleted(job_id=job_id, deleted=True)


@router.post("/{job_id}/start")
def start_job(job_id: str, ctx: Ctx, account: Account, lang: Lang = "en") -> JobOut:
    """Start or retry one job."""
    return job_out(runs.start_job(ctx, account, JobId(job_id)), lang=lang)


@router.post("/{job_id}/pause")
def pause_job(job_id: str, ctx: Ctx, account: Account, lang: Lang = "en") -> JobOut:
    """Pause a Running+Syncing job, or stop a Waiting one between cycles."""
    return job_out(runs.pause_job(ctx, account, job_id), lang=lang)


@router.post("/{job_id}/cutover")
def cut_over_job(job_id: str, ctx: Ctx, account: Account, body: CutOverIn | None = None,
                 lang: Lang = "en") -> JobOut:
    """End a Waiting incremental job: one last delta cycle first (sync_data, default) or not."""
    sync_data = True if body is None else body.sync_data
    return job_out(cutover.cut_over(ctx, account, job_id, sync_data=sync_data), lang=lang)


@router.get("/{job_id}/events")
def job_events(
    job_id: str, ctx: Ctx, account: Account,
    after_id: Annotated[int, Query(ge=0, le=EVENT_ID_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000, lang: Lang = "en",
) -> JobEvents:
    """The job's event log after `after_id` (for `rehost job logs --follow`)."""
    items = jobs.list_events(ctx, account, job_id, after_id=after_id, limit=limit)
    return JobEvents(job_id=job_id, events=[event_out(e, lang=lang) for e in items])
