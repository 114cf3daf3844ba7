"""Incremental jobs (SMC RunOnce=false): parameters, cycle timing, image names and retention."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from rehost.domain.errors import invalid

FREQUENCY_MIN_H, FREQUENCY_MAX_H = 1, 168
KEEP_MIN, KEEP_MAX = 1, 10
KEEP_DEFAULT = 1
T = TypeVar("T")


def check_frequency(hours: int | None) -> int:
    """Validate an incremental job's cycle frequency in hours (1–168, required)."""
    if hours is None or isinstance(hours, bool) or not FREQUENCY_MIN_H <= hours <= FREQUENCY_MAX_H:
        raise invalid(
            "Frequency",
            f"An incremental job needs a frequency of {FREQUENCY_MIN_H}–{FREQUENCY_MAX_H} hours.",
            f"增量迁移任务的同步频率须为 {FREQUENCY_MIN_H}–{FREQUENCY_MAX_H} 小时。",
        )
    return hours


def check_max_images(count: int | None) -> int:
    """Validate how many images an incremental job keeps (1–10; default 1)."""
    if count is None:
        return KEEP_DEFAULT
    if isinstance(count, bool) or not KEEP_MIN <= count <= KEEP_MAX:
        raise invalid(
            "MaxNumberOfImageToKeep",
            f"The number of images to keep must be {KEEP_MIN}–{KEEP_MAX}.",
            f"保留镜像数量须为 {KEEP_MIN}–{KEEP_MAX}。",
        )
    return count


def check_incremental(
    run_once: bool | None, frequency_hours: int | None, max_images: int | None
) -> tuple[bool, int, int]:
    """(run_once, frequency, keep): one-shot jobs ignore the incremental fields (stored as 0)."""
    if run_once is None or run_once:
        return True, 0, 0
    return False, check_frequency(frequency_hours), check_max_images(max_images)


def next_cycle_at(ended_at: datetime, frequency_hours: int) -> datetime:
    """When the next cycle of an incremental job starts."""
    return ended_at + timedelta(hours=frequency_hours)


def cycle_image_name(image_name: str, cycle: int) -> str:
    """The unique name of one cycle's image (`<image_name>-<cycle>`, ≤ 128 chars)."""
    suffix = f"-{cycle}"
    return image_name[: 128 - len(suffix)] + suffix


def images_to_delete(oldest_first: Sequence[T], keep: int) -> list[T]:
    """The images beyond `keep`, oldest first (`oldest_first` sorted by creation)."""
    return list(oldest_first[: max(0, len(oldest_first) - keep)])
