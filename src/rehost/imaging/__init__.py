"""rehost.imaging: resize disks, check them after migration, and boot-verify them in QEMU."""

from rehost.imaging.checks import CheckResult, has_failures, run_checks
from rehost.imaging.errors import (
    ImagingError,
    InvalidSizeError,
    NotShrinkableError,
    ShrinkBelowMinimumError,
    ToolError,
)
from rehost.imaging.resize import (
    ImageShrinkLimit,
    ResizeResult,
    min_size_bytes,
    resize_disk,
    shrink_limit,
)
from rehost.imaging.verify import VerifyResult, verify_image

__all__ = [
    "CheckResult",
    "ImageShrinkLimit",
    "ImagingError",
    "InvalidSizeError",
    "NotShrinkableError",
    "ResizeResult",
    "ShrinkBelowMinimumError",
    "ToolError",
    "VerifyResult",
    "has_failures",
    "min_size_bytes",
    "resize_disk",
    "run_checks",
    "shrink_limit",
    "verify_image",
]
