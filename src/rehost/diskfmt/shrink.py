"""How far a disk can shrink: the end of its last partition, or less for an ext one."""

import os
from typing import NamedTuple

from rehost.diskfmt.extgroups import read_group_descs
from rehost.diskfmt.extminsize import min_fs_bytes
from rehost.diskfmt.layout import DiskLayout, Volume, inspect_disk
from rehost.diskfmt.reader import DiskReader, FileDisk

MIB = 1 << 20
GPT_BACKUP_BYTES = 33 * 512


class ShrinkLimit(NamedTuple):
    """Smallest size the disk can shrink to, and why it cannot go lower ("" if by data)."""

    min_size_bytes: int
    shrink_note: str


def _round_up(value: int, unit: int) -> int:
    return -(-value // unit) * unit


def _last_volume(layout: DiskLayout) -> "Volume | None":
    """The volume that ends last on the disk."""
    return max(layout.volumes, key=lambda v: v.end_bytes, default=None)


def _fixed(end_bytes: int, layout: DiskLayout, note: str) -> "ShrinkLimit":
    """A limit at the end of the partitions (plus the GPT backup area)."""
    tail = GPT_BACKUP_BYTES if layout.table.kind == "gpt" else 0
    size = min(layout.size_bytes, _round_up(end_bytes + tail, MIB))
    return ShrinkLimit(min_size_bytes=size, shrink_note=note)


def _partitions_end(layout: DiskLayout) -> int:
    """End of the last partition, counting extended containers."""
    return max((p.end_bytes for p in layout.table.partitions), default=0)


def shrink_limit_of(disk: DiskReader) -> "ShrinkLimit":
    """Compute the shrink limit of an open disk."""
    layout = inspect_disk(disk)
    last = _last_volume(layout)
    end = max(_partitions_end(layout), last.end_bytes if last else 0)
    if last is None:
        return _fixed(end or layout.size_bytes, layout,
                      "no partition or filesystem recognised; rehost cannot shrink this disk")
    if last.ext is None:
        name = last.fs.name or "of an unknown type"
        return _fixed(end, layout, f"last partition is {name}; rehost cannot shrink it")
    if last.partition is not None and last.partition.is_logical:
        return _fixed(end, layout,
                      "last partition is a logical partition; rehost cannot shrink it")
    if last.ext.cluster_bytes > last.ext.block_bytes:
        return _fixed(end, layout, "last filesystem uses bigalloc; rehost cannot shrink it")
    fs_min = min_fs_bytes(last.ext, read_group_descs(disk, last.start_bytes, last.ext))
    if last.ext.needs_recovery:
        # a mounted filesystem's counters lag a little: keep a wider margin
        fs_min += fs_min // 20
    others_end = max((p.end_bytes for p in layout.table.partitions
                      if p is not last.partition), default=0)
    shrunk = last.start_bytes + min(fs_min, last.size_bytes)
    return _fixed(max(shrunk, others_end), layout, "")


def shrink_limit(path: "str | os.PathLike[str]") -> "ShrinkLimit":
    """Shrink limit of the disk at `path`."""
    with FileDisk(path) as disk:
        return shrink_limit_of(disk)


def min_size_bytes(path: "str | os.PathLike[str]") -> int:
    """Smallest size in bytes the disk at `path` can shrink to."""
    return shrink_limit(path).min_size_bytes
