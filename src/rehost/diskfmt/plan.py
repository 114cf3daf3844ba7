"""The send plan (which byte ranges of a disk must be copied) and the shrink limit."""

import os
from typing import NamedTuple

from rehost.diskfmt.errors import DiskFormatError
from rehost.diskfmt.extalloc import ext_allocation
from rehost.diskfmt.extent import (
    Extent,
    Span,
    align_outward,
    intersect,
    normalize,
    subtract,
    to_extents,
    total_bytes,
)
from rehost.diskfmt.extjournal import journal_overlay
from rehost.diskfmt.holes import data_spans
from rehost.diskfmt.layout import DiskLayout, Volume, inspect_disk
from rehost.diskfmt.reader import FileDisk

# free runs shorter than this are sent anyway: fewer, longer extents read faster than they cost
MIN_SKIP_BYTES = 64 << 10


class SendPlan(NamedTuple):
    """Extents to read, how many bytes they cover, and why anything was copied whole."""

    disk_size_bytes: int
    extents: "tuple[Extent, ...]"
    planned_bytes: int
    notes: "tuple[str, ...]"


def _skippable(disk: FileDisk, vol: Volume, notes: "list[str]") -> "list[Span]":
    """Free spans of one ext volume that need not be sent; [] when in doubt."""
    sb = vol.ext
    if sb is None:
        return []
    label = f"partition {vol.number} ({vol.fs.name})"
    if sb.size_bytes > vol.size_bytes:
        notes.append(f"{label}: filesystem larger than its partition; copied whole")
        return []
    overlay = None
    try:
        if sb.needs_recovery:
            overlay = journal_overlay(disk, vol.start_bytes, sb)
    except DiskFormatError as exc:
        notes.append(f"{label}: journal needs recovery (mounted or unclean) and cannot be "
                     f"read ({exc}); copied whole")
        return []
    try:
        alloc = ext_allocation(disk, vol.start_bytes, sb, min_free_bytes=MIN_SKIP_BYTES,
                               overlay=overlay)
    except DiskFormatError as exc:
        notes.append(f"{label}: {exc}; copied whole")
        return []
    if overlay is not None:
        notes.append(f"{label}: journal replay pending: {len(overlay.bitmap_copies)} bitmap "
                     "copies from the journal merged")
    notes.extend(f"{label}: {n}" for n in alloc.notes)
    return list(alloc.free_spans)


def describe_plan(path: "str | os.PathLike[str]") -> "SendPlan":
    """Everything except free ext blocks and file holes, rounded out to 4 KiB."""
    with FileDisk(path) as disk:
        size = disk.size_bytes
        layout = inspect_disk(disk)
        notes = list(layout.table.notes)
        free: list[Span] = []
        for vol in layout.volumes:
            free.extend(_skippable(disk, vol, notes))
        spans = subtract([(0, size)], normalize(free))
        spans = intersect(spans, normalize(data_spans(disk.fd, size)))
    spans = align_outward(spans, limit=size)
    return SendPlan(disk_size_bytes=size, extents=tuple(to_extents(spans)),
                    planned_bytes=total_bytes(spans), notes=tuple(notes))


def plan_extents(path: "str | os.PathLike[str]") -> "list[Extent]":
    """Sorted, non-overlapping byte ranges the sender must read; the rest reads as zeros."""
    return list(describe_plan(path).extents)


def read_layout(path: "str | os.PathLike[str]") -> DiskLayout:
    """Inspect the disk at `path`."""
    with FileDisk(path) as disk:
        return inspect_disk(disk)
