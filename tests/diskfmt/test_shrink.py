"""Shrink limits: ext last partitions shrink to about `resize2fs -P`; others cannot."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from diskfactory import BuiltDisk, PartSpec, make_disk
from rehost.diskfmt import shrink_limit
from rehost.diskfmt.e2tools import resize2fs_min_blocks

MIB = 1 << 20


def test_ext_last_partition_limit_is_resize2fs_estimate_plus_margin(
    mbr_system_disk: BuiltDisk,
) -> None:
    root = mbr_system_disk.partitions[-1]
    limit = shrink_limit(mbr_system_disk.path)
    p_bytes = resize2fs_min_blocks(mbr_system_disk.path, root.start_bytes) * 1024
    assert limit.shrink_note == ""
    assert root.start_bytes + p_bytes <= limit.min_size_bytes
    assert limit.min_size_bytes <= root.start_bytes + p_bytes + 10 * MIB
    assert limit.min_size_bytes % MIB == 0


def test_shrinking_to_the_limit_really_works(gpt_system_disk: BuiltDisk, tmp_path: Path) -> None:
    # resize2fs on `img?offset=N` truncates the image file to the new fs size (data past it is
    # lost), so the filesystem is shrunk in a file of its own
    root = gpt_system_disk.partitions[-1]
    limit = shrink_limit(gpt_system_disk.path)
    fs_bytes = limit.min_size_bytes - 33 * 512 - root.start_bytes
    fs = tmp_path / "root.fs"
    with gpt_system_disk.path.open("rb") as src, fs.open("wb") as dst:
        src.seek(root.start_bytes)
        shutil.copyfileobj(src, dst)
    resize = subprocess.run(["resize2fs", fs, f"{fs_bytes // 1024}K"], capture_output=True,
                            text=True)
    assert resize.returncode == 0, resize.stderr
    check = subprocess.run(["e2fsck", "-fn", fs], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    assert fs.stat().st_size <= fs_bytes


def test_non_ext_last_partition_is_not_shrinkable(tmp_path: Path) -> None:
    disk = make_disk(tmp_path, size_mib=48, table="gpt",
                     parts=(PartSpec(fs="ext4", size_mib=16), PartSpec(fs="swap", size_mib=8)))
    limit = shrink_limit(disk.path)
    assert "swap" in limit.shrink_note
    assert limit.min_size_bytes == 26 * MIB  # 1 MiB gap + 16 + 8, then the GPT backup MiB


def test_unknown_last_partition_is_not_shrinkable(tmp_path: Path) -> None:
    disk = make_disk(tmp_path, size_mib=32, table="mbr",
                     parts=(PartSpec(fs="ext4", size_mib=8), PartSpec(fs="unknown", size_mib=8)))
    limit = shrink_limit(disk.path)
    assert "unknown" in limit.shrink_note
    assert limit.min_size_bytes == 17 * MIB


def test_logical_last_partition_is_not_shrinkable(tmp_path: Path) -> None:
    disk = make_disk(tmp_path, size_mib=40, table="mbr",
                     parts=(PartSpec(fs="ext4", size_mib=8), PartSpec(fs="ext4", logical=True)))
    limit = shrink_limit(disk.path)
    assert "logical" in limit.shrink_note
    assert limit.min_size_bytes == 40 * MIB


def test_whole_disk_ext4_shrinks(whole_data_disk: BuiltDisk) -> None:
    limit = shrink_limit(whole_data_disk.path)
    assert limit.shrink_note == ""
    assert whole_data_disk.used_bytes < limit.min_size_bytes < whole_data_disk.size_bytes
