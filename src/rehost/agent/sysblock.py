"""Block devices from sysfs and procfs, shaped like `lsblk -J -b -O` output.

Kernels from 3.10 have everything needed: `/sys/block/<disk>/{size,dev}`, one sub-directory per
partition with `partition` and `start`, `holders/` for dm/LVM on top, and
`/proc/self/mountinfo` with the major:minor of each mount. Partition table, partition types,
filesystem names, UUIDs and labels come from reading the device with `rehost.diskfmt`, so no
udev database, `blkid` or util-linux >= 2.27 is needed. Standard library only, Python 3.6+.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Sequence

from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.partitions import read_partition_table
from rehost.diskfmt.reader import FileDisk
from rehost.diskfmt.sniff import sniff_fs

if TYPE_CHECKING:  # typing.TypedDict is Python 3.8+; the agent runs on 3.6
    from typing import TypedDict  # novermin: type checking only

    class Device(TypedDict, total=False):
        """One node of `lsblk -J -b -O` (old lsblk writes sizes as strings)."""

        name: str
        kname: str
        path: str
        type: str
        size: "int | str"
        fstype: str
        uuid: str
        label: str
        parttype: str
        pttype: str
        mountpoint: "str | None"
        mountpoints: "Sequence[str | None]"
        children: "List[Device]"
else:
    Device = dict
SECTOR = 512


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _int(path: Path) -> int:
    text = _read(path)
    return int(text) if text.isdigit() else 0


def mounts_by_devnum(mountinfo: Path) -> "Dict[str, List[str]]":
    """'major:minor' -> mount points, from /proc/self/mountinfo (octal escapes decoded)."""
    found: Dict[str, List[str]] = {}
    for line in _read(mountinfo).splitlines():
        fields = line.split()
        if len(fields) > 4:
            point = fields[4].replace("\\040", " ").replace("\\011", "\t")
            found.setdefault(fields[2], []).append(point)
    return found


def _probe(path: Path, offset: int) -> "Device":
    try:
        with FileDisk(path) as disk:
            probe = sniff_fs(disk, offset)
    except (DiskFormatError, OSError):
        return {}
    found: Device = {"fstype": probe.name, "uuid": probe.uuid, "label": probe.label}
    return found if probe.name else {}


def _holders(block: Path, mounts: "Dict[str, List[str]]", sys_root: Path) -> "List[Device]":
    """dm/LVM devices stacked on a disk or partition (e.g. an LV holding /)."""
    kids: List[Device] = []
    holders = block / "holders"
    for holder in sorted(holders.iterdir()) if holders.is_dir() else []:
        top = sys_root / "class" / "block" / holder.name
        kids.append({"kname": holder.name, "name": holder.name, "type": "lvm",
                     "size": _int(top / "size") * SECTOR,
                     "mountpoints": mounts.get(_read(top / "dev"), []),
                     "children": _holders(top, mounts, sys_root)})
    return kids


def _disk(block: Path, dev_root: Path, mounts: "Dict[str, List[str]]",
          sys_root: Path) -> Device:
    name = block.name
    path = dev_root / name.replace("!", "/")
    disk: Device = {"kname": name, "name": name, "path": str(path), "type": "disk",
                    "size": _int(block / "size") * SECTOR,
                    "mountpoints": mounts.get(_read(block / "dev"), []),
                    "children": _holders(block, mounts, sys_root)}
    try:
        with FileDisk(path) as reader:
            table = read_partition_table(reader)
    except (DiskFormatError, OSError):
        table = None
    kind = table.kind if table is not None else "none"
    disk["pttype"] = {"mbr": "dos", "gpt": "gpt"}.get(kind, "")
    types = {p.number: p.type_code for p in table.partitions} if table is not None else {}
    parts = sorted((p for p in block.iterdir() if (p / "partition").exists()),
                   key=lambda p: _int(p / "partition"))
    for part in parts:
        number, start = _int(part / "partition"), _int(part / "start") * SECTOR
        child: Device = {"kname": part.name, "name": part.name, "type": "part",
                         "path": str(dev_root / part.name), "size": _int(part / "size") * SECTOR,
                         "parttype": types.get(number, ""),
                         "mountpoints": mounts.get(_read(part / "dev"), []),
                         "children": _holders(part, mounts, sys_root)}
        child.update(_probe(path, start))
        disk["children"].append(child)
    if not parts:
        disk.update(_probe(path, 0))
    return disk


def sysfs_devices(sys_root: Path = Path("/sys"), dev_root: Path = Path("/dev"),
                  mountinfo: Path = Path("/proc/self/mountinfo")) -> "List[Device]":
    """Every /sys/block disk with its partitions and holders, lsblk-shaped; [] without sysfs."""
    blocks = sys_root / "block"
    if not blocks.is_dir():
        return []
    mounts = mounts_by_devnum(mountinfo)
    return [_disk(b, dev_root, mounts, sys_root) for b in sorted(blocks.iterdir())]
