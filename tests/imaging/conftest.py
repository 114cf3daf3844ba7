"""Session fixtures: one BIOS/MBR and one UEFI/GPT bootable disk, and a data disk."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bootdisk import BootDisk, DataDisk, build_boot_disk, build_data_disk

REQUIRED_TOOLS = ("sfdisk", "mkfs.ext4", "resize2fs", "e2fsck", "debugfs", "dumpe2fs", "blkid",
                  "mkfs.vfat", "mcopy", "mdir", "syslinux", "grub-mkstandalone", "busybox")


@pytest.fixture(scope="session", autouse=True)
def _tools() -> None:
    """Fail loudly (never skip) when a tool the imaging tests need is missing."""
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    assert not missing, f"missing tools {missing}: run scripts/install-system-deps.sh test"


@pytest.fixture(scope="session")
def bios_disk(tmp_path_factory: pytest.TempPathFactory) -> BootDisk:
    """A BIOS/MBR disk: FAT /boot with syslinux, ext4 root last."""
    return build_boot_disk(tmp_path_factory.mktemp("bios") / "system.img", boot_mode="BIOS")


@pytest.fixture(scope="session")
def uefi_disk(tmp_path_factory: pytest.TempPathFactory) -> BootDisk:
    """A UEFI/GPT disk: ESP with a standalone GRUB, ext4 root (with /boot) last."""
    return build_boot_disk(tmp_path_factory.mktemp("uefi") / "system.img", boot_mode="UEFI")


@pytest.fixture(scope="session")
def data_disk(tmp_path_factory: pytest.TempPathFactory) -> DataDisk:
    """A GPT data disk with one ext4 partition labelled rehost-data."""
    return build_data_disk(tmp_path_factory.mktemp("data") / "data.img")
