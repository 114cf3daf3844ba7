"""How far a disk can shrink: block-level (the end of its last partition, or less for ext),
or file-level (the used bytes of each filesystem plus a margin, when the build recreates them).

A file-level rebuild recreates ext2/3/4, XFS and btrfs filesystems (on partitions or plain LVM
LVs) at their used size plus a margin and swap areas at their size or down to SWAP_MIN_BYTES;
every other volume (and a btrfs holding snapshots) keeps its size and is copied as it is.
"""

import os
from typing import List, NamedTuple

from rehost.diskfmt.btrfs import btrfs_snapshots, btrfs_used_spans
from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.ext import probe_ext
from rehost.diskfmt.extent import total_bytes
from rehost.diskfmt.extgroups import read_group_descs
from rehost.diskfmt.extminsize import min_fs_bytes
from rehost.diskfmt.layout import DiskLayout, Volume, inspect_disk
from rehost.diskfmt.lvm import SECTOR
from rehost.diskfmt.lvmap import LvOnDisk, PvOnDisk, logical_volumes
from rehost.diskfmt.reader import DiskReader, FileDisk, read_exact
from rehost.diskfmt.sniff import sniff_fs
from rehost.diskfmt.xfs import parse_xfs_superblock, xfs_free_spans

MIB = 1 << 20
GPT_BACKUP_BYTES = 33 * 512
# file-level margin per filesystem type: (percent of the used bytes, fixed bytes). The used
# bytes already hold the old filesystem's journal, inode tables and directories, which a
# smaller new one does not outgrow (mke2fs sizes them by the filesystem's size): the ext
# margin covers fragmentation, a journal the old one had smaller than mke2fs's default and
# extra inodes for many small files; the XFS one a new log of mkfs.xfs's default size
# btrfs (its used bytes count each copy of DUP metadata): the allocator makes its last chunks
# as small as the free space is, so a copy file by file strands little; measured: 657 MiB used
# (630 MiB data, 2 x 13 MiB metadata) copied into a 756 MiB btrfs left 30 MiB of data and
# 26 MiB of metadata space free (docs/imaging.md)
MARGINS = {"ext": (5, 16 * MIB), "xfs": (10, 64 * MIB), "btrfs": (10, 32 * MIB)}
# mkfs.xfs refuses filesystems under 300 MB; btrfs under 256 MiB holds little beside its reserves
FLOORS = {"xfs": 300 * MIB, "btrfs": 256 * MIB}
LVM_SLACK_EXTENTS = 1  # one spare extent per VG: LVM rounds LVs up to whole extents
# a swap area holds nothing to keep: a rebuild recreates it (same UUID and label) at its size
# when the target leaves room, else down to this floor; the job log names the new size
SWAP_MIN_BYTES = 64 * MIB
KEPT_AS_IS = "volume keeps its size"  # a volume no rebuild makes smaller (nothing wrong with it)


class ShrinkLimit(NamedTuple):
    """Smallest size the disk can shrink to, and why it cannot go lower ("" if by data)."""

    min_size_bytes: int
    shrink_note: str
    # used bytes per partition number, when a filesystem (or the LVs of a PV) says so
    used_by_partition: "tuple[tuple[int, int], ...]" = ()
    file_level: bool = False  # min_size_bytes needs a file-level rebuild on the transit side


class LvFit(NamedTuple):
    """One LV of a PV: its size, its filesystem's used bytes and the least it can be rebuilt to."""

    name: str
    fs: str
    size_bytes: int
    used_bytes: int
    min_bytes: int  # == size_bytes when the LV is copied as it is


class VolumeFit(NamedTuple):
    """One volume: its size, used bytes and the least a file-level rebuild makes it."""

    number: int
    fs: str
    size_bytes: int
    used_bytes: int
    min_bytes: int  # == size_bytes when the volume keeps its size
    lvs: "tuple[LvFit, ...]" = ()
    vg_name: str = ""
    extent_bytes: int = 0
    pe_start_bytes: int = 0
    why_kept: str = ""  # why a volume keeps its size ("" when it is rebuilt to fit)


def _round_up(value: int, unit: int) -> int:
    return -(-value // unit) * unit


def fs_min_bytes(fs: str, used_bytes: int) -> int:
    """The least size a file-level rebuild gives a filesystem holding used_bytes (MiB aligned)."""
    family = "ext" if fs.startswith("ext") else fs
    percent, fixed = MARGINS[family]
    need = _round_up(used_bytes + used_bytes * percent // 100 + fixed, MIB)
    return max(need, FLOORS.get(family, 0))


def fs_used_bytes(disk: DiskReader, offset: int, fs: str) -> "int | None":
    """Used bytes of an ext2/3/4, XFS or btrfs filesystem at offset; None for other types."""
    if fs.startswith("ext"):
        sb = probe_ext(disk, offset)
        if sb is None:
            raise DiskFormatError("ext superblock unreadable")
        # a mounted filesystem's counters lag a little: keep a wider margin
        return sb.used_bytes + (sb.used_bytes // 20 if sb.needs_recovery else 0)
    if fs == "xfs":
        xsb = parse_xfs_superblock(read_exact(disk, offset, 512, "XFS superblock"))
        return xsb.size_bytes - total_bytes(xfs_free_spans(disk, offset))
    if fs == "btrfs":
        snapshots = btrfs_snapshots(disk, offset)
        if snapshots:  # copied file by file, their shared extents would be written again
            ids = ", ".join(map(str, snapshots[:5]))
            raise DiskFormatError(f"btrfs holds {len(snapshots)} snapshot(s) (subvolume IDs "
                                  f"{ids}): a file-level copy would write their shared data again")
        return total_bytes(btrfs_used_spans(disk, offset))
    return None


def _fit_of(disk: DiskReader, offset: int, size: int) -> "tuple[str, int, int]":
    """(fs, used bytes, least rebuilt size) of the filesystem at offset; kept size if unknown."""
    fs = sniff_fs(disk, offset).name if offset < disk.size_bytes else ""
    if fs == "swap":
        return fs, 0, min(size, SWAP_MIN_BYTES)
    used = fs_used_bytes(disk, offset, fs) if fs else None
    if used is None:
        return fs, size, size
    return fs, used, min(size, fs_min_bytes(fs, used))


def _lv_fit(item: LvOnDisk) -> LvFit:
    """Size rule of one LV: its filesystem's used bytes + margin, or its whole size."""
    if item.reader is None:
        raise DiskFormatError(f"LV {item.vg.name}/{item.lv.name}: {item.why_not}")
    size = item.reader.size_bytes
    fs, used, least = _fit_of(item.reader, 0, size)
    return LvFit(item.lv.name, fs, size, used, least)


def _pv_fit(disk: DiskReader, vol: Volume) -> VolumeFit:
    """A PV rebuilt to hold each LV at its least size, one spare extent, its metadata area."""
    items = logical_volumes(disk, PvOnDisk(f"partition {vol.number}", vol.start_bytes,
                                           vol.size_bytes))
    vgs = {i.vg.name: i.vg for i in items}
    if len(vgs) != 1:
        raise DiskFormatError("PV holds no single volume group")
    vg = next(iter(vgs.values()))
    if len(vg.pvs) != 1:
        raise DiskFormatError(f"VG {vg.name} spans {len(vg.pvs)} PVs")
    lvs = tuple(_lv_fit(i) for i in items)
    pe_start = next(iter(vg.pvs.values())).pe_start_sectors * SECTOR
    least = pe_start + sum(_round_up(lv.min_bytes, vg.extent_bytes) for lv in lvs)
    least = _round_up(least + LVM_SLACK_EXTENTS * vg.extent_bytes, MIB)
    return VolumeFit(vol.number, vol.fs.name, vol.size_bytes, sum(lv.used_bytes for lv in lvs),
                     min(least, vol.size_bytes), lvs, vg.name, vg.extent_bytes, pe_start)


def volume_fit(disk: DiskReader, vol: Volume) -> VolumeFit:
    """The file-level size rule of one volume; a volume rehost cannot read keeps its size."""
    try:
        if vol.fs.name == "LVM2_member":
            return _pv_fit(disk, vol)
        fs, used, least = _fit_of(disk, vol.start_bytes, vol.size_bytes)
    except DiskFormatError as exc:
        return VolumeFit(vol.number, vol.fs.name, vol.size_bytes, vol.size_bytes,
                         vol.size_bytes, why_kept=str(exc))
    why = "" if least < vol.size_bytes else f"{fs or 'unknown'} {KEPT_AS_IS}"
    return VolumeFit(vol.number, fs, vol.size_bytes, used, least, why_kept=why)


def disk_fits(disk: DiskReader, layout: DiskLayout) -> "List[VolumeFit]":
    """The size rule of every volume, in disk order."""
    return [volume_fit(disk, v) for v in sorted(layout.volumes, key=lambda v: v.start_bytes)]


def file_level_note(layout: DiskLayout) -> str:
    """Why this disk cannot be rebuilt file-level ("" when it can)."""
    if any(p.is_logical for p in layout.table.partitions):
        return "logical partitions are not rebuilt file-level"
    if layout.table.kind == "none" and len(layout.volumes) != 1:
        return "no partition table or filesystem recognised"
    return ""


def file_level_min(layout: DiskLayout, fits: "List[VolumeFit]") -> int:
    """Disk size holding every volume at its least size, partitions 1 MiB aligned, in order."""
    if layout.table.kind == "none":
        return fits[0].min_bytes if fits else layout.size_bytes
    pos = min((v.start_bytes for v in layout.volumes), default=MIB)
    for fit in fits:
        pos = _round_up(pos, MIB) + fit.min_bytes
    tail = GPT_BACKUP_BYTES if layout.table.kind == "gpt" else 0
    return _round_up(pos + tail, MIB)


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


def block_limit_of(disk: DiskReader, layout: DiskLayout) -> "ShrinkLimit":
    """How far resize2fs (block-level, last ext partition only) can shrink the disk."""
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


def shrink_limit_of(disk: DiskReader) -> "ShrinkLimit":
    """The lower of the block-level and the file-level limits of an open disk."""
    layout = inspect_disk(disk)
    block = block_limit_of(disk, layout)
    fits = disk_fits(disk, layout)
    used = tuple((f.number, f.used_bytes) for f in fits)
    why = file_level_note(layout)
    if why or not fits:
        return block._replace(used_by_partition=used,
                              shrink_note="; ".join(n for n in (block.shrink_note, why) if n))
    least = file_level_min(layout, fits)
    kept = [f"{_where(f.number)}: {f.why_kept}" for f in fits if f.why_kept]
    if least >= block.min_size_bytes:
        # after why resizing cannot, why a rebuild cannot either (a volume rehost cannot read)
        unread = [k for k in kept if not k.endswith(KEPT_AS_IS)]
        note = "; ".join([block.shrink_note, *unread]) if block.shrink_note else ""
        return block._replace(used_by_partition=used, shrink_note=note)
    return ShrinkLimit(least, "; ".join(kept), used, file_level=True)


def _where(number: int) -> str:
    return f"partition {number}" if number else "the disk"


def shrink_limit(path: "str | os.PathLike[str]") -> "ShrinkLimit":
    """Shrink limit of the disk at `path`."""
    with FileDisk(path) as disk:
        return shrink_limit_of(disk)


def min_size_bytes(path: "str | os.PathLike[str]") -> int:
    """Smallest size in bytes the disk at `path` can shrink to."""
    return shrink_limit(path).min_size_bytes
