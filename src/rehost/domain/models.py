"""Domain values returned by the services (frozen; change with `dataclasses.replace`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

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
from rehost.domain.states import BusinessStatus, JobStatus, SourceState

GIB = 1024**3
T = TypeVar("T")


class ExecutionMode(enum.StrEnum):
    """When a job starts after creation."""

    CREATE_ONLY = "create-only"
    IMMEDIATE = "immediate"
    SCHEDULED = "scheduled"


class Override(enum.StrEnum):
    """A job's choice for a region setting it may override (REGION = keep the region's)."""

    ON = "on"
    OFF = "off"
    REGION = "region"

    @property
    def stored(self) -> bool | None:
        """The value a JobSpec keeps (None = the region's)."""
        return {Override.ON: True, Override.OFF: False}.get(self)

    @classmethod
    def of(cls, value: bool | None) -> Override:
        """A stored value (None = the region's) as a choice."""
        return cls.REGION if value is None else cls.ON if value else cls.OFF


class EventLevel(enum.StrEnum):
    """Job event severity."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class ActivationCodeState(enum.StrEnum):
    """Activation code usage state (SMC CreateAccessToken)."""

    UNACTIVATED = "unactivated"
    ACTIVATED = "activated"
    EXPIRED = "expired"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing."""

    items: tuple[T, ...]
    total_count: int
    page_number: int
    page_size: int


@dataclass(frozen=True, slots=True)
class Account:
    """A user account; every resource belongs to one."""

    id: AccountId
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AccessKey:
    """An API credential; the secret is never stored, only derivable from the master key."""

    id: AccessKeyId
    account_id: AccountId
    created_at: datetime
    enabled: bool
    user_id: UserId
    last_used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewAccessKey:
    """An AccessKey together with its secret, shown once."""

    key: AccessKey
    secret: str


@dataclass(frozen=True, slots=True)
class ActivationCode:
    """An activation code (SMC access token) with which agents import sources."""

    id: ActivationCodeId
    account_id: AccountId
    name: str
    count: int
    registered_count: int
    created_at: datetime
    expires_at: datetime
    disabled: bool
    state: ActivationCodeState


@dataclass(frozen=True, slots=True)
class NewActivationCode:
    """An activation code and its secret code string, shown once."""

    code: ActivationCode
    secret: str


@dataclass(frozen=True, slots=True)
class SourceDisk:
    """A disk as reported by the agent (index 0 = system disk)."""

    index: int
    size_bytes: int
    used_bytes: int
    min_size_bytes: int
    shrink_note: str = ""
    path: str = ""


@dataclass(frozen=True, slots=True)
class Source:
    """A source server registered by its agent."""

    id: SourceId
    account_id: AccountId
    name: str
    description: str
    state: SourceState
    error_code: str
    status_info: str
    hostname: str
    os_name: str
    os_version: str
    kernel: str
    arch: str
    boot_mode: str
    agent_version: str
    disks: tuple[SourceDisk, ...]
    inventory: dict[str, Any]
    created_at: datetime
    last_heartbeat_at: datetime | None
    activation_code_id: ActivationCodeId | None

    @property
    def system_disk(self) -> SourceDisk | None:
        """The disk with index 0, if reported."""
        return next((d for d in self.disks if d.index == 0), None)


@dataclass(frozen=True, slots=True)
class DiskLimits:
    """A region's allowed target disk sizes in GiB."""

    system_min_gib: int = 1
    system_max_gib: int = 2048
    data_min_gib: int = 1
    data_max_gib: int = 32768


ADAPT_ENGINES = ("rehost", "virt-v2v")  # who OS-adapts a guest: rehost's steps or virt-v2v


@dataclass(frozen=True, slots=True)
class Region:
    """A target site: image store, transit pool and quotas."""

    id: RegionId
    account_id: AccountId
    name: str
    image_store_path: str
    network_quota: int
    reserved_slots: int
    limits: DiskLimits
    created_at: datetime
    slots_in_use: int = 0
    verify_after_migration: bool = False
    image_format: str = "raw"  # disk files of the region's images: "raw" (sparse) or "qcow2"
    accept_failed_checks: bool = False  # publish despite hard check failures (warned on the job)
    adapt_guests: bool = False  # OS-adapt Linux guests with libguestfs (off: byte-exact copies)
    adapt_engine: str = "rehost"  # "rehost" (its steps in one appliance) or "virt-v2v"
    keep_static_network: bool = False  # adaptation keeps MAC-bound / static network config


@dataclass(frozen=True, slots=True)
class DataDiskSpec:
    """A data disk to migrate and its target size."""

    index: int
    size_gib: int


@dataclass(frozen=True, slots=True)
class DiskProgress:
    """Replication progress of one disk."""

    index: int
    bytes_total: int = 0
    bytes_done: int = 0
    rate_bytes_per_s: float = 0.0
    eta_s: float | None = None


@dataclass(frozen=True, slots=True)
class JobProgress:
    """Replication progress of a job (sum over disks)."""

    disks: tuple[DiskProgress, ...] = ()

    @property
    def bytes_total(self) -> int:
        """Bytes to send over all disks."""
        return sum(d.bytes_total for d in self.disks)

    @property
    def bytes_done(self) -> int:
        """Bytes durably acknowledged over all disks."""
        return sum(d.bytes_done for d in self.disks)

    @property
    def percent(self) -> float:
        """Done as a percentage of bytes to send (0 when unknown)."""
        total = self.bytes_total
        return round(100.0 * self.bytes_done / total, 2) if total else 0.0


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Validated job parameters (the create/modify fields of docs/design.md)."""

    name: str
    description: str
    system_disk_size_gib: int
    data_disks: tuple[DataDiskSpec, ...]
    image_name: str
    mode: ExecutionMode
    scheduled_start_time: datetime | None
    valid_time: datetime
    bandwidth_limit_kbps: int
    compress_level: int
    checksum: bool
    run_once: bool = True  # False = incremental (SMC RunOnce=false): a cycle every frequency
    frequency_hours: int = 0  # incremental only: 1–168
    max_images_to_keep: int = 0  # incremental only: 1–10, older images are deleted
    adapt_guests: bool | None = None  # OS adaptation for this job (None = the region's)
    keep_static_network: bool | None = None  # adaptation keeps the network (None = region's)


@dataclass(frozen=True, slots=True)
class Job:
    """A migration job."""

    id: JobId
    account_id: AccountId
    source_id: SourceId
    region_id: RegionId
    spec: JobSpec
    status: JobStatus
    business_status: BusinessStatus
    progress: JobProgress
    error_code: str
    error_message: str
    error_hint: str
    transit_id: TransitId | None
    image_id: ImageId | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    run_count: int = 0
    cycle: int = 0  # incremental cycle number (1 = the first, full sync); 0 = never started
    next_cycle_at: datetime | None = None  # Waiting incremental jobs: when the next cycle starts
    error_hint_zh: str = ""  # the fix hint in Chinese ("" = none yet; show error_hint)

    def localized_hint(self, lang: str) -> str:
        """The fix hint in `lang` ("zh…" → Chinese when there is one, else English)."""
        return _pick(self.error_hint, self.error_hint_zh, lang)

    @property
    def has_run(self) -> bool:
        """Whether the job was ever started (freezes all but name/description)."""
        return self.run_count > 0


@dataclass(frozen=True, slots=True)
class TransitSlot:
    """A job's transit slot (its row in `transits`): network slot, data token, work dir, host."""

    id: TransitId
    job_id: JobId
    account_id: AccountId
    region_id: RegionId
    slot: int
    endpoint: str
    work_dir: str
    created_at: datetime
    released_at: datetime | None
    host_id: str | None = None  # a `rehost transit` host; None = the embedded pool


@dataclass(frozen=True, slots=True)
class Image:
    """A custom image in a region's image store."""

    id: ImageId
    account_id: AccountId
    region_id: RegionId
    name: str
    job_id: JobId | None
    source_id: SourceId | None
    manifest: dict[str, Any]
    verify_result: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One line of a job's event log."""

    id: int
    job_id: JobId
    time: datetime
    level: EventLevel
    code: str
    message_en: str
    message_zh: str
    hint: str = ""
    hint_zh: str = ""

    def localized_hint(self, lang: str) -> str:
        """The fix hint in `lang` ("zh…" → Chinese when there is one, else English)."""
        return _pick(self.hint, self.hint_zh, lang)


def _pick(en: str, zh: str, lang: str) -> str:
    """`zh` for a Chinese `lang` when it is set, else `en`."""
    return zh if zh and lang.lower().startswith("zh") else en
