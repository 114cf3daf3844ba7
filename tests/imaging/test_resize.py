"""resize_disk grows and shrinks real disk images; grown and shrunk disks still boot."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from bootdisk import BootDisk, DataDisk, MiB, build_data_disk, copy_disk, expected_marker
from rehost.imaging import extfs
from rehost.imaging.errors import InvalidSizeError, NotShrinkableError, ShrinkBelowMinimumError
from rehost.imaging.layout import read_layout
from rehost.imaging.resize import min_size_bytes, resize_disk, shrink_limit
from rehost.imaging.verify import verify_image


def _assert_consistent(path: Path, size_bytes: int) -> None:
    """Exact size, a valid table with the root filling the disk, a clean ext fs filling it."""
    assert path.stat().st_size == size_bytes
    subprocess.run(["sfdisk", "--verify", str(path)], check=True, capture_output=True)
    layout = read_layout(path)
    last = layout.last_partition
    assert last is not None and last.is_ext
    assert size_bytes - last.end_bytes - layout.tail_reserve_bytes < MiB
    device = extfs.spec(path, last.start_bytes)
    assert extfs.fsck(device, repair=False).clean
    assert last.size_bytes - extfs.geometry(device).size_bytes < 4096


def test_grow_gpt_moves_backup_header_and_grows_fs(uefi_disk: BootDisk, tmp_path: Path) -> None:
    disk = copy_disk(uefi_disk.path, tmp_path)
    result = resize_disk(disk, target_size_bytes=512 * MiB)
    assert (result.action, result.partition_number, result.fs) == ("grow", 2, "ext4")
    assert result.fs_new_size_bytes > result.fs_old_size_bytes + 100 * MiB
    _assert_consistent(disk, 512 * MiB)
    with disk.open("rb") as handle:
        handle.seek(512 * MiB - 512)
        assert handle.read(8) == b"EFI PART"


def test_shrink_gpt_and_mbr(uefi_disk: BootDisk, bios_disk: BootDisk, tmp_path: Path) -> None:
    for source in (uefi_disk, bios_disk):
        (tmp_path / source.boot_mode).mkdir()
        disk = copy_disk(source.path, tmp_path / source.boot_mode)
        result = resize_disk(disk, target_size_bytes=160 * MiB)
        assert result.action == "shrink" and result.fs_new_size_bytes < result.fs_old_size_bytes
        _assert_consistent(disk, 160 * MiB)


def test_shrink_below_minimum_is_refused_with_the_minimum(
    bios_disk: BootDisk, tmp_path: Path
) -> None:
    disk = copy_disk(bios_disk.path, tmp_path)
    before = hashlib.sha256(disk.read_bytes()).hexdigest()
    minimum = min_size_bytes(disk)
    assert 34 * MiB < minimum < bios_disk.size_bytes and minimum % MiB == 0
    with pytest.raises(ShrinkBelowMinimumError) as err:
        resize_disk(disk, target_size_bytes=minimum - MiB)
    assert err.value.min_size_bytes == minimum
    assert str(minimum) in err.value.message_en and str(minimum) in err.value.message_zh
    assert hashlib.sha256(disk.read_bytes()).hexdigest() == before


def test_shrink_to_exactly_the_minimum_works(uefi_disk: BootDisk, tmp_path: Path) -> None:
    disk = copy_disk(uefi_disk.path, tmp_path)
    minimum = min_size_bytes(disk)
    resize_disk(disk, target_size_bytes=minimum)
    _assert_consistent(disk, minimum)


def test_non_ext_last_partition_is_not_shrinkable_but_grows(tmp_path: Path) -> None:
    disk = tmp_path / "fat-last.img"
    with disk.open("wb") as handle:
        handle.truncate(64 * MiB)
    subprocess.run(["sfdisk", "-q", str(disk)], input="label: gpt\nstart=2048, type=L\n",
                   text=True, check=True)
    subprocess.run(["mkfs.vfat", "--offset", "2048", str(disk), str(62 * 1024)], check=True,
                   capture_output=True)
    limit = shrink_limit(disk)
    assert not limit.shrinkable and limit.fs == "vfat" and "vfat" in limit.note_en
    with pytest.raises(NotShrinkableError) as err:
        resize_disk(disk, target_size_bytes=32 * MiB)
    assert "vfat" in err.value.message_en and "vfat" in err.value.message_zh
    grown = resize_disk(disk, target_size_bytes=96 * MiB)
    assert grown.action == "grow" and "vfat" in grown.note
    assert grown.note_zh == "最后一个分区未扩容：vfat文件系统", grown
    assert disk.stat().st_size == 96 * MiB
    subprocess.run(["sfdisk", "--verify", str(disk)], check=True, capture_output=True)


def test_data_disk_mbr_grow_and_whole_disk_fs(tmp_path: Path) -> None:
    data = build_data_disk(tmp_path / "mbr.img", table="mbr")
    resize_disk(data.path, target_size_bytes=128 * MiB)
    _assert_consistent(data.path, 128 * MiB)
    whole = tmp_path / "whole.img"
    with whole.open("wb") as handle:
        handle.truncate(64 * MiB)
    subprocess.run(["mkfs.ext4", "-q", str(whole)], check=True)
    resize_disk(whole, target_size_bytes=96 * MiB)
    assert extfs.geometry(str(whole)).size_bytes == 96 * MiB
    resize_disk(whole, target_size_bytes=48 * MiB)
    assert extfs.geometry(str(whole)).size_bytes == 48 * MiB
    assert extfs.fsck(str(whole), repair=False).clean


def test_unaligned_target_is_refused(bios_disk: BootDisk) -> None:
    with pytest.raises(InvalidSizeError):
        resize_disk(bios_disk.path, target_size_bytes=100 * MiB + 1)


@pytest.mark.qemu
def test_grown_uefi_and_shrunk_bios_disks_boot(
    uefi_disk: BootDisk, bios_disk: BootDisk, data_disk: DataDisk, tmp_path: Path
) -> None:
    (tmp_path / "grown").mkdir()
    grown = copy_disk(uefi_disk.path, tmp_path / "grown")
    resize_disk(grown, target_size_bytes=640 * MiB)
    shrunk = copy_disk(bios_disk.path, tmp_path)
    resize_disk(shrunk, target_size_bytes=min_size_bytes(shrunk))
    data = copy_disk(data_disk.path, tmp_path)
    resize_disk(data, target_size_bytes=96 * MiB)
    for system, source, mode in ((grown, uefi_disk, "UEFI"), (shrunk, bios_disk, "BIOS")):
        result = verify_image([system, data], boot_mode=mode,  # type: ignore[arg-type]
                              timeout_s=120, log_path=tmp_path / f"{mode}.log")
        assert result.passed, (result.reason, result.log_path.read_text(errors="replace")[-2000:])
        assert result.matched_line == expected_marker(source, data_disk)
