"""Services the data plane (transit) calls: task lookup, status, progress, failure, finish."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rehost.db import convert
from rehost.db.tables import ImageRow, JobRow, SourceRow, TransitSlotRow
from rehost.domain import errors, jobs
from rehost.domain.ids import PREFIX_IMAGE, AccountId, ImageId, JobId
from rehost.domain.jobs import JobError
from rehost.domain.models import DiskProgress, EventLevel, Image, Job, JobProgress, TransitSlot
from rehost.domain.states import BusinessStatus, JobStatus
from rehost.services import crypto, cycles, events, lifecycle, lookup, transits
from rehost.services.context import ServiceContext


@dataclass(frozen=True, slots=True)
class TransitTask:
    """What a transit needs to receive a job's disks."""

    job: Job
    transit: TransitSlot
    disk_sizes_bytes: dict[int, int]  # index -> source size
    target_sizes_bytes: dict[int, int]  # index -> target size
    boot_mode: str = "BIOS"


_BUSINESS_ZH = {"Preparing": "准备中", "Syncing": "同步中", "Processing": "处理中",
                "Cleaning": "清除中"}


def _job(session: Session, job_id: str, *, lock: bool = True) -> JobRow:
    query = select(JobRow).where(JobRow.id == job_id)
    row = session.scalars(query.with_for_update() if lock else query).first()
    if row is None:
        raise errors.not_found("Job", job_id)
    return row


def task_by_data_token(ctx: ServiceContext, data_token: str) -> TransitTask:
    """The job + transit a data token belongs to (unreleased transits only)."""
    with ctx.db.read() as session:
        row = session.scalars(select(TransitSlotRow).where(
            TransitSlotRow.data_token_hash == crypto.sha256_hex(data_token),
            TransitSlotRow.released_at.is_(None),
        )).first()
        if row is None:
            raise errors.Unauthenticated(
                "InvalidDataToken", "Unknown or released data token.", "数据令牌无效或已释放。"
            )
        return _task(session, row)


def task_by_job(ctx: ServiceContext, job_id: JobId) -> TransitTask:
    """The job + its unreleased transit (for the image builder)."""
    with ctx.db.read() as session:
        row = session.scalars(select(TransitSlotRow).where(
            TransitSlotRow.job_id == job_id, TransitSlotRow.released_at.is_(None),
        )).first()
        if row is None:
            raise errors.not_found("Transit of job", job_id)
        return _task(session, row)


def _task(session: Session, row: TransitSlotRow) -> TransitTask:
    job = lookup.job_value(session, _job(session, row.job_id, lock=False))
    src = convert.source(session.get_one(SourceRow, job.source_id))
    sizes = {d.index: d.size_bytes for d in src.disks}
    targets = {0: job.spec.system_disk_size_gib * 1024**3}
    targets.update({d.index: d.size_gib * 1024**3 for d in job.spec.data_disks})
    wanted = {i: s for i, s in sizes.items() if i in targets}
    return TransitTask(job, convert.transit(row), wanted, targets, src.boot_mode or "BIOS")


def get_job_any(ctx: ServiceContext, job_id: JobId) -> Job:
    """A job by id, whatever its account (the data plane authenticated by data token)."""
    with ctx.db.read() as session:
        return lookup.job_value(session, _job(session, job_id, lock=False))


def set_business_status(ctx: ServiceContext, job_id: JobId, status: BusinessStatus) -> Job:
    """Move a Running job's business status forward (Preparing → Syncing → …)."""
    with ctx.db.transaction() as session:
        row = _job(session, job_id)
        current = BusinessStatus(row.business_status)
        lifecycle.apply(session, row, lambda job: jobs.advance(job, status, now=ctx.now()))
        if current is not status:
            events.add(session, job_id=row.id, account_id=row.account_id, now=row.updated_at,
                       level=EventLevel.INFO, message_en=f"Business status: {status}.",
                       message_zh=f"业务状态：{_BUSINESS_ZH.get(status.value, status.value)}。")
        return lookup.job_value(session, row)


def update_progress(ctx: ServiceContext, job_id: JobId, disks: Sequence[DiskProgress], *,
                    log_milestones: bool = False) -> Job:
    """Replace per-disk progress (bytes total/done, rate, ETA) of a Running job.

    `log_milestones`: one job-log line each time the sync crosses another 10 % of its bytes
    (decided from the stored progress, so any API replica may receive the report). Progress
    is no part of an agent's work: the write does not wake long polls.
    """
    with ctx.db.transaction(wakes_polls=False) as session:
        row = _job(session, job_id)
        if row.status != JobStatus.RUNNING:
            raise errors.job_status("report progress", row.status, JobStatus.RUNNING)
        before = convert.progress(row.progress)
        merged = {d.index: d for d in before.disks}
        merged.update({d.index: d for d in disks})
        after = JobProgress(tuple(merged[i] for i in sorted(merged)))
        row.progress = convert.progress_json(after)
        row.updated_at = ctx.now()
        if log_milestones and _step(before) < _step(after) < 10:
            events.add(session, job_id=row.id, account_id=row.account_id, now=row.updated_at,
                       level=EventLevel.INFO, code="Transit.Progress",
                       message_en=f"Synced {_progress_text(after)}.",
                       message_zh=f"已同步 {_progress_text(after)}。")
        return lookup.job_value(session, row)


def _step(progress: JobProgress) -> int:
    """How many tenths of the job's bytes are synced (0–10)."""
    total = progress.bytes_total
    return int(progress.bytes_done * 10 // total) if total > 0 else 0


def _progress_text(progress: JobProgress) -> str:
    mib = 1024 * 1024
    done, total = progress.bytes_done, progress.bytes_total
    rate = sum(d.rate_bytes_per_s for d in progress.disks)
    eta_s = max((d.eta_s or 0.0 for d in progress.disks), default=0.0)
    return (f"{done * 100 / total:.0f}% ({done / mib:.0f}/{total / mib:.0f} MiB), "
            f"{rate / mib:.1f} MiB/s" + (f", ETA {eta_s:.0f} s" if eta_s else ""))


def sync_done(ctx: ServiceContext, job_id: JobId) -> Job:
    """All disks are durably received: business status → Processing."""
    return set_business_status(ctx, job_id, BusinessStatus.PROCESSING)


def jobs_in_business_status(ctx: ServiceContext, status: BusinessStatus) -> list[JobId]:
    """Running jobs whose business status is `status` (e.g. builds to resume after a restart)."""
    with ctx.db.read() as session:
        ids = session.scalars(select(JobRow.id).where(
            JobRow.status == JobStatus.RUNNING.value, JobRow.business_status == status.value,
        )).all()
    return [JobId(i) for i in ids]


def fail_job(
    ctx: ServiceContext, job_id: JobId, *, code: str, message_en: str, message_zh: str,
    hint: str = "", hint_zh: str = "",
) -> Job:
    """Running job → InError with code/message/hint (en + zh) and an error event; transit kept."""
    with ctx.db.transaction() as session:
        row = _job(session, job_id)
        error = JobError(code=code, message=message_en, message_zh=message_zh, hint=hint,
                         hint_zh=hint_zh)
        lifecycle.apply(session, row, lambda job: jobs.fail(job, now=ctx.now(), error=error))
        events.add(session, job_id=row.id, account_id=row.account_id, now=row.updated_at,
                   level=EventLevel.ERROR, code=code, message_en=message_en,
                   message_zh=message_zh, hint=hint, hint_zh=hint_zh)
        return lookup.job_value(session, row)


def finish_job(
    ctx: ServiceContext, job_id: JobId, *, manifest: dict[str, Any], verify_result: str = "",
    image_id: str | None = None,
) -> Image:
    """Register the image (unique name per region), release the transit, job → Finished.

    An incremental job instead goes Waiting with its transit kept, and its images beyond
    max_images_to_keep are deleted. `image_id` is the id the image store published under
    (default: a new `m-…`).
    """
    now = ctx.now()
    image_id = ImageId(image_id or ctx.new_id(PREFIX_IMAGE))
    released, pruned = None, []
    try:
        with ctx.db.transaction() as session:
            row = _job(session, job_id)
            image = _register(session, row, image_id, manifest, verify_result, now)
            last = jobs.is_last_cycle(convert.lifecycle(row))  # a cut-over's cycle is last
            lifecycle.apply(session, row, lambda job: jobs.finish(
                job, now=now, frequency_hours=row.frequency_hours))
            if last:
                released = transits.release(session, row.id, now=now)
            if not row.run_once:
                pruned = cycles.images_beyond_keep(session, row)
            _log_end(session, row, image_id, now)
            result = convert.image(image)
    except IntegrityError as exc:
        raise errors.Duplicate("ImageName.Duplicate", "The image name is already taken.",
                               "镜像名称已被占用。") from exc
    if released is not None:
        transits.close_receiver(ctx, released)
    cycles.prune_images(ctx, AccountId(result.account_id), job_id, pruned)
    return result


def _register(session: Session, row: JobRow, image_id: ImageId, manifest: dict[str, Any],
              verify_result: str, now: datetime) -> ImageRow:
    image = ImageRow(
        id=image_id, account_id=row.account_id, region_id=row.region_id,
        name=cycles.image_name(row), job_id=row.id, source_id=row.source_id, manifest=manifest,
        verify_result=verify_result, created_at=now,
    )
    session.add(image)
    session.flush()
    row.image_id = image_id
    return image


def _log_end(session: Session, row: JobRow, image_id: ImageId, now: datetime) -> None:
    if row.run_once or row.cutover_pending:
        en, zh = f"Finished: image {image_id}.", f"迁移完成：镜像 {image_id}。"
    else:
        at = row.next_cycle_at.isoformat() if row.next_cycle_at else "-"
        en = f"Cycle {row.cycle} done: image {image_id}; waiting, next cycle at {at}."
        zh = f"第 {row.cycle} 轮同步完成：镜像 {image_id}；等待中，下一轮于 {at} 开始。"
    last = row.run_once or row.cutover_pending
    events.add(session, job_id=row.id, account_id=row.account_id, now=now,
               level=EventLevel.INFO, code="" if last else "ReplicationJob.Waiting",
               message_en=en, message_zh=zh)


def log_event(
    ctx: ServiceContext, job_id: JobId, *, level: EventLevel, code: str = "", message_en: str,
    message_zh: str, hint: str = "", hint_zh: str = "",
) -> None:
    """Append a line to a job's log (the transit's own milestones).

    A log line is no part of an agent's work: the write does not wake long polls (each wake
    re-reads the work of every waiting agent; a build logs a line per step).
    """
    with ctx.db.transaction(wakes_polls=False) as session:
        row = _job(session, job_id, lock=False)
        events.add(session, job_id=row.id, account_id=AccountId(row.account_id), now=ctx.now(),
                   level=level, code=code, message_en=message_en, message_zh=message_zh,
                   hint=hint, hint_zh=hint_zh)
