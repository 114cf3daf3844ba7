"""Rows → domain values (and the JSON shapes stored in rows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rehost.db.tables import (
    AccessKeyRow,
    AccountRow,
    ActivationCodeRow,
    ImageRow,
    JobEventRow,
    JobRow,
    RegionRow,
    SourceRow,
    TransitSlotRow,
)
from rehost.domain.ids import (
    AccessKeyId,
    AccountId,
    ActivationCodeId,
    ImageId,
    JobId,
    RegionId,
    SourceId,
    TransitId,
    UserId,
)
from rehost.domain.jobs import JobError, JobLifecycle
from rehost.domain.models import (
    AccessKey,
    Account,
    ActivationCode,
    ActivationCodeState,
    DataDiskSpec,
    DiskLimits,
    DiskProgress,
    EventLevel,
    ExecutionMode,
    Image,
    Job,
    JobEvent,
    JobProgress,
    JobSpec,
    Region,
    Source,
    SourceDisk,
    TransitSlot,
)
from rehost.domain.states import BusinessStatus, JobStatus, SourceState


def account(row: AccountRow) -> Account:
    """AccountRow → Account."""
    return Account(id=AccountId(row.id), name=row.name, created_at=row.created_at)


def access_key(row: AccessKeyRow) -> AccessKey:
    """AccessKeyRow → AccessKey."""
    return AccessKey(
        id=AccessKeyId(row.id), account_id=AccountId(row.account_id),
        created_at=row.created_at, enabled=row.enabled, user_id=UserId(row.user_id),
        last_used_at=row.last_used_at,
    )


def activation_code(row: ActivationCodeRow, *, now: datetime) -> ActivationCode:
    """ActivationCodeRow → ActivationCode with its computed state."""
    if row.disabled:
        state = ActivationCodeState.DISABLED
    elif row.expires_at <= now:
        state = ActivationCodeState.EXPIRED
    elif row.registered_count > 0:
        state = ActivationCodeState.ACTIVATED
    else:
        state = ActivationCodeState.UNACTIVATED
    return ActivationCode(
        id=ActivationCodeId(row.id), account_id=AccountId(row.account_id), name=row.name,
        count=row.count, registered_count=row.registered_count, created_at=row.created_at,
        expires_at=row.expires_at, disabled=row.disabled, state=state,
    )


def _int(value: Any, default: int = 0) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def source_disks(inventory: dict[str, Any]) -> tuple[SourceDisk, ...]:
    """Parse the disks of an agent inventory JSON (see docs/architecture.md)."""
    disks = []
    for raw in inventory.get("disks") or []:
        if not isinstance(raw, dict):
            continue
        size = _int(raw.get("size_bytes"))
        disks.append(SourceDisk(
            index=_int(raw.get("index"), -1), size_bytes=size,
            used_bytes=_int(raw.get("used_bytes")),
            min_size_bytes=_int(raw.get("min_size_bytes"), size),
            shrink_note=str(raw.get("shrink_note") or ""), path=str(raw.get("path") or ""),
        ))
    return tuple(sorted(disks, key=lambda d: d.index))


def source(row: SourceRow) -> Source:
    """SourceRow → Source."""
    inv = row.inventory or {}
    return Source(
        id=SourceId(row.id), account_id=AccountId(row.account_id), name=row.name,
        description=row.description, state=SourceState(row.state), error_code=row.error_code,
        status_info=row.status_info, hostname=str(inv.get("hostname", "")),
        os_name=str(inv.get("os_name", "")), os_version=str(inv.get("os_version", "")),
        kernel=str(inv.get("kernel", "")), arch=str(inv.get("arch", "")),
        boot_mode=str(inv.get("boot_mode", "")), agent_version=str(inv.get("agent_version", "")),
        disks=source_disks(inv), inventory=inv, created_at=row.created_at,
        last_heartbeat_at=row.last_heartbeat_at,
        activation_code_id=ActivationCodeId(row.activation_code_id)
        if row.activation_code_id else None,
    )


def limits(row: RegionRow) -> DiskLimits:
    """A region row's disk limits."""
    return DiskLimits(row.system_min_gib, row.system_max_gib, row.data_min_gib, row.data_max_gib)


def region(row: RegionRow, *, slots_in_use: int = 0) -> Region:
    """RegionRow → Region."""
    return Region(
        id=RegionId(row.id), account_id=AccountId(row.account_id), name=row.name,
        image_store_path=row.image_store_path, network_quota=row.network_quota,
        reserved_slots=row.reserved_slots, limits=limits(row), created_at=row.created_at,
        slots_in_use=slots_in_use, verify_after_migration=row.verify_after_migration,
        image_format=row.image_format, accept_failed_checks=row.accept_failed_checks,
        adapt_guests=row.adapt_guests, adapt_engine=row.adapt_engine,
        keep_static_network=row.keep_static_network,
    )


def spec(row: JobRow) -> JobSpec:
    """The validated parameters stored on a job row."""
    return JobSpec(
        name=row.name, description=row.description,
        system_disk_size_gib=row.system_disk_size_gib,
        data_disks=tuple(DataDiskSpec(int(d["index"]), int(d["size_gib"])) for d in row.data_disks),
        image_name=row.image_name, mode=ExecutionMode(row.mode),
        scheduled_start_time=row.scheduled_start_time, valid_time=row.valid_time,
        bandwidth_limit_kbps=row.bandwidth_limit_kbps, compress_level=row.compress_level,
        checksum=row.checksum, run_once=row.run_once, frequency_hours=row.frequency_hours,
        max_images_to_keep=row.max_images_to_keep,
        adapt_guests=row.adapt_guests, keep_static_network=row.keep_static_network,
    )


def write_spec(row: JobRow, value: JobSpec) -> None:
    """Store a JobSpec on a job row."""
    row.name, row.description = value.name, value.description
    row.system_disk_size_gib = value.system_disk_size_gib
    row.data_disks = [{"index": d.index, "size_gib": d.size_gib} for d in value.data_disks]
    row.image_name, row.mode = value.image_name, value.mode.value
    row.scheduled_start_time, row.valid_time = value.scheduled_start_time, value.valid_time
    row.bandwidth_limit_kbps = value.bandwidth_limit_kbps
    row.compress_level, row.checksum = value.compress_level, value.checksum
    row.run_once, row.frequency_hours = value.run_once, value.frequency_hours
    row.max_images_to_keep = value.max_images_to_keep
    row.adapt_guests, row.keep_static_network = value.adapt_guests, value.keep_static_network


def progress(raw: list[Any]) -> JobProgress:
    """Stored progress JSON → JobProgress."""
    return JobProgress(tuple(
        DiskProgress(
            index=int(d["index"]), bytes_total=int(d.get("bytes_total", 0)),
            bytes_done=int(d.get("bytes_done", 0)),
            rate_bytes_per_s=float(d.get("rate_bytes_per_s", 0.0)), eta_s=d.get("eta_s"),
        ) for d in raw
    ))


def progress_json(value: JobProgress) -> list[Any]:
    """JobProgress → stored JSON."""
    return [
        {"index": d.index, "bytes_total": d.bytes_total, "bytes_done": d.bytes_done,
         "rate_bytes_per_s": d.rate_bytes_per_s, "eta_s": d.eta_s}
        for d in value.disks
    ]


def job(row: JobRow, *, transit_id: str | None = None) -> Job:
    """JobRow → Job."""
    return Job(
        id=JobId(row.id), account_id=AccountId(row.account_id), source_id=SourceId(row.source_id),
        region_id=RegionId(row.region_id), spec=spec(row), status=JobStatus(row.status),
        business_status=BusinessStatus(row.business_status), progress=progress(row.progress),
        error_code=row.error_code, error_message=row.error_message, error_hint=row.error_hint,
        error_hint_zh=row.error_hint_zh or "",
        transit_id=TransitId(transit_id) if transit_id else None,
        image_id=ImageId(row.image_id) if row.image_id else None, created_at=row.created_at,
        updated_at=row.updated_at, started_at=row.started_at, finished_at=row.finished_at,
        run_count=row.run_count, cycle=row.cycle or 0, next_cycle_at=row.next_cycle_at,
    )


def lifecycle(row: JobRow) -> JobLifecycle:
    """JobRow → the part of the job its transitions change."""
    return JobLifecycle(
        status=JobStatus(row.status), business_status=BusinessStatus(row.business_status),
        run_once=bool(row.run_once), updated_at=row.updated_at, run_count=row.run_count,
        cycle=row.cycle or 0, cutover_pending=bool(row.cutover_pending),
        next_cycle_at=row.next_cycle_at, started_at=row.started_at, finished_at=row.finished_at,
        error=JobError(code=row.error_code, message=row.error_message, hint=row.error_hint,
                       hint_zh=row.error_hint_zh or ""),
    )


def write_lifecycle(row: JobRow, value: JobLifecycle) -> None:
    """Save a lifecycle returned by `rehost.domain.jobs` onto its row."""
    row.status, row.business_status = value.status.value, value.business_status.value
    row.run_count, row.cycle = value.run_count, value.cycle
    row.cutover_pending = value.cutover_pending
    row.next_cycle_at, row.started_at = value.next_cycle_at, value.started_at
    row.finished_at, row.updated_at = value.finished_at, value.updated_at
    row.error_code, row.error_message = value.error.code, value.error.message
    row.error_hint, row.error_hint_zh = value.error.hint, value.error.hint_zh


def transit(row: TransitSlotRow) -> TransitSlot:
    """TransitSlotRow → TransitSlot."""
    return TransitSlot(
        id=TransitId(row.id), job_id=JobId(row.job_id), account_id=AccountId(row.account_id),
        region_id=RegionId(row.region_id), slot=row.slot, endpoint=row.endpoint,
        work_dir=row.work_dir, created_at=row.created_at, released_at=row.released_at,
        host_id=row.host_id,
    )


def image(row: ImageRow) -> Image:
    """ImageRow → Image."""
    return Image(
        id=ImageId(row.id), account_id=AccountId(row.account_id), region_id=RegionId(row.region_id),
        name=row.name, job_id=JobId(row.job_id) if row.job_id else None,
        source_id=SourceId(row.source_id) if row.source_id else None, manifest=row.manifest,
        verify_result=row.verify_result, created_at=row.created_at,
    )


def event(row: JobEventRow) -> JobEvent:
    """JobEventRow → JobEvent."""
    return JobEvent(
        id=row.id, job_id=JobId(row.job_id), time=row.time, level=EventLevel(row.level),
        code=row.code, message_en=row.message_en, message_zh=row.message_zh, hint=row.hint,
        hint_zh=row.hint_zh or "",
    )
