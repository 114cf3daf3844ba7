"""Job parameter rules of docs/design.md: names, disk sizes, schedule, advanced options."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from rehost.domain import errors
from rehost.domain.errors import invalid
from rehost.domain.models import (
    GIB,
    DataDiskSpec,
    DiskLimits,
    ExecutionMode,
    Override,
    Source,
    SourceDisk,
)

NAME_MIN, NAME_MAX, DESCRIPTION_MAX = 2, 128, 256
DATA_DISK_INDEX_MIN, DATA_DISK_INDEX_MAX = 1, 16
SCHEDULE_MIN_AHEAD = timedelta(minutes=10)
SCHEDULE_MAX_AHEAD = timedelta(days=30)
VALID_TIME_DEFAULT = timedelta(days=30)
VALID_TIME_MIN, VALID_TIME_MAX = timedelta(days=7), timedelta(days=90)
COMPRESS_MIN, COMPRESS_MAX = 0, 10
BANDWIDTH_MAX_KBPS = 100 * 1024 * 1024  # 100 GiB/s: anything above is a typo
_URL = re.compile(r"https?://", re.IGNORECASE)
_PUNCT_NAME = frozenset(".:_-")
_PUNCT_DESCRIPTION = frozenset(".:_-,()/ ")


@dataclass(frozen=True, slots=True)
class JobRequest:
    """Raw create/modify fields as the user sent them (None = not given)."""

    name: str | None = None
    description: str | None = None
    system_disk_size_gib: int | None = None
    data_disks: tuple[DataDiskSpec, ...] | None = None
    image_name: str | None = None
    mode: ExecutionMode | None = None
    scheduled_start_time: datetime | None = None
    valid_time: datetime | None = None
    bandwidth_limit_kbps: int | None = None
    compress_level: int | None = None
    checksum: bool | None = None
    run_once: bool | None = None
    frequency_hours: int | None = None
    max_images_to_keep: int | None = None
    adapt_guests: Override | None = None  # REGION = back to the region's setting
    keep_static_network: Override | None = None

    def changes_more_than_labels(self) -> bool:
        """Whether fields other than name/description are set."""
        labels = replace(self, name=None, description=None)
        return labels != JobRequest()

    def changes_only_schedule(self) -> bool:
        """Whether only labels, Frequency, MaxNumberOfImageToKeep and ValidTime are set."""
        rest = replace(self, name=None, description=None, frequency_hours=None,
                       max_images_to_keep=None, valid_time=None)
        return rest == JobRequest()


def _is_letter(ch: str) -> bool:
    return ch.isalpha() or unicodedata.name(ch, "").startswith("CJK")


def _charset_ok(text: str, punct: frozenset[str]) -> bool:
    return all(_is_letter(c) or c.isdigit() or c in punct for c in text)


def check_name(value: str, *, field: str, what_en: str, what_zh: str) -> str:
    """Validate a name: 2–128 chars, starts with a letter/CJK, letters digits . : _ -, no URL."""
    if not NAME_MIN <= len(value) <= NAME_MAX:
        raise invalid(
            field,
            f"The {what_en} must be {NAME_MIN}–{NAME_MAX} characters long (got {len(value)}).",
            f"{what_zh}长度须为 {NAME_MIN}–{NAME_MAX} 个字符（当前 {len(value)}）。",
        )
    if _URL.search(value) or not _is_letter(value[0]) or not _charset_ok(value, _PUNCT_NAME):
        raise invalid(
            field,
            f"The {what_en} must start with a letter or Chinese character and contain only "
            "letters, digits, periods (.), colons (:), underscores (_) and hyphens (-); "
            "it must not contain http:// or https://.",
            f"{what_zh}须以字母或中文开头，只能包含字母、数字、点号(.)、冒号(:)、下划线(_)和"
            "连字符(-)，且不能包含 http:// 或 https://。",
        )
    return value


def check_description(value: str) -> str:
    """Validate a description: ≤ 256 chars of letters, digits, spaces and . : _ - , ( ) /."""
    if len(value) > DESCRIPTION_MAX:
        raise invalid(
            "Description",
            f"The description must be at most {DESCRIPTION_MAX} characters (got {len(value)}).",
            f"描述最多 {DESCRIPTION_MAX} 个字符（当前 {len(value)}）。",
        )
    if _URL.search(value) or not _charset_ok(value, _PUNCT_DESCRIPTION):
        raise invalid(
            "Description",
            "The description may contain only letters, digits, spaces and . : _ - , ( ) /, "
            "and must not contain http:// or https://.",
            "描述只能包含字母、数字、空格及 . : _ - , ( ) /，且不能包含 http:// 或 https://。",
        )
    return value


def gib_ceil(size_bytes: int) -> int:
    """Bytes rounded up to whole GiB, at least 1 (how SMC pre-fills disk sizes)."""
    return max(1, math.ceil(size_bytes / GIB))


def minimum_target_bytes(disk: SourceDisk) -> int:
    """The smallest target size a disk accepts: above its used bytes, not below its shrink limit."""
    return max(disk.used_bytes + 1, disk.min_size_bytes)


def check_disk_size(
    size_gib: int, disk: SourceDisk, *, field: str, low: int, high: int
) -> int:
    """Validate a target disk size against the region limits and the disk's used/minimum size."""
    if not low <= size_gib <= high:
        raise invalid(
            field,
            f"Disk {disk.index}: size must be {low}–{high} GiB in this region (got {size_gib}).",
            f"磁盘 {disk.index}：本地域的大小须为 {low}–{high} GiB（当前 {size_gib}）。",
        )
    minimum = minimum_target_bytes(disk)
    if size_gib * GIB < minimum:
        note = f" ({disk.shrink_note})" if disk.shrink_note else ""
        need = gib_ceil(minimum)
        raise invalid(
            field,
            f"Disk {disk.index}: {size_gib} GiB is too small; it must be greater than the used "
            f"size and at least the minimum shrink size: set {need} GiB or more{note}.",
            f"磁盘 {disk.index}：{size_gib} GiB 太小，须大于已用空间且不小于可缩容的最小值："
            f"请设置为 {need} GiB 或更大{note}。",
        )
    return size_gib


def default_disk_size_gib(disk: SourceDisk) -> int:
    """Return the source disk size rounded up to whole GiB."""
    return gib_ceil(disk.size_bytes)


def check_system_disk(size_gib: int | None, source: Source, limits: DiskLimits) -> int:
    """Validate (or default) the system disk size."""
    disk = source.system_disk
    if disk is None:
        raise errors.source_state("without a system disk", "reporting a system disk (index 0)")
    size = default_disk_size_gib(disk) if size_gib is None else size_gib
    return check_disk_size(
        size, disk, field="SystemDiskSize", low=limits.system_min_gib, high=limits.system_max_gib
    )


def check_data_disks(
    specs: tuple[DataDiskSpec, ...] | None, source: Source, limits: DiskLimits
) -> tuple[DataDiskSpec, ...]:
    """Validate data disks (None = every reported data disk at its own size)."""
    reported = {d.index: d for d in source.disks if d.index >= DATA_DISK_INDEX_MIN}
    if specs is None:
        specs = tuple(
            DataDiskSpec(i, default_disk_size_gib(d)) for i, d in sorted(reported.items())
        )
    seen: set[int] = set()
    for spec in specs:
        _check_data_disk_index(spec.index, reported, seen)
        check_disk_size(
            spec.size_gib, reported[spec.index], field="DataDisk.Size",
            low=limits.data_min_gib, high=limits.data_max_gib,
        )
    return tuple(sorted(specs, key=lambda s: s.index))


def _check_data_disk_index(index: int, reported: dict[int, SourceDisk], seen: set[int]) -> None:
    if not DATA_DISK_INDEX_MIN <= index <= DATA_DISK_INDEX_MAX or index not in reported:
        known = ", ".join(str(i) for i in sorted(reported)) or "none"
        raise invalid(
            "DataDisk.Index",
            f"Data disk index {index} is not a data disk reported by the source "
            f"(indexes 1–16; reported: {known}).",
            f"数据盘序号 {index} 不是迁移源上报的数据盘（序号 1–16；已上报：{known}）。",
        )
    if index in seen:
        raise errors.InvalidParameter(
            "DataDisk.DuplicateIndex",
            f"Data disk index {index} appears twice; list each data disk once.",
            f"数据盘序号 {index} 重复；每块数据盘只能出现一次。",
        )
    seen.add(index)


def check_schedule(
    mode: ExecutionMode, start: datetime | None, *, now: datetime
) -> datetime | None:
    """Validate the execution mode and scheduled start time (scheduled: now+10 min … now+30 d)."""
    if mode is not ExecutionMode.SCHEDULED:
        if start is not None:
            raise invalid(
                "ScheduledStartTime",
                "A scheduled start time needs execution mode 'scheduled'; remove it or change "
                "the mode.",
                "只有“预约执行”模式才能设置预约时间；请删除该时间或修改执行模式。",
            )
        return None
    if start is None or start.tzinfo is None:
        raise invalid(
            "ScheduledStartTime",
            "Mode 'scheduled' needs a scheduled start time in UTC ISO 8601 "
            "(e.g. 2026-12-01T08:00:00Z).",
            "“预约执行”需要 UTC ISO 8601 格式的预约时间（如 2026-12-01T08:00:00Z）。",
        )
    if not now + SCHEDULE_MIN_AHEAD <= start <= now + SCHEDULE_MAX_AHEAD:
        raise invalid(
            "ScheduledStartTime",
            "The scheduled start time must be at least 10 minutes and at most 30 days from now.",
            "预约时间须晚于当前时间至少 10 分钟，且不超过 30 天。",
        )
    return start


def check_valid_time(
    valid_time: datetime | None, *, created_at: datetime, start: datetime | None
) -> datetime:
    """Validate (or default) ValidTime: 7–90 days after creation, after any scheduled start.

    The default is 30 days after the scheduled start (or after creation when not scheduled).
    """
    value = (start or created_at) + VALID_TIME_DEFAULT if valid_time is None else valid_time
    if value.tzinfo is None or not (
        created_at + VALID_TIME_MIN <= value <= created_at + VALID_TIME_MAX
    ) or (start is not None and value <= start):
        raise invalid(
            "ValidTime",
            "ValidTime must be 7–90 days after the job's creation (UTC ISO 8601) and after its "
            "scheduled start time.",
            "有效期须为任务创建后 7–90 天（UTC ISO 8601），且晚于预约执行时间。",
        )
    return value


def check_bandwidth(kbps: int) -> int:
    """Validate the bandwidth limit in KB/s (0 = unlimited)."""
    if isinstance(kbps, bool) or not 0 <= kbps <= BANDWIDTH_MAX_KBPS:
        raise invalid(
            "NetMode.BandwidthLimit",
            f"The bandwidth limit must be an integer 0–{BANDWIDTH_MAX_KBPS} KB/s "
            "(0 = unlimited).",
            f"带宽限制须为 0–{BANDWIDTH_MAX_KBPS} KB/s 的整数（0 表示不限速）。",
        )
    return kbps


def check_compress_level(level: int) -> int:
    """Validate the compression level 0–10 (0 = off)."""
    if isinstance(level, bool) or not COMPRESS_MIN <= level <= COMPRESS_MAX:
        raise invalid(
            "CompressLevel",
            f"The compression level must be an integer {COMPRESS_MIN}–{COMPRESS_MAX} (0 = off).",
            f"压缩等级须为 {COMPRESS_MIN}–{COMPRESS_MAX} 的整数（0 表示不压缩）。",
        )
    return level
