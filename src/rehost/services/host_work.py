"""What a transit host asks the control plane: data tokens, progress, work, build results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rehost.db.tables import ImageRow, JobRow, RegionRow, TransitSlotRow
from rehost.domain import adaptation, errors
from rehost.domain.errors import RehostError
from rehost.domain.ids import PREFIX_IMAGE, JobId
from rehost.domain.models import EventLevel
from rehost.domain.states import BusinessStatus, JobStatus
from rehost.services import crypto, dataplane
from rehost.services.context import ServiceContext
from rehost.services.dataplane import TransitTask
from rehost.services.transit_control import ServiceTransitControl
from rehost.services.transit_hosts import TransitHost, is_offline
from rehost.transit.buildstep import BuildPlan
from rehost.transit.ports import DiskDigest, ReceiverProgress, TransitJobSpec

_PAUSED = (JobStatus.STOPPED.value, JobStatus.IN_ERROR.value)


@dataclass(frozen=True, slots=True)
class HostBuildOrder:
    """A job of this host to build: its transit (work dir name) and the build plan."""

    transit_id: str
    plan: BuildPlan


@dataclass(frozen=True, slots=True)
class HostWork:
    """The host's instructions: drop connections, delete work dirs and images, build images."""

    disconnect: tuple[str, ...]  # job ids (paused or failed)
    release: tuple[tuple[str, str], ...]  # (transit id, job id or "") whose dirs must go
    build: tuple[HostBuildOrder, ...]
    delete_images: tuple[str, ...] = ()  # registered here, since deleted from the catalogue


def control_for(ctx: ServiceContext, host_id: str) -> ServiceTransitControl:
    """The host's TransitControl (it holds no state: any API replica may serve the host)."""
    return ServiceTransitControl(ctx, host_id=host_id)


def own_task(ctx: ServiceContext, host: TransitHost, job_id: str) -> TransitTask:
    """The job + transit if the transit is on this host, else InvalidJobId.NotFound."""
    try:
        task = dataplane.task_by_job(ctx, JobId(job_id))
    except RehostError as exc:
        raise errors.not_found("Job", job_id) from exc
    if task.transit.host_id != host.id or task.job.account_id != host.account_id:
        raise errors.not_found("Job", job_id)
    return task


def lookup(ctx: ServiceContext, host: TransitHost, token: str) -> tuple[TransitJobSpec, str] | None:
    """(spec, transit id) of a data token whose transit is on this host and may receive data."""
    try:
        task = dataplane.task_by_data_token(ctx, token)
    except RehostError:
        return None
    if task.transit.host_id != host.id:
        return None
    spec = control_for(ctx, host.id).lookup(token)
    return (spec, task.transit.id) if spec is not None else None


def report_progress(ctx: ServiceContext, host: TransitHost, progress: ReceiverProgress) -> None:
    """Durable progress of one of the host's jobs."""
    own_task(ctx, host, progress.job_id)
    control_for(ctx, host.id).report_progress(progress)


def sync_done(ctx: ServiceContext, host: TransitHost, job_id: str,
              digests: tuple[DiskDigest, ...]) -> None:
    """All data of the host's job is durable: Processing (the host builds the image)."""
    own_task(ctx, host, job_id)
    control_for(ctx, host.id).sync_done(job_id, digests)


def sync_failed(ctx: ServiceContext, host: TransitHost, job_id: str, code: str,
                message: str) -> None:
    """The host's transit gave up on a job: InError."""
    own_task(ctx, host, job_id)
    control_for(ctx, host.id).sync_failed(job_id, code, message)


def image_id_for(transit_id: str) -> str:
    """The image id a transit's build publishes under (stable across polls and restarts)."""
    return f"{PREFIX_IMAGE}-{crypto.sha256_hex('image:' + transit_id)[:20]}"


def work(ctx: ServiceContext, host: TransitHost, have: list[str],
         images: list[str] | None = None) -> HostWork:
    """Instructions for a host that holds the work dirs `have` and the image ids `images`."""
    disconnect: list[str] = []
    build: list[HostBuildOrder] = []
    with ctx.db.read() as session:
        rows = session.scalars(
            select(TransitSlotRow).where(TransitSlotRow.host_id == host.id)).all()
        active = {r.id: r for r in rows if r.released_at is None}
        known = {r.id: r.job_id for r in rows}
        for row in active.values():
            job = session.get_one(JobRow, row.job_id)
            if job.status in _PAUSED:
                disconnect.append(job.id)
            elif (job.status, job.business_status) == (JobStatus.RUNNING.value,
                                                       BusinessStatus.PROCESSING.value):
                build.append(HostBuildOrder(row.id, _plan(ctx, session.get_one(
                    RegionRow, (job.account_id, job.region_id)), row)))
        doomed = _deleted_images(session, rows, images or [])
    release = tuple((t, known.get(t, "")) for t in have if t not in active)
    return HostWork(tuple(disconnect), release, tuple(build), doomed)


def _deleted_images(session: Session, rows: Sequence[TransitSlotRow],
                    images: list[str]) -> tuple[str, ...]:
    """Ids of `images` registered from this host's builds and since deleted from the catalogue.

    Never an id reserved by an unreleased transit (its build may have published it, not yet
    registered) nor one this host never registered.
    """
    registered = {r.image_id for r in rows if r.image_id}
    reserved = {image_id_for(r.id) for r in rows if r.released_at is None}
    wanted = [i for i in images if i in registered and i not in reserved]
    if not wanted:
        return ()
    kept = set(session.scalars(select(ImageRow.id).where(ImageRow.id.in_(wanted))))
    return tuple(i for i in wanted if i not in kept)


def _plan(ctx: ServiceContext, region: RegionRow, transit: TransitSlotRow) -> BuildPlan:
    task = dataplane.task_by_job(ctx, JobId(transit.job_id))
    spec = task.job.spec
    adapt = adaptation.resolve(spec.adapt_guests, spec.keep_static_network,
                               region_adapt=region.adapt_guests,
                               region_keep=region.keep_static_network)
    return BuildPlan(
        job_id=task.job.id, source_id=task.job.source_id, image_id=image_id_for(transit.id),
        image_name=task.job.spec.image_name, work_dir=Path(transit.id),
        disks=tuple((i, size, task.target_sizes_bytes[i])
                    for i, size in sorted(task.disk_sizes_bytes.items())),
        boot_mode=task.boot_mode, disk_format=region.image_format,
        verify=region.verify_after_migration, accept_failed_checks=region.accept_failed_checks,
        adapt_guests=adapt.adapt_guests, adapt_engine=region.adapt_engine,
        keep_static_network=adapt.keep_static_network,
    )


def _processing(ctx: ServiceContext, host: TransitHost, job_id: str) -> TransitTask:
    task = own_task(ctx, host, job_id)
    if (task.job.status, task.job.business_status) != (JobStatus.RUNNING,
                                                       BusinessStatus.PROCESSING):
        raise errors.job_status("finish the image build of", task.job.status,
                                "Running (Processing)")
    return task


def finish_build(ctx: ServiceContext, host: TransitHost, job_id: str, *,
                 manifest: dict[str, Any], image_id: str, verify_result: str) -> str:
    """Register the image the host published, release the transit, job → Finished."""
    task = _processing(ctx, host, job_id)
    if image_id != image_id_for(task.transit.id):
        raise errors.invalid("ImageId", "The image id does not belong to this build.",
                             "镜像 ID 与本次构建不符。")
    dataplane.set_business_status(ctx, JobId(job_id), BusinessStatus.CLEANING)
    image = dataplane.finish_job(ctx, JobId(job_id), manifest=manifest,
                                 verify_result=verify_result, image_id=image_id)
    with ctx.db.transaction() as session:  # the host keeps the files (see `work`)
        session.get_one(TransitSlotRow, task.transit.id).image_id = image.id
    return image.id


def fail_build(ctx: ServiceContext, host: TransitHost, job_id: str, *, code: str,
               message: str, hint: str, hint_zh: str = "") -> None:
    """The host's build failed: job → InError (the transit and its disks are kept)."""
    task = own_task(ctx, host, job_id)
    if task.job.status is not JobStatus.RUNNING:
        raise errors.job_status("fail the image build of", task.job.status, "Running")
    dataplane.fail_job(ctx, JobId(job_id), code=code, message_en=message, message_zh=message,
                       hint=hint, hint_zh=hint_zh)


def log_line(ctx: ServiceContext, host: TransitHost, job_id: str, *, level: str, code: str,
             message_en: str, message_zh: str, hint: str, hint_zh: str = "") -> None:
    """One line of the job's log written by the host (build milestones, checks)."""
    own_task(ctx, host, job_id)
    dataplane.log_event(ctx, JobId(job_id), level=EventLevel(level), code=code,
                        message_en=message_en, message_zh=message_zh, hint=hint, hint_zh=hint_zh)


_STRANDED = (BusinessStatus.PREPARING.value, BusinessStatus.SYNCING.value)


def fail_stranded(ctx: ServiceContext) -> tuple[JobId, ...]:
    """Jobs Running (Preparing/Syncing) on a host that went offline → InError (for a tick).

    The transit is kept: if the host comes back the job resumes; started while the host
    is still offline, the job re-migrates through another transit (`runs.start_job`).
    """
    with ctx.db.read() as session:
        rows = session.execute(select(TransitSlotRow.host_id, JobRow.id).join(
            JobRow, JobRow.id == TransitSlotRow.job_id).where(
            TransitSlotRow.host_id.is_not(None), TransitSlotRow.released_at.is_(None),
            JobRow.status == JobStatus.RUNNING.value, JobRow.business_status.in_(_STRANDED),
        )).all()
        stranded = [JobId(j) for h, j in rows if is_offline(ctx, session, h)]
    failed: list[JobId] = []
    for job_id in stranded:
        try:
            dataplane.fail_job(
                ctx, job_id, code="Transit.HostOffline",
                message_en="The transit host of this job is offline.",
                message_zh="该任务的中转主机已离线。",
                hint=("Start the transit host again, or start the job to re-migrate through "
                      "another transit."),
                hint_zh="请重新启动中转主机，或重新开始任务以通过其他中转实例重新迁移。")
        except RehostError:
            continue  # the job moved on meanwhile (paused, finished)
        failed.append(job_id)
    return tuple(failed)
