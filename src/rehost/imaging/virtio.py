"""Checks that each installed kernel's initramfs can reach a virtio disk.

Modules under /lib/modules prove nothing: the initramfs mounts the root filesystem, so
virtio_blk must be inside it (or built into the kernel). The initramfs is read, not trusted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from rehost.imaging.errors import ImagingError
from rehost.imaging.initramfs import read_initramfs
from rehost.imaging.result import CheckResult
from rehost.imaging.volumes import DiskView, FsVolume, read_text

INITRD_VERSION = re.compile(
    r"^(?:initrd\.img-(?P<a>.+)|initramfs-(?P<b>.+)\.img|initrd-(?P<c>.+))$")
VIRTIO_BUILTIN = re.compile(r"^CONFIG_VIRTIO_BLK=y", re.M)
DRIVER = "virtio_blk"
HINT = ("rehost adapts the guest unless adaptation is off; or on the source add virtio_blk and "
        "virtio_pci to /etc/initramfs-tools/modules and run update-initramfs -u -k all "
        "(dracut: add_drivers+=\" virtio_blk virtio_pci \" in /etc/dracut.conf.d/virtio.conf, "
        "then dracut -f --regenerate-all)")


@dataclass(frozen=True, slots=True)
class BootFile:
    """A kernel or initramfs file: the filesystem it is on, its path there and its name."""

    volume: FsVolume
    path: str
    name: str


@dataclass(frozen=True, slots=True)
class InitramfsVerdict:
    """One initramfs: its kernel version and whether virtio_blk is reachable from it."""

    file_name: str
    version: str
    has_virtio: bool
    error: str = ""


def check_virtio(view: DiskView, root: FsVolume | None,
                 files: Sequence[BootFile]) -> CheckResult:
    """pass when the newest kernel's initramfs has virtio_blk; fail when it lacks it."""
    verdicts = initramfs_verdicts(view, root, files)
    if not verdicts:
        return CheckResult("virtio", "warn", "no initramfs found to look for virtio_blk in",
                           "未找到可检查 virtio_blk 的 initramfs", HINT)
    unreadable = [v for v in verdicts if v.error]
    lacking = [v.file_name for v in verdicts if not v.has_virtio and not v.error]
    newest = max(verdicts, key=lambda v: _version_key(v.version))
    if newest.error:
        return CheckResult("virtio", "warn", f"{newest.file_name} could not be read: "
                           f"{newest.error}", f"无法读取 {newest.file_name}：{newest.error}", HINT)
    if not newest.has_virtio:
        return CheckResult(
            "virtio", "fail", f"the initramfs {newest.file_name} of the default kernel has no "
            f"{DRIVER}: the guest cannot find its root disk on virtio",
            f"默认内核的 initramfs {newest.file_name} 中没有 {DRIVER}，"
            "客户机在 virtio 磁盘上将找不到根设备", HINT)
    good = [v.file_name for v in verdicts if v.has_virtio]
    if lacking or unreadable:
        others = ", ".join(lacking + [v.file_name for v in unreadable])
        return CheckResult("virtio", "warn", f"{DRIVER} in {', '.join(good)}; not in {others}",
                           f"{', '.join(good)} 中有 {DRIVER}；{others} 中没有", HINT)
    return CheckResult("virtio", "pass", f"{DRIVER} in the initramfs: {', '.join(good)}",
                       f"initramfs 中包含 {DRIVER}：{', '.join(good)}")


def initramfs_verdicts(view: DiskView, root: FsVolume | None,
                       files: Sequence[BootFile]) -> list[InitramfsVerdict]:
    """Every versioned initramfs among the boot files, read."""
    verdicts: dict[str, InitramfsVerdict] = {}
    for file in files:
        version = _version(file.name)
        if version is not None and file.name not in verdicts:
            blob = view.read_bytes(file.volume, file.path)
            verdicts[file.name] = _verdict(blob, file.name, version,
                                           partial(_built_in, view, root, files))
    return list(verdicts.values())


def _verdict(blob: bytes | None, name: str, version: str,
             built_in: Callable[[str], bool]) -> InitramfsVerdict:
    """Read one initramfs; a kernel with virtio_blk built in needs no module."""
    if blob is None:
        return InitramfsVerdict(name, version, False, "not readable")
    try:
        contents = read_initramfs(blob)
    except ImagingError as exc:
        return InitramfsVerdict(name, version, False, exc.message_en)
    return InitramfsVerdict(name, version, contents.has_driver(DRIVER) or built_in(version))


def _built_in(view: DiskView, root: FsVolume | None, files: Sequence[BootFile],
              version: str) -> bool:
    """virtio_blk built into the kernel, per modules.builtin or the kernel's config file."""
    if root is not None:
        for base in ("/lib/modules", "/usr/lib/modules"):
            if "/virtio_blk.ko" in (read_text(view, root, f"{base}/{version}/modules.builtin")
                                    or ""):
                return True
    # the config sits beside the kernel: in the /boot directory or at the top of a /boot fs
    for volume in {f.volume for f in files}:
        for path in (f"/boot/config-{version}", f"/config-{version}"):
            if VIRTIO_BUILTIN.search(read_text(view, volume, path) or ""):
                return True
    return False


def _version(name: str) -> str | None:
    """Kernel version in an initramfs file name (initrd.img-V, initramfs-V.img, initrd-V)."""
    if name.endswith((".old", "-kdump.img")) or "rescue" in name:
        return None
    match = INITRD_VERSION.match(name)
    if match is None:
        return None
    return match.group("a") or match.group("b") or match.group("c")


def _version_key(version: str) -> list[tuple[int, str]]:
    """Natural sort key: 6.1.0-50 sorts after 6.1.0-9."""
    return [(int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"(\d+)", version) if p]
