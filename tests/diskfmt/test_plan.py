"""The send plan: free ext blocks (full of stale data) and holes left out, everything else in."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from diskfactory import (
    BuiltDisk,
    PartSpec,
    compare_disks,
    copy_planned,
    dumpe2fs_free_ranges,
    dumpe2fs_unsent_ranges,
    e2fsck_all,
    make_disk,
    run,
)
from rehost.diskfmt import Extent, describe_plan, plan_extents, read_layout
from rehost.diskfmt.e2tools import debugfs_cat
from rehost.diskfmt.extent import intersect, normalize, subtract, total_bytes
from rehost.diskfmt.holes import data_spans

MIB = 1 << 20
ALIGN = 4096


def _assert_well_formed(extents: list[Extent], size: int) -> None:
    assert extents == sorted(extents)
    for prev, cur in itertools.pairwise(extents):
        assert prev.end_bytes < cur.offset_bytes  # non-overlapping and merged
    for ext in extents:
        assert ext.offset_bytes % ALIGN == 0 and ext.length_bytes > 0
        assert ext.end_bytes % ALIGN == 0 or ext.end_bytes == size


def _overlap(extents: list[Extent], ranges: list[tuple[int, int]]) -> int:
    total = 0
    for lo, hi in ranges:
        lo, hi = -(-lo // ALIGN) * ALIGN, hi // ALIGN * ALIGN  # alignment may read edges
        for e in extents:
            total += max(0, min(hi, e.end_bytes) - max(lo, e.offset_bytes))
    return total


@pytest.mark.parametrize("fixture", ["gpt_system_disk", "mbr_system_disk", "data_disk",
                                     "whole_data_disk"])
def test_plan_skips_stale_free_space_and_keeps_everything_else(
    fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    disk: BuiltDisk = request.getfixturevalue(fixture)
    extents = plan_extents(disk.path)
    _assert_well_formed(extents, disk.size_bytes)
    free = [r for p in disk.ext_partitions for r in dumpe2fs_free_ranges(disk.path, p.start_bytes)]
    assert _overlap(extents, free) == 0
    target = tmp_path / "target.img"
    copy_planned(disk.path, target, extents)
    assert compare_disks(disk, target) == []
    assert all(rc == 0 for rc, _ in e2fsck_all(disk, target).values())
    for part in disk.ext_partitions:  # every file reads back through the filesystem
        for name, content in part.files.items():
            assert debugfs_cat(target, part.start_bytes, f"/{name}") == content


def test_plan_of_logical_partitions_keeps_ebrs(tmp_path: Path) -> None:
    disk = make_disk(tmp_path, size_mib=48, table="mbr", parts=(
        PartSpec(fs="ext4", size_mib=8), PartSpec(fs="ext4", size_mib=16, logical=True,
                                                  files_bytes=2 * MIB),
        PartSpec(fs="ext3", logical=True, files_bytes=MIB)))
    extents = plan_extents(disk.path)
    target = tmp_path / "target.img"
    copy_planned(disk.path, target, extents)
    assert compare_disks(disk, target) == []
    assert [p.number for p in disk.ext_partitions] == [1, 5, 6]
    assert all(rc == 0 for rc, _ in e2fsck_all(disk, target).values())


def test_whole_disk_vfat_is_not_an_mbr(tmp_path: Path) -> None:
    img = tmp_path / "fat.img"
    run("truncate", "-s", "16M", img)
    run("mkfs.vfat", img)
    layout = read_layout(img)
    assert layout.table.kind == "none" and [v.fs.name for v in layout.volumes] == ["vfat"]


def _stored_used_bytes(disk: BuiltDisk) -> int:
    """Used ext bytes the image stores as data (SEEK_DATA), as the plan sees them now.

    mke2fs zeroes the journal with fallocate(FALLOC_FL_ZERO_RANGE): an unwritten extent that
    SEEK_DATA reports as a hole until a read puts its (zero) pages in the page cache, so the
    4 MiB journal of the root counts as data or not depending on what ran before.
    """
    with disk.path.open("rb") as f:
        data = normalize(data_spans(f.fileno(), disk.size_bytes))
    total = 0
    for part in disk.ext_partitions:
        free = normalize(dumpe2fs_unsent_ranges(disk.path, part.start_bytes))
        used = subtract([(part.start_bytes, part.start_bytes + part.size_bytes)], free)
        total += total_bytes(intersect(used, data))
    return total


def test_plan_size_is_used_data_plus_unknown_partitions(gpt_system_disk: BuiltDisk) -> None:
    plan = describe_plan(gpt_system_disk.path)
    whole = sum(p.size_bytes for p in gpt_system_disk.partitions if p.fs == "unknown")
    stored = _stored_used_bytes(gpt_system_disk)
    assert stored >= gpt_system_disk.used_bytes - 5 * MIB  # at most the journal is unwritten
    expected = stored + whole  # the ESP sends its FATs and root cluster
    assert plan.notes == ("partition 2: no filesystem recognised; copied whole",)
    assert expected - 2 * MIB <= plan.planned_bytes <= expected + 2 * MIB
    assert plan.planned_bytes < gpt_system_disk.size_bytes * 0.6


def test_holes_of_sparse_images_are_not_planned(tmp_path: Path) -> None:
    disk = make_disk(tmp_path, size_mib=64, table="gpt", stale=False,
                     parts=(PartSpec(fs="empty", size_mib=40), PartSpec(fs="ext4")))
    plan = describe_plan(disk.path)
    assert plan.planned_bytes < 8 * MIB
    with disk.path.open("rb") as f:
        data = data_spans(f.fileno(), disk.size_bytes)
    for ext in plan.extents:  # every planned byte is data (modulo 4 KiB rounding)
        assert any(s - ALIGN < ext.offset_bytes and ext.end_bytes < e + ALIGN for s, e in data)


def test_recovery_flag_with_an_empty_journal_still_skips_free_space(tmp_path: Path) -> None:
    disk = make_disk(tmp_path, size_mib=32, table="mbr",
                     parts=(PartSpec(fs="ext4", files_bytes=2 * MIB),))
    part = disk.ext_partitions[0]
    run("debugfs", "-w", "-R", "feature needs_recovery", f"{disk.path}?offset={part.start_bytes}")
    plan = describe_plan(disk.path)  # nothing logged: the on-disk bitmaps are the truth
    assert plan.notes == ("partition 1 (ext4): journal replay pending: 0 bitmap copies from "
                          "the journal merged",)
    free = dumpe2fs_free_ranges(disk.path, part.start_bytes)
    assert _overlap(list(plan.extents), free) == 0
    target = tmp_path / "target.img"
    copy_planned(disk.path, target, plan.extents)
    for name, content in part.files.items():
        assert debugfs_cat(target, part.start_bytes, f"/{name}") == content


def test_block_devices_have_no_holes() -> None:
    fd = os.open("/dev/zero", os.O_RDONLY)
    try:
        assert data_spans(fd, 1 << 30) == [(0, 1 << 30)]
    finally:
        os.close(fd)


def test_missing_disk_is_a_bilingual_error(tmp_path: Path) -> None:
    from rehost.diskfmt import DiskUnreadableError

    with pytest.raises(DiskUnreadableError, match="无法读取磁盘"):
        plan_extents(tmp_path / "nope.img")
