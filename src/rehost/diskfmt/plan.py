"""The send plan (which byte ranges of a disk must be copied) and the shrink limit."""

import os
from typing import NamedTuple

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
from rehost.diskfmt.holes import data_spans
from rehost.diskfmt.layout import DiskLayout, Volume, inspect_disk
from rehost.diskfmt.lvmap import PvOnDisk, lvm_free_spans
from rehost.diskfmt.reader import DiskReader, FileDisk
from rehost.diskfmt.volfree import volume_free_spans


class SendPlan(NamedTuple):
    """Extents to read, how many bytes they cover, and why anything was copied whole."""

    disk_size_bytes: int
    extents: "tuple[Extent, ...]"
    planned_bytes: int
    notes: "tuple[str, ...]"


def _volume_name(vol: Volume) -> str:
    return f"partition {vol.number}" if vol.number else "whole disk"


def _lv_free(reader: DiskReader, label: str, notes: "list[str]") -> "list[Span]":
    """Free spans of the filesystem inside one logical volume (LV coordinates)."""
    return volume_free_spans(reader, offset=0, size_bytes=reader.size_bytes, label=label,
                             notes=notes)


def _past_the_end(vol: Volume, disk_bytes: int) -> "str | None":
    """Why a volume the table places (partly) beyond the end of the disk is copied as it is."""
    if vol.end_bytes <= disk_bytes:
        return None
    named = f"{_volume_name(vol)} ({vol.fs.name})" if vol.fs.name else _volume_name(vol)
    if vol.start_bytes >= disk_bytes:
        return (f"{named}: starts at byte {vol.start_bytes}, beyond the end of the disk "
                f"({disk_bytes} bytes; truncated disk?); nothing to copy")
    return (f"{named}: ends at byte {vol.end_bytes}, {vol.end_bytes - disk_bytes} bytes beyond "
            f"the end of the disk ({disk_bytes} bytes; truncated disk?); the "
            f"{disk_bytes - vol.start_bytes} bytes present are copied whole")


def _free_spans(disk: DiskReader, layout: DiskLayout, notes: "list[str]") -> "list[Span]":
    """Disk spans no volume needs: free filesystem space, unallocated LVM extents."""
    free: list[Span] = []
    pvs: list[PvOnDisk] = []
    for vol in layout.volumes:
        truncated = _past_the_end(vol, disk.size_bytes)
        if truncated is not None:  # its metadata may point past the end: trust none of it
            notes.append(truncated)
            continue
        if vol.fs.name == "LVM2_member":
            pvs.append(PvOnDisk(f"{_volume_name(vol)} (LVM2_member)", vol.start_bytes,
                                vol.size_bytes))
            continue
        free.extend(volume_free_spans(disk, offset=vol.start_bytes, size_bytes=vol.size_bytes,
                                      label=_volume_name(vol), notes=notes))
    if pvs:
        free.extend(lvm_free_spans(disk, pvs, fs_free=_lv_free, notes=notes))
    return free


def describe_plan(path: "str | os.PathLike[str]") -> "SendPlan":
    """Everything except free filesystem space, unallocated LVM extents and file holes (4 KiB)."""
    with FileDisk(path) as disk:
        size = disk.size_bytes
        layout = inspect_disk(disk)
        notes = list(layout.table.notes)
        if not layout.volumes and layout.table.kind == "none":
            notes.append("whole disk: no partition table or filesystem recognised; copied whole")
        free = _free_spans(disk, layout, notes)
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
