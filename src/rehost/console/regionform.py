"""The region create/modify form: submitted text → checked values, every error at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from rehost.console.errortext import error_text
from rehost.console.i18n import Translator
from rehost.console.web import FormFields
from rehost.domain.errors import RehostError
from rehost.domain.models import DiskLimits, Region
from rehost.services.regions import region_errors

INT_FIELDS: Final = ("network_quota", "reserved_slots", "system_min_gib", "system_max_gib",
                     "data_min_gib", "data_max_gib")
FLAGS: Final = ("verify_after_migration", "accept_failed_checks", "adapt_guests")
TEXT_FIELDS: Final = ("region_id", "name", "image_store_path", "image_format")
FIELD_OF_CODE: Final = {
    "InvalidParameter.RegionId": "region_id", "RegionId.Duplicate": "region_id",
    "InvalidParameter.RegionName": "name", "InvalidParameter.DiskLimits": "limits",
    "InvalidParameter.NetworkQuota": "network_quota",
    "InvalidParameter.ImageStorePath": "image_store_path",
    "InvalidParameter.ImageFormat": "image_format",
}


@dataclass(frozen=True, slots=True)
class RegionForm:
    """What the form submitted, as text for redisplay, and the parsed numbers."""

    values: dict[str, str | bool]
    numbers: dict[str, int]

    @property
    def limits(self) -> DiskLimits:
        """The disk limits the form asks for."""
        n = self.numbers
        return DiskLimits(system_min_gib=n["system_min_gib"], system_max_gib=n["system_max_gib"],
                          data_min_gib=n["data_min_gib"], data_max_gib=n["data_max_gib"])

    def flag(self, name: str) -> bool:
        """A checkbox's value."""
        return bool(self.values.get(name))

    def text(self, name: str) -> str:
        """A text field's value."""
        return str(self.values.get(name, ""))


def defaults(region: Region | None) -> dict[str, str | bool]:
    """The form's values for a new region (DiskLimits defaults) or an existing one."""
    limits = region.limits if region else DiskLimits()
    values: dict[str, str | bool] = {
        "region_id": region.id if region else "", "name": region.name if region else "",
        "image_store_path": region.image_store_path if region else "",
        "image_format": region.image_format if region else "raw",
        "network_quota": str(region.network_quota if region else 10),
        "reserved_slots": str(region.reserved_slots if region else 0),
        "system_min_gib": str(limits.system_min_gib), "system_max_gib": str(limits.system_max_gib),
        "data_min_gib": str(limits.data_min_gib), "data_max_gib": str(limits.data_max_gib),
    }
    for flag in FLAGS:
        values[flag] = bool(getattr(region, flag)) if region else False
    return values


def parse(form: FormFields, t: Translator) -> tuple[RegionForm, dict[str, str]]:
    """Parse every field; return the form and the errors of fields that are not integers."""
    values: dict[str, str | bool] = {k: form.get(k) for k in (*TEXT_FIELDS, *INT_FIELDS)}
    values.update({f: form.has(f) for f in FLAGS})
    numbers, errors = {}, {}
    for name in INT_FIELDS:
        try:
            numbers[name] = int(str(values[name]))
        except ValueError:
            errors["limits" if "_gib" in name else name] = t("job.not_integer")
            numbers[name] = 0
    return RegionForm(values, numbers), errors


def field_of(exc: RehostError) -> str:
    """The form field an error belongs to ("_form" when none)."""
    return FIELD_OF_CODE.get(exc.code, "_form")


def check(parsed: RegionForm, *, region_id: str, errors: dict[str, str],
          t: Translator) -> dict[str, str]:
    """Add every domain refusal of the form's values to ``errors`` (parse errors kept)."""
    found = region_errors(region_id, parsed.text("name"), parsed.limits,
                          parsed.numbers["network_quota"], parsed.numbers["reserved_slots"])
    merged = dict(errors)
    for exc in found:
        merged.setdefault(field_of(exc), f"{error_text(exc, t)} ({exc.code})")
    return merged
