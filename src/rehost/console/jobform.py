"""The create-job form: parse submitted text into a JobRequest and map error codes to fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from rehost.console.formatting import fmt_bytes
from rehost.console.i18n import Translator
from rehost.console.web import FormFields
from rehost.domain import rules
from rehost.domain.models import (
    DataDiskSpec,
    DiskLimits,
    ExecutionMode,
    Override,
    Source,
    SourceDisk,
)
from rehost.domain.rules import JobRequest, gib_ceil, minimum_target_bytes

# service error code -> form field it belongs to (anything else is shown above the form)
FIELD_OF_CODE: Final = {
    "InvalidParameter.Name": "name",
    "ReplicationJobName.Duplicate": "name",
    "InvalidParameter.Description": "description",
    "InvalidParameter.SystemDiskSize": "system_disk_size",
    "InvalidParameter.DataDisk.Size": "data_disks",
    "InvalidParameter.DataDisk.Index": "data_disks",
    "InvalidParameter.ImageName": "image_name",
    "InvalidParameter.RunOnce": "run_once",
    "InvalidParameter.Frequency": "frequency",
    "InvalidParameter.MaxNumberOfImageToKeep": "max_images_to_keep",
    "ImageName.Duplicate": "image_name",
    "InvalidImageName.Duplicate": "image_name",
    "InvalidParameter.ScheduledStartTime": "scheduled_start_time",
    "InvalidParameter.Mode": "mode",
    "InvalidParameter.NetMode.BandwidthLimit": "bandwidth_limit",
    "InvalidParameter.CompressLevel": "compress_level",
    "InvalidParameter.AdaptGuests": "adapt_guests",
    "InvalidParameter.KeepStaticNetwork": "keep_static_network",
    "InvalidParameter.RegionId": "region_id",
    "InvalidRegionId.NotFound": "region_id",
}
FIELD_ORDER: Final = (
    "region_id", "name", "description", "system_disk_size", "data_disks", "image_name",
    "run_once", "frequency", "max_images_to_keep", "mode", "scheduled_start_time",
    "bandwidth_limit", "compress_level", "adapt_guests", "keep_static_network",
)
INCREMENTAL: Final = "false"  # the run_once radio value of 增量迁移 (SMC RunOnce=false)
ADVANCED_FIELDS: Final = frozenset({"bandwidth_limit", "compress_level", "adapt_guests",
                                    "keep_static_network"})
OVERRIDE_CHOICES: Final = (Override.REGION.value, Override.ON.value, Override.OFF.value)


def field_for_code(code: str) -> str:
    """The form field an error code points at ("_form" when none does)."""
    if code in FIELD_OF_CODE:
        return FIELD_OF_CODE[code]
    if "ImageName" in code:
        return "image_name"
    return "name" if code.startswith("ReplicationJobName") else "_form"


def first_error(errors: dict[str, str]) -> str:
    """The first field (in tab order) that has an error, for autofocus."""
    return next((f for f in FIELD_ORDER if f in errors), "_form" if errors else "")


@dataclass(frozen=True, slots=True)
class DiskRow:
    """One disk line of the form with its help numbers."""

    index: int
    path: str
    size: str
    used: str
    min_gib: int
    max_gib: int
    value: str
    enabled: bool


def min_size_gib(disk: SourceDisk, low: int) -> int:
    """Smallest whole GiB accepted: above the used size, not below the shrink minimum."""
    return max(low, gib_ceil(minimum_target_bytes(disk)))


def disk_row(disk: SourceDisk, *, low: int, high: int, value: str, enabled: bool) -> DiskRow:
    """Describe a disk line for the template."""
    return DiskRow(
        index=disk.index, path=disk.path, size=fmt_bytes(disk.size_bytes),
        used=fmt_bytes(disk.used_bytes), min_gib=min_size_gib(disk, low), max_gib=high,
        value=value, enabled=enabled,
    )


def data_disk_rows(source: Source, limits: DiskLimits, form: FormFields | None) -> list[DiskRow]:
    """One row per reported data disk, pre-filled from the source or the submitted form."""
    rows = []
    for disk in sorted((d for d in source.disks if d.index >= 1), key=lambda d: d.index):
        default = str(rules.default_disk_size_gib(disk))
        value = form.get(f"data_disk_{disk.index}_size") if form else default
        enabled = form.has(f"data_disk_{disk.index}_enabled") if form else True
        rows.append(disk_row(disk, low=limits.data_min_gib, high=limits.data_max_gib,
                             value=value, enabled=enabled))
    return rows


@dataclass
class Parsed:
    """A JobRequest plus the fields that could not even be parsed."""

    request: JobRequest
    errors: dict[str, str] = field(default_factory=dict)
    region_id: str = ""


def _int(form: FormFields, name: str, errors: dict[str, str], t: Translator) -> int | None:
    text = form.get(name)
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        errors.setdefault(name, t("job.not_integer"))
        return None


def _override(form: FormFields, name: str, errors: dict[str, str],
              t: Translator) -> Override | None:
    """A tri-state select: region (or nothing) / on / off."""
    text = form.get(name)
    if text in ("", Override.REGION.value):
        return None
    try:
        return Override(text)
    except ValueError:
        errors.setdefault(name, t("job.bad_override"))
        return None


def _schedule(form: FormFields, errors: dict[str, str], t: Translator) -> datetime | None:
    text = form.get("scheduled_start_time")
    if not text:
        return None
    try:
        local = datetime.fromisoformat(text)
        offset_min = int(form.get("tz_offset_min") or "0")
    except ValueError:
        errors["scheduled_start_time"] = t("job.bad_datetime")
        return None
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    # getTimezoneOffset() is UTC minus local time, in minutes
    return (local + timedelta(minutes=offset_min)).replace(tzinfo=UTC)


def _data_disks(form: FormFields, source: Source, errors: dict[str, str],
                t: Translator) -> tuple[DataDiskSpec, ...]:
    specs = []
    for disk in sorted((d for d in source.disks if d.index >= 1), key=lambda d: d.index):
        if not form.has(f"data_disk_{disk.index}_enabled"):
            continue
        size = _int(form, f"data_disk_{disk.index}_size", errors, t)
        if f"data_disk_{disk.index}_size" in errors:
            errors["data_disks"] = errors.pop(f"data_disk_{disk.index}_size")
        specs.append(DataDiskSpec(disk.index, size if size is not None else 0))
    return tuple(specs)


def is_incremental(form: FormFields) -> bool:
    """Whether the form asks for an incremental job (run_once=false)."""
    return form.get("run_once") == INCREMENTAL


def _incremental(form: FormFields, errors: dict[str, str],
                 t: Translator) -> tuple[bool, int | None, int | None]:
    """(run_once, frequency, keep); a one-time job ignores the (maybe visible) cycle fields."""
    if not is_incremental(form):
        return True, None, None
    return (False, _int(form, "frequency", errors, t),
            _int(form, "max_images_to_keep", errors, t))


def parse_form(form: FormFields, source: Source, t: Translator) -> Parsed:
    """Turn the submitted text into a JobRequest; rules themselves stay in the services."""
    errors: dict[str, str] = {}
    try:
        mode = ExecutionMode(form.get("mode") or ExecutionMode.CREATE_ONLY.value)
    except ValueError:
        mode = ExecutionMode.CREATE_ONLY
    scheduled = _schedule(form, errors, t) if mode is ExecutionMode.SCHEDULED else None
    run_once, frequency, keep = _incremental(form, errors, t)
    request = JobRequest(
        name=form.get("name") or None,
        description=form.get("description") or None,
        system_disk_size_gib=_int(form, "system_disk_size", errors, t),
        data_disks=_data_disks(form, source, errors, t),
        image_name=form.get("image_name") or None,
        mode=mode,
        scheduled_start_time=scheduled,
        bandwidth_limit_kbps=_int(form, "bandwidth_limit", errors, t),
        compress_level=_int(form, "compress_level", errors, t),
        checksum=form.has("checksum"),
        run_once=run_once,
        frequency_hours=frequency,
        max_images_to_keep=keep,
        adapt_guests=_override(form, "adapt_guests", errors, t),
        keep_static_network=_override(form, "keep_static_network", errors, t),
    )
    return Parsed(request, errors, form.get("region_id"))

