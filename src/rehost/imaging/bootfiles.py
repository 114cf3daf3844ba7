"""Checks that the system disk holds a kernel, an initramfs and virtio drivers."""

from __future__ import annotations

import re

from rehost.imaging import extfs, fat
from rehost.imaging.layout import ImageLayout, ImagePartition
from rehost.imaging.result import CheckResult
from rehost.imaging.virtio import check_virtio

KERNEL_NAME = re.compile(r"^(vmlinuz|vmlinux|bzImage|kernel)(-.*)?$")
INITRD_NAME = re.compile(r"^(initrd|initramfs)([-.].*)?$")


def boot_file_names(layout: ImageLayout) -> list[str]:
    """Base names of files in /boot of ext filesystems, and on FAT (/, /boot) partitions."""
    names: list[str] = []
    for part in layout.data_partitions:
        if part.is_ext:
            device = extfs.spec(layout.path, part.start_bytes)
            names += extfs.list_dir(device, "/boot") or []
            names += extfs.list_dir(device, "/") or []
        elif part.fs == "vfat":
            names += [f.rsplit("/", 1)[-1] for f in fat.list_files(layout.path,
                                                                   offset_bytes=part.start_bytes)]
    return names


READABLE_OR_NOT_BOOT = ("vfat", "swap", "")  # "" = no filesystem found: holds no /boot


def unreadable_filesystems(layout: ImageLayout) -> list[str]:
    """Filesystems (or volume managers) on the disk whose files rehost cannot list."""
    return sorted({p.fs for p in layout.data_partitions
                   if not p.is_ext and p.fs not in READABLE_OR_NOT_BOOT})


def check_kernel(layout: ImageLayout, root: ImagePartition | None) -> list[CheckResult]:
    """Kernel and initramfs present, and virtio_blk inside the initramfs (or built in)."""
    names = boot_file_names(layout)
    kernels = sorted(n for n in names if KERNEL_NAME.match(n))
    initrds = sorted(n for n in names if INITRD_NAME.match(n))
    unread = unreadable_filesystems(layout)
    if not kernels and unread:  # /boot may live where rehost cannot look: not a failure
        return [CheckResult(
            "kernel", "warn", f"kernel not checked: rehost cannot read {', '.join(unread)} yet",
            f"未检查内核：rehost 暂不能读取 {', '.join(unread)}",
            "boot-verify the image (rehost image verify) to prove it starts")]
    if not kernels:
        return [CheckResult("kernel", "fail", "no Linux kernel (vmlinuz) found in /boot",
                            "/boot 中未找到 Linux 内核（vmlinuz）",
                            "install a kernel package in the source before migrating")]
    results = [CheckResult("kernel", "pass", f"kernel found: {', '.join(kernels)}",
                           f"找到内核：{', '.join(kernels)}")]
    if not initrds:
        results.append(CheckResult(
            "initramfs", "warn", "no initramfs found next to the kernel",
            "内核旁未找到 initramfs", "regenerate it (update-initramfs -u / dracut -f)"))
    else:
        results.append(CheckResult("initramfs", "pass", f"initramfs found: {', '.join(initrds)}",
                                   f"找到 initramfs：{', '.join(initrds)}"))
    results.append(check_virtio(layout, root))
    return results
