"""Free space of the filesystem in one volume (partition or LV), by filesystem type."""

from typing import List, Tuple

from rehost.diskfmt.btrfs import btrfs_used_spans
from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.ext import probe_ext
from rehost.diskfmt.extalloc import ext_allocation
from rehost.diskfmt.extent import normalize, subtract
from rehost.diskfmt.extjournal import journal_overlay
from rehost.diskfmt.fat import fat_free_spans
from rehost.diskfmt.reader import DiskReader
from rehost.diskfmt.sniff import sniff_fs
from rehost.diskfmt.swap import swap_free_spans
from rehost.diskfmt.xfs import xfs_free_spans

Span = Tuple[int, int]
# free runs shorter than this are sent anyway: fewer, longer extents read faster than they cost
MIN_SKIP_BYTES = 64 << 10
_NOT_READ = {"ntfs": "NTFS is not read by rehost", "LVM2_member": "LVM inside a volume"}


def _ext_free(disk: DiskReader, offset: int, size_bytes: int, label: str,
              notes: "List[str]") -> "List[Span]":
    """Free blocks of ext2/3/4, with a pending journal's bitmap copies merged in."""
    sb = probe_ext(disk, offset)
    if sb is None:
        raise DiskFormatError("ext superblock unreadable")
    if sb.size_bytes > size_bytes:
        raise DiskFormatError("filesystem larger than its volume")
    overlay = None
    if sb.needs_recovery:
        try:
            overlay = journal_overlay(disk, offset, sb)
        except DiskFormatError as exc:
            raise DiskFormatError(f"journal needs recovery (mounted or unclean) and cannot be "
                                  f"read ({exc})") from exc
    alloc = ext_allocation(disk, offset, sb, min_free_bytes=MIN_SKIP_BYTES, overlay=overlay,
                           skip_unused_inodes=True)
    if overlay is not None:
        notes.append(f"{label}: journal replay pending: {len(overlay.bitmap_copies)} bitmap "
                     "copies from the journal merged")
    notes.extend(f"{label}: {n}" for n in alloc.notes)
    return list(alloc.free_spans)


def _relative_free(disk: DiskReader, offset: int, size_bytes: int, fs: str) -> "List[Span]":
    """Free spans relative to the volume start for the non-ext filesystems."""
    if fs == "xfs":
        return xfs_free_spans(disk, offset, min_free_bytes=MIN_SKIP_BYTES)
    if fs == "btrfs":
        return subtract([(0, size_bytes)], normalize(btrfs_used_spans(disk, offset)))
    if fs == "swap":
        return swap_free_spans(disk, offset, size_bytes)
    return fat_free_spans(disk, offset, size_bytes)


def volume_free_spans(disk: DiskReader, *, offset: int, size_bytes: int, label: str,
                      notes: "List[str]") -> "List[Span]":
    """Absolute spans of the volume at `offset` that need not be sent; [] (and a note) if unsure."""
    if offset >= disk.size_bytes:
        notes.append(f"{label}: starts beyond the end of the disk (truncated disk?); "
                     "nothing to copy")
        return []
    fs = sniff_fs(disk, offset).name
    named = f"{label} ({fs})" if fs else label
    if not fs:
        notes.append(f"{label}: no filesystem recognised; copied whole")
        return []
    if fs in _NOT_READ or (fs not in ("xfs", "btrfs", "swap", "vfat")
                           and not fs.startswith("ext")):
        notes.append(f"{named}: {_NOT_READ.get(fs, 'filesystem not read by rehost')}; "
                     "copied whole")
        return []
    try:
        if fs.startswith("ext"):
            return _ext_free(disk, offset, size_bytes, named, notes)
        spans = _relative_free(disk, offset, size_bytes, fs)
    except DiskFormatError as exc:
        notes.append(f"{named}: {exc}; copied whole")
        return []
    return [(offset + s, offset + min(e, size_bytes)) for s, e in spans if s < size_bytes]
