"""Mounted volumes on a source disk: /proc/self/mountinfo joined with /sys/block's tree.

A volume is a partition, a device-mapper device (an LVM LV, ...) stacked on the disk, or
the disk itself, that is mounted. Its `ranges` are where its bytes lie on the disk (partitions
from sysfs, linear dm segments from `dmsetup table`; empty when not known).
"""

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import List, NamedTuple, Optional, Tuple

from rehost.agent.command import CommandError, Runner

SECTOR = 512
PROC_MOUNTINFO = Path("/proc/self/mountinfo")
SYS_ROOT = Path("/sys")


class Mount(NamedTuple):
    """One line of mountinfo: the device number, where it is mounted, its type and source."""

    dev: str  # "major:minor"
    mount_point: str
    fstype: str
    source: str
    read_only: bool = False


class MountedVolume(NamedTuple):
    """A mounted volume of a source disk."""

    name: str  # kernel name: sda1, dm-0
    dev: str  # "major:minor"
    mount_point: str
    fstype: str
    dm_name: str  # device-mapper name (vg-lv), "" for a partition
    is_lvm: bool
    ranges: "Tuple[Tuple[int, int], ...]"  # (offset, length) bytes on the disk, in LV order
    read_only: bool = False

    @property
    def label(self) -> str:
        """How the job log names the volume."""
        shown = "/dev/mapper/" + self.dm_name if self.dm_name else "/dev/" + self.name
        return f"{shown} ({self.fstype} on {self.mount_point})"


def _unescape(field: str) -> str:
    """mountinfo octal escapes (\\040 is a space)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> "List[Mount]":
    """Mounts of a mountinfo text; malformed lines are skipped."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or len(tail) < 2:
            continue
        read_only = "ro" in fields[5].split(",") if len(fields) > 5 else False
        mounts.append(Mount(fields[2], _unescape(fields[4]), tail[0], _unescape(tail[1]),
                            read_only))
    return mounts


def dev_of(path: str) -> str:
    """"major:minor" of a block device path, "" when it is not one."""
    try:
        rdev = os.stat(path).st_rdev
    except OSError:
        return ""
    return f"{os.major(rdev)}:{os.minor(rdev)}" if rdev else ""


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


class BlockTree:
    """The sysfs view of one disk: its partitions and everything stacked on them."""

    def __init__(self, disk_dir: Path, sys_root: Path = SYS_ROOT) -> None:
        self.disk_dir, self.sys_root = disk_dir, sys_root
        self.dev = _read(disk_dir / "dev")
        self.names = {p.name: _read(p / "dev") for p in [disk_dir, *disk_dir.iterdir()]
                      if (p / "dev").exists()}
        self.starts = {_read(disk_dir / "dev"): 0}  # dev -> byte offset on the disk
        for part in sorted(disk_dir.iterdir()):
            if (part / "partition").exists():
                self.starts[_read(part / "dev")] = int(_read(part / "start") or 0) * SECTOR
        self.sizes = {_read(p / "dev"): int(_read(p / "size") or 0) * SECTOR
                      for p in [disk_dir, *disk_dir.iterdir()] if (p / "size").exists()}

    def nodes(self) -> "Iterator[Path]":
        """The disk, its partitions and their holders (recursively), each once."""
        seen: set[str] = set()
        parts = sorted(p for p in self.disk_dir.iterdir() if (p / "partition").exists())
        todo = [self.disk_dir, *parts]
        while todo:
            node = todo.pop(0)
            if node.name in seen:
                continue
            seen.add(node.name)
            yield node
            holders = node / "holders"
            if holders.is_dir():
                todo.extend(self.sys_root / "class/block" / h.name
                            for h in sorted(holders.iterdir()))

    @property
    def size_bytes(self) -> int:
        """The whole disk's size."""
        return self.sizes.get(self.dev, 0)

    def locate(self, device: str) -> "Optional[int]":
        """Byte offset on this disk of a partition (or the disk) named by path; None: not."""
        dev = dev_of(device) or self.names.get(Path(device).name, "")
        return self.starts.get(dev)


def disk_sysfs_dir(disk: Path, sys_root: Path = SYS_ROOT) -> "Optional[Path]":
    """/sys/class/block/<disk> of a block device path; None for an image file."""
    dev = dev_of(str(disk))
    if not dev:
        return None
    node = sys_root / "dev/block" / dev
    return node.resolve() if node.exists() else None


def linear_ranges(table: str, starts: "dict[str, int]") -> "Tuple[Tuple[int, int], ...]":
    """Disk byte ranges of a `dmsetup table` whose segments are all linear on this disk."""
    ranges = []
    for line in table.splitlines():
        fields = line.split()
        if len(fields) != 5 or fields[2] != "linear" or fields[3] not in starts:
            return ()
        ranges.append((starts[fields[3]] + int(fields[4]) * SECTOR, int(fields[1]) * SECTOR))
    return tuple(ranges)


def mounted_volumes(tree: BlockTree, *, runner: Runner,
                    mounts: "Sequence[Mount]") -> "List[MountedVolume]":
    """The mounted volumes whose bytes lie on the tree's disk."""
    by_dev: dict[str, Mount] = {}
    for m in mounts:
        by_dev.setdefault(dev_of(m.source) or m.dev, m)  # btrfs: mountinfo's dev is virtual
    volumes = []
    for node in tree.nodes():
        mount = by_dev.get(_read(node / "dev"))
        if mount is not None:
            volumes.append(_volume(node, mount, tree, runner))
    return volumes


def _volume(node: Path, mount: Mount, tree: BlockTree, runner: Runner) -> MountedVolume:
    dev = _read(node / "dev")
    dm_name = _read(node / "dm/name")
    if not dm_name:
        size = tree.sizes.get(dev, 0)
        ranges: Tuple[Tuple[int, int], ...] = ((tree.starts[dev], size),) if size else ()
        return MountedVolume(node.name, dev, mount.mount_point, mount.fstype, "", False, ranges,
                      mount.read_only)
    try:
        ranges = linear_ranges(runner(["dmsetup", "table", "--", dm_name]), tree.starts)
    except CommandError:
        ranges = ()
    is_lvm = _read(node / "dm/uuid").startswith("LVM-")
    return MountedVolume(node.name, dev, mount.mount_point, mount.fstype, dm_name, is_lvm, ranges,
                  mount.read_only)
