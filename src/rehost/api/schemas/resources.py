"""Response models of sources, regions, images, activation codes, tags and the account."""

from __future__ import annotations

from typing import Any, Literal

from rehost.api.schemas.base import Out, iso
from rehost.domain.models import GIB, ActivationCode, Image, Region, Source
from rehost.services.image_files import DiskFile, ImageLocation
from rehost.services.image_verify import ImageVerification


class PreflightCheckOut(Out):
    """One line of the agent's pre-flight report, sent at import (`rehost-agent check`)."""

    name: str
    level: Literal["OK", "WARN", "FAIL"]
    detail: str


class SourceOut(Out):
    """A migration source (`disks`: the agent's inventory disks as it reported them)."""

    source_id: str
    name: str
    description: str
    state: str
    error_code: str
    status_info: str
    hostname: str
    os_name: str
    os_version: str
    kernel: str
    arch: str
    boot_mode: str
    agent_version: str
    system_disk_size: int | None
    disks: list[dict[str, Any]]  # the agent's JSON, stored as sent (JSON column)
    creation_time: str | None
    heartbeat_time: str | None
    activation_code_id: str | None
    preflight: list[PreflightCheckOut]  # the agent's report at import ([] when none)


def source_out(s: Source) -> SourceOut:
    """A source as JSON."""
    disks = s.inventory.get("disks", [])
    preflight = s.inventory.get("preflight") or []
    return SourceOut(
        source_id=s.id, name=s.name, description=s.description, state=s.state,
        error_code=s.error_code, status_info=s.status_info, hostname=s.hostname,
        os_name=s.os_name, os_version=s.os_version, kernel=s.kernel, arch=s.arch,
        boot_mode=s.boot_mode, agent_version=s.agent_version,
        system_disk_size=-(-s.system_disk.size_bytes // GIB) if s.system_disk else None,
        disks=disks if isinstance(disks, list) else [], creation_time=iso(s.created_at),
        heartbeat_time=iso(s.last_heartbeat_at), activation_code_id=s.activation_code_id,
        preflight=[PreflightCheckOut(**c) for c in preflight] if isinstance(preflight, list)
        else [],
    )


class SourcePage(Out):
    """GET /sources."""

    sources: list[SourceOut]
    total_count: int
    page_number: int
    page_size: int


class SourceDeleted(Out):
    """DELETE /sources/{id}."""

    source_id: str
    deleted: bool


class RegionOut(Out):
    """A region: its image store, network slots and disk size limits (GiB)."""

    region_id: str
    name: str
    image_store_path: str
    network_quota: int
    reserved_slots: int
    slots_in_use: int
    system_disk_min: int
    system_disk_max: int
    data_disk_min: int
    data_disk_max: int
    creation_time: str | None
    verify_after_migration: bool
    image_format: str
    accept_failed_checks: bool
    adapt_guests: bool
    adapt_engine: str
    keep_static_network: bool


def region_out(r: Region) -> RegionOut:
    """A region as JSON."""
    return RegionOut(
        region_id=r.id, name=r.name, image_store_path=r.image_store_path,
        network_quota=r.network_quota, reserved_slots=r.reserved_slots,
        slots_in_use=r.slots_in_use, system_disk_min=r.limits.system_min_gib,
        system_disk_max=r.limits.system_max_gib, data_disk_min=r.limits.data_min_gib,
        data_disk_max=r.limits.data_max_gib, creation_time=iso(r.created_at),
        verify_after_migration=r.verify_after_migration, image_format=r.image_format,
        accept_failed_checks=r.accept_failed_checks, adapt_guests=r.adapt_guests,
        adapt_engine=r.adapt_engine, keep_static_network=r.keep_static_network,
    )


class RegionList(Out):
    """GET /regions."""

    regions: list[RegionOut]


class ImageOut(Out):
    """A custom image (`manifest`: manifest.json as published)."""

    image_id: str
    name: str
    region_id: str
    job_id: str | None
    source_id: str | None
    manifest: dict[str, Any]  # storage/manifest.py's document (JSON column)
    verify_result: str
    creation_time: str | None


def image_out(i: Image) -> ImageOut:
    """An image as JSON."""
    return ImageOut(image_id=i.id, name=i.name, region_id=i.region_id, job_id=i.job_id,
                    source_id=i.source_id, manifest=i.manifest, verify_result=i.verify_result,
                    creation_time=iso(i.created_at))


class DiskFileOut(Out):
    """One disk file of an image and its download URL."""

    index: int
    path: str
    format: str
    size_bytes: int
    url: str


def disk_out(disk: DiskFile, image_id: str) -> DiskFileOut:
    """A disk file as JSON."""
    query = f"?format={disk.format}" if disk.exported else ""
    return DiskFileOut(index=disk.index, path=str(disk.path), format=disk.format,
                       size_bytes=disk.size_bytes,
                       url=f"/api/v1/images/{image_id}/disks/{disk.index}{query}")


class LocationOut(Out):
    """Where an image's files are (`transit_host`: the host keeping them, if not here)."""

    path: str
    transit_host: str | None
    disks: list[DiskFileOut]


def location_out(where: ImageLocation, image_id: str) -> LocationOut:
    """An image's location as JSON."""
    return LocationOut(path=str(where.directory), transit_host=where.host or None,
                       disks=[disk_out(d, image_id) for d in where.disks])


class ImageDetail(ImageOut):
    """GET /images/{id}: the image and where its files are."""

    location: LocationOut


class ImagePage(Out):
    """GET /images."""

    images: list[ImageOut]
    total_count: int
    page_number: int
    page_size: int


class ImageDeleted(Out):
    """DELETE /images/{id}."""

    image_id: str
    deleted: bool


class ExportOut(Out):
    """POST /images/{id}/export."""

    image_id: str
    format: str
    disks: list[DiskFileOut]


class VerificationOut(Out):
    """The outcome of POST /images/{id}/verify."""

    image_id: str
    boot_mode: str
    passed: bool
    reason: str
    reason_zh: str
    matched_line: str
    duration_s: float
    accelerator: str
    log_path: str
    verify_result: str


def verification_out(v: ImageVerification) -> VerificationOut:
    """The outcome of a verification boot as JSON."""
    r = v.result
    return VerificationOut(
        image_id=v.image_id, boot_mode=v.boot_mode, passed=r.passed, reason=r.reason,
        reason_zh=r.reason_zh, matched_line=r.matched_line, duration_s=round(r.duration_s, 2),
        accelerator=r.accelerator, log_path=str(r.log_path), verify_result=v.summary,
    )


class CodeOut(Out):
    """An activation code (never its secret)."""

    code_id: str
    name: str
    count: int
    registered_count: int
    state: str
    disabled: bool
    creation_time: str | None
    expire_time: str | None


def code_out(c: ActivationCode) -> CodeOut:
    """An activation code as JSON."""
    return CodeOut(code_id=c.id, name=c.name, count=c.count, registered_count=c.registered_count,
                   state=c.state, disabled=c.disabled, creation_time=iso(c.created_at),
                   expire_time=iso(c.expires_at))


class NewCodeOut(CodeOut):
    """POST /activation-codes: the code and its secret (shown once)."""

    code: str


class CodePage(Out):
    """GET /activation-codes."""

    activation_codes: list[CodeOut]
    total_count: int
    page_number: int
    page_size: int


class AccountOut(Out):
    """GET /account."""

    account_id: str


class CredentialsConfirmed(Out):
    """POST /credentials/confirm."""

    credentials_file_deleted: bool


class Tagged(Out):
    """POST /tags."""

    resource_type: str
    resource_ids: list[str]
    tagged: bool


class Untagged(Out):
    """POST /tags/untag."""

    resource_type: str
    resource_ids: list[str]
    untagged: bool


class TagOut(Out):
    """One tag of one resource."""

    resource_type: str
    resource_id: str
    key: str
    value: str


class TagList(Out):
    """GET /tags (`next_offset` null on the last page)."""

    tags: list[TagOut]
    next_offset: int | None
