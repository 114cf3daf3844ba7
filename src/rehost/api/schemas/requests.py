"""REST request bodies (pydantic, at the edge only), SMC-like names in snake_case."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator


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
    adapt_guests: StrictBool | None = Field(
        None, description="OS-adapt the guest before publishing (false: byte-exact copy); "
        "null or absent = the region's adapt_guests")
    keep_static_network: StrictBool | None = Field(
        None, description="adaptation keeps the source's network configuration (needs "
        "adaptation on); null or absent = the region's keep_static_network")
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
    adapt_guests: StrictBool | None = Field(
        None, description="OS-adapt the guest before publishing (false: byte-exact copy); "
        "null = back to the region's, absent = unchanged")
    keep_static_network: StrictBool | None = Field(
        None, description="adaptation keeps the source's network configuration (needs "
        "adaptation on); null = back to the region's, absent = unchanged")


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
    adapt_engine: str = Field("rehost", description="rehost or virt-v2v (virt-v2v-in-place)")
    keep_static_network: bool = False
