"""Test-suite alias of `rehost.sample.kernel`."""

from rehost.sample.kernel import *  # noqa: F403
from rehost.sample.kernel import BOOT_MODULES, Kernel, cache_dir, debian_kernel

__all__ = ["BOOT_MODULES", "Kernel", "cache_dir", "debian_kernel"]
