"""Discover what to migrate: the real server (lsblk, /proc, sysfs) or disk image files."""

import json
import os
import platform
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from rehost import __version__
from rehost.agent import sysinfo
from rehost.agent.inventory import BootMode, DiskInfo, PartitionInfo, SourceInventory, TableKind
from rehost.agent.sysblock import Device, sysfs_devices
from rehost.diskfmt.e2tools import debugfs_cat, debugfs_list
from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.layout import DiskLayout, Volume, inspect_disk
from rehost.diskfmt.osrelease import os_name_version
from rehost.diskfmt.reader import FileDisk
from rehost.diskfmt.shrink import ShrinkLimit, shrink_limit_of

SKIPPED_PREFIXES = ("loop", "ram", "zram", "sr", "fd", "nbd")
MAX_DATA_DISKS = 16
KERNEL_ARCH = {"amd64": "x86_64", "arm64": "aarch64", "686": "i686", "ppc64el": "ppc64le"}


class DiscoveryError(Exception):
    """The server or the image files cannot be inspected; the message is bilingual."""


# ---- image files ----------------------------------------------------------------------


def _open_image(path: Path) -> FileDisk:
    """Open an image file or fail with a bilingual message."""
    if not path.exists():
        raise DiscoveryError(f"disk image not found: {path} / 找不到磁盘镜像文件：{path}")
    if not os.access(path, os.R_OK):
        raise DiscoveryError(f"disk image not readable: {path} / 无法读取磁盘镜像文件：{path}")
    try:
        return FileDisk(path)
    except DiskFormatError as exc:
        raise DiscoveryError(str(exc)) from exc


def _volume_used(vol: Volume) -> int:
    """Used bytes of a volume: ext counters; swap 0; anything else counts whole."""
    if vol.ext is not None:
        return vol.ext.used_bytes
    return 0 if vol.fs.name == "swap" else vol.size_bytes


def _partition_info(vol: Volume) -> PartitionInfo:
    return PartitionInfo(
        number=vol.number, start_bytes=vol.start_bytes, size_bytes=vol.size_bytes,
        type=vol.type_code, fs=vol.fs.name, uuid=vol.fs.uuid, label=vol.fs.label,
        used_bytes=_volume_used(vol),
        mountpoint=vol.ext.last_mounted if vol.ext is not None else "",
    )


def _image_disk(index: int, path: Path, layout: DiskLayout, limit: ShrinkLimit) -> DiskInfo:
    # the shrink rule's used bytes (XFS free-space trees, the LVs of a PV) over the counters
    used = dict(limit.used_by_partition)
    parts = tuple(_partition_info(v)._replace(used_bytes=used.get(v.number, _volume_used(v)))
                  for v in layout.volumes)
    return DiskInfo(
        index=index, path=str(path), size_bytes=layout.size_bytes,
        used_bytes=sum(p.used_bytes for p in parts), min_size_bytes=limit.min_size_bytes,
        shrink_note=limit.shrink_note, partition_table=layout.table.kind, partitions=parts,
    )


def _inspect_image(path: Path) -> "tuple[DiskLayout, ShrinkLimit]":
    """Layout and shrink limit of an image, errors made bilingual."""
    with _open_image(path) as disk:
        try:
            return inspect_disk(disk), shrink_limit_of(disk)
        except DiskFormatError as exc:
            raise DiscoveryError(
                f"cannot parse disk image {path}: {exc} / 无法解析磁盘镜像 {path}：{exc}"
            ) from exc


def _root_volumes(layout: DiskLayout) -> "list[Volume]":
    """ext volumes, the one last mounted on / first."""
    exts = [v for v in layout.volumes if v.ext is not None]
    return sorted(exts, key=lambda v: v.ext is None or v.ext.last_mounted != "/")


def _read_guest_file(path: Path, vol: Volume, *names: str) -> str:
    """First non-empty file among `names` in an unmounted ext volume, or ""."""
    for name in names:
        data = debugfs_cat(path, vol.start_bytes, name)
        if data and data.strip():
            return data.decode("utf-8", errors="replace")
    return ""


def _guest_kernel(path: Path, vol: Volume) -> str:
    """Newest kernel version found as /boot/vmlinuz-*, or ""."""
    names = sorted(n for n in debugfs_list(path, vol.start_bytes, "/boot")
                   if n.startswith("vmlinuz-"))
    return names[-1][len("vmlinuz-"):] if names else ""


class _GuestFacts(NamedTuple):
    os_name: str = "unknown"
    os_version: str = "unknown"
    hostname: str = ""
    kernel: str = ""


def _guest_facts(path: Path, layout: DiskLayout) -> "_GuestFacts":
    """OS, hostname and kernel read from the image's root filesystem without mounting."""
    for vol in _root_volumes(layout):
        release = _read_guest_file(path, vol, "/etc/os-release", "/usr/lib/os-release")
        if not release:
            continue
        name, version = os_name_version(release)
        hostname = _read_guest_file(path, vol, "/etc/hostname").strip()
        return _GuestFacts(name, version, hostname, _guest_kernel(path, vol))
    return _GuestFacts()


def _arch_of(kernel: str) -> str:
    """Architecture from a Debian-style kernel suffix, else this machine's."""
    suffix = kernel.rsplit("-", 1)[-1]
    return KERNEL_ARCH.get(suffix, platform.machine() or "unknown")


def discover_image_files(system: Path, data: "list[Path]") -> SourceInventory:
    """Inventory of a system disk image plus data disk images with a recognised filesystem."""
    if len(data) > MAX_DATA_DISKS:
        raise DiscoveryError(
            f"at most {MAX_DATA_DISKS} data disks / 最多 {MAX_DATA_DISKS} 块数据盘"
        )
    layout, limit = _inspect_image(system)
    disks = [_image_disk(0, system, layout, limit)]
    for path in data:
        d_layout, d_limit = _inspect_image(path)
        if any(v.fs.name for v in d_layout.volumes):
            disks.append(_image_disk(len(disks), path, d_layout, d_limit))
    facts = _guest_facts(system, layout)
    mode: BootMode = "UEFI" if layout.is_uefi_bootable else "BIOS"
    return SourceInventory(
        hostname=facts.hostname or system.stem, os_name=facts.os_name,
        os_version=facts.os_version, kernel=facts.kernel or "unknown",
        arch=_arch_of(facts.kernel), boot_mode=mode, agent_version=__version__,
        disks=tuple(disks),
    )


# ---- the real server ------------------------------------------------------------------


def _block_devices() -> "list[Device]":
    """Block device tree from sysfs/procfs; `lsblk` only where sysfs shows no disk."""
    devices = sysfs_devices()
    return devices if devices else _lsblk()


def _lsblk() -> "list[Device]":
    """Block device tree from `lsblk -J -b -O`."""
    try:
        out = subprocess.run(["lsblk", "-J", "-b", "-O"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True,
                             check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise DiscoveryError(f"lsblk failed: {exc} / lsblk 执行失败：{exc}") from exc
    devices: list[Device] = json.loads(out).get("blockdevices", [])
    return devices


def _walk(dev: "Device") -> "Iterator[Device]":
    """The device and all its descendants (partitions, LVM, dm...)."""
    yield dev
    for child in dev.get("children") or []:
        yield from _walk(child)


def _mountpoints(dev: "Device") -> "list[str]":
    points = dev.get("mountpoints") or [dev.get("mountpoint")]
    return [p for p in points if p]


def _statvfs_used(mountpoint: str) -> int:
    """Used bytes of a mounted filesystem."""
    try:
        st = os.statvfs(mountpoint)
    except OSError:
        return 0
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def _sys_int(kname: str, attr: str) -> int:
    try:
        return int(Path(f"/sys/class/block/{kname}/{attr}").read_text().strip())
    except (OSError, ValueError):
        return 0


def _dev_used(dev: "Device") -> int:
    """Used bytes below a partition: mounted filesystems (incl. LVM inside), else 0."""
    return sum(_statvfs_used(_mountpoints(d)[0]) for d in _walk(dev)
               if _mountpoints(d) and d.get("fstype") != "swap")


def _first_mountpoint(dev: "Device") -> str:
    """The shortest mount point in the subtree (/ before /home)."""
    points = [p for d in _walk(dev) for p in _mountpoints(d) if p.startswith("/")]
    return min(points, key=len, default="")


def _mounted_fstype(mountpoints: "list[str]") -> str:
    """Filesystem type from /proc/mounts (lsblk leaves it empty without udev)."""
    if not mountpoints:
        return ""
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    types = {f[1]: f[2] for f in (line.split() for line in lines) if len(f) > 2}
    return types.get(mountpoints[0], "")


def _part_type(raw: str) -> str:
    """lsblk's "0x83" -> "83"; GPT GUIDs upper-case, as diskfmt reports them."""
    if "-" in raw:
        return raw.upper()
    return f"{int(raw, 16):02x}" if raw else ""


def _real_partition(dev: "Device", number: int, start: int) -> PartitionInfo:
    return PartitionInfo(
        number=number, start_bytes=start, size_bytes=int(dev.get("size") or 0),
        type=_part_type(str(dev.get("parttype") or "")),
        fs=str(dev.get("fstype") or _mounted_fstype(_mountpoints(dev))),
        uuid=str(dev.get("uuid") or ""),
        label=str(dev.get("label") or ""), used_bytes=_dev_used(dev),
        mountpoint=_first_mountpoint(dev),
    )


def _real_partitions(disk: "Device") -> "tuple[PartitionInfo, ...]":
    """Partitions of a disk, or one pseudo partition 0 when the disk holds a filesystem."""
    parts = [c for c in disk.get("children") or [] if c.get("type") == "part"]
    if not parts and (disk.get("fstype") or _mountpoints(disk)):
        return (_real_partition(disk, 0, 0),)
    return tuple(
        _real_partition(p, _sys_int(p["kname"], "partition"),
                        _sys_int(p["kname"], "start") * 512)
        for p in parts
    )


def _table_kind(disk: "Device") -> TableKind:
    pttype = str(disk.get("pttype") or "")
    return "mbr" if pttype == "dos" else "gpt" if pttype == "gpt" else "none"


def _device_limit(path: str, size: int) -> ShrinkLimit:
    """Shrink limit read from the device itself; not shrinkable when it cannot be read."""
    try:
        with FileDisk(path) as disk:
            return shrink_limit_of(disk)
    except DiskFormatError as exc:
        return ShrinkLimit(min_size_bytes=size, shrink_note=str(exc))


def _real_disk(index: int, disk: "Device") -> DiskInfo:
    size = int(disk.get("size") or 0)
    parts = _real_partitions(disk)
    path = str(disk.get("path") or f"/dev/{disk['kname']}")
    limit = _device_limit(path, size)
    return DiskInfo(
        index=index, path=path, size_bytes=size, used_bytes=sum(p.used_bytes for p in parts),
        min_size_bytes=limit.min_size_bytes, shrink_note=limit.shrink_note,
        partition_table=_table_kind(disk), partitions=parts,
    )


def _candidate_disks(devices: "list[Device]") -> "list[Device]":
    """Real disks: type disk, non-zero size, not loop/ram/zram/optical."""
    return [
        d for d in devices
        if d.get("type") == "disk" and int(d.get("size") or 0) > 0
        and not str(d.get("kname") or d.get("name")).startswith(SKIPPED_PREFIXES)
    ]


def _has_mount(disk: "Device", mountpoint: "str | None" = None) -> bool:
    points = [p for d in _walk(disk) if d.get("fstype") != "swap" for p in _mountpoints(d)]
    return mountpoint in points if mountpoint else any(p.startswith("/") for p in points)


def redhat_release(text: str) -> "tuple[str, str]":
    """'CentOS release 6.10 (Final)' -> ('CentOS', '6.10'): old releases have no os-release."""
    head, sep, rest = text.strip().partition(" release ")
    if not sep or not head:
        return "unknown", "unknown"
    return head, (rest.split() or ["unknown"])[0]


def _os_release(etc: Path = Path("/etc")) -> "tuple[str, str]":
    for path in (etc / "os-release", Path("/usr/lib/os-release")):
        try:
            return os_name_version(path.read_text())
        except OSError:
            continue
    try:
        return redhat_release((etc / "redhat-release").read_text())
    except OSError:
        return "unknown", "unknown"


def discover_server() -> SourceInventory:
    """Inventory of this machine: the disk holding / first, then disks with mounted filesystems."""
    disks = _candidate_disks(_block_devices())
    system = next((d for d in disks if _has_mount(d, "/")), None)
    if system is None:
        raise DiscoveryError("no disk holds the root filesystem / 未找到承载根文件系统的磁盘")
    data = [d for d in disks if d is not system and _has_mount(d)][:MAX_DATA_DISKS]
    os_name, os_version = _os_release()
    mode: BootMode = "UEFI" if Path("/sys/firmware/efi").is_dir() else "BIOS"
    return SourceInventory(
        hostname=socket.gethostname(), os_name=os_name, os_version=os_version,
        kernel=platform.release(), arch=platform.machine(), boot_mode=mode,
        agent_version=__version__,
        disks=tuple(_real_disk(i, d) for i, d in enumerate([system, *data])),
        system=sysinfo.collect(),
    )

