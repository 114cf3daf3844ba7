"""Turn a raw `JobRequest` into a validated `JobSpec` (create) or a changed one (modify)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from rehost.domain import adaptation, errors, incremental, rules
from rehost.domain.models import DiskLimits, ExecutionMode, JobSpec, Source
from rehost.domain.rules import JobRequest


def _job_name(value: str) -> str:
    return rules.check_name(value, field="Name", what_en="job name", what_zh="任务名称")


def _image_name(value: str) -> str:
    return rules.check_name(value, field="ImageName", what_en="image name", what_zh="镜像名称")


def _adapt_options(
    current: JobSpec | None, req: JobRequest, *, region_adapts: bool
) -> tuple[bool | None, bool | None]:
    """The job's adapt_guests / keep_static_network overrides after `req` (None = region's)."""
    adapt = current.adapt_guests if current is not None else None
    keep = current.keep_static_network if current is not None else None
    if req.adapt_guests is not None:
        adapt = req.adapt_guests.stored
    if req.keep_static_network is not None:
        keep = req.keep_static_network.stored
    adaptation.check_job_options(adapt, keep, region_adapt=region_adapts)
    return adapt, keep


def build_spec(
    req: JobRequest,
    *,
    source: Source,
    limits: DiskLimits,
    region_adapts: bool,
    now: datetime,
    default_name: str,
    default_image_name: str,
) -> JobSpec:
    """Validate every create field (empty name/image name → the given defaults).

    `region_adapts`: the region's adapt_guests (a job that keeps its network must adapt).
    """
    mode = req.mode or ExecutionMode.CREATE_ONLY
    start = rules.check_schedule(mode, req.scheduled_start_time, now=now)
    run_once, frequency, keep = incremental.check_incremental(
        req.run_once, req.frequency_hours, req.max_images_to_keep)
    adapt, keep_network = _adapt_options(None, req, region_adapts=region_adapts)
    return JobSpec(
        name=_job_name(req.name or default_name),
        description=rules.check_description(req.description or ""),
        system_disk_size_gib=rules.check_system_disk(req.system_disk_size_gib, source, limits),
        data_disks=rules.check_data_disks(req.data_disks, source, limits),
        image_name=_image_name(req.image_name or default_image_name),
        mode=mode,
        scheduled_start_time=start,
        valid_time=rules.check_valid_time(req.valid_time, created_at=now, start=start),
        bandwidth_limit_kbps=rules.check_bandwidth(req.bandwidth_limit_kbps or 0),
        compress_level=rules.check_compress_level(
            rules.COMPRESS_MIN if req.compress_level is None else req.compress_level
        ),
        checksum=bool(req.checksum),
        run_once=run_once,
        frequency_hours=frequency,
        max_images_to_keep=keep,
        adapt_guests=adapt,
        keep_static_network=keep_network,
    )


def apply_labels(spec: JobSpec, req: JobRequest) -> JobSpec:
    """Apply name/description changes (allowed at any time)."""
    if req.name is not None:
        spec = replace(spec, name=_job_name(req.name))
    if req.description is not None:
        spec = replace(spec, description=rules.check_description(req.description))
    return spec


def apply_modify(
    spec: JobSpec,
    req: JobRequest,
    *,
    source: Source,
    limits: DiskLimits,
    region_adapts: bool,
    now: datetime,
    created_at: datetime,
) -> JobSpec:
    """Apply every given field (only before the first run; the caller checks the status)."""
    spec = apply_labels(spec, req)
    mode = req.mode or spec.mode
    start_in = req.scheduled_start_time
    if start_in is None and mode is ExecutionMode.SCHEDULED:
        start_in = spec.scheduled_start_time
    start = rules.check_schedule(mode, start_in, now=now)
    spec = _with_incremental(spec, req)
    adapt, keep_network = _adapt_options(spec, req, region_adapts=region_adapts)
    return replace(
        spec,
        adapt_guests=adapt,
        keep_static_network=keep_network,
        system_disk_size_gib=rules.check_system_disk(
            req.system_disk_size_gib or spec.system_disk_size_gib, source, limits
        ),
        data_disks=rules.check_data_disks(
            spec.data_disks if req.data_disks is None else req.data_disks, source, limits
        ),
        image_name=_image_name(spec.image_name if req.image_name is None else req.image_name),
        mode=mode,
        scheduled_start_time=start,
        valid_time=rules.check_valid_time(
            req.valid_time or spec.valid_time, created_at=created_at, start=start
        ),
        bandwidth_limit_kbps=rules.check_bandwidth(
            spec.bandwidth_limit_kbps if req.bandwidth_limit_kbps is None
            else req.bandwidth_limit_kbps
        ),
        compress_level=rules.check_compress_level(
            spec.compress_level if req.compress_level is None else req.compress_level
        ),
        checksum=spec.checksum if req.checksum is None else req.checksum,
    )


def apply_schedule(spec: JobSpec, req: JobRequest, *, created_at: datetime) -> JobSpec:
    """Apply labels, Frequency, MaxNumberOfImageToKeep and ValidTime (SMC: also after a run)."""
    if spec.run_once and (req.frequency_hours is not None or req.max_images_to_keep is not None):
        field = "Frequency" if req.frequency_hours is not None else "MaxNumberOfImageToKeep"
        raise errors.invalid(
            field, f"{field} applies only to incremental jobs (RunOnce=false); this job runs once.",
            f"{field} 仅适用于增量迁移任务（RunOnce=false）；该任务只运行一次。")
    spec = _with_incremental(apply_labels(spec, req), req)
    if req.valid_time is None:
        return spec
    return replace(spec, valid_time=rules.check_valid_time(
        req.valid_time, created_at=created_at, start=spec.scheduled_start_time))


def _with_incremental(spec: JobSpec, req: JobRequest) -> JobSpec:
    """The incremental fields after a modify (unchanged when none is given)."""
    run_once = spec.run_once if req.run_once is None else req.run_once
    frequency = req.frequency_hours if req.frequency_hours is not None else (
        spec.frequency_hours or None)
    keep = req.max_images_to_keep if req.max_images_to_keep is not None else (
        spec.max_images_to_keep or None)
    once, freq, kept = incremental.check_incremental(run_once, frequency, keep)
    return replace(spec, run_once=once, frequency_hours=freq, max_images_to_keep=kept)
