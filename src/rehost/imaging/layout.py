"""A disk image's partition table and filesystems, read with sfdisk --json and blkid -p."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rehost.imaging.command import run_tool
from rehost.imaging.errors import ToolError

TableKind = Literal["mbr", "gpt", "none"]
EXT_TYPES = frozenset({"ext2", "ext3", "ext4"})
ESP_TYPES = frozenset({"C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "ef"})
BIOS_BOOT_TYPE = "21686148-6449-6E6F-744E-656564454649"
EXTENDED_TYPES = frozenset({"5", "f", "85"})
GPT_BACKUP_BYTES = 33 * 512  # backup partition entries (32 sectors) + backup header


@dataclass(frozen=True, slots=True)
class ImagePartition:
    """One partition (or, for a disk without a table, the whole disk as number 0)."""

    number: int
    start_bytes: int
    size_bytes: int
    type_code: str
    fs: str
    uuid: str
    label: str
    partuuid: str = ""
    partlabel: str = ""

    @property
    def end_bytes(self) -> int:
        """First byte after the partition."""
        return self.start_bytes + self.size_bytes

    @property
    def is_ext(self) -> bool:
        """True for ext2/3/4."""
        return self.fs in EXT_TYPES

    @property
    def is_esp(self) -> bool:
        """True for an EFI System Partition."""
        return self.type_code.upper() in ESP_TYPES or self.type_code == "ef"

    @property
    def is_extended(self) -> bool:
        """True for an MBR extended container."""
        return self.type_code.lower() in EXTENDED_TYPES


@dataclass(frozen=True, slots=True)
class ImageLayout:
    """Partition table kind, disk size and partitions sorted by start."""

    path: Path
    size_bytes: int
    table: TableKind
    partitions: tuple[ImagePartition, ...]

    @property
    def data_partitions(self) -> tuple[ImagePartition, ...]:
        """Partitions holding data (MBR extended containers left out)."""
        return tuple(p for p in self.partitions if not p.is_extended)

    @property
    def last_partition(self) -> ImagePartition | None:
        """The data partition that ends last on the disk."""
        parts = self.data_partitions
        return max(parts, key=lambda p: p.end_bytes) if parts else None

    @property
    def tail_reserve_bytes(self) -> int:
        """Bytes the table needs after the last partition (the GPT backup)."""
        return GPT_BACKUP_BYTES if self.table == "gpt" else 0


def read_layout(path: Path) -> ImageLayout:
    """Read the partition table and probe each partition's filesystem."""
    size = path.stat().st_size
    try:
        dump = json.loads(run_tool(["sfdisk", "--json", str(path)]).stdout)["partitiontable"]
    except ToolError:
        whole = probe_fs(path, offset_bytes=0, size_bytes=size)
        whole_disk = (ImagePartition(0, 0, size, "", *whole),) if whole[0] else ()
        return ImageLayout(path, size, "none", whole_disk)
    sector = int(dump.get("sectorsize", 512))
    table: TableKind = "gpt" if dump["label"] == "gpt" else "mbr"
    parts: list[ImagePartition] = []
    for entry in dump.get("partitions", []):
        start, length = int(entry["start"]) * sector, int(entry["size"]) * sector
        number = int(str(entry["node"])[len(str(path)):].lstrip("p"))
        fs = ("", "", "")
        if str(entry["type"]).lower() not in EXTENDED_TYPES:
            fs = probe_fs(path, offset_bytes=start, size_bytes=length)
        parts.append(ImagePartition(number, start, length, str(entry["type"]), *fs,
                               partuuid=str(entry.get("uuid", "")),
                               partlabel=str(entry.get("name", ""))))
    return ImageLayout(path, size, table, tuple(sorted(parts, key=lambda p: p.start_bytes)))


def probe_fs(path: Path, *, offset_bytes: int, size_bytes: int) -> tuple[str, str, str]:
    """(type, uuid, label) of the filesystem at offset, or empty strings when none is found."""
    proc = run_tool(["blkid", "-p", "-o", "export", "-O", str(offset_bytes), "-S",
                     str(size_bytes), str(path)], ok_codes=(0, 2))
    tags = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    # swap's UUID and label are what fstab names it by; a PV's or RAID member's are not
    if tags.get("USAGE", "filesystem") != "filesystem" and tags.get("TYPE") != "swap":
        return (tags.get("TYPE", ""), "", "")
    return (tags.get("TYPE", ""), tags.get("UUID", ""), tags.get("LABEL", ""))
