"""GRUB for the server-like layouts: BIOS from the MBR gap or a GPT BIOS boot partition, and
UEFI at the removable path EFI/BOOT/BOOTX64.EFI (firmware finds it without an NVRAM entry).

Each core image carries an early config that finds /boot's filesystem by UUID, so GRUB does
not depend on the disk's name under the firmware (hd0, virtio or SATA).
"""

from __future__ import annotations

import struct
from pathlib import Path

from .cache import progress, run
from .mounts import in_chroot
from .recipe import Layout
from .storage import GuestDisk

SECTOR = 512
BOOT_CODE_BYTES = 440  # the MBR's boot code; the partition table after it stays
KERNEL_SECTOR_AT = 0x5C  # boot.img: LBA of core.img's first sector (GRUB_BOOT_MACHINE_KERNEL…)
BLOCKLIST_AT = SECTOR - 12  # diskboot.img: first blocklist entry, LBA of the rest of core.img
BIOS_BOOT_SECTOR = 2048  # the gpt-lvm layout's BIOS boot partition
MODULES = {"gpt-lvm": "part_gpt ext2", "btrfs": "part_msdos btrfs", "uefi": "part_gpt ext2 fat"}
EFI_BINARY = "EFI/BOOT/BOOTX64.EFI"


def grub_image(layout: Layout, root: Path, disk: GuestDisk) -> Path:
    """GRUB's modules in /boot/grub and its core image (BIOS core.img or the EFI binary)."""
    early = "/boot/grub/early.cfg"
    (root / early.lstrip("/")).write_text(
        f"search --no-floppy --fs-uuid --set=root {disk.boot_uuid}\n"
        f"set prefix=($root){disk.boot_dir}/grub\n")
    modules = f"{MODULES[layout.kind]} search search_fs_uuid"
    if layout.firmware == "UEFI":
        in_chroot(root, "cp -r /usr/lib/grub/x86_64-efi /boot/grub/ && grub-mkimage -O "
                  f"x86_64-efi -o /boot/grub/x86_64-efi/core.efi -c {early} -p /boot/grub "
                  f"{modules}")
        return root / "boot/grub/x86_64-efi/core.efi"
    in_chroot(root, "cp -r /usr/lib/grub/i386-pc /boot/grub/ && grub-mkimage -O i386-pc "
              f"-o /boot/grub/i386-pc/core.img -c {early} -p /boot/grub biosdisk {modules}")
    return root / "boot/grub/i386-pc/core.img"


def install_bios(layout: Layout, image: Path, root: Path, core: Path) -> None:
    """boot.img's code into the MBR and core.img after it: into the MBR gap from sector 1
    (boot.img's and diskboot's defaults), or into the GPT BIOS boot partition, patching the
    two sector numbers grub-install would write."""
    boot_img = bytearray((root / "usr/lib/grub/i386-pc/boot.img").read_bytes())
    core_img = bytearray(core.read_bytes())
    first = BIOS_BOOT_SECTOR if layout.kind == "gpt-lvm" else 1
    room = (1 << 20) - SECTOR if layout.kind == "gpt-lvm" else 2047 * SECTOR
    if len(core_img) > room:
        raise RuntimeError(f"core.img is {len(core_img)} bytes: it does not fit in {room}")
    struct.pack_into("<Q", boot_img, KERNEL_SECTOR_AT, first)
    struct.pack_into("<Q", core_img, BLOCKLIST_AT, first + 1)
    with image.open("r+b") as handle:
        handle.write(boot_img[:BOOT_CODE_BYTES])
        handle.seek(first * SECTOR)
        handle.write(core_img)
    progress(f"GRUB BIOS: core.img ({len(core_img)} bytes) at sector {first}")


def install_efi(image: Path, esp_offset: int, binary: Path) -> None:
    """The EFI binary copied into the ESP at the removable path (mtools, no mount)."""
    target = f"{image}@@{esp_offset}"
    run("mmd", "-i", target, "::/EFI", "::/EFI/BOOT")
    run("mcopy", "-i", target, binary, f"::/{EFI_BINARY}")
    progress(f"GRUB UEFI: {binary.stat().st_size} bytes at ESP:/{EFI_BINARY}")
