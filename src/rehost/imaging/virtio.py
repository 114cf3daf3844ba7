"""Checks that each installed kernel's initramfs can reach a virtio disk.

Modules under /lib/modules prove nothing: the initramfs mounts the root filesystem, so
virtio_blk must be inside it (or built into the kernel). The initramfs is read, not trusted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from rehost.imaging import extfs, fat
from rehost.imaging.errors import ImagingError
from rehost.imaging.initramfs import read_initramfs
from rehost.imaging.layout import ImageLayout, ImagePartition
from rehost.imaging.result import CheckResult

INITRD_VERSION = re.compile(
    r"^(?:initrd\.img-(?P<a>.+)|initramfs-(?P<b>.+)\.img|initrd-(?P<c>.+))$")
VIRTIO_BUILTIN = re.compile(r"^CONFIG_VIRTIO_BLK=y", re.M)
DRIVER = "virtio_blk"
HINT = ("rehost adapts the guest unless adaptation is off; or on the source add virtio_blk and "
        "virtio_pci to /etc/initramfs-tools/modules and run update-initramfs -u -k all "
        "(dracut: add_drivers+=\" virtio_blk virtio_pci \" in /etc/dracut.conf.d/virtio.conf, "
        "then dracut -f --regenerate-all)")


@dataclass(frozen=True, slots=True)
class InitramfsVerdict:
    """One initramfs: its kernel version and whether virtio_blk is reachable from it."""

    file_name: str
    version: str
    has_virtio: bool
    error: str = ""


def check_virtio(layout: ImageLayout, root: ImagePartition | None) -> CheckResult:
    """pass when the newest kernel's initramfs has virtio_blk; fail when it lacks it."""
    verdicts = initramfs_verdicts(layout, root)
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


def initramfs_verdicts(layout: ImageLayout, root: ImagePartition | None) -> list[InitramfsVerdict]:
    """Every versioned initramfs in /boot, at the top of a /boot partition or on FAT, read."""
    root_device = extfs.spec(layout.path, root.start_bytes) if root is not None else None
    verdicts: dict[str, InitramfsVerdict] = {}
    for name, read in _candidates(layout):
        version = _version(name)
        if version is not None and name not in verdicts:
            verdicts[name] = _verdict(read(), name, version, root_device)
    return list(verdicts.values())


def _candidates(layout: ImageLayout) -> Iterator[tuple[str, Callable[[], bytes | None]]]:
    """(base name, reader) of every file in ext /boot and / and on FAT partitions."""
    for part in layout.data_partitions:
        if part.is_ext:
            device = extfs.spec(layout.path, part.start_bytes)
            for directory in ("/boot", "/"):
                for name in sorted(extfs.list_dir(device, directory) or []):
                    path = f"{directory.rstrip('/')}/{name}"
                    yield name, partial(extfs.read_bytes, device, path)
        elif part.fs == "vfat":
            for path in fat.list_files(layout.path, offset_bytes=part.start_bytes):
                yield path.rsplit("/", 1)[-1], partial(
                    fat.read_bytes, layout.path, offset_bytes=part.start_bytes, name=path)


def _verdict(blob: bytes | None, name: str, version: str,
             root_device: str | None) -> InitramfsVerdict:
    """Read one initramfs; a kernel with virtio_blk built in needs no module."""
    if blob is None:
        return InitramfsVerdict(name, version, False, "not readable")
    try:
        contents = read_initramfs(blob)
    except ImagingError as exc:
        return InitramfsVerdict(name, version, False, exc.message_en)
    return InitramfsVerdict(name, version, contents.has_driver(DRIVER)
                            or _built_in(root_device, version))


def _built_in(root_device: str | None, version: str) -> bool:
    """virtio_blk built into the kernel, per modules.builtin or /boot/config-<version>."""
    if root_device is None:
        return False
    for base in ("/lib/modules", "/usr/lib/modules"):
        if "/virtio_blk.ko" in (extfs.read_file(root_device, f"{base}/{version}/modules.builtin")
                                or ""):
            return True
    return bool(VIRTIO_BUILTIN.search(extfs.read_file(root_device, f"/boot/config-{version}")
                                      or ""))


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
