"""File-level size rules: used bytes + a margin per filesystem type (diskfmt.shrink)."""

from __future__ import annotations

from pathlib import Path

import pytest

from diskfactory import MIB, PartSpec, ext_used_bytes, make_disk
from fslayouts import LayoutDisk, make_lvm_disk
from rehost.diskfmt.shrink import (
    FLOORS,
    MARGINS,
    SWAP_MIN_BYTES,
    fs_min_bytes,
    shrink_limit,
)
from rehost.imaging.errors import ShrinkBelowMinimumError
from rehost.imaging.rebuildplan import plan_rebuild, shrunk_swaps


@pytest.fixture(scope="module")
def lvm_xfs(tmp_path_factory: pytest.TempPathFactory) -> LayoutDisk:
    """GPT: ext4 /boot (32 MiB), PV with an XFS root LV (320 MiB) and a swap LV (32 MiB)."""
    return make_lvm_disk(tmp_path_factory.mktemp("lvm-xfs"), root_kind="xfs")


def test_ext_margin_is_five_percent_plus_16_mib_rounded_to_mib() -> None:
    assert MARGINS["ext"] == (5, 16 * MIB)
    assert fs_min_bytes("ext4", 100 * MIB) == 121 * MIB
    assert fs_min_bytes("ext2", 100 * MIB + 1) == 122 * MIB


def test_xfs_margin_never_goes_below_what_mkfs_xfs_accepts() -> None:
    assert fs_min_bytes("xfs", 10 * MIB) == FLOORS["xfs"]
    assert fs_min_bytes("xfs", 1000 * MIB) == 1164 * MIB  # 1000 + 100 + 64


def test_btrfs_margin_is_ten_percent_plus_32_mib_at_least_256_mib() -> None:
    assert MARGINS["btrfs"] == (10, 32 * MIB)
    assert fs_min_bytes("btrfs", 657 * MIB) == 755 * MIB  # the corpus image: 722.7 + 32
    assert fs_min_bytes("btrfs", 10 * MIB) == FLOORS["btrfs"]


def test_lvm_xfs_disk_minimum_is_the_sum_of_its_volumes_minimums(lvm_xfs: LayoutDisk) -> None:
    disk = lvm_xfs
    limit = shrink_limit(disk.path)
    assert limit.file_level, limit
    boot = disk.filesystems["boot"]
    used = dict(limit.used_by_partition)
    # the PV's used bytes are its LVs' filesystems', not the whole PV (the free-space trees
    # count the AG free lists as used, xfs_db's fdblocks does not: a few blocks apart)
    assert abs(used[2] - disk.filesystems["root"].used_bytes) <= MIB, used
    assert abs(used[1] - boot.used_bytes) <= boot.used_bytes // 20 + 4096
    # 1 MiB gap, /boot at its least, PV = 1 MiB metadata + XFS 300 MiB + swap 32 + 1 extent
    boot_min = min(boot.size_bytes, fs_min_bytes("ext4", used[1]))  # 32 MiB: kept
    assert limit.min_size_bytes == MIB + boot_min + (1 + 300 + 32 + 4) * MIB + MIB
    assert limit.min_size_bytes < disk.size_bytes


def test_plain_ext4_minimum_is_the_lower_of_resize2fs_and_used_plus_margin(
    tmp_path: Path,
) -> None:
    # on a small filesystem resize2fs -P's estimate is below used + 10 % + 32 MiB: it wins
    disk = make_disk(tmp_path, size_mib=512, table="mbr",
                     parts=(PartSpec(fs="ext4", files_bytes=20 * MIB),))
    part = disk.partitions[0]
    used = ext_used_bytes(disk.path, part.start_bytes)
    limit = shrink_limit(disk.path)
    assert not limit.file_level, limit
    assert limit.min_size_bytes < part.start_bytes + fs_min_bytes("ext4", used)
    assert dict(limit.used_by_partition) == {part.number: used}


def test_a_disk_with_logical_partitions_keeps_the_block_level_rule(tmp_path: Path) -> None:
    disk = make_disk(tmp_path, size_mib=64, table="mbr",
                     parts=(PartSpec(fs="ext4", size_mib=16), PartSpec(fs="ext4", logical=True)))
    limit = shrink_limit(disk.path)
    assert not limit.file_level
    assert "logical" in limit.shrink_note


def test_rebuild_plan_keeps_earlier_volumes_and_gives_the_rest_to_the_last_lv(
    lvm_xfs: LayoutDisk,
) -> None:
    least = shrink_limit(lvm_xfs.path).min_size_bytes
    plan = plan_rebuild(lvm_xfs.path, target_size_bytes=least + 8 * MIB)
    boot, pv = plan.volumes
    assert (boot.new_start_bytes, boot.new_size_bytes) == (MIB, 32 * MIB)
    assert pv.new_start_bytes == 33 * MIB and pv.vg_name and pv.extent_bytes == 4 * MIB
    assert pv.new_start_bytes + pv.new_size_bytes <= least + 8 * MIB - 33 * 512
    root, swap = sorted(pv.lvs, key=lambda lv: lv.name)
    assert pv.lvs[-1].new_size_bytes == 0  # the last LV takes every free extent
    assert {root.fs, swap.fs} == {"xfs", "swap"}
    assert next(lv for lv in pv.lvs if lv.fs == "swap").old_size_bytes == 32 * MIB


def test_rebuild_below_the_minimum_is_refused_naming_the_disk_in_both_languages(
    lvm_xfs: LayoutDisk,
) -> None:
    least = shrink_limit(lvm_xfs.path).min_size_bytes
    with pytest.raises(ShrinkBelowMinimumError) as caught:
        plan_rebuild(lvm_xfs.path, target_size_bytes=least - MIB, disk_name="disk-0.raw")
    err = caught.value
    assert err.min_size_bytes == least
    assert "disk disk-0.raw" in err.message_en and str(least) in err.message_en
    assert "磁盘 disk-0.raw" in err.message_zh and str(least) in err.message_zh


def test_swap_is_recreated_down_to_its_floor_when_the_target_needs_the_room(
    tmp_path: Path,
) -> None:
    # MBR: swap 256 MiB, then an ext4 root with 300 MiB of files in 1 GiB
    disk = make_disk(tmp_path, size_mib=1300, table="mbr",
                     parts=(PartSpec(fs="swap", size_mib=256),
                            PartSpec(fs="ext4", files_bytes=300 * MIB)))
    swap, root = disk.partitions
    limit = shrink_limit(disk.path)
    assert limit.file_level, limit
    root_min = fs_min_bytes("ext4", dict(limit.used_by_partition)[root.number])
    # swap counts no used bytes and is floored, not kept at 256 MiB
    assert dict(limit.used_by_partition)[swap.number] == 0
    assert limit.min_size_bytes == MIB + SWAP_MIN_BYTES + root_min
    roomy = plan_rebuild(disk.path, target_size_bytes=limit.min_size_bytes + 256 * MIB)
    assert roomy.volumes[0].new_size_bytes == 256 * MIB and not shrunk_swaps(roomy)
    tight = plan_rebuild(disk.path, target_size_bytes=limit.min_size_bytes + 64 * MIB)
    assert tight.volumes[0].new_size_bytes == SWAP_MIN_BYTES
    assert shrunk_swaps(tight) == [("partition 1 from 256 to 64 MiB",
                                    "分区 1 从 256 MiB 缩小到 64 MiB")]
