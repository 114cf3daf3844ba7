"""A real bootable Linux sample disk (BIOS/MBR or UEFI/GPT) and data disk, for tests and the demo.

Built without mounting anything; see `rehost.sample.disk` for the layout and
`rehost.sample.kernel` for where the Debian kernel is cached.
"""

from rehost.sample.disk import (
    BOOT_PART_BYTES,
    DATA_LABEL,
    FAIL_MARKER,
    MARKER,
    ROOT_LABEL,
    BootDisk,
    BootMode,
    DataDisk,
    MiB,
    build_boot_disk,
    build_data_disk,
    copy_disk,
    expected_marker,
    missing_tools,
    tree_hash,
)
from rehost.sample.initramfs import INIT_SCRIPT, build_initramfs
from rehost.sample.kernel import Kernel, KernelFetchError, cache_dir, debian_kernel

__all__ = [
    "BOOT_PART_BYTES", "DATA_LABEL", "FAIL_MARKER", "INIT_SCRIPT", "MARKER", "ROOT_LABEL",
    "BootDisk", "BootMode", "DataDisk", "Kernel", "KernelFetchError", "MiB", "build_boot_disk",
    "build_data_disk", "build_initramfs", "cache_dir", "copy_disk", "debian_kernel",
    "expected_marker", "missing_tools", "tree_hash",
]
