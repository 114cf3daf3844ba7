"""Typed resource identifiers and their prefixes (SMC style: `s-…`, `j-…`, `m-…`)."""

from __future__ import annotations

import re
from typing import NewType

AccountId = NewType("AccountId", str)
AccessKeyId = NewType("AccessKeyId", str)
UserId = NewType("UserId", str)
ActivationCodeId = NewType("ActivationCodeId", str)
SourceId = NewType("SourceId", str)
JobId = NewType("JobId", str)
ImageId = NewType("ImageId", str)
RegionId = NewType("RegionId", str)
TransitId = NewType("TransitId", str)
EventId = NewType("EventId", int)

PREFIX_ACCOUNT = "acc"
PREFIX_ACCESS_KEY = "RH"
PREFIX_USER = "u"
PREFIX_ACTIVATION_CODE = "at"
PREFIX_SOURCE = "s"
PREFIX_JOB = "j"
PREFIX_IMAGE = "m"
PREFIX_TRANSIT = "t"
PREFIX_WORKGROUP = "w"

_REGION_ID = re.compile(r"^[a-z][a-z0-9-]{0,62}[a-z0-9]$|^[a-z]$")


def is_region_id(value: str) -> bool:
    """Return whether `value` is a well-formed region id (lowercase, digits, hyphens)."""
    return bool(_REGION_ID.match(value))


def has_prefix(value: str, prefix: str) -> bool:
    """Return whether `value` looks like an id with `prefix` (e.g. `j-…`)."""
    return value.startswith(prefix + "-") and len(value) > len(prefix) + 1
