"""Grows or shrinks a disk image to a target size, with its last ext2/3/4 partition and filesystem.

A grown last partition holding an LVM PV, XFS or btrfs is grown too, and what is inside it
(`rehost.imaging.volgrow`: the PV and its last LV, in libguestfs' appliance).

The filesystem is resized on a sparse copy of the partition (resize2fs cannot be pointed at an
offset inside an image safely, see `rehost.imaging.extfs`), then copied back; the image is only
changed once resize2fs has succeeded. GPT backup headers are moved to the new end with sfdisk.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from rehost.diskfmt.shrink import shrink_limit as fit_limit
from rehost.imaging import extfs, gptbackup, volgrow
from rehost.imaging.command import run_tool
from rehost.imaging.errors import InvalidSizeError, NotShrinkableError, ShrinkBelowMinimumError
from rehost.imaging.layout import ImageLayout, ImagePartition, read_layout
from rehost.imaging.rebuild import rebuild_disk
from rehost.imaging.rebuildplan import shrunk_swaps

MiB = 1024 * 1024
SECTOR = 512
SFDISK = ["sfdisk", "--no-reread", "--no-tell-kernel", "-q"]


@dataclass(frozen=True, slots=True)
class ImageShrinkLimit:
    """The smallest size a disk can be cut to, and why not smaller."""

    min_size_bytes: int
    shrinkable: bool
    fs: str
    note_en: str
    note_zh: str


@dataclass(frozen=True, slots=True)
class ResizeResult:
    """What resize_disk did."""

    path: Path
    action: Literal["none", "grow", "shrink", "rebuild"]
    old_size_bytes: int
    new_size_bytes: int
    partition_number: int | None
    fs: str
    fs_old_size_bytes: int
    fs_new_size_bytes: int
    note: str = ""  # what else the job log should say, English ...
    note_zh: str = ""  # ... and Chinese


def min_size_bytes(path: Path) -> int:
    """Smallest size in bytes the disk can be resized to (1 MiB aligned)."""
    return shrink_limit(path).min_size_bytes


def shrink_limit(path: Path) -> ImageShrinkLimit:
    """Minimum size: the last ext partition shrunk to resize2fs -P, else the end of the data."""
    layout = read_layout(path)
    last = layout.last_partition
    if last is None:
        return ImageShrinkLimit(layout.size_bytes, False, "", "no partition or filesystem found",
                           "未找到分区或文件系统")
    if last.is_ext:
        device = extfs.spec(path, last.start_bytes)
        fs_min = extfs.min_blocks(device) * extfs.geometry(device).block_size
        needed = _round_up(last.start_bytes + fs_min + layout.tail_reserve_bytes, MiB)
        return ImageShrinkLimit(min(needed, layout.size_bytes), True, last.fs, "", "")
    needed = min(_round_up(last.end_bytes + layout.tail_reserve_bytes, MiB), layout.size_bytes)
    fs = last.fs or "unknown"
    return ImageShrinkLimit(
        needed, False, fs,
        f"the last partition holds a {fs} filesystem, which rehost cannot shrink",
        f"最后一个分区的文件系统为 {fs}，rehost 无法缩小",
    )


def resize_disk(path: Path, *, target_size_bytes: int) -> ResizeResult:
    """Resize the image file to exactly target_size_bytes, growing or shrinking its last ext fs."""
    if target_size_bytes <= 0 or target_size_bytes % SECTOR:
        raise InvalidSizeError(
            f"target size {target_size_bytes} must be a positive multiple of {SECTOR} bytes",
            f"目标大小 {target_size_bytes} 必须是 {SECTOR} 字节的正整数倍",
        )
    layout = read_layout(path)
    if target_size_bytes > layout.size_bytes:
        return _grow(layout, target_size_bytes)
    if target_size_bytes < layout.size_bytes:
        return _shrink(layout, target_size_bytes)
    last = layout.last_partition
    fs_size = _fs_size(path, last)
    return ResizeResult(path, "none", layout.size_bytes, layout.size_bytes,
                        last.number if last else None, last.fs if last else "", fs_size, fs_size)


def _grow(layout: ImageLayout, target: int) -> ResizeResult:
    """Extend the file, move the GPT backup, grow the last ext partition and filesystem."""
    path, last = layout.path, layout.last_partition
    old_fs = _fs_size(path, last)
    os.truncate(path, target)
    if layout.table == "gpt":
        gptbackup.relocate_backup(path)
    if last is not None and layout.table != "none" and last.fs in volgrow.GROWN_INSIDE:
        grown = _set_partition_end(layout, last, target - layout.tail_reserve_bytes)
        inside = volgrow.grow_inside(path, grown)
        return ResizeResult(path, "grow", layout.size_bytes, target, last.number, last.fs,
                            old_fs, grown.size_bytes, inside.note, inside.note_zh)
    if last is None or not last.is_ext:
        note = "last partition not grown: " + (f"{last.fs or 'unknown'} filesystem" if last
                                                else "no partition")
        note_zh = "最后一个分区未扩容：" + (f"{last.fs or '未知'}文件系统" if last else "没有分区")
        return ResizeResult(path, "grow", layout.size_bytes, target,
                            last.number if last else None, last.fs if last else "",
                            old_fs, old_fs, note, note_zh)
    end = target - layout.tail_reserve_bytes
    if layout.table == "none":
        grown = replace(last, size_bytes=end - last.start_bytes)
    else:
        grown = _set_partition_end(layout, last, end)
    new_fs = _resize_fs(path, grown, grown.size_bytes)
    return ResizeResult(path, "grow", layout.size_bytes, target, last.number, last.fs,
                        old_fs, new_fs)


def _shrink(layout: ImageLayout, target: int) -> ResizeResult:
    """Shrink the last ext filesystem and partition to fit, then cut the file."""
    path, last = layout.path, layout.last_partition
    limit = shrink_limit(path)
    if target < limit.min_size_bytes:
        least = _file_level_min(path)
        if least <= target:
            return _rebuild(layout, target)
        if least < limit.min_size_bytes:  # a rebuild reaches lower, yet not this low
            raise ShrinkBelowMinimumError(target_size_bytes=target, min_size_bytes=least)
        if not limit.shrinkable and last is not None and target < last.end_bytes:
            raise NotShrinkableError(fs=limit.fs, min_size_bytes=limit.min_size_bytes)
        raise ShrinkBelowMinimumError(target_size_bytes=target,
                                      min_size_bytes=limit.min_size_bytes)
    old_fs = _fs_size(path, last)
    new_fs = old_fs
    if last is not None and last.end_bytes + layout.tail_reserve_bytes > target:
        end = _round_down(target - layout.tail_reserve_bytes, 4096)
        new_fs = _resize_fs(path, last, end - last.start_bytes)
        if layout.table != "none":
            _set_partition_end(layout, last, end)
    os.truncate(path, target)
    if layout.table == "gpt":
        gptbackup.relocate_backup(path)
    return ResizeResult(path, "shrink", layout.size_bytes, target,
                        last.number if last else None, last.fs if last else "", old_fs, new_fs)


def _file_level_min(path: Path) -> int:
    """The least size a file-level rebuild reaches (diskfmt's used + margin rules)."""
    found = fit_limit(path)
    return found.min_size_bytes if found.file_level else path.stat().st_size


def _rebuild(layout: ImageLayout, target: int) -> ResizeResult:
    """Below what resize2fs reaches (or XFS/LVM): recreate the disk file by file."""
    plan = rebuild_disk(layout.path, target_size_bytes=target)
    last = layout.last_partition
    swaps = shrunk_swaps(plan)
    note = "rebuilt file-level (filesystems recreated, files copied)" + (
        f"; swap recreated smaller to fit: {', '.join(en for en, _zh in swaps)}" if swaps else "")
    note_zh = "已按文件重建（重新创建文件系统并复制文件）" + (
        f"；为放得下，交换区已缩小重建：{'，'.join(zh for _en, zh in swaps)}" if swaps else "")
    return ResizeResult(layout.path, "rebuild", layout.size_bytes, target,
                        last.number if last else None, last.fs if last else "",
                        last.size_bytes if last else 0, plan.volumes[-1].new_size_bytes, note,
                        note_zh)


def _resize_fs(path: Path, part: ImagePartition, new_part_bytes: int) -> int:
    """Resize the ext fs of a partition to fill new_part_bytes; returns the new fs size."""
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.resize-") as tmp:
        work = Path(tmp) / "fs.img"
        from rehost.imaging.sparse import copy_range_in, copy_range_out

        copy_range_out(path, offset_bytes=part.start_bytes, length_bytes=part.size_bytes,
                       dest=work)
        os.truncate(work, max(part.size_bytes, new_part_bytes))
        fsck = extfs.fsck(str(work), repair=True)
        if fsck.returncode >= 4:
            run_tool(["e2fsck", "-f", "-y", str(work)], ok_codes=(0, 1, 2))
        block = extfs.geometry(str(work)).block_size
        extfs.resize_file(work, block_count=new_part_bytes // block)
        copy_range_in(work, image=path, offset_bytes=part.start_bytes, length_bytes=new_part_bytes)
        return extfs.geometry(str(work)).size_bytes


def _set_partition_end(layout: ImageLayout, part: ImagePartition, end_bytes: int) -> ImagePartition:
    """Move the partition's end (and its MBR extended container's) to end_bytes."""
    sectors = (end_bytes - part.start_bytes) // SECTOR
    container = _container(layout, part)
    if container is not None and container.end_bytes < end_bytes:
        _sfdisk_size(layout.path, container, (end_bytes - container.start_bytes) // SECTOR)
    _sfdisk_size(layout.path, part, sectors)
    if container is not None and container.end_bytes > end_bytes:
        _sfdisk_size(layout.path, container, (end_bytes - container.start_bytes) // SECTOR)
    new = read_layout(layout.path)
    return next(p for p in new.partitions if p.number == part.number)


def _sfdisk_size(path: Path, part: ImagePartition, sectors: int) -> None:
    """Set a partition's size in sectors, keeping its start."""
    run_tool([*SFDISK, "-N", str(part.number), str(path)],
             input_text=f"{part.start_bytes // SECTOR},{sectors}\n")


def _container(layout: ImageLayout, part: ImagePartition) -> ImagePartition | None:
    """The MBR extended partition holding a logical partition, if any."""
    if layout.table != "mbr" or part.number < 5:
        return None
    return next((p for p in layout.partitions if p.is_extended), None)


def _fs_size(path: Path, part: ImagePartition | None) -> int:
    """Size of the ext fs in the partition, or the partition size for other filesystems."""
    if part is None:
        return 0
    if not part.is_ext:
        return part.size_bytes
    return extfs.geometry(extfs.spec(path, part.start_bytes)).size_bytes


def _round_up(value: int, unit: int) -> int:
    """Round up to a multiple of unit."""
    return -(-value // unit) * unit


def _round_down(value: int, unit: int) -> int:
    """Round down to a multiple of unit."""
    return value // unit * unit
