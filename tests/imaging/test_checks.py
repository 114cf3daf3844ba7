"""run_checks on good disks, a broken fstab, a corrupted fs and missing bootloaders."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from bootdisk import BootDisk, DataDisk, build_boot_disk, copy_disk
from rehost.imaging import guestview
from rehost.imaging.checks import has_failures, run_checks
from rehost.imaging.fstab import parse_fstab
from rehost.imaging.layout import read_layout

BROKEN_FSTAB = (
    "UUID={root} / ext4 defaults 0 1\n"
    "UUID=0badc0de-0000-4000-8000-000000000000 /srv ext4 defaults 0 2\n"
    "/dev/sdb1 /backup ext4 defaults,nofail 0 2\n"
    "/dev/vda1 /boot vfat defaults 0 2\n"
    "/dev/vdc1 /gone ext4 defaults 0 2\n"
    "tmpfs /tmp tmpfs defaults 0 0\n"
)


def _by_name(results: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {r.name: r.status for r in results}


def test_good_disks_pass_every_check(
    bios_disk: BootDisk, uefi_disk: BootDisk, data_disk: DataDisk
) -> None:
    for disk in (bios_disk, uefi_disk):
        results = run_checks([disk.path, data_disk.path], boot_mode=disk.boot_mode)
        assert {r.status for r in results} == {"pass"}, results
        names = _by_name(results)
        assert {"fstab", "kernel", "initramfs", "virtio", "bootloader",
                "fsck:disk1p1"} <= set(names)


def test_missing_data_disk_is_a_warning_for_a_nofail_entry(bios_disk: BootDisk) -> None:
    results = run_checks([bios_disk.path], boot_mode="BIOS")
    assert _by_name(results)["fstab:/data"] == "warn"
    assert not has_failures(results)


def test_broken_fstab_fails_and_warns(tmp_path: Path, data_disk: DataDisk) -> None:
    root_uuid = str(uuid.uuid4())
    disk = build_boot_disk(tmp_path / "broken.img", boot_mode="UEFI", root_uuid=root_uuid,
                           extra_files={"etc/fstab": BROKEN_FSTAB.format(root=root_uuid).encode()})
    results = run_checks([disk.path, data_disk.path], boot_mode="UEFI")
    status = _by_name(results)
    assert status["fstab:/srv"] == "fail" and status["fstab:/gone"] == "fail"
    assert status["fstab:/backup"] == "warn"
    assert "fstab:/" not in status and "fstab:/boot" not in status and "fstab:/tmp" not in status
    backup = next(r for r in results if r.name == "fstab:/backup")
    data_uuid = read_layout(data_disk.path).partitions[0].uuid
    assert backup.hint == f"replace it with UUID={data_uuid}" and "virtio" in backup.message_en
    assert has_failures(results)


def test_zeroed_boot_code_and_corrupt_fs_fail(bios_disk: BootDisk, tmp_path: Path) -> None:
    disk = copy_disk(bios_disk.path, tmp_path)
    with disk.open("r+b") as handle:
        handle.write(bytes(440))
    root = read_layout(disk).partitions[1]
    subprocess.run(["debugfs", "-w", "-R", "clri /srv/app/data.txt",
                    f"{disk}?offset={root.start_bytes}"], check=True, capture_output=True)
    status = _by_name(run_checks([disk], boot_mode="BIOS"))
    assert status["bootloader"] == "fail" and status["fsck:disk0p2"] == "fail"


def test_esp_without_fallback_loader_warns(uefi_disk: BootDisk, tmp_path: Path) -> None:
    disk = copy_disk(uefi_disk.path, tmp_path)
    esp = f"{disk}@@{read_layout(disk).partitions[0].start_bytes}"
    env = {"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"}
    subprocess.run(["mmd", "-i", esp, "::/EFI/debian"], check=True, env=env)
    subprocess.run(["mmove", "-i", esp, "::/EFI/BOOT/BOOTX64.EFI", "::/EFI/debian/grubx64.efi"],
                   check=True, env=env)
    loader = next(r for r in run_checks([disk], boot_mode="UEFI") if r.name == "bootloader")
    assert loader.status == "warn" and "BOOTX64.EFI" in loader.hint


def test_parse_fstab_skips_comments_and_reads_options() -> None:
    entries = parse_fstab("# c\n\nUUID=a / ext4 defaults,nofail 0 1 # trailing\nbad line\n")
    assert len(entries) == 1 and entries[0].optional and entries[0].mountpoint == "/"


def test_without_libguestfs_an_xfs_root_is_not_checked_never_a_kernel_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = tmp_path / "xfs.img"
    with disk.open("wb") as f:
        f.truncate(320 * 1024 * 1024)
    subprocess.run(["mkfs.xfs", "-q", "-f", str(disk)], check=True, capture_output=True)
    monkeypatch.setattr(guestview, "GUESTFISH", str(tmp_path / "no-guestfish"))  # OS edge
    results = run_checks([disk], boot_mode="BIOS")
    status = _by_name(results)
    kernel = next(r for r in results if r.name == "kernel")
    assert kernel.status == "warn" and "not checked" in kernel.message_en, kernel
    assert "xfs" in kernel.message_en and "未检查" in kernel.message_zh
    assert "libguestfs" in kernel.message_en
    assert status["fsck:disk0p0"] == "warn" and status["fstab"] == "warn"
    assert [r.name for r in results if r.status == "fail"] == ["bootloader"]  # no boot code
