"""Checks that the system disk holds a kernel, an initramfs and virtio drivers.

Kernels are looked for in /boot and at the top of every readable filesystem (a separate /boot
partition or LV holds them at its top). When none is found, the verdict depends on where /boot
lives: a readable /boot without a kernel fails; a /boot rehost could not read is "not checked".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rehost.imaging.fstab import FstabEntry, resolve_spec
from rehost.imaging.result import CheckResult
from rehost.imaging.virtio import BootFile, check_virtio
from rehost.imaging.volumes import DiskView, FsVolume

KERNEL_NAME = re.compile(r"^(vmlinuz|vmlinux|bzImage|kernel)(-.*)?$")
INITRD_NAME = re.compile(r"^(initrd|initramfs)([-.].*)?$")
NOT_CHECKED_HINT = "boot-verify the image (rehost image verify) to prove it starts"


def boot_files(view: DiskView) -> list[BootFile]:
    """Kernel and initramfs files (regular files, links followed) in /boot and / of each fs."""
    found = []
    for volume in view.volumes:
        if not volume.holds_files or volume.error:
            continue
        for directory in ("/boot", "/"):
            for name in sorted(view.list_dir(volume, directory) or []):
                path = f"{directory.rstrip('/')}/{name}"
                if (KERNEL_NAME.match(name) or INITRD_NAME.match(name)) and \
                        view.is_file(volume, path):
                    found.append(BootFile(volume, path, name))
    return found


def boot_home(view: DiskView, root: FsVolume | None,
              entries: Sequence[FstabEntry]) -> tuple[FsVolume | None, str]:
    """The filesystem that holds /boot, or None and the reason it is unknown or unreadable."""
    boot = next((e for e in entries if e.mountpoint.rstrip("/") == "/boot"), None)
    if boot is not None:
        homes = resolve_spec(boot.spec, view.volumes)
        home = homes[0] if homes else None
        if home is None:
            return None, f"the /boot filesystem {boot.spec} was not found"
    elif root is not None:
        home = root
    else:
        unread = [f"{v.where_en} ({v.fs}): {v.error}" for v in view.volumes if v.error]
        if not unread:
            return None, ""
        return None, "no root filesystem found; unreadable: " + "; ".join(unread)
    if home.error:
        return None, f"{home.where_en} ({home.fs}) holds /boot: {home.error}"
    return home, ""


def check_kernel(view: DiskView, root: FsVolume | None,
                 entries: Sequence[FstabEntry]) -> list[CheckResult]:
    """Kernel and initramfs present, and virtio_blk inside the initramfs (or built in)."""
    files = boot_files(view)
    kernels = sorted({f.name for f in files if KERNEL_NAME.match(f.name)})
    initrds = [f for f in files if INITRD_NAME.match(f.name)]
    if not kernels:
        return [_no_kernel(view, root, entries)]
    results = [CheckResult("kernel", "pass", f"kernel found: {', '.join(kernels)}",
                           f"找到内核：{', '.join(kernels)}")]
    names = sorted({f.name for f in initrds})
    if not names:
        results.append(CheckResult(
            "initramfs", "warn", "no initramfs found next to the kernel",
            "内核旁未找到 initramfs", "regenerate it (update-initramfs -u / dracut -f)"))
    else:
        results.append(CheckResult("initramfs", "pass", f"initramfs found: {', '.join(names)}",
                                   f"找到 initramfs：{', '.join(names)}"))
    results.append(check_virtio(view, root, initrds))
    return results


def _no_kernel(view: DiskView, root: FsVolume | None,
               entries: Sequence[FstabEntry]) -> CheckResult:
    """fail when /boot was read and holds no kernel; warn (not checked) when it was not read."""
    home, reason = boot_home(view, root, entries)
    if home is None and reason:
        return CheckResult("kernel", "warn", f"kernel not checked: {reason}",
                           f"未检查内核：{reason}", NOT_CHECKED_HINT)
    where = f" ({home.where_en}, {home.fs})" if home is not None else ""
    where_zh = f"（{home.where_zh}，{home.fs}）" if home is not None else ""
    return CheckResult("kernel", "fail", f"no Linux kernel (vmlinuz) found in /boot{where}",
                       f"/boot{where_zh} 中未找到 Linux 内核（vmlinuz）",
                       "install a kernel package in the source before migrating")
