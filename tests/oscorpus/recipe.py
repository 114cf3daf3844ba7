"""The corpus layouts: what each image holds and how its disk is laid out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MIB = 1 << 20
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("linux-image-amd64", "grub-pc-bin", "grub2-common", "systemd-sysv")
ROOT_PASSWORD = "rehost"
# what MODULES=dep or dracut --hostonly find on a SATA/IDE host: its disk drivers, no virtio
SATA_DRIVERS = ("ahci", "ata_piix", "ata_generic", "sd_mod")
# the server-like layouts' initramfs (MODULES=list): SATA and virtio disks, LVM, their root fs;
# a small initramfs GRUB reads fast under TCG (MODULES=most's is ~4x larger and slower to build)
SERVER_MODULES = (*SATA_DRIVERS, "virtio_pci", "virtio_blk", "virtio_scsi", "dm_mod", "ext4",
                  "btrfs")
# the Linux timer check panics ("IO-APIC + timer doesn't work") on an overloaded TCG host;
# libguestfs' appliance boots with it for the same reason
TCG_SAFE_CMDLINE = "no_timer_check"
VIRTIO_MODULES = ("virtio_blk", "virtio_scsi", "virtio_pci", "virtio_net", "virtio_console")
# the disk drivers: initramfs-tools puts virtio_pci in every initramfs (its base set), but a
# SATA host's has no driver for a virtio disk, and that is what stops the boot on KVM
VIRTIO_DISK_DRIVERS = ("virtio_blk", "virtio_scsi")


@dataclass(frozen=True, slots=True)
class Packages:
    """One debootstrap package set (its own cached tarball).

    `later` is installed by apt in the chroot afterwards (its debs cached beside the tarball):
    debootstrap takes the first alternative of a dependency (linux-image's initramfs-tools)
    and --unpack-tarball installs every deb of the tarball, so a conflicting replacement
    (dracut) can only come once the base system is in.
    """

    include: tuple[str, ...]
    later: tuple[str, ...] = ()

    def key(self) -> str:
        """Stable text naming the set (part of the tarball's cache key)."""
        return f"{SUITE} minbase +{','.join(self.include)} later {','.join(self.later)}"


# ext4-mbr: ext4 root on partition 1; lvm-xfs: ext4 /boot p1 + LVM PV p2 with an XFS root LV;
# gpt-lvm: BIOS boot p1, ext4 /boot p2, PV p3 with a swap LV then an ext4 root LV;
# btrfs: swap p1, btrfs p2 with subvolumes @ (/) and @home; uefi: FAT32 ESP p1, ext4 root p2
Kind = Literal["ext4-mbr", "lvm-xfs", "gpt-lvm", "btrfs", "uefi"]


@dataclass(frozen=True, slots=True)
class Layout:
    """One corpus image: disk size, partition table, root storage and initramfs tool.

    `sata_only`: the initramfs holds no virtio disk driver (built as on a SATA host, the
    adaptation tests' sources); otherwise MODULES=list with SERVER_MODULES puts virtio_blk in
    and the image boots on virtio-blk as it is. `stale_mib`: data written then deleted in
    each filesystem (and left in swap and free LVM extents) before the image is closed, as
    years of churn leave it.
    """

    name: str
    description: str
    packages: Packages
    size_mib: int
    initramfs: str  # "initramfs-tools" or "dracut"
    kind: Kind
    boot_mib: int = 0  # the separate /boot, the ESP, or the swap partition
    root_lv_mib: int = 0
    swap_mib: int = 0
    sata_only: bool = True
    stale_mib: int = 0

    @property
    def lvm(self) -> bool:
        """The root filesystem is an LV of the VG 'corpus'."""
        return self.kind in ("lvm-xfs", "gpt-lvm")

    @property
    def firmware(self) -> str:
        """BIOS or UEFI: what the image boots with."""
        return "UEFI" if self.kind == "uefi" else "BIOS"


INITRAMFS_TOOLS = Packages((*BASE_PACKAGES, "initramfs-tools"))
DRACUT_LVM_XFS = Packages((*BASE_PACKAGES, "initramfs-tools", "lvm2", "xfsprogs"),
                          later=("dracut",))
SERVER_LAYOUTS = Packages((*BASE_PACKAGES, "initramfs-tools", "lvm2", "btrfs-progs",
                           "dosfstools", "grub-efi-amd64-bin"))

LAYOUTS = {layout.name: layout for layout in (
    Layout("ext4-mbr-novirtio",
           "MBR + GRUB BIOS, ext4 root on /dev/sda1, initramfs-tools MODULES=dep built on a "
           "SATA host (no virtio in the initramfs), fstab and GRUB naming /dev/sda1",
           INITRAMFS_TOOLS, size_mib=2048, initramfs="initramfs-tools", kind="ext4-mbr"),
    Layout("lvm-xfs-dracut",
           "MBR + GRUB BIOS, ext4 /boot on /dev/sda1, LVM VG 'corpus' on /dev/sda2 with an XFS "
           "root LV, Debian's dracut in host-only mode built on a SATA host (no virtio)",
           DRACUT_LVM_XFS, size_mib=2560, initramfs="dracut", kind="lvm-xfs", boot_mib=256,
           root_lv_mib=2048),
    Layout("gpt-lvm-ext4",
           "Ubuntu Server-like: GPT with a BIOS boot partition (GRUB BIOS), ext4 /boot on p2, "
           "LVM VG 'corpus' on p3 with a swap LV and an ext4 root LV (the last LV), "
           "initramfs-tools, fstab by UUID and /dev/mapper name, stale data in free space",
           SERVER_LAYOUTS, size_mib=2048, initramfs="initramfs-tools", kind="gpt-lvm",
           boot_mib=256, root_lv_mib=1536, swap_mib=128, sata_only=False, stale_mib=96),
    Layout("btrfs-subvol",
           "MBR + GRUB BIOS, swap partition p1, btrfs p2 with subvolumes @ (/) and @home "
           "(/home), initramfs-tools, fstab by UUID, stale data in free space",
           SERVER_LAYOUTS, size_mib=2048, initramfs="initramfs-tools", kind="btrfs",
           boot_mib=128, sata_only=False, stale_mib=96),
    Layout("gpt-uefi-esp",
           "GPT + UEFI: FAT32 ESP p1 at /boot/efi with GRUB at the removable path "
           "EFI/BOOT/BOOTX64.EFI (no NVRAM entry needed), ext4 root p2, initramfs-tools, "
           "fstab by UUID, stale data in free space",
           SERVER_LAYOUTS, size_mib=2048, initramfs="initramfs-tools", kind="uefi",
           boot_mib=128, sata_only=False, stale_mib=96),
)}
