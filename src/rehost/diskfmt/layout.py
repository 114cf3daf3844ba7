"""What a disk holds: its partition table and the filesystem in each volume."""
from typing import NamedTuple

from rehost.diskfmt.ext import ExtSuperblock, probe_ext
from rehost.diskfmt.partitions import read_partition_table
from rehost.diskfmt.reader import DiskReader
from rehost.diskfmt.sniff import FsProbe, sniff_fs
from rehost.diskfmt.table import Partition, PartitionTable


class Volume(NamedTuple):
    """A partition (or the whole disk when there is no table) and its filesystem."""

    number: int  # partition number; 0 for a whole-disk filesystem
    start_bytes: int
    size_bytes: int
    type_code: str
    fs: FsProbe
    ext: "ExtSuperblock | None"
    partition: "Partition | None"

    @property
    def end_bytes(self) -> int:
        """First byte after the volume."""
        return self.start_bytes + self.size_bytes

    @property
    def used_bytes(self) -> "int | None":
        """Used bytes when the filesystem says so (ext2/3/4 only)."""
        return self.ext.used_bytes if self.ext else None


class DiskLayout(NamedTuple):
    """A disk's size, partition table and volumes (containers left out)."""

    size_bytes: int
    table: PartitionTable
    volumes: "tuple[Volume, ...]"

    @property
    def is_uefi_bootable(self) -> bool:
        """True for GPT with an EFI System Partition."""
        return self.table.kind == "gpt" and any(
            v.partition is not None and v.partition.is_efi_system for v in self.volumes
        )


def _volume(disk: DiskReader, part: Partition) -> "Volume":
    """Probe the filesystem inside one partition."""
    inside = part.start_bytes < disk.size_bytes
    probe = sniff_fs(disk, part.start_bytes) if inside else FsProbe("")
    ext = probe_ext(disk, part.start_bytes) if probe.name.startswith("ext") else None
    return Volume(
        number=part.number, start_bytes=part.start_bytes, size_bytes=part.size_bytes,
        type_code=part.type_code, fs=probe, ext=ext, partition=part,
    )


def inspect_disk(disk: DiskReader) -> "DiskLayout":
    """Read the partition table and identify every volume's filesystem."""
    table = read_partition_table(disk)
    if table.kind == "none":
        probe = sniff_fs(disk, 0)
        ext = probe_ext(disk, 0) if probe.name.startswith("ext") else None
        whole: tuple[Volume, ...] = (
            (Volume(number=0, start_bytes=0, size_bytes=disk.size_bytes, type_code="",
                    fs=probe, ext=ext, partition=None),)
            if probe.name else ()
        )
        return DiskLayout(size_bytes=disk.size_bytes, table=table, volumes=whole)
    vols = tuple(_volume(disk, p) for p in table.data_partitions)
    return DiskLayout(size_bytes=disk.size_bytes, table=table, volumes=vols)
