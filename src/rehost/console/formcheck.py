"""Every error of the create form at once: each field group checked by the domain on its own.

The service stops at the first bad field; the form asks the domain's pure checks one field
group at a time (the others left at their defaults), so that a person fixes all in one go.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Final

from rehost.console.errortext import error_text
from rehost.console.i18n import Translator
from rehost.console.jobform import field_for_code
from rehost.domain import jobspec
from rehost.domain.errors import RehostError
from rehost.domain.models import DiskLimits, Source
from rehost.domain.rules import JobRequest

# (form fields an error may point at, JobRequest attributes checked together)
GROUPS: Final = (
    (("name",), ("name",)),
    (("description",), ("description",)),
    (("system_disk_size",), ("system_disk_size_gib",)),
    (("data_disks",), ("data_disks",)),
    (("image_name",), ("image_name",)),
    (("mode", "scheduled_start_time"), ("mode", "scheduled_start_time")),
    (("bandwidth_limit",), ("bandwidth_limit_kbps",)),
    (("compress_level",), ("compress_level",)),
    (("run_once", "frequency", "max_images_to_keep"),
     ("run_once", "frequency_hours", "max_images_to_keep")),
    (("adapt_guests", "keep_static_network"), ("adapt_guests", "keep_static_network")),
)
_ATTRS: Final = frozenset(f.name for f in fields(JobRequest))


def field_errors(request: JobRequest, *, source: Source, limits: DiskLimits, now: datetime,
                 t: Translator, region_adapts: bool = False) -> dict[str, str]:
    """Error text per form field, for every group the domain refuses."""
    errors: dict[str, str] = {}
    for form_fields, attrs in GROUPS:
        assert _ATTRS.issuperset(attrs)
        alone = JobRequest(**{a: getattr(request, a) for a in attrs})
        try:
            jobspec.build_spec(alone, source=source, limits=limits, region_adapts=region_adapts,
                               now=now,
                               default_name="job", default_image_name="image")
        except RehostError as exc:
            target = field_for_code(exc.code)
            if target in form_fields:
                errors.setdefault(target, f"{error_text(exc, t)} ({exc.code})")
    return errors
