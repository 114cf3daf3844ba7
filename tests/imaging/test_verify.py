"""verify_image boots real disks in QEMU (BIOS/MBR, UEFI/GPT) and fails fast on broken ones."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from bootdisk import BootDisk, DataDisk, copy_disk, expected_marker
from rehost.imaging.console import FailurePattern
from rehost.imaging.verify import VerifyResult, disk_format, verify_image

pytestmark = pytest.mark.qemu
GUEST_FAIL = (FailurePattern("REHOST-BOOT-FAIL", "guest self-check failed", "客户机自检失败"),)
BOOT_TIMEOUT_S = 120.0


def boot(disks: list[Path], mode: str, log: Path) -> VerifyResult:
    """Boot with the bootdisk's own failure marker watched too."""
    assert mode in ("BIOS", "UEFI")
    return verify_image(disks, boot_mode=mode, timeout_s=BOOT_TIMEOUT_S,  # type: ignore[arg-type]
                        failure_patterns=GUEST_FAIL, log_path=log)


def _fingerprint(path: Path) -> tuple[str, int]:
    """Content hash and mtime of an image."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def test_bios_mbr_boots_with_data_disk_and_image_is_not_modified(
    bios_disk: BootDisk, data_disk: DataDisk, tmp_path: Path
) -> None:
    before = [_fingerprint(bios_disk.path), _fingerprint(data_disk.path)]
    result = boot([bios_disk.path, data_disk.path], "BIOS", tmp_path / "console.log")
    assert result.passed, (result.reason, result.log_path.read_text(errors="replace")[-2000:])
    assert result.matched_line == expected_marker(bios_disk, data_disk)
    assert "SYSLINUX" in result.log_path.read_text(errors="replace")
    assert [_fingerprint(bios_disk.path), _fingerprint(data_disk.path)] == before


@pytest.mark.parametrize("with_data", [True, False], ids=["data", "nodata"])
def test_uefi_gpt_boots(
    uefi_disk: BootDisk, data_disk: DataDisk, tmp_path: Path, with_data: bool
) -> None:
    data = data_disk if with_data else None
    disks = [uefi_disk.path] + ([data_disk.path] if with_data else [])
    result = boot(disks, "UEFI", tmp_path / "console.log")
    assert result.passed, (result.reason, result.log_path.read_text(errors="replace")[-2000:])
    assert result.matched_line == expected_marker(uefi_disk, data)


def test_qcow2_system_disk_boots(bios_disk: BootDisk, tmp_path: Path) -> None:
    qcow = tmp_path / "system.qcow2"
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(bios_disk.path), str(qcow)],
                   check=True)
    assert disk_format(qcow) == "qcow2" and disk_format(bios_disk.path) == "raw"
    result = boot([qcow], "BIOS", tmp_path / "console.log")
    assert result.passed and result.matched_line == expected_marker(bios_disk)


def test_zeroed_mbr_fails_fast(bios_disk: BootDisk, data_disk: DataDisk, tmp_path: Path) -> None:
    broken = copy_disk(bios_disk.path, tmp_path)
    with broken.open("r+b") as disk:
        disk.write(bytes(512))
    result = boot([broken, data_disk.path], "BIOS", tmp_path / "console.log")
    assert not result.passed
    assert "not bootable" in result.reason and result.reason_zh
    assert result.duration_s < 30
    assert "not a bootable disk" in result.log_path.read_text(errors="replace")


def test_zeroed_esp_fails_fast(uefi_disk: BootDisk, tmp_path: Path) -> None:
    broken = copy_disk(uefi_disk.path, tmp_path)
    with broken.open("r+b") as disk:
        disk.seek(1024 * 1024)
        disk.write(bytes(1024 * 1024))
    result = boot([broken], "UEFI", tmp_path / "console.log")
    assert not result.passed and "UEFI" in result.reason
    assert result.duration_s < 45


def test_guest_that_stops_without_success_line_fails(bios_disk: BootDisk, tmp_path: Path) -> None:
    result = verify_image([bios_disk.path], boot_mode="BIOS", timeout_s=BOOT_TIMEOUT_S,
                          success_patterns=[r"^never printed$"], log_path=tmp_path / "c.log")
    assert not result.passed and "stopped" in result.reason
    assert "REHOST-BOOT-OK" in result.log_path.read_text(errors="replace")
