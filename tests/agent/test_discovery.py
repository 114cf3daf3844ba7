"""Discovery of image files (diskfmt + debugfs) and of this real machine (lsblk, /proc)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pytest

from diskfactory import BuiltDisk, PartSpec, make_disk
from rehost.agent.discovery import DiscoveryError, discover_image_files, discover_server
from rehost.agent.inventory import SourceInventory


def test_gpt_image_with_data_disk(gpt_system_disk: BuiltDisk, data_disk: BuiltDisk) -> None:
    inv = discover_image_files(gpt_system_disk.path, [data_disk.path])
    assert inv.boot_mode == "UEFI"
    assert (inv.os_name, inv.os_version) == ("Debian GNU/Linux", "12")
    assert inv.hostname == "source-host"
    system, data = inv.disks
    assert (system.index, system.partition_table, system.size_bytes) == (
        0, "gpt", gpt_system_disk.size_bytes)
    assert [p.fs for p in system.partitions] == ["vfat", "", "ext4"]
    root = system.partitions[2]
    assert root.used_bytes == gpt_system_disk.partitions[2].used_bytes
    assert root.label == "root" and root.start_bytes == gpt_system_disk.partitions[2].start_bytes
    assert system.partitions[1].used_bytes == system.partitions[1].size_bytes  # unknown: whole
    assert system.used_bytes < system.min_size_bytes < system.size_bytes
    assert data.index == 1 and data.used_bytes == data_disk.used_bytes
    assert SourceInventory.from_json(inv.to_json()) == inv


def test_mbr_image_boots_bios_and_whole_disk_data(mbr_system_disk: BuiltDisk,
                                                  whole_data_disk: BuiltDisk) -> None:
    inv = discover_image_files(mbr_system_disk.path, [whole_data_disk.path])
    assert inv.boot_mode == "BIOS"
    assert inv.disks[0].partition_table == "mbr"
    assert [p.type for p in inv.disks[0].partitions] == ["83", "da", "83"]
    data = inv.disks[1]
    assert data.partition_table == "none"
    assert [(p.number, p.fs) for p in data.partitions] == [(0, "ext4")]


def test_data_disk_without_filesystem_is_not_offered(gpt_system_disk: BuiltDisk,
                                                     tmp_path: Path) -> None:
    blank = make_disk(tmp_path, size_mib=16, table="gpt", parts=(PartSpec(fs="unknown"),))
    inv = discover_image_files(gpt_system_disk.path, [blank.path])
    assert len(inv.disks) == 1


def test_image_without_os_release_is_unknown(tmp_path: Path) -> None:
    disk = make_disk(tmp_path, size_mib=24, table="mbr", parts=(PartSpec(fs="ext4"),))
    inv = discover_image_files(disk.path, [])
    assert (inv.os_name, inv.os_version, inv.kernel) == ("unknown", "unknown", "unknown")


def test_missing_image_is_a_bilingual_error(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match=r"not found.*找不到"):
        discover_image_files(tmp_path / "missing.img", [])


def test_unreadable_image_is_a_bilingual_error(tmp_path: Path) -> None:
    img = tmp_path / "locked.img"
    img.write_bytes(b"\0" * 4096)
    img.chmod(0)
    if os.geteuid() == 0:  # root reads anything: use a directory instead
        img = tmp_path / "dir.img"
        img.mkdir()
    with pytest.raises(DiscoveryError, match="磁盘"):
        discover_image_files(img, [])


def test_this_machine() -> None:
    inv = discover_server()
    system = inv.system_disk
    assert system is not None
    assert system.path.startswith("/dev/") and system.size_bytes > 0
    assert not any(Path(d.path).name.startswith(("loop", "zram", "ram", "sr"))
                   for d in inv.disks)
    root = [p for p in system.partitions if p.mountpoint == "/"]
    assert len(root) == 1 and root[0].fs
    st = os.statvfs("/")
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    assert abs(root[0].used_bytes - used) < 1 << 30
    assert 0 < system.used_bytes <= system.size_bytes
    assert system.used_bytes <= system.min_size_bytes <= system.size_bytes
    assert inv.boot_mode == ("UEFI" if Path("/sys/firmware/efi").is_dir() else "BIOS")
    assert inv.kernel == platform.release() and inv.arch == platform.machine()
    assert inv.os_name != "unknown"
    assert SourceInventory.from_json(inv.to_json()) == inv
