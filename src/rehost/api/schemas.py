"""REST request/response shapes (pydantic, at the edge only), SMC-like names in snake_case."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from rehost.domain.models import (
    GIB,
    ActivationCode,
    Image,
    Job,
    JobEvent,
    Region,
    Source,
)
from rehost.services.image_verify import ImageVerification


def has_nul(value: Any) -> bool:
    """Whether a JSON value holds a NUL character in any string (PostgreSQL refuses them)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


class Model(BaseModel):
    """Base: unknown fields are refused (typos become InvalidParameter errors)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError("contains a NUL character (\\0); remove it")
        return value


class DataDiskIn(Model):
    """A data disk in a create/modify request."""

    index: StrictInt
    size: StrictInt = Field(description="Target size in GiB")


class TagIn(Model):
    """One tag."""

    key: str
    value: str = ""


class JobCreateIn(Model):
    """POST /jobs."""

    source_id: str
    region_id: str = "local"
    name: str | None = None
    description: str | None = None
    system_disk_size: StrictInt | None = Field(None, description="GiB; default: source size")
    data_disks: list[DataDiskIn] | None = None
    image_name: str | None = None
    execution_mode: str | None = Field(None, description="create-only | immediate | scheduled")
    scheduled_start_time: datetime | None = None
    valid_time: datetime | None = None
    bandwidth_limit: StrictInt | None = Field(None, description="KB/s, 0 = unlimited")
    compress_level: StrictInt | None = Field(None, description="0–10, 0 = off")
    checksum: StrictBool | None = None
    run_once: StrictBool | None = Field(None, description="false = incremental job")
    frequency: StrictInt | None = Field(None, description="incremental: hours between cycles")
    max_number_of_image_to_keep: StrictInt | None = Field(None, description="incremental: 1–10")
    tags: list[TagIn] | None = Field(None, description="≤ 20 key/value tags")
    client_token: str | None = Field(
        None, description="idempotency: a retry with the same token and fields (24 h) gets the "
        "same job; other fields → IdempotentParameterMismatch")


class JobModifyIn(Model):
    """PATCH /jobs/{id}: every field optional."""

    name: str | None = None
    description: str | None = None
    system_disk_size: StrictInt | None = None
    data_disks: list[DataDiskIn] | None = None
    image_name: str | None = None
    execution_mode: str | None = None
    scheduled_start_time: datetime | None = None
    valid_time: datetime | None = None
    bandwidth_limit: StrictInt | None = None
    compress_level: StrictInt | None = None
    checksum: StrictBool | None = None
    run_once: StrictBool | None = None
    frequency: StrictInt | None = None
    max_number_of_image_to_keep: StrictInt | None = None


class BatchStartIn(Model):
    """POST /jobs/start."""

    job_ids: list[str]


class TagsIn(Model):
    """POST /tags."""

    resource_type: str = Field(description="replicationjob | sourceserver")
    resource_ids: list[str]
    tags: list[TagIn]


class UntagIn(Model):
    """POST /tags/untag."""

    resource_type: str = Field(description="replicationjob | sourceserver")
    resource_ids: list[str]
    keys: list[str] = []
    all: StrictBool = False


class CutOverIn(Model):
    """POST /jobs/{id}/cutover."""

    sync_data: StrictBool = Field(True, description="run one last delta cycle before finishing")


class SourceModifyIn(Model):
    """PATCH /sources/{id}."""

    name: str | None = None
    description: str | None = None


class ActivationCodeIn(Model):
    """POST /activation-codes."""

    count: StrictInt = 100
    ttl_days: StrictInt = 30
    name: str = ""


class ImageVerifyIn(Model):
    """POST /images/{id}/verify."""

    timeout: float = Field(300.0, gt=0, le=3600, description="Seconds before the boot fails")
    success_patterns: list[str] = Field(
        default_factory=list, description="Extra regexes that mean success (besides login:)")


class RegionIn(Model):
    """POST /regions."""

    region_id: str
    name: str = ""
    image_store_path: str = ""
    network_quota: StrictInt = 10
    reserved_slots: StrictInt = 0
    system_disk_min: StrictInt = 1
    system_disk_max: StrictInt = 2048
    data_disk_min: StrictInt = 1
    data_disk_max: StrictInt = 32768
    verify_after_migration: bool = False
    image_format: Literal["raw", "qcow2"] = "raw"
    accept_failed_checks: bool = False
    adapt_guests: bool = False


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def source_out(s: Source) -> dict[str, Any]:
    """A source as JSON."""
    return {
        "source_id": s.id, "name": s.name, "description": s.description, "state": s.state,
        "error_code": s.error_code, "status_info": s.status_info, "hostname": s.hostname,
        "os_name": s.os_name, "os_version": s.os_version, "kernel": s.kernel, "arch": s.arch,
        "boot_mode": s.boot_mode, "agent_version": s.agent_version,
        "system_disk_size": -(-s.system_disk.size_bytes // GIB) if s.system_disk else None,
        "disks": s.inventory.get("disks", []), "creation_time": _iso(s.created_at),
        "heartbeat_time": _iso(s.last_heartbeat_at), "activation_code_id": s.activation_code_id,
        "preflight": s.inventory.get("preflight") or [],  # the agent's report at import
    }


def job_out(j: Job, *, image: Image | None = None, lang: str = "en") -> dict[str, Any]:
    """A job as JSON (progress per disk, timestamps, image link and its verification).

    `error_hint` is in `lang` (the request's Accept-Language); `error_hint_zh` is the Chinese.
    """
    p, spec = j.progress, j.spec
    return {
        "job_id": j.id, "name": spec.name, "description": spec.description,
        "source_id": j.source_id, "region_id": j.region_id, "status": j.status,
        "business_status": j.business_status, "error_code": j.error_code,
        "error_message": j.error_message, "error_hint": j.localized_hint(lang),
        "error_hint_zh": j.error_hint_zh,
        "progress": p.percent, "bytes_total": p.bytes_total, "bytes_done": p.bytes_done,
        "progress_disks": [
            {"index": d.index, "bytes_total": d.bytes_total, "bytes_done": d.bytes_done,
             "rate_bytes_per_s": d.rate_bytes_per_s, "eta_s": d.eta_s} for d in p.disks
        ],
        "system_disk_size": spec.system_disk_size_gib,
        "data_disks": [{"index": d.index, "size": d.size_gib} for d in spec.data_disks],
        "image_name": spec.image_name, "image_id": j.image_id,
        "image_link": f"/api/v1/images/{j.image_id}" if j.image_id else None,
        "image_verify_result": image.verify_result if image is not None else None,
        "execution_mode": spec.mode, "scheduled_start_time": _iso(spec.scheduled_start_time),
        "valid_time": _iso(spec.valid_time), "bandwidth_limit": spec.bandwidth_limit_kbps,
        "compress_level": spec.compress_level, "checksum": spec.checksum,
        "transit_id": j.transit_id, "run_count": j.run_count,
        "run_once": spec.run_once, "frequency": spec.frequency_hours or None,
        "max_number_of_image_to_keep": spec.max_images_to_keep or None,
        "cycle": j.cycle, "next_cycle_time": _iso(j.next_cycle_at),
        "creation_time": _iso(j.created_at), "update_time": _iso(j.updated_at),
        "start_time": _iso(j.started_at), "end_time": _iso(j.finished_at),
    }


def region_out(r: Region) -> dict[str, Any]:
    """A region as JSON."""
    return {
        "region_id": r.id, "name": r.name, "image_store_path": r.image_store_path,
        "network_quota": r.network_quota, "reserved_slots": r.reserved_slots,
        "slots_in_use": r.slots_in_use, "system_disk_min": r.limits.system_min_gib,
        "system_disk_max": r.limits.system_max_gib, "data_disk_min": r.limits.data_min_gib,
        "data_disk_max": r.limits.data_max_gib, "creation_time": _iso(r.created_at),
        "verify_after_migration": r.verify_after_migration, "image_format": r.image_format,
        "accept_failed_checks": r.accept_failed_checks, "adapt_guests": r.adapt_guests,
    }


def image_out(i: Image) -> dict[str, Any]:
    """An image as JSON."""
    return {
        "image_id": i.id, "name": i.name, "region_id": i.region_id, "job_id": i.job_id,
        "source_id": i.source_id, "manifest": i.manifest, "verify_result": i.verify_result,
        "creation_time": _iso(i.created_at),
    }


def verification_out(v: ImageVerification) -> dict[str, Any]:
    """The outcome of `POST /images/{id}/verify`."""
    r = v.result
    return {
        "image_id": v.image_id, "boot_mode": v.boot_mode, "passed": r.passed,
        "reason": r.reason, "reason_zh": r.reason_zh, "matched_line": r.matched_line,
        "duration_s": round(r.duration_s, 2), "accelerator": r.accelerator,
        "log_path": str(r.log_path), "verify_result": v.summary,
    }


def code_out(c: ActivationCode) -> dict[str, Any]:
    """An activation code as JSON (never its secret)."""
    return {
        "code_id": c.id, "name": c.name, "count": c.count, "registered_count": c.registered_count,
        "state": c.state, "disabled": c.disabled, "creation_time": _iso(c.created_at),
        "expire_time": _iso(c.expires_at),
    }


def event_out(e: JobEvent, *, lang: str = "en") -> dict[str, Any]:
    """A job event as JSON (`hint` in `lang`, the request's Accept-Language)."""
    return {
        "id": e.id, "time": _iso(e.time), "level": e.level, "code": e.code,
        "message": e.message_en, "message_zh": e.message_zh, "hint": e.localized_hint(lang),
        "hint_zh": e.hint_zh,
    }
