"""Response models of /jobs: a job, its progress per disk, pages, batch starts and events."""

from __future__ import annotations

from pydantic import Field

from rehost.api.schemas.base import Out, iso
from rehost.domain.models import Image, Job, JobEvent


class DiskProgressOut(Out):
    """Progress of one disk."""

    index: int
    bytes_total: int
    bytes_done: int
    rate_bytes_per_s: float
    eta_s: float | None


class DataDiskOut(Out):
    """A data disk of the job: index and target size in GiB."""

    index: int
    size: int


class JobOut(Out):
    """A replication job (`error_hint` in the request's Accept-Language)."""

    job_id: str
    name: str
    description: str
    source_id: str
    region_id: str
    status: str
    business_status: str
    error_code: str
    error_message: str
    error_hint: str
    error_hint_zh: str
    progress: float
    bytes_total: int
    bytes_done: int
    progress_disks: list[DiskProgressOut]
    system_disk_size: int
    data_disks: list[DataDiskOut]
    image_name: str
    image_id: str | None
    image_link: str | None
    image_verify_result: str | None
    execution_mode: str
    scheduled_start_time: str | None
    valid_time: str | None
    bandwidth_limit: int
    compress_level: int
    checksum: bool
    transit_id: str | None
    run_count: int
    run_once: bool
    frequency: int | None
    max_number_of_image_to_keep: int | None
    adapt_guests: bool | None = Field(description="the job's OS adaptation (null = the region's)")
    keep_static_network: bool | None = Field(
        description="the job's keep_static_network (null = the region's)")
    cycle: int
    next_cycle_time: str | None
    creation_time: str | None
    update_time: str | None
    start_time: str | None
    end_time: str | None


def job_out(j: Job, *, image: Image | None = None, lang: str = "en") -> JobOut:
    """A job as JSON (progress per disk, timestamps, image link and its verification)."""
    p, spec = j.progress, j.spec
    return JobOut(
        job_id=j.id, name=spec.name, description=spec.description, source_id=j.source_id,
        region_id=j.region_id, status=j.status, business_status=j.business_status,
        error_code=j.error_code, error_message=j.error_message,
        error_hint=j.localized_hint(lang), error_hint_zh=j.error_hint_zh,
        progress=p.percent, bytes_total=p.bytes_total, bytes_done=p.bytes_done,
        progress_disks=[DiskProgressOut(index=d.index, bytes_total=d.bytes_total,
                                        bytes_done=d.bytes_done,
                                        rate_bytes_per_s=d.rate_bytes_per_s, eta_s=d.eta_s)
                        for d in p.disks],
        system_disk_size=spec.system_disk_size_gib,
        data_disks=[DataDiskOut(index=d.index, size=d.size_gib) for d in spec.data_disks],
        image_name=spec.image_name, image_id=j.image_id,
        image_link=f"/api/v1/images/{j.image_id}" if j.image_id else None,
        image_verify_result=image.verify_result if image is not None else None,
        execution_mode=spec.mode, scheduled_start_time=iso(spec.scheduled_start_time),
        valid_time=iso(spec.valid_time), bandwidth_limit=spec.bandwidth_limit_kbps,
        compress_level=spec.compress_level, checksum=spec.checksum, transit_id=j.transit_id,
        run_count=j.run_count, run_once=spec.run_once, frequency=spec.frequency_hours or None,
        max_number_of_image_to_keep=spec.max_images_to_keep or None,
        adapt_guests=spec.adapt_guests, keep_static_network=spec.keep_static_network,
        cycle=j.cycle,
        next_cycle_time=iso(j.next_cycle_at), creation_time=iso(j.created_at),
        update_time=iso(j.updated_at), start_time=iso(j.started_at),
        end_time=iso(j.finished_at),
    )


class JobPage(Out):
    """GET /jobs."""

    jobs: list[JobOut]
    total_count: int
    page_number: int
    page_size: int


class StartError(Out):
    """Why one job of a batch did not start (the HTTP status it would have had alone)."""

    code: str
    message: str
    status: int


class StartResult(Out):
    """One job of POST /jobs/start."""

    job_id: str
    ok: bool
    job: JobOut | None
    error: StartError | None


class StartResults(Out):
    """POST /jobs/start."""

    results: list[StartResult]


class JobDeleted(Out):
    """DELETE /jobs/{id}."""

    job_id: str
    deleted: bool


class EventOut(Out):
    """One line of a job's log (`hint` in the request's Accept-Language)."""

    id: int
    time: str | None
    level: str
    code: str
    message: str
    message_zh: str
    hint: str
    hint_zh: str


def event_out(e: JobEvent, *, lang: str = "en") -> EventOut:
    """A job event as JSON."""
    return EventOut(id=e.id, time=iso(e.time), level=e.level, code=e.code,
                    message=e.message_en, message_zh=e.message_zh,
                    hint=e.localized_hint(lang), hint_zh=e.hint_zh)


class JobEvents(Out):
    """GET /jobs/{id}/events."""

    job_id: str
    events: list[EventOut]

